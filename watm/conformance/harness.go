package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/water-pt/water-pt/watm"
)

// harness runs the module as dialer towards a loopback listener that runs
// it as listener (or, for a module without that role, hands over the raw
// TCP conn). It remembers every session for the behaviour and endings
// checks.
type harness struct {
	ctx     context.Context // the sessions' lifetime
	cancel  context.CancelFunc
	m       *watm.Module
	listens bool
	ln      net.Listener // where the dialer's module connects
	appLn   net.Listener // makes the apps' TCP conns to the modules (tcpPair)
	dialer  *watm.Dialer
	lis     *watm.Listener
	sides   chan side // server sides of new connections
	wg      sync.WaitGroup

	pairMu   sync.Mutex // one tcpPair at a time, so its Accept is its Dial
	mu       sync.Mutex
	sessions []*tracked
}

// tracked is a session, the role it played, and whether the stop check cut
// its connection mid-stream.
type tracked struct {
	s       *watm.Session
	role    watm.Role
	stopped bool
}

// side is one end of a connection as the test app sees it.
type side struct {
	conn net.Conn
	s    *watm.Session // nil for a raw TCP peer
	err  error
}

// pair is one connection through the module: the app's side of the dialer
// and the app's side of the listener.
type pair struct {
	client, server side
}

func newHarness(ctx context.Context, m *watm.Module, opts Options) (*harness, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return nil, err
	}
	addr := ln.Addr().String()
	hctx, cancel := context.WithCancel(ctx)
	h := &harness{ctx: hctx, cancel: cancel, m: m, listens: m.Can(watm.RoleListener), ln: ln, appLn: appLn, sides: make(chan side)}
	h.dialer = &watm.Dialer{Module: m, Config: watm.ConnConfig{Config: opts.Config, Destination: addr,
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}}}
	lcfg := opts.ListenerConfig
	if lcfg == nil {
		lcfg = opts.Config
	}
	h.lis = &watm.Listener{Module: m, Config: watm.ConnConfig{Config: lcfg}}
	h.wg.Add(1)
	go h.routineAccept()
	return h, nil
}

// stop stops accepting and ends every session started since (the sessions'
// context).
func (h *harness) stop() {
	h.cancel()
	h.ln.Close()
}

// wait waits up to d for the harness's goroutines (a set-up still running
// in a module that never returns may outlive the runtime's close) and
// reports whether they all ended.
func (h *harness) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.wg.Wait()
		h.appLn.Close()
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// tcpPair returns both ends of a new loopback TCP connection: the app's
// and the module's plaintext. The apps reach the modules over TCP, as tor's
// SOCKS and ExtORPort connections do, not over a socketpair.
func (h *harness) tcpPair() (app, mod net.Conn, err error) {
	h.pairMu.Lock()
	defer h.pairMu.Unlock()
	app, err = net.Dial("tcp", h.appLn.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	if mod, err = h.appLn.Accept(); err != nil {
		app.Close()
		return nil, nil, err
	}
	return app, mod, nil
}

func (h *harness) routineAccept() {
	defer h.wg.Done()
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.wg.Add(1)
		go h.routineServe(nc)
	}
}

// routineServe sets the listener up on an inbound conn and hands the app's
// side to whichever pair waits for one.
func (h *harness) routineServe(nc net.Conn) {
	defer h.wg.Done()
	sd := side{conn: nc}
	if h.listens {
		sd = h.accept(nc)
	}
	select {
	case h.sides <- sd:
	case <-h.ctx.Done():
		if sd.conn != nil {
			sd.conn.Close()
		}
	}
}

// accept runs the listener's set-up on an inbound conn.
func (h *harness) accept(nc net.Conn) side {
	app, mod, err := h.tcpPair()
	if err != nil {
		nc.Close()
		return side{err: err}
	}
	_, s, err := h.lis.AcceptConn(h.ctx, nc, mod)
	if err != nil {
		app.Close()
		mod.Close()
		return side{err: fmt.Errorf("listener set-up: %w", err)}
	}
	h.track(s, watm.RoleListener)
	return side{conn: app, s: s}
}

