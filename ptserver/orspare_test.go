package ptserver

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/water-pt/water-pt/ptserver/extortest"
)

// TestORSpare: once a connection has reached tor, the server keeps one
// more ExtORPort connection authenticated and waiting, and the next
// connection goes through it (tor accepted it before that connection was
// dialed) with its own USERADDR; a spare that tor closed meanwhile is
// replaced by a fresh dial, and the connection is served; the spare is
// closed when the server stops.
func TestORSpare(t *testing.T) {
	ext := extortest.Start(t, extortest.Echo())
	s := newServer(newCatalog(t), ext, map[string]string{"watm": "plain"})
	s.IdleTimeout = time.Minute
	methods, errs := s.Setup(context.Background())
	if len(errs) != 0 || len(methods) != 1 {
		t.Fatalf("Setup: %d methods, errors %v", len(methods), errs)
	}
	addr := methods[0].Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { s.Serve(ctx, ctx); close(served) }()
	defer func() { cancel(); <-served }()

	echo := func(msg string) (local string) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q, %v; want %q", got, err, msg)
		}
		return c.LocalAddr().String()
	}
	session := func(n int) extortest.Session {
		t.Helper()
		ss, err := ext.WaitSessions(ctxFor(t, 10*time.Second), n)
		if err != nil {
			t.Fatal(err)
		}
		return ss[n-1]
	}
	waitUnlisted := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for ext.Unlisted() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d ExtORPort connections waiting in reserve, want %d", ext.Unlisted(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}

	if n := ext.Unlisted(); n != 0 {
		t.Fatalf("%d ExtORPort connections before any client, want 0", n)
	}
	echo("first")
	waitUnlisted(1)

	dialed := time.Now()
	local := echo("second, through the spare")
	if s := session(2); !s.Accepted.Before(dialed) || !s.AuthOK || s.UserAddr != local || s.Transport != MethodName {
		t.Fatalf("second session %+v: want the spare (accepted before %v), authenticated, USERADDR %s, TRANSPORT %s",
			s, dialed, local, MethodName)
	}
	waitUnlisted(1)

	ext.DropUnlisted()
	if s := session(3); s.Err == nil || s.AuthOK {
		t.Fatalf("dropped spare %+v: want an error before authentication", s)
	}
	dialed = time.Now()
	local = echo("third, after tor dropped the spare")
	if s := session(4); s.Accepted.Before(dialed) || !s.AuthOK || s.UserAddr != local {
		t.Fatalf("third session %+v: want a fresh dial (accepted after %v), authenticated, USERADDR %s", s, dialed, local)
	}
	waitUnlisted(1)

	cancel()
	<-served
	ss, err := ext.WaitClosed(ctxFor(t, 10*time.Second), 5)
	if err != nil {
		t.Fatalf("after the server stopped: %v", err)
	}
	if len(ss) != 5 || ext.Unlisted() != 0 {
		t.Fatalf("after the server stopped: %d sessions, %d unlisted; want 5 (the spare closed), 0", len(ss), ext.Unlisted())
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
