package ptserver

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/water-pt/water-pt/internal/ptlog"
)

// What an inbound connection may cost before it has proved anything.
//
// A connection that sends nothing should hold as little as possible: until
// its first byte it is one descriptor and one parked goroutine in the
// netpoller (routineConn waits with MSG_PEEK, so the module still reads
// every byte), and after IdleTimeout it is closed. Only then are a module
// instance and an ExtORPort connection (two more descriptors and a module's
// memory) taken. MaxConns bounds how many may be open at all.

// admit tracks c, or closes it when MaxConns connections are open; the
// refusals are logged once per burst.
func (s *Server) admit(c net.Conn) bool {
	s.mu.Lock()
	n := len(s.conns)
	full := s.MaxConns > 0 && n >= s.MaxConns
	if !full {
		s.conns[c] = struct{}{}
	}
	s.mu.Unlock()
	if !full {
		return true
	}
	c.Close()
	if log, suppressed := s.full.Event(time.Now()); log {
		s.Logger.Warn("too many connections: closing new ones at once (logged once per burst; -max-conns)",
			"open", n, "max_conns", s.MaxConns, "refused_since_last_log", suppressed, ptlog.NotifyTor, true)
	}
	return false
}

// waitFirstByte waits until c has a byte to read (without reading it), for
// at most IdleTimeout. It reports whether c should be served: false when
// the client sent nothing in time, closed, or ctx ended.
func (s *Server) waitFirstByte(ctx context.Context, c net.Conn) bool {
	if s.IdleTimeout <= 0 {
		return true
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	_ = c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	err = peekByte(rc)
	if !stop() || c.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		if log, suppressed := s.silent.Event(time.Now()); log {
			s.Logger.Info("closed a connection that sent nothing (logged once per burst; -server-idle-timeout)",
				"idle_timeout", s.IdleTimeout.String(), "closed_since_last_log", suppressed)
		}
	case !errors.Is(err, io.EOF):
		s.Logger.Debug("inbound connection failed before its first byte", "err", err)
	}
	return false
}

// peekByte waits for a byte on rc's socket and leaves it there; io.EOF if
// the peer closed first.
func peekByte(rc syscall.RawConn) error {
	var b [1]byte
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		var n int
		n, _, rerr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK)
		switch {
		case rerr == unix.EAGAIN || rerr == unix.EINTR:
			return false
		case rerr == nil && n == 0:
			rerr = io.EOF
		}
		return true
	})
	if err != nil {
		return err
	}
	return rerr
}
