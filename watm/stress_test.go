package watm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// echoServer accepts network conns through the module's listener role and
// echoes the plaintext back, until the test ends.
func echoServer(t testing.TB, m *watm.Module) *watmtest.Listener { return serveEcho(t, m, nil) }

// serveEcho is echoServer that also hands each server session's result to
// ended, if set (a session cut short when the test ends is ECANCELED).
func serveEcho(t testing.TB, m *watm.Module, ended func(error)) *watmtest.Listener {
	t.Helper()
	tp := watmtest.Listen(t)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); tp.Close(); wg.Wait() })
	l := &watm.Listener{Module: m}
	wl := l.Listen(ctx, tp.Listener)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := wl.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
				if err := c.(*watm.Conn).Session().Wait(); ended != nil {
					ended(err)
				}
			}()
		}
	}()
	return tp
}

// roundTrip dials through the module, sends msg and expects it echoed.
func roundTrip(ctx context.Context, m *watm.Module, dial watm.DialFunc, msg []byte) error {
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: dial}}
	c, err := d.DialContext(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo: got %d bytes, want %d", len(got), len(msg))
	}
	c.Close()
	return c.Session().Wait()
}

func TestSequentialThenConcurrent(t *testing.T) {
	// No pool: the leak check below runs while the runtime is live, and a
	// pool refilling in the background would hold a varying number of fds.
	rt := newRuntime(t, watm.WithPoolSize(0))
	m := shipped(t, rt, "plain")
	// Every server session ends because its client closed: cleanly.
	srv := serveEcho(t, m, func(err error) {
		if err != nil {
			t.Errorf("echo server session: %v", err)
		}
	})
	ctx := context.Background()
	msg := watmtest.RandomBytes(4096, 7)
	// Warm up once so that lazily started runtime goroutines are counted
	// in the baseline, then check for leaks from here on.
	if err := roundTrip(ctx, m, srv.Dial, msg); err != nil {
		t.Fatal(err)
	}
	watmtest.LeakCheck(t)
	n := 1000
	if testing.Short() {
		n = 100
	}
	for i := range n {
		if err := roundTrip(ctx, m, srv.Dial, msg); err != nil {
			t.Fatalf("sequential connection %d: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := roundTrip(ctx, m, srv.Dial, msg); err != nil {
				errs <- fmt.Errorf("concurrent connection %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every client session has ended (roundTrip waits); the server-side
	// ones end when their echo goroutines close, shortly after.
	waitFor(t, 10*time.Second, "end of all sessions", func() bool { return rt.Live() == 0 })
}

func TestRelayBetweenTCPPeers(t *testing.T) {
	watmtest.LeakCheck(t)
	rt := newRuntime(t)
	m := shipped(t, rt, "plain")
	dst := watmtest.Listen(t)   // peer B
	front := watmtest.Listen(t) // where peer A connects
	r := &watm.Relay{Module: m, Config: watm.ConnConfig{Dial: dst.Dial}}
	stop := serveRelay(t, r, front.Listener)

	a, err := net.Dial("tcp", front.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := dst.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	up, down := watmtest.RandomBytes(8<<20, 3), watmtest.RandomBytes(8<<20, 4)
	if err := watmtest.Exchange(a, b, up, down); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	wantClean(t, stop(1))
}

// TestRelayReportsFailedSession checks that Serve hands a session that
// could not reach its destination to OnSessionEnd with the cause.
func TestRelayReportsFailedSession(t *testing.T) {
	watmtest.LeakCheck(t)
	rt := newRuntime(t)
	m := shipped(t, rt, "plain")
	front := watmtest.Listen(t)
	refused := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", "127.0.0.1:1")
	}
	stop := serveRelay(t, &watm.Relay{Module: m, Config: watm.ConnConfig{Dial: refused}}, front.Listener)
	a, err := net.Dial("tcp", front.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ended := stop(1)
	const want = "watm: _water_associate: dial tcp 127.0.0.1:1: connect: connection refused"
	if len(ended) == 1 && (!errors.Is(ended[0], syscall.ECONNREFUSED) || ended[0].Error() != want) {
		t.Errorf("session ended with %v, want %q", ended[0], want)
	}
}
