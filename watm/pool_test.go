package watm

import (
	"context"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm/modules"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// poolless returns a runtime without pools, closed when the test ends:
// the tests drive pools by hand.
func poolless(t *testing.T) *Runtime {
	t.Helper()
	ctx := context.Background()
	rt, err := NewRuntime(ctx, WithTestCache(), WithPoolSize(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	return rt
}

// loadPlain loads the shipped plain module, trusted, on a poolless runtime.
func loadPlain(t *testing.T) *Module {
	t.Helper()
	plain, _ := modules.Lookup("plain")
	m, err := poolless(t).LoadTrusted(watmtest.CompileContext(context.Background()), plain)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPoolDropsInitialisedForAConfig: a connection with a config skips
// every instance the pool initialised ahead without one (they are
// released) and takes the one started without init; preinit is off after.
// A connection without a config takes an initialised one.
func TestPoolDropsInitialisedForAConfig(t *testing.T) {
	ctx := context.Background()
	m := loadPlain(t)
	p := newPool(m, 4)
	ready := func() *instance {
		in, err := p.newReady(ctx, nil)
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

// TestPoolRefillsAfterTheSetup: taking an instance does not start a refill
// while the connection that took it is being set up (it would compete with
// that set-up); the set-up's end does.
func TestPoolRefillsAfterTheSetup(t *testing.T) {
	p := startedPool(t, 1)
	p.beginSetup()
	take(t, p)
	// Before set-ups were tracked, the refill started here.
	stays(t, p, 0, "while the connection that emptied it was being set up")
	p.endSetup()
	readyWithin(t, p, 1, "after the set-up ended")
}

// TestPoolRefillsDuringABurst: while set-ups overlap, each one that ends
// still brings one instance, so a burst does not starve the pool.
func TestPoolRefillsDuringABurst(t *testing.T) {
	p := startedPool(t, 2)
	p.beginSetup()
	p.beginSetup()
	take(t, p)
	take(t, p)
	p.endSetup()
	readyWithin(t, p, 1, "after one of two set-ups ended")
	stays(t, p, 1, "while the other was being set up")
	p.endSetup()
	readyWithin(t, p, 2, "after both set-ups ended")
}

// startedPool loads plain with a pool of size and waits until it is full.
func startedPool(t *testing.T, size int) *pool {
	t.Helper()
	ctx := context.Background()
	rt, err := NewRuntime(ctx, WithTestCache(), WithPoolSize(size))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	plain, _ := modules.Lookup("plain")
	m, err := rt.LoadTrusted(watmtest.CompileContext(ctx), plain)
	if err != nil {
		t.Fatal(err)
	}
	readyWithin(t, m.pool, size, "after the start")
	return m.pool
}

func take(t *testing.T, p *pool) {
	t.Helper()
	in := p.get()
	if in == nil {
		t.Fatal("the pool gave no instance")
	}
	t.Cleanup(in.release)
}

func readyWithin(t *testing.T, p *pool, n int, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); len(p.ready) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pool holds %d instances 30 s %s, want %d", len(p.ready), what, n)
		}
	}
}

// stays checks for a quarter second, long enough for a refill taking a
// millisecond or two to show, that the pool holds n instances.
func stays(t *testing.T, p *pool, n int, what string) {
	t.Helper()
	for range 50 {
		time.Sleep(5 * time.Millisecond)
		if got := len(p.ready); got != n {
			t.Fatalf("the pool holds %d instances %s, want %d", got, what, n)
		}
	}
}
