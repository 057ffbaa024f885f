package watm

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/water-pt/water-pt/watm/watmtest"
)

// TestAheadRunsOnceInReadyInstances: the pool calls waterpt_ahead once in
// each instance it makes ready, new or restored, after the reseed
// (ahead_probe's dial succeeds only then); an instance made while a
// connection waits never runs it (its dial fails).
func TestAheadRunsOnceInReadyInstances(t *testing.T) {
	watmtest.LeakCheck(t)
	m, p := recyclePool(t, "ahead_probe")
	ctx := context.Background()
	if !p.ahead.Load() {
		t.Fatal("the pool does not call waterpt_ahead of a module that exports it")
	}
	in, err := p.newReady(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.ready <- in
	if err := serveOne(t, m); err != nil {
		t.Fatalf("on a new ready instance: %v", err)
	}
	p.keepReturned(ctx, <-p.returned)
	if err := serveOne(t, m); err != nil {
		t.Fatalf("on a restored ready instance: %v", err)
	}
	const want = "watm: _water_dial returned errno 28 (EINVAL)"
	if err := serveOne(t, m); err == nil || err.Error() != want {
		t.Fatalf("on an instance made for the connection: %v, want %q", err, want)
	}
}

// TestAheadFailureTurnsItOff: a failing waterpt_ahead is logged with the
// module's stderr, the instance is made again without it, and the pool
// stops calling it.
func TestAheadFailureTurnsItOff(t *testing.T) {
	watmtest.LeakCheck(t)
	var log bytes.Buffer
	rt, err := NewRuntime(context.Background(), WithTestCache(), WithPoolSize(0),
		WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	m, err := fixtureIn(t, rt, "ahead_fails")
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(m, 1)
	m.pool = p
	t.Cleanup(p.drain)
	in, err := p.newReady(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p.ready <- in
	if p.ahead.Load() {
		t.Error("waterpt_ahead failed and the pool still calls it")
	}
	const want = `the module's waterpt_ahead failed; instances are made without it" err="watm: waterpt_ahead returned errno 29 (EIO): module stderr: no ahead here"`
	if !strings.Contains(log.String(), want) {
		t.Errorf("log %q does not say %q", log.String(), want)
	}
	if err := serveOne(t, m); err != nil {
		t.Fatal(err)
	}
}
