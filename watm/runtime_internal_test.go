package watm

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/water-pt/water-pt/watm/modules"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// TestLoadAfterClose closes the runtime while a module is being compiled
// (between the compilation and its registration) and checks that Load
// reports the runtime closed and that nothing it made survives: no pool
// refill goroutine, no memory-image descriptor.
func TestLoadAfterClose(t *testing.T) {
	ctx := context.Background()
	wasm, _ := modules.Lookup("plain")
	r, err := NewRuntime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g0, f0 := runtime.NumGoroutine(), countFDs(t)
	r.compile = func(ctx context.Context, r *Runtime, wrt wazero.Runtime, wasm []byte, sum [32]byte) (*Module, error) {
		m, err := compileAndValidate(ctx, r, wrt, wasm, sum)
		if cerr := r.Close(ctx); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		return m, err
	}
	m, err := r.LoadTrusted(watmtest.CompileContext(ctx), wasm)
	if !errors.Is(err, errRuntimeClosed) || m != nil {
		t.Fatalf("Load during Close: %v, %v; want %v", m, err, errRuntimeClosed)
	}
	var g, f int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if g, f = runtime.NumGoroutine(), countFDs(t); g <= g0 && f <= f0 {
			return
		}
	}
	t.Errorf("after Close: goroutines %d -> %d, fds %d -> %d", g0, g, f0, f)
}

func countFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestLoadDoesNotWaitOnOtherModule holds one module's compilation (as the
// managed client's warm-up of its default module does at start) and loads
// another meanwhile: the second must not wait for the first, only a Load of
// the same bytes may.
func TestLoadDoesNotWaitOnOtherModule(t *testing.T) {
	ctx := context.Background()
	held, _ := modules.Lookup("obfs4")
	asked, _ := modules.Lookup("plain")
	r, err := NewRuntime(ctx, WithPoolSize(0))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	entered, release := make(chan struct{}), make(chan struct{})
	heldSum := sha256.Sum256(held)
	r.compile = func(ctx context.Context, r *Runtime, wrt wazero.Runtime, wasm []byte, sum [32]byte) (*Module, error) {
		if sum == heldSum {
			close(entered)
			<-release
			return nil, errors.New("held compilation released")
		}
		return compileAndValidate(ctx, r, wrt, wasm, sum)
	}
	heldErr := make(chan error, 1)
	go func() {
		_, err := r.LoadTrusted(ctx, held)
		heldErr <- err
	}()
	<-entered
	sameCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := r.LoadTrusted(sameCtx, held); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a Load of the module being compiled: %v, want it to wait (%v)", err, context.DeadlineExceeded)
	}
	m, err := r.LoadTrusted(watmtest.CompileContext(ctx), asked) // returns while the other is held
	if err != nil || m == nil {
		t.Fatalf("Load of another module while one is being compiled: %v, %v", m, err)
	}
	select {
	case err := <-heldErr:
		t.Fatalf("the held compilation ended before it was released: %v", err)
	default:
	}
	close(release)
	if err := <-heldErr; err == nil || err.Error() != "held compilation released" {
		t.Errorf("held Load: %v", err)
	}
}
