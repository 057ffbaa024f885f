package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
)

// TestManyIdleConnections holds many connections through a client/server
// pair running watm=plain on both sides: idle connections cost each PT no
// thread (under 100 threads whatever the number of connections) and no
// descriptor beyond their two sockets, every connection still echoes
// intact after idling, and both PTs exit within a second of stdin close
// with all of them open. WATERPT_SCALE_CONNS sets the number of
// connections (default 1000, 200 with -short; this process holds 2 fds per
// connection, so up to about 9000 under a 20,000 fd limit).
func TestManyIdleConnections(t *testing.T) {
	const (
		maxThreads = 100
		fdSlack    = 32 // the pool, the listeners, the Go runtime
		dialers    = 32 // connections set up at once
	)
	n := 1000
	if testing.Short() {
		n = 200
	}
	if v := os.Getenv("WATERPT_SCALE_CONNS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("WATERPT_SCALE_CONNS=%q: want a positive number of connections", v)
		}
	}
	p := startWaterPair(t, tortest.PairConfig{})
	echoOnce(t, p, 1024)
	sides := []struct {
		name string
		pt   *tortest.PT
		fds0 int
	}{{name: "client", pt: p.Client}, {name: "server", pt: p.Server}}
	for i := range sides {
		sides[i].fds0, _, _ = settledUsage(t, sides[i].pt.Pid())
	}

	conns := make([]net.Conn, n)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	forEach(t, conns, dialers, func(i int, _ net.Conn) error {
		ctx := ctxTimeout(t, 2*time.Minute)
		c, err := p.Dial(ctx)
		if err != nil {
			return err
		}
		conns[i] = c
		c.SetDeadline(time.Now().Add(time.Minute))
		defer c.SetDeadline(time.Time{})
		return tortest.CheckEcho(c, 1024)
	})
	for _, side := range sides {
		pid := side.pt.Pid()
		fds, threads, pss := settledUsage(t, pid)
		t.Logf("%s holding %d connections: %d threads, %d fds (%d before), PSS %d kB", side.name, n, threads, fds, side.fds0, pss)
		if threads >= maxThreads {
			t.Errorf("%s: %d threads with %d connections held, want under %d", side.name, threads, n, maxThreads)
		}
		if fds > side.fds0+2*n+fdSlack {
			t.Errorf("%s: %d fds with %d connections held (%d before), want at most %d (2 per connection and %d more)",
				side.name, fds, n, side.fds0, side.fds0+2*n+fdSlack, fdSlack)
		}
	}
	forEach(t, conns, dialers, func(_ int, c net.Conn) error {
		c.SetDeadline(time.Now().Add(time.Minute))
		defer c.SetDeadline(time.Time{})
		return tortest.CheckEcho(c, 4<<10)
	})

	marks := []time.Time{p.Client.CloseStdin(), p.Server.CloseStdin()}
	requireExit(t, p, marks)
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Fatalf("conn %d is still open after the PTs exited", i)
		}
	}
}

// forEach runs fn on every conn (and its index), at most par at once, and
// fails the test with the errors.
func forEach(t *testing.T, conns []net.Conn, par int, fn func(int, net.Conn) error) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	errs := make(chan error, len(conns))
	for i, c := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(i, c); err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}
