// Package watmtest holds the test helpers the packages of water-pt share:
// loopback TCP listeners and connection pairs, echo and sink servers, a
// goroutine and descriptor leak check, seeded data sent and checked byte
// for byte, and a compilation cache a test binary's Runtimes share
// (MainWithCache). Every resource is tied to the test (testing.TB) and
// released, and every goroutine waited for, when the test ends.
//
// Only tests import it. It does not import package watm, so that watm's
// own internal tests can use it too; a Listener's Dial method is a
// watm.DialFunc.
package watmtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Listener is a loopback TCP listener, closed when the test ends.
type Listener struct {
	net.Listener
}

// Listen opens a Listener on 127.0.0.1.
func Listen(t testing.TB) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &Listener{ln}
}

// Address is the listener's host:port.
func (l *Listener) Address() string { return l.Addr().String() }

// Dial connects to the listener (a watm.DialFunc).
func (l *Listener) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", l.Address())
}

// ClosedPort returns a loopback address nothing listens on (a dial is
// refused).
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Pair returns the two ends of a loopback TCP connection, closed when the
// test ends. Real sockets, not net.Pipe: the kernel buffers what the other
// side has not read yet, and each end has a descriptor.
func Pair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.AcceptTCP()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// Server is a Listener whose connections Serve handles.
type Server struct {
	*Listener
	accepted atomic.Int64
}

// Accepted counts the connections the server has accepted.
func (s *Server) Accepted() int { return int(s.accepted.Load()) }

// Serve runs handle on each connection accepted on a new Listener, then
// closes the connection. When the test ends it closes the listener and
// every connection still open, and waits for the handlers.
func Serve(t testing.TB, handle func(net.Conn)) *Server {
	t.Helper()
	l := Listen(t)
	s := &Server{Listener: l}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  = map[net.Conn]struct{}{}
		closed bool // the test has ended: a connection accepted now is closed at once
	)
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		closed = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	return s
}

// Echo serves connections that echo back what they read, then close.
func Echo(t testing.TB) *Server {
	t.Helper()
	return Serve(t, func(c net.Conn) { copyPlain(c, c) })
}

// Sink serves connections that read and discard everything.
func Sink(t testing.TB) *Server {
	t.Helper()
	return Serve(t, func(c net.Conn) { copyPlain(io.Discard, c) })
}

// copyPlain is io.Copy through a buffer: between TCP sockets io.Copy would
// splice(2) through a pipe pair that Go keeps in a pool until a GC, which
// LeakCheck would count as leaked descriptors.
func copyPlain(dst io.Writer, src io.Reader) {
	io.Copy(struct{ io.Writer }{dst}, struct{ io.Reader }{src})
}

// LeakCheck records the number of goroutines and open descriptors and, when
// the test ends, waits a bounded time for both to come back to where they
// were, failing the test with a stack dump and the descriptors otherwise.
func LeakCheck(t testing.TB) {
	t.Helper()
	// The Go netpoller opens its epoll and eventfd at the first network
	// use and keeps them: start it before counting.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	g0, f0 := runtime.NumGoroutine(), OpenFDs(t)
	l0 := fdLinks()
	t.Cleanup(func() {
		var g, f int
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if g, f = runtime.NumGoroutine(), OpenFDs(t); g <= g0 && f <= f0 {
				return
			}
		}
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("leak: goroutines %d -> %d, open fds %d -> %d (%v -> %v)\n%s", g0, g, f0, f, l0, fdLinks(), buf)
	})
}

// OpenFDs counts the process's open descriptors.
func OpenFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
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

// RandomBytes returns n bytes from a generator seeded with seed: the same
// arguments give the same bytes.
func RandomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

// SendAndCheck writes data on w, then half-closes it, while reading
// everything from r and checking it byte for byte.
func SendAndCheck(w, r net.Conn, data []byte) error {
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
			err = fmt.Errorf("received %d bytes, want %d; first difference at %d", len(got), len(data), FirstDiff(got, data))
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

// Exchange sends up from a to b and down from b to a at the same time,
// each half-closed at its end and checked byte for byte (SendAndCheck),
// and returns the first failure at once (the other direction's goroutines
// end when the test closes the connections).
func Exchange(a, b net.Conn, up, down []byte) error {
	errs := make(chan error, 2)
	go func() { errs <- SendAndCheck(a, b, up) }()
	go func() { errs <- SendAndCheck(b, a, down) }()
	for range 2 {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// FirstDiff is the index of the first byte where a and b differ (the
// shorter length when one is a prefix of the other).
func FirstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
