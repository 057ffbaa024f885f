package watm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
)

func TestCheckConfig(t *testing.T) {
	// No pool: a pool would run spin_init's init ahead, forever.
	rt := newRuntime(t, watm.WithPoolSize(0))
	ok, err := fixture(t, rt, "v0_config")
	if err != nil {
		t.Fatal(err)
	}
	if err := ok.CheckConfig(context.Background(), []byte("k=v")); err != nil {
		t.Errorf("v0_config: %v, want nil", err)
	}

	trap, err := fixture(t, rt, "trap_init")
	if err != nil {
		t.Fatal(err)
	}
	err = trap.CheckConfig(context.Background(), []byte("k=v"))
	var te *watm.TrapError
	if !errors.As(err, &te) || te.Func != "_water_init" || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("trap_init: %v, want a trap in _water_init", err)
	}

	spin, err := fixture(t, rt, "spin_init")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = spin.CheckConfig(ctx, nil)
	if err == nil {
		t.Fatal("spin_init: CheckConfig returned nil, want the stop error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("spin_init: stopped after %v, want soon after the 200 ms deadline", d)
	}
}
