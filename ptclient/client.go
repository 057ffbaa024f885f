package ptclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/water-pt/water-pt/internal/accept"
	"github.com/water-pt/water-pt/internal/ptlog"
	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/catalog"
)

// Defaults for Client.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultDialTimeout      = 30 * time.Second
)

// Client is the SOCKS5 side of water-pt. Each SOCKS connection is served
// on its own goroutine:
//
//	SOCKS handshake (deadline) -> args -> module (catalog) -> instance:
//	  _water_dial -> host_dial reaches the bridge (through the proxy) ->
//	  Grant -> worker carries the SOCKS conn <-> bridge conn.
//
// A failed dial is rejected with the SOCKS reply code that fits its error.
type Client struct {
	Catalog *catalog.Catalog
	// Dialer reaches bridges: direct, through TOR_PT_PROXY, or from the
	// outbound bind address.
	Dialer           ContextDialer
	Logger           *slog.Logger
	HandshakeTimeout time.Duration
	DialTimeout      time.Duration
	// Bridge, when set, is dialed whatever the SOCKS request names
	// (standalone mode with -bridge).
	Bridge string
	// DefaultArgs are used when a request carries no args of its own.
	DefaultArgs Args
	// DialPolicy decides what a v1 module may dial with water_dial (nil:
	// only the bridge).
	DialPolicy watm.DialPolicy
	// Transport is the method this client serves (zero: water, whose args
	// choose the module).
	Transport catalog.Transport

	wg sync.WaitGroup
}

// Serve accepts SOCKS connections on ln until acceptCtx ends or ln is
// closed, then waits for open connections to end. connCtx ending stops the
// open connections.
func (c *Client) Serve(acceptCtx, connCtx context.Context, ln net.Listener) {
	defer c.wg.Wait()
	// A transient error (out of descriptors) is retried: see package accept.
	_ = accept.Loop(acceptCtx, ln, c.Logger, "SOCKS", func(conn net.Conn) {
		c.wg.Add(1)
		go c.routineConn(connCtx, conn)
	})
}

func (c *Client) routineConn(ctx context.Context, conn net.Conn) {
	defer c.wg.Done()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	s, target, err := c.open(ctx, conn)
	if err != nil {
		c.Logger.Warn("SOCKS connection failed", "bridge", target, "err", err)
		conn.Close()
		return
	}
	if err := s.Run(); err != nil && !watm.IsNormalClose(err) {
		c.Logger.Info("connection ended with an error", "bridge", target, "err", err)
		return
	} else if err != nil {
		c.Logger.Debug("connection ended", "bridge", target, "module", err)
		return
	}
	c.Logger.Debug("connection ended", "bridge", target)
}

// open runs the SOCKS handshake, sets the connection up through the module
// and grants the request; the caller runs the session. On error the SOCKS
// client has been answered.
func (c *Client) open(ctx context.Context, conn net.Conn) (*watm.Session, string, error) {
	req, err := ReadRequest(conn, time.Now().Add(orDefault(c.HandshakeTimeout, DefaultHandshakeTimeout)))
	if err != nil {
		return nil, "", err
	}
	args, target := req.Args, req.Target
	if len(args) == 0 && c.DefaultArgs != nil {
		args = c.DefaultArgs
	}
	if c.Bridge != "" {
		target = c.Bridge
	}
	spec, r, err := c.module(ctx, args)
	if err != nil {
		code, msg := ReplyGeneralFailure, "bridge args refused"
		if r.Module == nil && !isArgError(err) {
			code, msg = ReplyConnectionNotAllowed, "module rejected"
		}
		_ = req.Reject(code)
		c.Logger.Warn(msg, "err", err, ptlog.NotifyTor, true)
		return nil, target, err
	}
	cc := watm.ConnConfig{
		Config:      spec.ModuleConfig(),
		Destination: target,
		Logger:      c.Logger,
		Policy:      bridgeOr(target, c.DialPolicy),
		Dial: func(ctx context.Context) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, orDefault(c.DialTimeout, DefaultDialTimeout))
			defer cancel()
			bc, err := c.Dialer.DialContext(ctx, "tcp", target)
			if tc, ok := bc.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			return bc, err
		},
	}
	s, err := r.Module.Prepare(ctx, watm.RoleDialer, req.Conn, cc)
	if err != nil {
		_ = req.Reject(ReplyForError(err))
		if te, ok := errors.AsType[*watm.SetupTimeoutError](err); ok {
			c.Logger.Warn("module set-up timed out: instance stopped, SOCKS request refused with TTL expired; raise -watm-setup-timeout if the module needs longer",
				"timeout", te.Timeout, "func", te.Func, "err", err, ptlog.NotifyTor, true)
		} else if !isDialError(err) { // e.g. the module refused its args: tor should see why
			c.Logger.Warn("module failed to start", "module", r.Name, "err", err, ptlog.NotifyTor, true)
		}
		return nil, target, err
	}
	if err := req.Grant(nil); err != nil {
		s.Close()
		return nil, target, fmt.Errorf("socks5: grant: %w", err)
	}
	return s, target, nil
}

// argError is a bridge line's args that do not parse or that no one takes.
type argError struct{ err error }

func (e *argError) Error() string { return "bridge args: " + e.err.Error() }
func (e *argError) Unwrap() error { return e.err }

func isArgError(err error) bool {
	_, ok := errors.AsType[*argError](err)
	return ok
}

// isDialError reports whether err is the module's dial to the bridge
// failing (tor logs the SOCKS reply), not the module itself.
func isDialError(err error) bool {
	_, ok := errors.AsType[*watm.DialError](err)
	return ok
}

// module reads the connection's Spec from its args and loads and checks
// the module. A nil r.Module with an error that is not an argError: the
// module could not be loaded.
func (c *Client) module(ctx context.Context, args Args) (catalog.Spec, catalog.Resolved, error) {
	t := c.transport()
	spec, err := t.Spec(args)
	if err != nil {
		return spec, catalog.Resolved{}, &argError{err}
	}
	r, err := c.Catalog.Load(ctx, spec)
	if err != nil {
		return spec, catalog.Resolved{}, err
	}
	if err := c.Catalog.CheckArgs(t, false, r, spec.Args); err != nil {
		return spec, r, &argError{err}
	}
	return spec, r, nil
}

func (c *Client) transport() catalog.Transport {
	if c.Transport.Name == "" {
		return catalog.Transport{Name: "water"}
	}
	return c.Transport
}

// bridgeOr lets a module dial the bridge and whatever policy allows.
func bridgeOr(bridge string, policy watm.DialPolicy) watm.DialPolicy {
	if policy == nil {
		return nil // the runtime's default: the destination only
	}
	toBridge := watm.AllowTCP(bridge)
	return func(network, address string) bool {
		return toBridge(network, address) || policy(network, address)
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
