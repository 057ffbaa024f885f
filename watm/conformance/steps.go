package conformance

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/water-pt/water-pt/watm"
)

// endWait bounds how long a finished connection may take to end: a module
// that passes the end of stream on ends within milliseconds.
const endWait = 5 * time.Second

// The seeds of the two directions' test data.
const (
	seedUp   = 1 // dialer's app to listener's app
	seedDown = 2 // back
)

// step gives a step its time limit.
func (r *run) step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.opts.Timeout)
}

// finish ends p within endWait (and ctx).
func finish(ctx context.Context, p *pair) error {
	ctx, cancel := context.WithTimeout(ctx, endWait)
	defer cancel()
	return p.finish(ctx)
}

// setup times Setups connections one after the other: from the dial to
// both instances ready (the dialer's entry returned, the listener's too).
func (r *run) setup(ctx context.Context) bool {
	ctx, cancel := r.step(ctx)
	defer cancel()
	times := make([]time.Duration, 0, r.opts.Setups)
	for i := range r.opts.Setups {
		start := time.Now()
		p, err := r.h.dial(ctx)
		if err != nil {
			r.result("set-up", Fail, "connection %d: %v", i+1, err)
			return false
		}
		times = append(times, time.Since(start))
		if err := finish(ctx, p); err != nil {
			r.result("set-up", Fail, "connection %d set up, but closing it: %v%s", i+1, err, sessionNotes(p))
			return true
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	r.result("set-up", Pass, "p50 %v, max %v over %d connections (dial to both instances ready, one at a time)",
		round(times[len(times)/2]), round(times[len(times)-1]), len(times))
	return true
}

// stream sends StreamBytes each way at once through one connection.
func (r *run) stream(ctx context.Context) {
	ctx, cancel := r.step(ctx)
	defer cancel()
	p, err := r.h.dial(ctx)
	if err != nil {
		r.result("stream", Fail, "%v", err)
		return
	}
	n := r.opts.StreamBytes
	up, down, err := both(ctx, p, n)
	if err == nil {
		err = finish(ctx, p)
	} else {
		stopAll([]*pair{p})
	}
	if err != nil {
		r.result("stream", Fail, "%s each way: %v%s", size(n), err, sessionNotes(p))
		return
	}
	r.result("stream", Pass, "%s each way at once, intact: dialer->listener %.0f MB/s, listener->dialer %.0f MB/s",
		size(n), float64(n)/up.Seconds()/1e6, float64(n)/down.Seconds()/1e6)
}

// both runs the exchange on both app sides of p: up and down are how long
// each direction took to arrive in full.
func both(ctx context.Context, p *pair, n int64) (up, down time.Duration, err error) {
	deadline, _ := ctx.Deadline()
	p.deadline(deadline)
	var uerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		up, uerr = exchange(p.server.conn, n, seedDown, seedUp)
	}()
	down, derr := exchange(p.client.conn, n, seedUp, seedDown)
	<-done
	p.deadline(time.Time{})
	if uerr != nil {
		uerr = fmt.Errorf("dialer->listener: %w", uerr)
	}
	if derr != nil {
		derr = fmt.Errorf("listener->dialer: %w", derr)
	}
	return up, down, joinErrs([]error{uerr, derr})
}

// concurrent runs Conns connections at once, each with ConnBytes each way.
func (r *run) concurrent(ctx context.Context) {
	ctx, cancel := r.step(ctx)
	defer cancel()
	start := time.Now()
	errs := make(chan error, r.opts.Conns)
	var wg sync.WaitGroup
	for range r.opts.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- r.oneConn(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	var failed int
	var first error
	for err := range errs {
		if err != nil {
			failed++
			first = firstErr(first, err)
		}
	}
	if failed > 0 {
		r.result("connections", Fail, "%d of %d concurrent connections failed; first: %v", failed, r.opts.Conns, first)
		return
	}
	r.result("connections", Pass, "%d at once, %s each way each, intact, in %v",
		r.opts.Conns, size(int64(r.opts.ConnBytes)), round(time.Since(start)))
}

func firstErr(first, err error) error {
	if first == nil {
		return err
	}
	return first
}

func (r *run) oneConn(ctx context.Context) error {
	p, err := r.h.dial(ctx)
	if err != nil {
		return err
	}
	if _, _, err := both(ctx, p, int64(r.opts.ConnBytes)); err != nil {
		stopAll([]*pair{p})
		return fmt.Errorf("%w%s", err, sessionNotes(p))
	}
	if err := finish(ctx, p); err != nil {
		return fmt.Errorf("%w%s", err, sessionNotes(p))
	}
	return nil
}

// sessionNotes says how a pair's sessions ended, if they did with an error.
func sessionNotes(p *pair) string {
	s := ""
	for _, sd := range []side{p.client, p.server} {
		if sd.s == nil {
			continue
		}
		select {
		case <-sd.s.Done():
			if err := sd.s.Wait(); err != nil {
				s += "; " + err.Error()
			}
		default:
		}
	}
	return s
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// cancelEntry names the export that takes the cancel channel.
func cancelEntry(m *watm.Module) string {
	if m.Version() == 0 {
		return "_water_cancel_with"
	}
	return "watm_ctrlpipe_v1"
}
