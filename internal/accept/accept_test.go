package accept_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/internal/accept"
)

// fakeListener returns the errors in errs in turn (nil: a connection),
// then net.ErrClosed.
type fakeListener struct {
	mu   sync.Mutex
	errs []error
}

func (l *fakeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil, net.ErrClosed
	}
	err := l.errs[0]
	l.errs = l.errs[1:]
	if err != nil {
		return nil, err
	}
	a, b := net.Pipe()
	b.Close()
	return a, nil
}
func (l *fakeListener) Close() error   { return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

func opErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// syncBuffer is a log destination the loop's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestLoopSurvivesTransientErrors(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM} {
		t.Run(errno.Error(), func(t *testing.T) {
			ln := &fakeListener{errs: []error{nil, opErr(errno), opErr(errno), opErr(errno), nil}}
			var logs syncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			conns := 0
			start := time.Now()
			err := accept.Loop(context.Background(), ln, logger, "test", func(c net.Conn) { conns++; c.Close() })
			if err != nil {
				t.Fatalf("Loop = %v, want nil after the listener closed", err)
			}
			if conns != 2 {
				t.Errorf("handled %d connections, want 2: the loop stopped at the error", conns)
			}
			// Back-off 5 + 10 + 20 ms.
			if d := time.Since(start); d < 35*time.Millisecond {
				t.Errorf("three errors took %v: no back-off", d)
			}
			if n := strings.Count(logs.String(), "accept failed"); n != 1 {
				t.Errorf("logged %d times, want once per burst:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), errno.Error()) {
				t.Errorf("log does not name the error %q:\n%s", errno.Error(), logs.String())
			}
		})
	}
}

func TestLoopEndsOnPermanentError(t *testing.T) {
	ln := &fakeListener{errs: []error{opErr(syscall.EBADF), nil}}
	err := accept.Loop(context.Background(), ln, slog.New(slog.DiscardHandler), "test", func(c net.Conn) { c.Close() })
	if !errors.Is(err, syscall.EBADF) {
		t.Fatalf("Loop = %v, want EBADF", err)
	}
}

func TestLoopStopsDuringBackoff(t *testing.T) {
	errs := make([]error, 100)
	for i := range errs {
		errs[i] = opErr(syscall.EMFILE)
	}
	ln := &fakeListener{errs: errs}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- accept.Loop(ctx, ln, slog.New(slog.DiscardHandler), "test", func(c net.Conn) { c.Close() })
	}()
	time.Sleep(20 * time.Millisecond) // let it reach a back-off; the assertion does not depend on it
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Loop = %v, want nil on cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Loop did not return after its context ended")
	}
}

func TestBurst(t *testing.T) {
	var b accept.Burst
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at         time.Duration
		log        bool
		suppressed int
	}{
		{0, true, 0}, {time.Second, false, 0}, {2 * time.Second, false, 0},
		{accept.Quiet, true, 2}, {accept.Quiet + time.Second, false, 0}, {3 * accept.Quiet, true, 1},
	}
	for i, s := range steps {
		log, n := b.Event(t0.Add(s.at))
		if log != s.log || n != s.suppressed {
			t.Errorf("event %d at %v: (%v, %d), want (%v, %d)", i, s.at, log, n, s.log, s.suppressed)
		}
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{opErr(syscall.EMFILE), true},
		{opErr(syscall.ECONNABORTED), true},
		{opErr(syscall.EBADF), false},
		{opErr(syscall.EINVAL), false},
		{net.ErrClosed, false},
		{fmt.Errorf("wrapped: %w", syscall.ENFILE), true},
	} {
		if got := accept.Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
