package watm_test

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// acceptDialingPlain sets up (does not start) a plain listener session
// whose plaintext side is dialed during set-up, and returns it with the
// test's ends of its network and plaintext conns.
func acceptDialingPlain(t *testing.T) (sess *watm.Session, netClient, plainHost net.Conn) {
	t.Helper()
	rt := newRuntime(t)
	m := shipped(t, rt, "plain")
	netClient, netServer := watmtest.Pair(t)
	plainHost, plainMod := watmtest.Pair(t)
	sess, err := (&watm.Listener{Module: m}).AcceptDialing(context.Background(), netServer,
		func(context.Context) (net.Conn, error) { return plainMod, nil })
	if err != nil {
		t.Fatal(err)
	}
	return sess, netClient, plainHost
}

// TestAcceptDialing runs the listener with a plaintext side dialed during
// set-up (as the PT server dials the ExtORPort): bytes go through both
// ways, and the session owns what was dialed.
func TestAcceptDialing(t *testing.T) {
	sess, netClient, plainHost := acceptDialingPlain(t)
	sess.Start()
	up, down := watmtest.RandomBytes(1<<20, 1), watmtest.RandomBytes(1<<20, 2)
	go netClient.Write(up)
	go plainHost.Write(down)
	for _, c := range []struct {
		conn net.Conn
		want []byte
	}{{plainHost, up}, {netClient, down}} {
		got := make([]byte, len(c.want))
		c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c.conn, got); err != nil || string(got) != string(c.want) {
			t.Fatalf("read %v: first difference at %d", err, watmtest.FirstDiff(got, c.want))
		}
	}
	netClient.Close()
	plainHost.Close()
	if err := sess.Wait(); err != nil && !watm.IsNormalClose(err) {
		t.Errorf("session: %v", err)
	}
}

// TestAcceptDialingDialFails checks that a failed dial is returned as it
// is, closes the network conn and leaves no session.
func TestAcceptDialingDialFails(t *testing.T) {
	rt := newRuntime(t)
	m := shipped(t, rt, "plain")
	netClient, netServer := watmtest.Pair(t)
	refused := errors.New("ExtORPort refused")
	_, err := (&watm.Listener{Module: m}).AcceptDialing(context.Background(), netServer,
		func(context.Context) (net.Conn, error) { return nil, refused })
	if err != refused {
		t.Fatalf("err = %v, want the dial's own error", err)
	}
	netClient.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := netClient.Read(make([]byte, 1)); n != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("network conn: read %d, %v; want it closed", n, err)
	}
	if n := rt.Live(); n != 0 {
		t.Fatalf("%d sessions live, want 0", n)
	}
}

// TestSessionRun: Run runs the worker on the calling goroutine: bytes go
// through both ways while it runs, it returns when the connection ends,
// with Wait's result, and Run or Start after that only wait.
func TestSessionRun(t *testing.T) {
	watmtest.LeakCheck(t)
	sess, netClient, plainHost := acceptDialingPlain(t)
	ran := make(chan error, 1)
	go func() { ran <- sess.Run() }()
	for i, c := range []struct{ w, r net.Conn }{{netClient, plainHost}, {plainHost, netClient}} {
		data := watmtest.RandomBytes(64<<10, uint64(i))
		go c.w.Write(data)
		got := make([]byte, len(data))
		c.r.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c.r, got); err != nil || string(got) != string(data) {
			t.Fatalf("direction %d: %v, first difference at %d", i, err, watmtest.FirstDiff(got, data))
		}
	}
	select {
	case err := <-ran:
		t.Fatalf("Run returned %v while the connection was open", err)
	default:
	}
	netClient.Close()
	plainHost.Close()
	var runErr error
	select {
	case runErr = <-ran:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after both ends closed")
	}
	if runErr != nil && !watm.IsNormalClose(runErr) {
		t.Fatalf("Run: %v", runErr)
	}
	sess.Start()
	if again, wait := sess.Run(), sess.Wait(); again != runErr || wait != runErr {
		t.Fatalf("after the end: Run %v, Wait %v; want %v both", again, wait, runErr)
	}
}
