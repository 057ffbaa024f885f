package watm_test

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/modules"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// reseedFlags build a Go WATM with the reseed export, as gen.sh does.
var reseedFlags = []string{"-tags=waterpt_reseed", "-ldflags=-checklinkname=0"}

// randReport dials through m (testdata/gomod/randreport) and returns the
// fields of the line the module writes first: what randomness its
// instance saw.
func randReport(t *testing.T, m *watm.Module) map[string]string {
	t.Helper()
	tp := watmtest.Listen(t)
	lines := make(chan string, 1)
	go func() {
		nc, err := tp.Accept()
		if err != nil {
			lines <- "accept: " + err.Error()
			return
		}
		defer nc.Close()
		line, err := bufio.NewReader(nc).ReadString('\n')
		if err != nil {
			line = "read: " + err.Error()
		}
		lines <- line
	}()
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: tp.Dial}}
	c, err := d.DialContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line := <-lines
	fields := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		fields[k] = v
	}
	for _, k := range randFields {
		if len(fields[k]) < 16 {
			t.Fatalf("report %q has no %s", line, k)
		}
	}
	return fields
}

var randFields = []string{"rand", "map", "initmap", "select", "crypto"}

// TestSnapshotClonesDoNotShareRandomness: a module with the reseed export
// is snapshotted, and two of its instances (clones of the snapshot) see
// different math/rand/v2 streams, map iteration orders (of a map made at
// init and one made now), select choices and crypto/rand bytes. With the
// reseed skipped, the clones share everything but crypto/rand: the
// sharing this test exists to catch.
func TestSnapshotClonesDoNotShareRandomness(t *testing.T) {
	wasm := buildGuest(t, "randreport", reseedFlags...)
	for _, reseed := range []bool{true, false} {
		rt := newRuntime(t, watm.WithPoolSize(0))
		m, err := rt.Load(watmtest.CompileContext(context.Background()), wasm)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Snapshotted() {
			t.Fatal("a module exporting waterpt_reseed was not snapshotted")
		}
		if !reseed {
			m.SkipReseed()
		}
		a, b := randReport(t, m), randReport(t, m)
		for _, k := range randFields {
			shared := a[k] == b[k]
			switch {
			case reseed && shared:
				t.Errorf("two clones share %s: %s", k, a[k])
			case !reseed && k != "crypto" && !shared:
				t.Errorf("without the reseed, clones differ in %s (%s, %s): this test could not see sharing", k, a[k], b[k])
			case !reseed && k == "crypto" && shared:
				t.Errorf("crypto/rand repeats across clones: %s", a[k])
			}
		}
	}
}

// TestRecycledInstancesDoNotShareRandomness: with a pool, instances that
// served a connection are restored and serve the next ones; every report,
// from a new clone or a restored one, has its own randomness.
func TestRecycledInstancesDoNotShareRandomness(t *testing.T) {
	wasm := buildGuest(t, "randreport", reseedFlags...)
	rt := newRuntime(t, watm.WithPoolSize(1))
	m, err := rt.Load(watmtest.CompileContext(context.Background()), wasm)
	if err != nil {
		t.Fatal(err)
	}
	var reports []map[string]string
	for len(reports) < 40 && m.Reused() < 3 {
		reports = append(reports, randReport(t, m))
	}
	if m.Reused() < 3 {
		t.Fatalf("%d connections, %d of them on a restored instance; want 3", len(reports), m.Reused())
	}
	for i, a := range reports {
		for _, b := range reports[:i] {
			for _, k := range randFields {
				if a[k] == b[k] {
					t.Fatalf("two of %d instances (%d restored) share %s: %s", len(reports), m.Reused(), k, a[k])
				}
			}
		}
	}
}

// TestNoSnapshotWithoutReseed: the same module built without the reseed
// export (as the guest SDK builds by default, and as upstream SDKs' modules
// are) runs its start function in every instance, and its instances still
// differ.
func TestNoSnapshotWithoutReseed(t *testing.T) {
	rt := newRuntime(t, watm.WithPoolSize(0))
	m, err := rt.Load(watmtest.CompileContext(context.Background()), buildGuest(t, "randreport"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Snapshotted() {
		t.Fatal("a module without waterpt_reseed was snapshotted")
	}
	a, b := randReport(t, m), randReport(t, m)
	for _, k := range randFields {
		if a[k] == b[k] {
			t.Errorf("two instances share %s: %s", k, a[k])
		}
	}
}

// TestShippedModulesSnapshotted: every module water-pt ships (gen.sh builds
// them with the reseed export) starts its instances from a snapshot,
// loaded trusted or not.
func TestShippedModulesSnapshotted(t *testing.T) {
	rt := newRuntime(t, watm.WithPoolSize(0))
	for _, name := range modules.Names() {
		b, _ := modules.Lookup(name)
		for _, load := range []func(context.Context, []byte) (*watm.Module, error){rt.Load, rt.LoadTrusted} {
			m, err := load(watmtest.CompileContext(context.Background()), b)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Snapshotted() {
				t.Errorf("%s (trusted %v) is not snapshotted", name, m.Trusted())
			}
		}
	}
}

// TestSnapshotRestoresState: an instance of a snapshotted module has the
// globals, memory contents and memory size the start function left, has
// not run the start function itself, and has run waterpt_reseed exactly
// once (testdata/snapshot_probe.wat checks all of that in its init). A
// module whose waterpt_reseed fails is not snapshotted (the log says why),
// and its instances run the start function and never the reseed.
func TestSnapshotRestoresState(t *testing.T) {
	var log bytes.Buffer
	rt := newRuntime(t, watm.WithPoolSize(0), watm.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	ctx := context.Background()
	m, err := fixture(t, rt, "snapshot_probe")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Snapshotted() {
		t.Fatalf("snapshot_probe not snapshotted; log: %s", log.String())
	}
	for range 2 {
		if err := m.CheckConfig(ctx, nil); err != nil {
			t.Fatalf("a clone is not in the snapshot's state: %v", err)
		}
	}
	m, err = fixture(t, rt, "snapshot_reseed_fails")
	if err != nil {
		t.Fatal(err)
	}
	if m.Snapshotted() {
		t.Fatal("a module whose waterpt_reseed fails was snapshotted")
	}
	const want = "cannot be snapshotted; each instance runs its start function\" err=\"watm: waterpt_reseed returned errno 58 (ENOTSUP)"
	if !strings.Contains(log.String(), want) {
		t.Errorf("log %q does not say %q", log.String(), want)
	}
	if err := m.CheckConfig(ctx, nil); err != nil {
		t.Fatalf("an instance of a module not snapshotted: %v", err)
	}
}
