package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/water-pt/water-pt/watm"
)

// flowWait bounds how long the stop check waits for data to flow before it
// stops the connection anyway.
const flowWait = time.Second

// stop stops a connection through its cancel channel while data flows, once
// from the dialer's side and once from the listener's.
func (r *run) stop(ctx context.Context) {
	ctx, cancel := r.step(ctx)
	defer cancel()
	roles := []watm.Role{watm.RoleDialer}
	if r.h.listens {
		roles = append(roles, watm.RoleListener)
	}
	var done []string
	for _, role := range roles {
		took, err := r.stopOne(ctx, role)
		if err != nil {
			r.result("stop", Fail, "%v", err)
			return
		}
		done = append(done, fmt.Sprintf("%s in %v", role, round(took)))
	}
	r.result("stop", Pass, "through the cancel channel (%s) while data flowed: %s", cancelEntry(r.h.m), strings.Join(done, ", "))
}

// stopOne starts a connection with data flowing from the dialer's app to
// the listener's, closes role's session and says how long that took.
func (r *run) stopOne(ctx context.Context, role watm.Role) (time.Duration, error) {
	p, err := r.h.dial(ctx)
	if err != nil {
		return 0, err
	}
	var moved atomic.Int64
	var wg sync.WaitGroup
	defer func() {
		stopAll([]*pair{p})
		wg.Wait()
	}()
	wg.Add(2)
	go func() { defer wg.Done(); _ = send(p.client.conn, 1<<62, seedUp) }()
	go func() { defer wg.Done(); _, _ = io.Copy(countWriter{&moved}, p.server.conn) }()
	s, peer := p.client.s, p.server.s
	if role == watm.RoleListener {
		s, peer = peer, s
	}
	if !waitFlow(ctx, &moved, s) {
		if err := s.Wait(); err != nil {
			return 0, fmt.Errorf("the %s ended by itself before the stop, with the connection open: %v", role, err)
		}
		return 0, fmt.Errorf("the %s's worker returned before the stop, with the connection open", role)
	}
	r.h.markStopped(p)
	start := time.Now()
	_ = s.Close()
	took := time.Since(start)
	if s.Behaviour().CancelIgnored {
		return took, fmt.Errorf("the %s ignored its cancel channel (%s): stopped by force after the %v grace period",
			role, cancelEntry(r.h.m), watm.DefaultGrace)
	}
	if err := s.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return took, fmt.Errorf("the %s ended with an error when stopped: %v", role, err)
	}
	return took, peerEnding(p, peer, role)
}

// peerEnding stops what is left of p and checks how the stopped session's
// peer ended: cleanly, or with the EPIPE or ECONNRESET that the stopped
// side's reset (it closed with bytes unread) gives a module still writing.
// A peer stopped by force is the cancel check's finding.
func peerEnding(p *pair, peer *watm.Session, role watm.Role) error {
	stopAll([]*pair{p})
	if peer == nil {
		return nil
	}
	var stop *watm.StopError
	if err := peer.Wait(); err != nil && !watm.IsNormalClose(err) && !errors.As(err, &stop) {
		return fmt.Errorf("the %s's peer ended with an error after the %s was stopped: %v", role, role, err)
	}
	return nil
}

// waitFlow waits until data moved (or flowWait passed) and reports whether
// s still runs.
func waitFlow(ctx context.Context, moved *atomic.Int64, s *watm.Session) bool {
	ctx, cancel := context.WithTimeout(ctx, flowWait)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for moved.Load() == 0 {
		select {
		case <-s.Done():
			return false
		case <-ctx.Done():
			return !ended(s)
		case <-tick.C:
		}
	}
	return !ended(s)
}

func ended(s *watm.Session) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}

type countWriter struct{ n *atomic.Int64 }

func (w countWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}
