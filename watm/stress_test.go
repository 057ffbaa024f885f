package watm_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/water-pt/water-pt/watm"
)

// echoServer accepts network conns through the module's listener role and
// echoes the plaintext back, until the test ends.
func echoServer(t testing.TB, m *watm.Module) *tcpPair {
	t.Helper()
	tp := newTCP(t)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); tp.ln.Close(); wg.Wait() })
	l := &watm.Listener{Module: m}
	wl := l.Listen(ctx, tp.ln)
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
				defer c.Close()
				io.Copy(c, c)
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
	srv := echoServer(t, m)
	ctx := context.Background()
	msg := randomBytes(4096, 7)
	// Warm up once so that lazily started runtime goroutines are counted
	// in the baseline, then check for leaks from here on.
	if err := roundTrip(ctx, m, srv.dial, msg); err != nil {
		t.Fatal(err)
	}
	leakCheck(t)
	n := 1000
	if testing.Short() {
		n = 100
	}
	for i := range n {
		if err := roundTrip(ctx, m, srv.dial, msg); err != nil {
			t.Fatalf("sequential connection %d: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := roundTrip(ctx, m, srv.dial, msg); err != nil {
				errs <- fmt.Errorf("concurrent connection %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if live := rt.Live(); live > 0 {
		// Server-side sessions end when their echo goroutines close.
		t.Logf("%d sessions still live at the end (server side winding down)", live)
	}
}

func TestRelayBetweenTCPPeers(t *testing.T) {
	leakCheck(t)
	rt := newRuntime(t)
	m := shipped(t, rt, "plain")
	dst := newTCP(t)   // peer B
	front := newTCP(t) // where peer A connects
	r := &watm.Relay{Module: m, Config: watm.ConnConfig{Dial: dst.dial}}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx, front.ln) }()

	a, err := net.Dial("tcp", front.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := dst.ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	up, down := randomBytes(8<<20, 3), randomBytes(8<<20, 4)
	errs := make(chan error, 2)
	go func() { errs <- sendAndCheck(a, b, up) }()
	go func() { errs <- sendAndCheck(b, a, down) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	b.Close()
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
