package watm

import (
	"context"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/water-pt/water-pt/watm/modules"
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
	m, err := r.LoadTrusted(ctx, wasm)
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
