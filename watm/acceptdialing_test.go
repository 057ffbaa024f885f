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

// TestAcceptDialing runs the listener with a plaintext side dialed during
// set-up (as the PT server dials the ExtORPort): bytes go through both
// ways, and the session owns what was dialed.
func TestAcceptDialing(t *testing.T) {
	rt := newRuntime(t)
	m := shipped(t, rt, "plain")
	netClient, netServer := watmtest.Pair(t)
	plainHost, plainMod := watmtest.Pair(t)
	sess, err := (&watm.Listener{Module: m}).AcceptDialing(context.Background(), netServer,
		func(context.Context) (net.Conn, error) { return plainMod, nil })
	if err != nil {
		t.Fatal(err)
	}
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
