package watm_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/modules"
)

func newRuntime(t testing.TB, opts ...watm.Option) *watm.Runtime {
	t.Helper()
	rt, err := watm.NewRuntime(context.Background(), opts...)
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
	m, err := rt.LoadTrusted(context.Background(), b)
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
	return rt.Load(context.Background(), b)
}

// tcpPair is a network listener and a dial function reaching it.
type tcpPair struct {
	ln   net.Listener
	dial watm.DialFunc
}

func newTCP(t testing.TB) *tcpPair {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	return &tcpPair{ln: ln, dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}}
}

// wrappedPair connects a client module's dialer to a server module's
// listener over real TCP and returns both plaintext ends.
func wrappedPair(t testing.TB, client, server *watm.Module) (c, s *watm.Conn) {
	t.Helper()
	ctx := context.Background()
	tp := newTCP(t)
	type res struct {
		c   *watm.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		nc, err := tp.ln.Accept()
		if err != nil {
			ch <- res{err: err}
			return
		}
		l := &watm.Listener{Module: server}
		c, _, err := l.AcceptConn(ctx, nc, nil)
		ch <- res{c, err}
	}()
	d := &watm.Dialer{Module: client, Config: watm.ConnConfig{Dial: tp.dial}}
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

// randomBytes returns n bytes from a seeded generator.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

// sendAndCheck writes data on w, then half-closes it, while reading
// everything from r and checking it byte for byte.
func sendAndCheck(w, r net.Conn, data []byte) error {
	errs := make(chan error, 2)
	go func() {
		_, err := w.Write(data)
		if err == nil {
			err = w.(interface{ CloseWrite() error }).CloseWrite()
		}
		errs <- err
	}()
	go func() {
		got, err := io.ReadAll(r)
		if err == nil && !bytes.Equal(got, data) {
			err = fmt.Errorf("received %d bytes, want %d; first difference at %d", len(got), len(data), firstDiff(got, data))
		}
		errs <- err
	}()
	for range 2 {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// leakCheck records goroutines and open fds and, at cleanup, waits a
// bounded time for both to come back to where they were.
func leakCheck(t testing.TB) {
	t.Helper()
	// The Go netpoller opens its epoll and eventfd at the first network
	// use and keeps them: start it before counting.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	l0 := fdLinks()
	t.Cleanup(func() {
		var g, f int
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			g, f = runtime.NumGoroutine(), openFDs(t)
			if g <= g0 && f <= f0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("leak: goroutines %d -> %d, open fds %d -> %d (%v -> %v)\n%s", g0, g, f0, f, l0, fdLinks(), buf)
	})
}

// fdLinks lists the open descriptors and what they are, for a leak report.
func fdLinks() []string {
	entries, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range entries {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"="+l)
	}
	return out
}

func openFDs(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

var _ = rand.Read
var _ = math.MaxInt
var _ sync.Mutex

// netPipeTCP returns two ends of a loopback TCP connection.
func netPipeTCP(t testing.TB) (a, b net.Conn, err error) {
	t.Helper()
	tp := newTCP(t)
	ch := make(chan net.Conn, 1)
	go func() { c, _ := tp.ln.Accept(); ch <- c }()
	a, err = net.Dial("tcp", tp.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-ch
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, nil
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

// wantClean fails the test unless every session result is nil.
func wantClean(t testing.TB, ended []error) {
	t.Helper()
	for i, err := range ended {
		if err != nil {
			t.Errorf("relay session %d: %v", i, err)
		}
	}
}
