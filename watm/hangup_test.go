package watm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// bridgeConns is a TCP server that hands each accepted conn to the test.
func bridgeConns(t *testing.T) (*watmtest.Server, <-chan net.Conn) {
	ch := make(chan net.Conn, 8)
	tp := watmtest.Serve(t, func(c net.Conn) {
		done := make(chan struct{})
		ch <- &notifyConn{Conn: c, done: done}
		<-done
	})
	return tp, ch
}

// notifyConn tells the server handler when the test is done with it.
type notifyConn struct {
	net.Conn
	done chan struct{}
}

func (c *notifyConn) Close() error {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	return c.Conn.Close()
}

// TestHangupEndsStuckModules runs modules that never look at their
// sockets or cancel fd (one spins without host calls, one calls an empty
// poll_oneoff in a loop, one waits on an hour-long clock), closes the
// client side of each, and checks that within a second the session has
// ended, its bridge connection is closed and nothing is left registered,
// while a plain connection beside them keeps echoing.
func TestHangupEndsStuckModules(t *testing.T) {
	watmtest.LeakCheck(t)
	rt := newRuntime(t)
	by := newBystander(t, rt)
	by.check(t) // both of its sessions are running
	base := rt.WatchedSockets()
	srv, bridges := bridgeConns(t)
	for _, name := range []string{"spin_worker", "poll_empty_worker", "clock_worker"} {
		t.Run(name, func(t *testing.T) {
			m, err := fixture(t, rt, name)
			if err != nil {
				t.Fatal(err)
			}
			a, client := watmtest.Pair(t)
			s, err := m.Prepare(context.Background(), watm.RoleDialer, a, watm.ConnConfig{Dial: srv.Dial})
			if err != nil {
				t.Fatal(err)
			}
			bridge := <-bridges
			defer bridge.Close()
			s.Start()
			if n := rt.WatchedSockets() - base; n != 2 {
				t.Errorf("%d sockets watched after Start, want 2 (plaintext and bridge)", n)
			}
			client.Close()
			left := time.Now()
			select {
			case <-s.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the session did not end within 5 s of the client leaving")
			}
			if d := time.Since(left); d > time.Second {
				t.Errorf("the session ended %v after the client left, want within 1 s", d)
			}
			if err := s.Wait(); !errors.As(err, new(*watm.StopError)) {
				t.Errorf("Wait: %v, want a StopError", err)
			}
			bridge.SetReadDeadline(time.Now().Add(time.Second))
			if n, err := bridge.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("bridge read: %d, %v; want EOF (the module's bridge conn closed)", n, err)
			}
			if n := rt.WatchedSockets() - base; n != 0 {
				t.Errorf("%d sockets still watched after the session ended", n)
			}
			by.check(t)
		})
	}
}

// TestHangupKeepsHalfClose checks that a module that relays a half-close
// keeps its session: the client sends, shuts its side down, and the bridge
// answers only after more than the hang-up wait plus the grace period.
func TestHangupKeepsHalfClose(t *testing.T) {
	watmtest.LeakCheck(t)
	const grace = 200 * time.Millisecond
	rt := newRuntime(t, watm.WithGrace(grace))
	msg := watmtest.RandomBytes(256<<10, 21)
	srv := watmtest.Serve(t, func(c net.Conn) {
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, msg) {
			return
		}
		time.Sleep(3 * grace)
		c.Write(got)
	})
	for _, load := range []func() (*watm.Module, error){
		func() (*watm.Module, error) { return fixture(t, rt, "ok_plain") },
		func() (*watm.Module, error) { return shipped(t, rt, "plain"), nil },
	} {
		m, err := load()
		if err != nil {
			t.Fatal(err)
		}
		c, err := (&watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: srv.Dial}}).DialContext(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := watmtest.SendAndCheck(c, c, msg); err != nil {
			t.Errorf("half-closed relay: %v", err)
		}
		c.Close()
		if err := c.Session().Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	}
	if n := rt.WatchedSockets(); n != 0 {
		t.Errorf("%d sockets still watched after every session ended", n)
	}
}

