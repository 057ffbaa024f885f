package watm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// echoLoop echoes c with plain reads and writes (io.Copy between sockets
// splices through pipes that Go pools, which the fd counts would see).
func echoLoop(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// threadCount is the process's thread count (/proc/self/status Threads).
func threadCount(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads in /proc/self/status")
	return 0
}

// threadsInPpoll counts the process's threads blocked in ppoll(2), whatever
// threads earlier tests left idle.
func threadsInPpoll(t testing.TB) int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/syscall")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	want := strconv.Itoa(unix.SYS_PPOLL) + " "
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err == nil && strings.HasPrefix(string(b), want) {
			n++
		}
	}
	return n
}

// waitParked waits until n instances are parked in poll_oneoff.
func waitParked(t testing.TB, rt *watm.Runtime, n int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for rt.Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d instances parked after 30 s, want %d", rt.Parked(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIdleSessionsPark holds many idle plain sessions and checks that they
// cost no thread and no descriptor beyond their two sockets: no thread
// waits in ppoll, the process has at most 40 threads more than before, and
// fds grow by 4 per connection (the module's plaintext and dialed sockets,
// plus the test's own plaintext end and the echo server's socket). Every
// connection then echoes intact, and a Close wakes each parked module
// through its cancel channel: it stops by itself, well within the grace.
func TestIdleSessionsPark(t *testing.T) {
	rt := newRuntime(t, watm.WithPoolSize(0))
	m := shipped(t, rt, "plain")
	srv := watmtest.Serve(t, echoLoop)
	ctx := context.Background()
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: srv.Dial}}
	echo := func(c net.Conn, msg []byte) error {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("echo differs at byte %d", watmtest.FirstDiff(got, msg))
		}
		return nil
	}
	// Warm up (lazily started runtime goroutines), then count from here.
	c0, err := d.DialContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(c0, []byte("warm")); err != nil {
		t.Fatal(err)
	}
	c0.Close()
	if err := c0.Session().Wait(); err != nil {
		t.Fatal(err)
	}
	watmtest.LeakCheck(t)
	n := 500
	if testing.Short() {
		n = 100
	}
	threads0, fds0 := threadCount(t), watmtest.OpenFDs(t)
	conns := make([]*watm.Conn, n)
	for i := range conns {
		if conns[i], err = d.DialContext(ctx); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	check := func(when string) {
		t.Helper()
		waitParked(t, rt, int32(n))
		if p := threadsInPpoll(t); p > 0 {
			t.Errorf("%s: %d threads blocked in ppoll with %d idle sessions, want 0", when, p, n)
		}
		th, fds := threadCount(t), watmtest.OpenFDs(t)
		t.Logf("%s: %d sessions, threads %d -> %d, fds %d -> %d", when, n, threads0, th, fds0, fds)
		if th-threads0 > 40 {
			t.Errorf("%s: %d threads with %d idle sessions (%d before), want at most 40 more", when, th, n, threads0)
		}
		if fds-fds0 > 4*n+16 {
			t.Errorf("%s: %d open fds with %d sessions (%d before), want at most %d (4 per connection, 2 of them the module's)", when, fds, n, fds0, fds0+4*n+16)
		}
	}
	check("held")
	for i, c := range conns {
		if err := echo(c, watmtest.RandomBytes(1024, uint64(i))); err != nil {
			t.Fatalf("connection %d after parking: %v", i, err)
		}
	}
	check("after one echo each")

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Session().Close(); err != nil {
				errs <- fmt.Errorf("connection %d: Close: %w", i, err)
			}
			c.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if d := time.Since(start); d >= watm.DefaultGrace {
		t.Errorf("closing %d parked sessions took %v, want under the grace period %v (each stops on its cancel channel)", n, d, watm.DefaultGrace)
	}
	if r := rt.ReadySockets(); r != 0 {
		t.Errorf("%d sockets still registered with the ready watch after every session ended", r)
	}
}

// TestForcedStopWakesParked parks a module that waits on its caller fd and
// ignores its cancel channel: Close stops it by force after the grace
// period, which wakes the parked wait at once, and nothing stays
// registered.
func TestForcedStopWakesParked(t *testing.T) {
	watmtest.LeakCheck(t)
	const grace = 200 * time.Millisecond
	rt := newRuntime(t, watm.WithPoolSize(0), watm.WithGrace(grace))
	m, err := fixture(t, rt, "read_wait_worker")
	if err != nil {
		t.Fatal(err)
	}
	srv := watmtest.Serve(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	a, _ := watmtest.Pair(t)
	s, err := m.Prepare(context.Background(), watm.RoleDialer, a, watm.ConnConfig{Dial: srv.Dial})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitParked(t, rt, 1)
	if r := rt.ReadySockets(); r != 1 {
		t.Errorf("%d sockets registered with the ready watch while parked, want 1 (the caller fd)", r)
	}
	start := time.Now()
	err = s.Close()
	d := time.Since(start)
	if !errors.As(err, new(*watm.StopError)) {
		t.Errorf("Close: %v, want a StopError", err)
	}
	if d < grace || d > grace+time.Second {
		t.Errorf("Close took %v, want the grace period %v and at most 1 s more", d, grace)
	}
	if p := rt.Parked(); p != 0 {
		t.Errorf("%d instances still parked", p)
	}
	if r := rt.ReadySockets(); r != 0 {
		t.Errorf("%d sockets still registered with the ready watch", r)
	}
}
