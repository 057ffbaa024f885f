package watm

import (
	"context"
	"testing"

	"github.com/water-pt/water-pt/watm/modules"
)

// TestPoolDropsInitialisedForAConfig: a connection with a config skips
// every instance the pool initialised ahead without one (they are
// released) and takes the one started without init; preinit is off after.
// A connection without a config takes an initialised one.
func TestPoolDropsInitialisedForAConfig(t *testing.T) {
	ctx := context.Background()
	rt, err := NewRuntime(ctx, WithPoolSize(0))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	plain, _ := modules.Lookup("plain")
	m, err := rt.LoadTrusted(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(m, 4)
	ready := func() *instance {
		in, err := p.newReady(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.ready <- in
		return in
	}
	first := ready()
	if !first.inited {
		t.Fatal("preinit did not initialise the instance")
	}
	if in := p.getFor(ConnConfig{}); in != first {
		t.Fatal("a connection without a config did not get the initialised instance")
	} else {
		in.release()
	}
	ready()
	ready()
	p.preinit.Store(false)
	fresh := ready()
	if fresh.inited {
		t.Fatal("an instance made with preinit off is initialised")
	}
	if in := p.getFor(ConnConfig{Config: []byte("k=v")}); in != fresh {
		t.Fatalf("a connection with a config got %p, want the uninitialised %p", in, fresh)
	}
	fresh.release()
	if len(p.ready) != 0 || p.preinit.Load() {
		t.Fatalf("after: %d instances left, preinit %v; want 0, false", len(p.ready), p.preinit.Load())
	}
}
