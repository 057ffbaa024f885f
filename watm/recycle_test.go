package watm

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/water-pt/water-pt/watm/watmtest"
)

// recyclePool loads testdata/name.wasm (a snapshotted module) on a runtime
// without refill goroutines and gives it a pool of one that the test
// drives by hand: what giveBack queues stays in p.returned until the test
// passes it to keepReturned.
func recyclePool(t *testing.T, name string) (*Module, *pool) {
	t.Helper()
	m, err := fixtureIn(t, poolless(t), name)
	if err != nil {
		t.Fatal(err)
	}
	if m.snap == nil {
		t.Fatalf("%s is not snapshotted", name)
	}
	p := newPool(m, 1)
	m.pool = p
	t.Cleanup(p.drain)
	return m, p
}

// fixtureIn loads testdata/name.wasm on rt.
func fixtureIn(t *testing.T, rt *Runtime, name string) (*Module, error) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	return rt.Load(watmtest.CompileContext(context.Background()), b)
}

// serveOne runs one dialer session of m to its end and returns its error.
func serveOne(t *testing.T, m *Module) error {
	t.Helper()
	c, _ := watmtest.Pair(t)
	s, err := m.Prepare(context.Background(), RoleDialer, c, ConnConfig{})
	if err != nil {
		c.Close()
		return err
	}
	s.Start()
	return s.Wait()
}

// TestRecycledInstanceStartsFromSnapshot: an instance whose worker
// returned, after changing every value recycle_probe's init checks, is
// given back, restored and initialised ahead (its init passes only in the
// snapshot's state, reseeded once), and serves the next connection; again
// for that one. Before restoring, p.returned holds it and nothing else.
func TestRecycledInstanceStartsFromSnapshot(t *testing.T) {
	watmtest.LeakCheck(t)
	m, p := recyclePool(t, "recycle_probe")
	ctx := context.Background()
	for i := range 3 {
		if err := serveOne(t, m); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		if len(p.returned) != 1 {
			t.Fatalf("connection %d: %d instances given back, want 1", i+1, len(p.returned))
		}
		p.keepReturned(ctx, <-p.returned)
		if len(p.ready) != 1 || !p.preinit.Load() {
			t.Fatalf("connection %d: after restoring, %d ready and preinit %v; want 1 and true (init failed in the restored state?)",
				i+1, len(p.ready), p.preinit.Load())
		}
		if got := p.renewed.Load(); got != uint64(i+1) {
			t.Fatalf("renewed %d, want %d", got, i+1)
		}
		if got := p.reused.Load(); got != uint64(i) {
			t.Fatalf("reused %d before connection %d, want %d", got, i+2, i)
		}
	}
}

// TestNotRecycled: an instance whose worker grew its memory (wazero cannot
// shrink it back to the snapshot's size) or trapped is closed, not given
// back.
func TestNotRecycled(t *testing.T) {
	for _, c := range []struct{ name, err string }{
		{"recycle_grow", ""},
		{"recycle_trap", "watm: _water_worker trapped: wasm error: unreachable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			watmtest.LeakCheck(t)
			m, p := recyclePool(t, c.name)
			err := serveOne(t, m)
			if got := errString(err); got != c.err {
				t.Fatalf("session error %q, want %q", got, c.err)
			}
			if len(p.returned) != 0 {
				t.Fatal("the instance was given back")
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestRenewedMemoryIsTheSnapshots: a plain instance whose whole memory and
// every snapshotted global a connection overwrote, renewed, has memory
// byte for byte and globals equal to a new clone's (both without the
// reseed, which changes them), so nothing a connection left is there.
func TestRenewedMemoryIsTheSnapshots(t *testing.T) {
	ctx := context.Background()
	m := loadPlain(t)
	m.snap.unseeded = true
	used, err := newInstance(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	mem := used.mod.Memory()
	all, _ := mem.Read(0, mem.Size())
	for i := range all {
		all[i] = 0xa5
	}
	for _, g := range m.snap.globals {
		used.mod.ExportedGlobal(g.export).(interface{ Set(uint64) }).Set(g.value ^ 0x5a5a)
	}
	mod := used.mod
	used.mod = nil
	used.release()
	renewed, err := renewInstance(ctx, m, mod)
	if err != nil {
		t.Fatal(err)
	}
	defer renewed.release()
	fresh, err := newInstance(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.release()
	a, _ := renewed.mod.Memory().Read(0, renewed.mod.Memory().Size())
	b, _ := fresh.mod.Memory().Read(0, fresh.mod.Memory().Size())
	if len(a) != len(b) {
		t.Fatalf("renewed memory %d bytes, a new clone's %d", len(a), len(b))
	}
	if !bytes.Equal(a, b) {
		i := watmtest.FirstDiff(a, b)
		t.Fatalf("renewed memory differs from a new clone's at %d: %#x, want %#x", i, a[i], b[i])
	}
	for _, g := range m.snap.globals {
		if got, want := renewed.mod.ExportedGlobal(g.export).Get(), fresh.mod.ExportedGlobal(g.export).Get(); got != want {
			t.Errorf("global %s: renewed %#x, new clone %#x", g.export, got, want)
		}
	}
}
