package ptserver

import (
	"context"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// An ExtORPort connection made ready before a client needs it.
//
// The server dials tor only once a connection's first byte is in (guard.go),
// so tor waking up to accept and both round trips of the ExtORPort
// handshake are set-up time every client waits for. The spare takes the
// accept and the first round trip off that path: it is an ExtORPort
// connection on which tor has already proved that it knows the cookie, and
// which waits, carrying no client, for the client hash, USERADDR, TRANSPORT
// and DONE that the next connection sends in one write.
//
// At most one spare exists, and a new one is dialed only when a connection
// that sent its first byte has taken the last one: tor sees at most one
// connection more than the clients that reached it, however many connect
// and send nothing. A spare that tor has closed meanwhile is noticed when it
// is taken (or when its second round trip fails) and the connection dials
// afresh. RATIONALE.md, "Why an ExtORPort connection in reserve?".
type orSpare struct {
	// start dials the ExtORPort and runs the first round trip.
	start func(ctx context.Context) (*extORHalf, error)
	wg    *sync.WaitGroup // owns routineFill: the Server's

	mu      sync.Mutex // guards everything below
	half    *extORHalf
	filling bool
	closed  bool
}

// take returns the spare if there is one still open, and starts making the
// next one. ctx bounds that dial: the server's connection context.
func (o *orSpare) take(ctx context.Context) *extORHalf {
	o.mu.Lock()
	h := o.half
	o.half = nil
	if !o.filling && !o.closed {
		o.filling = true
		o.wg.Add(1)
		go o.routineFill(ctx)
	}
	o.mu.Unlock()
	if h != nil && !stillOpen(h.c) {
		h.c.Close()
		return nil
	}
	return h
}

func (o *orSpare) routineFill(ctx context.Context) {
	defer o.wg.Done()
	h, err := o.start(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.filling = false
	switch {
	case err != nil:
		// The next connection dials for itself, reports what is wrong,
		// and tries for a spare again.
	case o.closed || o.half != nil:
		h.c.Close()
	default:
		o.half = h
	}
}

// close closes the spare and makes no more; routines already dialing
// close what they get (wait for them on the Server's WaitGroup).
func (o *orSpare) close() {
	o.mu.Lock()
	h := o.half
	o.half, o.closed = nil, true
	o.mu.Unlock()
	if h != nil {
		h.c.Close()
	}
}

// stillOpen reports whether c's peer has neither closed it nor sent
// anything: tor has nothing to say before our client hash.
func stillOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, rerr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true
	})
	return err == nil && rerr == unix.EAGAIN
}

// startOR dials the ExtORPort and runs the first round trip of its
// handshake.
func startOR(ctx context.Context, d *net.Dialer, addr, cookiePath string) (*extORHalf, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	h, err := extORStart(c, cookiePath)
	if err != nil {
		c.Close()
		return nil, err
	}
	return h, nil
}
