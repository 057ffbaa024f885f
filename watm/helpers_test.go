package watm_test

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/modules"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// newRuntime makes a Runtime with the tests' shared compilation cache
// (main_test.go), closed when the test ends.
func newRuntime(t testing.TB, opts ...watm.Option) *watm.Runtime {
	t.Helper()
	rt, err := watm.NewRuntime(context.Background(), append([]watm.Option{watm.WithTestCache()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

// shipped loads one of the modules in watm/modules, trusted, as water-pt's
// catalog loads them.
func shipped(t testing.TB, rt *watm.Runtime, name string) *watm.Module {
	t.Helper()
	b, ok := modules.Lookup(name)
	if !ok {
		t.Fatalf("no shipped module %q", name)
	}
	m, err := rt.LoadTrusted(watmtest.CompileContext(context.Background()), b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fixture loads watm/testdata/NAME.wasm, with loop checks (untrusted).
func fixture(t testing.TB, rt *watm.Runtime, name string) (*watm.Module, error) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	return rt.Load(watmtest.CompileContext(context.Background()), b)
}

// wrappedPair connects a client module's dialer to a server module's
// listener over real TCP and returns both plaintext ends.
func wrappedPair(t testing.TB, client, server *watm.Module) (c, s *watm.Conn) {
	t.Helper()
	ctx := context.Background()
	tp := watmtest.Listen(t)
	type res struct {
		c   *watm.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		nc, err := tp.Accept()
		if err != nil {
			ch <- res{err: err}
			return
		}
		l := &watm.Listener{Module: server}
		c, _, err := l.AcceptConn(ctx, nc, nil)
		ch <- res{c, err}
	}()
	d := &watm.Dialer{Module: client, Config: watm.ConnConfig{Dial: tp.Dial}}
	c, err := d.DialContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { c.Close(); r.c.Close() })
	return c, r.c
}

// serveRelay runs r.Serve on ln with session results collected. The
// returned stop waits (bounded) until n sessions have ended, ends Serve,
// fails the test if Serve failed or a session did not end cleanly, and
// returns the results in the order the sessions ended.
func serveRelay(t testing.TB, r *watm.Relay, ln net.Listener) (stop func(n int) []error) {
	t.Helper()
	var mu sync.Mutex
	var ended []error
	r.OnSessionEnd = func(err error) {
		mu.Lock()
		defer mu.Unlock()
		ended = append(ended, err)
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ended)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx, ln) }()
	return func(n int) []error {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count() < n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(ended) != n {
			t.Errorf("%d relay sessions ended, want %d: %v", len(ended), n, ended)
		}
		return ended
	}
}

// closeClean closes each conn and fails the test unless its session ended
// cleanly.
func closeClean(t testing.TB, conns ...*watm.Conn) {
	t.Helper()
	for _, c := range conns {
		c.Close()
		if err := c.Session().Wait(); err != nil {
			t.Errorf("session ended with %v", err)
		}
	}
}

// wantClean fails the test unless every session result is nil.
func wantClean(t testing.TB, ended []error) {
	t.Helper()
	for i, err := range ended {
		if err != nil {
			t.Errorf("relay session %d: %v", i, err)
		}
	}
}