// dialSide runs the dialer's set-up.
func (h *harness) dialSide() side {
	app, mod, err := h.tcpPair()
	if err != nil {
		return side{err: err}
	}
	s, err := h.dialer.DialConn(h.ctx, mod)
	if err != nil {
		app.Close()
		mod.Close()
		return side{err: fmt.Errorf("dialer set-up: %w", err)}
	}
	h.track(s, watm.RoleDialer)
	return side{conn: app, s: s}
}

func (h *harness) track(s *watm.Session, role watm.Role) {
	h.mu.Lock()
	h.sessions = append(h.sessions, &tracked{s: s, role: role})
	h.mu.Unlock()
}

// tracked returns a copy of every session's record.
func (h *harness) tracked() []tracked {
	h.mu.Lock()
	defer h.mu.Unlock()
	all := make([]tracked, len(h.sessions))
	for i, t := range h.sessions {
		all[i] = *t
	}
	return all
}

// markStopped records that the stop check cuts p's connection mid-stream:
// how its sessions end (the one stopped, and its peer, which may see the
// stopped side's reset) is that check's business, not the endings check's.
func (h *harness) markStopped(p *pair) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.sessions {
		if t.s == p.client.s || p.server.s != nil && t.s == p.server.s {
			t.stopped = true
		}
	}
}

// dial makes a new pair within ctx. The dial runs on a goroutine the
// harness owns, so a module that hangs in set-up costs this call its time
// limit, not the whole check.
func (h *harness) dial(ctx context.Context) (*pair, error) {
	done := make(chan side, 1)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		done <- h.dialSide()
	}()
	var p pair
	select {
	case p.client = <-done:
		if p.client.err != nil {
			return nil, p.client.err
		}
	case <-ctx.Done():
		h.wg.Add(1)
		go func() { defer h.wg.Done(); closeWhenDone(done) }()
		return nil, fmt.Errorf("dialer set-up: no result within the time limit (%w)", ctx.Err())
	}
	select {
	case p.server = <-h.sides:
		if p.server.err != nil {
			p.client.conn.Close()
			return nil, p.server.err
		}
	case <-ctx.Done():
		p.client.conn.Close()
		return nil, fmt.Errorf("the dialer's set-up returned, but %s within the time limit (%w)", h.peerWait(), ctx.Err())
	}
	return &p, nil
}

// peerWait says what a pair whose server side never came waited for.
func (h *harness) peerWait() string {
	if h.listens {
		return "the listener's set-up (or the dialer's connection to it) did not finish"
	}
	return "no connection reached the plain TCP peer"
}

// closeWhenDone closes the conn of a dial that finished after its caller
// gave up.
func closeWhenDone(done <-chan side) {
	if sd := <-done; sd.conn != nil {
		sd.conn.Close()
	}
}

// deadline sets both app sides' deadline.
func (p *pair) deadline(t time.Time) {
	p.client.conn.SetDeadline(t)
	p.server.conn.SetDeadline(t)
}

// finish ends a pair the way an app does: the client closes, the server
// reads to the end of the stream and closes; then both sessions must end
// by themselves before ctx does. An error says what did not happen.
func (p *pair) finish(ctx context.Context) error {
	p.client.conn.Close()
	deadline, _ := ctx.Deadline()
	p.server.conn.SetReadDeadline(deadline)
	_, derr := io.Copy(io.Discard, p.server.conn)
	p.server.conn.Close()
	var errs []error
	if derr != nil {
		who := "the listener's app side"
		if p.server.s == nil {
			who = "the plain TCP peer"
		}
		errs = append(errs, fmt.Errorf("%s saw no end of stream after the dialer's app closed: %w", who, derr))
	}
	for _, sd := range []side{p.client, p.server} {
		if sd.s == nil {
			continue
		}
		select {
		case <-sd.s.Done():
		case <-ctx.Done():
			errs = append(errs, errors.New("a session did not end after both app sides closed"))
			sd.s.Close()
		}
	}
	return joinErrs(errs)
}

// stopAll closes every pair's conns and sessions at once (after a failure).
func stopAll(ps []*pair) {
	var wg sync.WaitGroup
	for _, p := range ps {
		for _, sd := range []side{p.client, p.server} {
			sd.conn.Close()
			if sd.s != nil {
				wg.Add(1)
				go func() { defer wg.Done(); sd.s.Close() }()
			}
		}
	}
	wg.Wait()
}

// joinErrs joins errors on one line (errors.Join uses newlines; the check
// prints one line per result).
func joinErrs(errs []error) error {
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}
