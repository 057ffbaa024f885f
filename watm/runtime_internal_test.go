package watm

import (
	"context"
	"errors"
	"testing"

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
	watmtest.LeakCheck(t)
	r, err := NewRuntime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.compile = func(ctx context.Context, r *Runtime, wasm []byte, sum [32]byte, trusted bool) (*Module, error) {
		m, err := compileAndValidate(ctx, r, wasm, sum, trusted)
		if cerr := r.Close(ctx); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		return m, err
	}
	m, err := r.LoadTrusted(ctx, wasm)
	if !errors.Is(err, errRuntimeClosed) || m != nil {
		t.Fatalf("Load during Close: %v, %v; want %v", m, err, errRuntimeClosed)
	}
}
