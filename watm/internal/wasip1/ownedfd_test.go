package wasip1

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/water-pt/water-pt/watm/watmtest"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// readSome reads from s without blocking, waiting in poll(2) for
// readability, until it has n bytes.
func readSome(t *testing.T, s *SockFile, n int) string {
	t.Helper()
	var got []byte
	buf := make([]byte, n)
	for len(got) < n {
		k, e := s.Read(buf[:n-len(got)], true)
		switch e {
		case ESUCCESS:
			if k == 0 {
				t.Fatalf("end of file after %q", got)
			}
			got = append(got, buf[:k]...)
		case EAGAIN:
			fds := []unix.PollFd{{Fd: int32(s.Pollfd()), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, 10_000); err != nil && err != unix.EINTR {
				t.Fatal(err)
			}
		default:
			t.Fatalf("read: %v after %q", e, got)
		}
	}
	return string(got)
}

// TestOwnDescriptor: a socket taken out of the netpoller keeps working:
// non-blocking reads and writes both ways, a blocking read that waits for
// its data, an abort that wakes a blocked read; the conn it replaced is
// closed, no descriptor is added, and Close closes the socket (the peer
// reads end of file) and every descriptor it made.
func TestOwnDescriptor(t *testing.T) {
	peer, host := watmtest.Pair(t)
	s, err := NewSockFile(host)
	if err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	s.OwnDescriptor(new(atomic.Int32))
	if _, ok := s.RawConn().(*ownedFD); !ok {
		t.Fatalf("RawConn is %T after OwnDescriptor, want *ownedFD", s.RawConn())
	}
	if n := openFDs(t); n != before {
		t.Errorf("%d descriptors after OwnDescriptor, want %d (a duplicate for the conn's)", n, before)
	}
	if _, err := host.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the replaced conn's Write: %v, want net.ErrClosed", err)
	}

	if _, err := peer.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := readSome(t, s, 4); got != "ping" {
		t.Fatalf("read %q, want ping", got)
	}
	if n, e := s.Write([]byte("pong"), true); n != 4 || e != ESUCCESS {
		t.Fatalf("write: %d, %v", n, e)
	}
	got := make([]byte, 4)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "pong" {
		t.Fatalf("peer read %q, %v; want pong", got, err)
	}

	// A blocking read waits for its data (a read that did not wait would
	// return EAGAIN: nothing has been sent yet).
	type result struct {
		s string
		e Errno
	}
	blocked := make(chan result, 1)
	go func() {
		buf := make([]byte, 8)
		n, e := s.Read(buf, false)
		blocked <- result{string(buf[:n]), e}
	}()
	if _, err := peer.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	if r := <-blocked; r.e != ESUCCESS || r.s != "late" {
		t.Fatalf("blocking read: %q, %v; want late", r.s, r.e)
	}

	// An abort wakes a blocked read (before or after it waits).
	go func() {
		n, e := s.Read(make([]byte, 8), false)
		blocked <- result{"", e}
		_ = n
	}()
	s.abort()
	select {
	case r := <-blocked:
		if r.e == ESUCCESS {
			t.Fatalf("read after abort succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("abort did not wake a blocked read")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("peer read after Close: %d, %v; want EOF", n, err)
	}
	if n := openFDs(t); n != before-1 {
		t.Errorf("%d descriptors after Close, want %d: the socket's and its twin's closed", n, before-1)
	}
}

// TestOwnedCloseWakesBlockedRead: Close from another goroutine ends a
// blocking read with EBADF, and closes the descriptor once the read has
// let go of it.
func TestOwnedCloseWakesBlockedRead(t *testing.T) {
	peer, host := watmtest.Pair(t)
	s, err := NewSockFile(host)
	if err != nil {
		t.Fatal(err)
	}
	s.OwnDescriptor(new(atomic.Int32))
	done := make(chan Errno, 1)
	go func() {
		_, e := s.Read(make([]byte, 8), false)
		done <- e
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-done:
		if e != EBADF && e != ESUCCESS {
			t.Fatalf("read ended with %v, want EBADF (or end of file)", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake a blocked read")
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("peer read after Close: %d, %v; want EOF", n, err)
	}
}

// TestOwnDescriptorLeavesOthers: a conn that is not TCP or Unix (here a
// socketpair end as *os.File) keeps its RawConn.
func TestOwnDescriptorLeavesOthers(t *testing.T) {
	a, b, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := FileSock(a)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.OwnDescriptor(new(atomic.Int32))
	if _, ok := s.RawConn().(*ownedFD); ok {
		t.Fatal("an *os.File socket was taken out of the netpoller")
	}
}
