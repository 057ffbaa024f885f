// Package accept runs listeners' accept loops so that they survive what a
// busy or attacked process meets: running out of descriptors (EMFILE,
// ENFILE), of kernel memory (ENOBUFS, ENOMEM), connections aborted before
// they were accepted. Such an error is logged once per burst and the loop
// backs off (5 ms doubling to 1 s, as net/http's Server does) and goes on;
// only a closed listener or the end of the context ends it.
package accept

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/water-pt/water-pt/internal/ptlog"
)

// Back-off after a transient accept error, as net/http's Server.
const (
	MinDelay = 5 * time.Millisecond
	MaxDelay = time.Second
)

// Quiet is how long a burst of events stays one burst: an event that comes
// sooner after the last logged one is counted, not logged.
const Quiet = 10 * time.Second

// Loop accepts on ln and hands each connection to handle (which must not
// block for long: start a goroutine) until ln is closed or ctx ends; then it
// returns nil. A transient error is logged (once per burst, with how many
// came since the last log line) and retried after a back-off; any other
// error ends the loop and is returned. what names the listener in logs.
func Loop(ctx context.Context, ln net.Listener, logger *slog.Logger, what string, handle func(net.Conn)) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var burst Burst
	delay := time.Duration(0)
	for {
		c, err := ln.Accept()
		if err == nil {
			delay = 0
			handle(c)
			continue
		}
		if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return nil
		}
		if !Transient(err) {
			logger.Error(what+": accept failed; no longer accepting", "err", err)
			return err
		}
		delay = min(max(2*delay, MinDelay), MaxDelay)
		if ok, n := burst.Event(time.Now()); ok {
			logger.Warn(what+": accept failed; retrying (logged once per burst)", "err", err,
				"since_last_log", n, "retry_in", delay.String(), ptlog.NotifyTor, true)
		}
		if !sleep(ctx, delay) {
			return nil
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// transientErrnos are the accept(2) errors that say nothing about the
// listener itself: resources that come back, and (Linux accept(2), "Error
// handling") network errors of the connection being accepted.
var transientErrnos = [...]syscall.Errno{
	syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
	syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.EPERM,
	syscall.ECONNRESET, syscall.ENETDOWN, syscall.ENOPROTOOPT, syscall.EHOSTDOWN,
	syscall.ENONET, syscall.EHOSTUNREACH, syscall.EOPNOTSUPP, syscall.ENETUNREACH,
}

// Transient reports whether an accept error will likely pass.
func Transient(err error) bool {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		for _, e := range transientErrnos {
			if errno == e {
				return true
			}
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Burst tells which events of a burst to log: the first, then none until
// Quiet has passed since the last logged one. Its zero value is ready; it
// is safe for concurrent use.
type Burst struct {
	mu     sync.Mutex
	logged time.Time // when the last logged event was
	count  int       // events not logged since
}

// Event records an event at now. log says to log it; suppressed is how
// many events went unlogged before it.
func (b *Burst) Event(now time.Time) (log bool, suppressed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.logged.IsZero() && now.Sub(b.logged) < Quiet {
		b.count++
		return false, 0
	}
	suppressed, b.count, b.logged = b.count, 0, now
	return true, suppressed
}
