package watm

import (
	"cmp"
	"context"
	"errors"
	"net"
	"sync"

	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// Conn is the plaintext side of a connection whose other side a module
// runs: what Dial and Accept return. It is a real Unix socket, so it has a
// descriptor (CloseWrite, SyscallConn) like any *net.UnixConn. Closing it
// lets the module finish: it sees EOF, flushes, and the session ends.
type Conn struct {
	*net.UnixConn
	session *Session
}

// Session returns the session serving the connection.
func (c *Conn) Session() *Session { return c.session }

// pairPrepare prepares a session whose plaintext is one end of a new
// socketpair and returns the other end as a *Conn.
func (m *Module) pairPrepare(ctx context.Context, role Role, cc ConnConfig) (*Conn, error) {
	hostEnd, modEnd, err := wasip1.SocketPair()
	if err != nil {
		return nil, err
	}
	hc, err := wasip1.FileConn(hostEnd)
	if err != nil {
		modEnd.Close()
		return nil, err
	}
	plain, err := wasip1.FileSock(modEnd)
	if err != nil {
		hc.Close()
		return nil, err
	}
	s, err := m.prepare(ctx, role, plain, cc)
	if err != nil {
		_ = plain.Close()
		hc.Close()
		return nil, err
	}
	s.Start()
	return &Conn{UnixConn: hc.(*net.UnixConn), session: s}, nil
}

// Dialer runs a module's dialer role: the module wraps plaintext and
// host_dial reaches the destination Dial chooses.
type Dialer struct {
	Module *Module
	Config ConnConfig // Dial must be set
}

// DialContext returns the plaintext side of a new connection to the
// dialer's destination.
func (d *Dialer) DialContext(ctx context.Context) (*Conn, error) {
	return d.Module.pairPrepare(ctx, RoleDialer, d.Config)
}

// DialConn uses the caller's own conn as the plaintext side (no extra
// pipe); the session owns it from then on.
func (d *Dialer) DialConn(ctx context.Context, plaintext net.Conn) (*Session, error) {
	s, err := d.Module.Prepare(ctx, RoleDialer, plaintext, d.Config)
	if err != nil {
		return nil, err
	}
	s.Start()
	return s, nil
}

// Listener runs a module's listener role on inbound connections.
type Listener struct {
	Module *Module
	Config ConnConfig // Accept is set per connection
}

// AcceptConn unwraps an already accepted network conn. With plaintext nil
// the plaintext side is returned as a *Conn; otherwise plaintext is used
// (and owned) and the returned Conn is nil.
func (l *Listener) AcceptConn(ctx context.Context, network net.Conn, plaintext net.Conn) (*Conn, *Session, error) {
	cc := l.Config
	cc.Accept = acceptOnce(network)
	if plaintext == nil {
		c, err := l.Module.pairPrepare(ctx, RoleListener, cc)
		if err != nil {
			network.Close()
			return nil, nil, err
		}
		return c, c.session, nil
	}
	s, err := l.Module.Prepare(ctx, RoleListener, plaintext, cc)
	if err != nil {
		network.Close()
		return nil, nil, err
	}
	s.Start()
	return nil, s, nil
}

// AcceptDialing is AcceptConn for a plaintext side still to be dialed, and
// returns the session set up but not started: the caller calls Run (or
// Start). dialPlain runs while the instance is taken from the pool (or
// made, when the pool is empty), so that neither waits for the other, and
// the session owns what it dialed. When the pool has an instance ready,
// nothing is there to wait for: dialPlain runs on the calling goroutine.
// On failure network and the dialed conn are closed; dialPlain's own error
// is returned as it is.
func (l *Listener) AcceptDialing(ctx context.Context, network net.Conn, dialPlain func(context.Context) (net.Conn, error)) (*Session, error) {
	m := l.Module
	if err := m.need(RoleListener); err != nil {
		network.Close()
		return nil, err
	}
	m.pool.beginSetup()
	defer m.pool.endSetup()
	cc := l.Config
	cc.Accept = acceptOnce(network)
	sctx, cancel := m.rt.setupContext(ctx)
	defer cancel()
	var (
		in      *instance
		err     error
		plain   net.Conn
		dialErr error
	)
	if in = m.ready(cc); in != nil {
		plain, dialErr = dialPlain(ctx)
	} else {
		type dialed struct {
			c   net.Conn
			err error
		}
		ch := make(chan dialed, 1)
		go func() {
			c, err := dialPlain(ctx)
			ch <- dialed{c, err}
		}()
		in, err = m.acquire(sctx, cc)
		d := <-ch
		plain, dialErr = d.c, d.err
	}
	s, err := m.enterDialed(ctx, sctx, in, err, plain, dialErr)
	if err != nil {
		network.Close()
		return nil, err
	}
	return s, nil
}

// enterDialed runs the listener's set-up on in once both in (or its error
// ierr) and the dialed plaintext (or its error derr) are there; on failure
// it releases in and closes plaintext.
func (m *Module) enterDialed(ctx, sctx context.Context, in *instance, ierr error, plaintext net.Conn, derr error) (*Session, error) {
	err := cmp.Or(derr, ierr)
	var plain *wasip1.SockFile
	if err == nil {
		plain, err = wasip1.NewSockFile(plaintext)
	}
	if err != nil {
		if in != nil {
			in.release()
		}
		if plaintext != nil {
			plaintext.Close()
		}
		return nil, err
	}
	s, err := m.enter(ctx, sctx, in, RoleListener, plain)
	if err != nil {
		plain.Detach()
		plaintext.Close()
	}
	return s, err
}

// acceptOnce hands conn to host_accept exactly once.
func acceptOnce(conn net.Conn) AcceptFunc {
	var once sync.Once
	return func(context.Context) (net.Conn, error) {
		var c net.Conn
		once.Do(func() { c = conn })
		if c == nil {
			return nil, errors.New("watm: connection already accepted")
		}
		return c, nil
	}
}

// Listen wraps a net.Listener: each Accept takes the next inbound conn,
// runs it through the module and returns its plaintext side.
func (l *Listener) Listen(ctx context.Context, inner net.Listener) net.Listener {
	return &wrappedListener{ctx: ctx, l: l, inner: inner}
}

type wrappedListener struct {
	ctx   context.Context
	l     *Listener
	inner net.Listener
}

func (w *wrappedListener) Accept() (net.Conn, error) {
	for {
		nc, err := w.inner.Accept()
		if err != nil {
			return nil, err
		}
		c, _, err := w.l.AcceptConn(w.ctx, nc, nil)
		if err != nil {
			w.l.Module.rt.cfg.logger.Warn("watm: inbound connection rejected", "err", err)
			continue
		}
		return c, nil
	}
}

func (w *wrappedListener) Close() error   { return w.inner.Close() }
func (w *wrappedListener) Addr() net.Addr { return w.inner.Addr() }

// Relay runs a module's relay role: host_accept gives the inbound
// conn, host_dial reaches the destination, the module carries bytes
// between them with no caller in between.
type Relay struct {
	Module *Module
	Config ConnConfig // Dial must be set
	// OnSessionEnd, if set, is called by Serve once for each accepted
	// conn, with the error that ended it: from setting up its session
	// (also logged) or from the session itself, nil when it ended
	// cleanly. Calls come from several goroutines at once; Serve returns
	// after the last one.
	OnSessionEnd func(err error)
}

func (r *Relay) sessionEnded(err error) {
	if r.OnSessionEnd != nil {
		r.OnSessionEnd(err)
	}
}

// RelayConn relays one already accepted conn.
func (r *Relay) RelayConn(ctx context.Context, inbound net.Conn) (*Session, error) {
	cc := r.Config
	cc.Accept = acceptOnce(inbound)
	s, err := r.Module.Prepare(ctx, RoleRelay, nil, cc)
	if err != nil {
		inbound.Close()
		return nil, err
	}
	s.Start()
	return s, nil
}

// Serve accepts from l and relays each conn until l is closed or ctx ends;
// it returns after every session it started has ended.
func (r *Relay) Serve(ctx context.Context, l net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s, err := r.RelayConn(ctx, c)
		if err != nil {
			r.Module.rt.cfg.logger.Warn("watm: relay connection failed", "err", err)
			r.sessionEnded(err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.sessionEnded(s.Wait())
		}()
	}
}
