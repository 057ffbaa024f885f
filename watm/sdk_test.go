package watm_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// sdkFixtures behave like modules built with the published WATER SDKs
// (testdata/README.md): short writes fatal and read-only polling (TinyGo),
// write-readiness on every socket in every wait and 1 KiB reads (tokio),
// EPIPE from the worker at the end.
var sdkFixtures = []string{"sdk_tinygo_v0", "sdk_tinygo_v1", "sdk_tokio_v0", "sdk_epipe_v1"}

// TestSDKFixturesBulk runs each SDK-like fixture on both sides of a
// connection and sends 16 MiB each way at once, checked byte for byte: a
// host that writes short to a module that cannot take it fails here.
func TestSDKFixturesBulk(t *testing.T) {
	watmtest.LeakCheck(t)
	rt := newRuntime(t)
	for _, name := range sdkFixtures {
		t.Run(name, func(t *testing.T) {
			m, err := fixture(t, rt, name)
			if err != nil {
				t.Fatal(err)
			}
			c, s := wrappedPair(t, m, m)
			up, down := watmtest.RandomBytes(16<<20, 1), watmtest.RandomBytes(16<<20, 2)
			if err := watmtest.Exchange(c, s, up, down); err != nil {
				t.Fatal(err)
			}
			for _, conn := range []*watm.Conn{c, s} {
				select {
				case <-conn.Session().Done():
				case <-time.After(10 * time.Second):
					t.Fatal("the session did not end after both directions ended")
				}
				err := conn.Session().Wait()
				switch {
				case name == "sdk_epipe_v1" && (err == nil || !watm.IsNormalClose(err)):
					t.Errorf("session ended with %v, want EPIPE seen as a normal close", err)
				case name != "sdk_epipe_v1" && err != nil:
					t.Errorf("session ended with %v", err)
				}
				if b := conn.Session().Behaviour(); strings.HasPrefix(name, "sdk_tinygo") && b.StdioWrites != 1 {
					t.Errorf("StdioWrites = %d, want the one line the module logged", b.StdioWrites)
				}
			}
		})
	}
}

// TestWritePollSuppressed checks that a module that keeps a write
// subscription on every socket sleeps while the connection is idle: its
// waits leave out the sockets already reported writable.
func TestWritePollSuppressed(t *testing.T) {
	rt := newRuntime(t)
	m, err := fixture(t, rt, "sdk_tokio_v0")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := wrappedPair(t, m, m)
	s := c.Session()
	waitFor(t, 10*time.Second, "a suppressed write subscription", func() bool { return s.Behaviour().WritePollsSuppressed > 0 })
	// Idle, the module makes a few waits at most in this window, not
	// thousands.
	first := s.Behaviour().WritePollsSuppressed
	time.Sleep(300 * time.Millisecond)
	if got := s.Behaviour().WritePollsSuppressed; got-first > 2 {
		t.Fatalf("WritePollsSuppressed went from %d to %d while idle: the module is busy polling", first, got)
	}
	// It still moves data.
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
}

// TestShortWritesAbsorbed checks that a module that treats a short write
// as fatal survives a peer that reads slowly: the host queues what the
// kernel does not take and counts it.
func TestShortWritesAbsorbed(t *testing.T) {
	rt := newRuntime(t)
	m, err := fixture(t, rt, "sdk_tinygo_v0")
	if err != nil {
		t.Fatal(err)
	}
	a, b := watmtest.Pair(t)
	srv := watmtest.Listen(t)
	peer := make(chan net.Conn, 1)
	go func() { c, _ := srv.Accept(); peer <- c }()
	sess, err := m.Prepare(context.Background(), watm.RoleDialer, a, watm.ConnConfig{Dial: srv.Dial})
	if err != nil {
		t.Fatal(err)
	}
	sess.Start()
	p := <-peer
	defer p.Close()
	data := watmtest.RandomBytes(8<<20, 3)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.Write(data)
		b.CloseWrite()
	}()
	// The peer does not read until the kernel has written short.
	waitFor(t, 10*time.Second, "a short write", func() bool { return sess.Behaviour().ShortWritesAbsorbed > 0 })
	got := make([]byte, 0, len(data))
	buf := make([]byte, 64<<10)
	p.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		n, err := p.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	wg.Wait()
	if string(got) != string(data) {
		t.Fatalf("peer got %d bytes, want %d; first difference at %d", len(got), len(data), watmtest.FirstDiff(got, data))
	}
	if sess.Behaviour().ShortWritesAbsorbed == 0 {
		t.Error("ShortWritesAbsorbed = 0, want the queued writes counted")
	}
	p.Close()
	b.Close()
	if err := sess.Wait(); err != nil && !watm.IsNormalClose(err) {
		t.Errorf("session: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSDKFixturesEcho puts an echo behind each fixture's listener: the
// peer writes back only what it could read, so a host that blocks a
// single-threaded module's write (or its shutdown) while its other
// direction waits would deadlock. 32 MiB is echoed, byte for byte.
func TestSDKFixturesEcho(t *testing.T) {
	rt := newRuntime(t)
	for _, name := range append([]string{"ok_plain"}, sdkFixtures...) {
		t.Run(name, func(t *testing.T) {
			m, err := fixture(t, rt, name)
			if err != nil {
				t.Fatal(err)
			}
			c, s := wrappedPair(t, m, m)
			echoed := make(chan error, 1)
			go func() {
				_, err := io.Copy(s, s)
				if err == nil {
					err = s.CloseWrite()
				}
				echoed <- err
			}()
			data := watmtest.RandomBytes(32<<20, 4)
			c.SetDeadline(time.Now().Add(time.Minute))
			if err := watmtest.SendAndCheck(c, c, data); err != nil {
				t.Fatalf("%v; client %+v, server %+v", err, c.Session().Behaviour(), s.Session().Behaviour())
			}
			if err := <-echoed; err != nil {
				t.Fatal(err)
			}
		})
	}
}