// TestHangupWatchCost opens and ends many sessions and checks that the
// watch holds nothing afterwards and that the runtime's one watching
// goroutine and descriptor go away with it (leakCheck).
func TestHangupWatchCost(t *testing.T) {
	watmtest.LeakCheck(t)
	rt := newRuntime(t)
	m := shipped(t, rt, "plain")
	// A sink, not an echo: io.Copy between sockets splices through
	// pipes that Go keeps in a pool until a GC, which leakCheck would count.
	srv := watmtest.Serve(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: srv.Dial}}
	var conns []*watm.Conn
	for range 20 {
		c, err := d.DialContext(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if n := rt.WatchedSockets(); n != 40 {
		t.Errorf("%d sockets watched for 20 sessions, want 40", n)
	}
	for _, c := range conns {
		c.Close()
		c.Session().Wait()
	}
	if n := rt.WatchedSockets(); n != 0 {
		t.Errorf("%d sockets still watched after every session ended", n)
	}
}

// TestSetupTimeout runs a module whose init waits 60 s under a short set-up
// timeout: Prepare fails at the deadline with a SetupTimeoutError naming
// init, the bridge is never dialed, and the caller's conn comes back
// usable (for a SOCKS reply).
func TestSetupTimeout(t *testing.T) {
	watmtest.LeakCheck(t)
	const timeout = 300 * time.Millisecond
	rt := newRuntime(t, watm.WithSetupTimeout(timeout))
	m, err := fixture(t, rt, "slow_init")
	if err != nil {
		t.Fatal(err)
	}
	dialed := false
	dial := func(context.Context) (net.Conn, error) { dialed = true; return nil, errors.New("dialed") }
	a, b := watmtest.Pair(t)
	start := time.Now()
	s, err := m.Prepare(context.Background(), watm.RoleDialer, a, watm.ConnConfig{Dial: dial})
	elapsed := time.Since(start)
	if s != nil {
		s.Close()
	}
	const want = "watm: module set-up did not finish within the set-up timeout of 300ms (in _water_init): instance stopped"
	if err == nil || err.Error() != want {
		t.Fatalf("Prepare: %v, want %q", err, want)
	}
	if !errors.As(err, new(*watm.SetupTimeoutError)) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %T is not a SetupTimeoutError wrapping context.DeadlineExceeded", err)
	}
	if elapsed < timeout || elapsed > timeout+time.Second {
		t.Errorf("Prepare returned after %v, want just past %v", elapsed, timeout)
	}
	if dialed {
		t.Error("host_dial was reached")
	}
	if _, err := a.Write([]byte("reply")); err != nil {
		t.Fatalf("the caller's conn is not usable after the timeout: %v", err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "reply" {
		t.Errorf("read %q, %v", got, err)
	}
	if n := rt.Live(); n != 0 {
		t.Errorf("%d sessions live after the timeout", n)
	}
}

// TestHangupResetEndsAtOnce checks that a reset (not a FIN) ends the
// session without the end-of-file wait: with a grace period of 2 s, a
// module that ignores everything is stopped 2 s after the client resets
// its connection (cancel channel, grace, forced stop), not 3 s (the wait
// for it to read an end of file first).
func TestHangupResetEndsAtOnce(t *testing.T) {
	watmtest.LeakCheck(t)
	const grace = 2 * time.Second
	rt := newRuntime(t, watm.WithGrace(grace))
	m, err := fixture(t, rt, "clock_worker")
	if err != nil {
		t.Fatal(err)
	}
	srv, bridges := bridgeConns(t)
	a, client := watmtest.Pair(t)
	s, err := m.Prepare(context.Background(), watm.RoleDialer, a, watm.ConnConfig{Dial: srv.Dial})
	if err != nil {
		t.Fatal(err)
	}
	defer (<-bridges).Close()
	s.Start()
	client.SetLinger(0) // Close sends RST
	client.Close()
	left := time.Now()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not end within 10 s of the reset")
	}
	if d := time.Since(left); d < grace || d > grace+grace/4 {
		t.Errorf("the session ended %v after the reset, want the grace period (%v) and no end-of-file wait (%v more)", d, grace, grace/2)
	}
}
