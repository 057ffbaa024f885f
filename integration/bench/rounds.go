package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/water-pt/water-pt/ptserver/extortest"
)

// rounds runs Rounds rounds of the setup, rtt and bulk phases. Within a
// round each phase runs for every system before the next phase starts, the
// systems in turn: forward in even rounds, backward in odd ones, so that
// neither always runs right after the other's bulk transfer or while the
// machine is warming up. On a shared 2-CPU VM the round trip of either PT
// moves by a third or more from one minute to the next with where the kernel
// happens to place the threads: a single pass would compare two different
// moments of the machine; medians of alternating rounds compare like with
// like.
//
// Before each system's turn the bench waits for every PT process to go
// quiet (see settle), so that no PT's background work (water-pt refills its
// pool of instances after each connection) lands in another's measurement.
// A phase that fails for a system is not run for it again.
func (b *bench) rounds(targets []*target) {
	phases := []struct {
		name string
		f    func(t *target, round int) error
	}{
		{"setup", func(t *target, i int) error { return b.setupPhase(t, &t.res.Rounds[i], 0) }},
		{"setup spaced", func(t *target, i int) error { return b.setupPhase(t, &t.res.Rounds[i], b.cfg.Spacing) }},
		{"rtt", func(t *target, i int) error { return b.rttPhase(t, &t.res.Rounds[i]) }},
		{"up", func(t *target, i int) error { return b.bulkPhase(t, i, 0) }},
		{"down", func(t *target, i int) error { return b.bulkPhase(t, i, 1) }},
	}
	for round := range b.cfg.Rounds {
		order := turnOrder(targets, round)
		for _, ph := range phases {
			for _, t := range order {
				if t.stopped[ph.name] {
					continue
				}
				b.settle(targets)
				b.phase(t, fmt.Sprintf("%s (round %d)", ph.name, round+1), func(t *target) error {
					err := ph.f(t, round)
					if err != nil {
						t.stopped[ph.name] = true
					}
					return err
				})
			}
		}
	}
	for _, t := range targets {
		b.summarize(t)
	}
}

// turnOrder is the order of the systems in round number round (from 0):
// as given in even rounds, reversed in odd ones.
func turnOrder[T any](s []T, round int) []T {
	o := slices.Clone(s)
	if round%2 == 1 {
		slices.Reverse(o)
	}
	return o
}

// summarize sets t's headline figures: the medians over the rounds.
func (b *bench) summarize(t *target) {
	r := t.res
	r.SetupP50Ms = medianOf(r.Rounds, func(x Round) Num { return x.SetupP50Ms })
	r.SetupSpacedP50Ms = medianOf(r.Rounds, func(x Round) Num { return x.SetupSpacedP50Ms })
	r.RTTP50Us = medianOf(r.Rounds, func(x Round) Num { return x.RTTP50Us })
	r.RTTP99Us = medianOf(r.Rounds, func(x Round) Num { return x.RTTP99Us })
	r.UpMBps = medianOf(r.Rounds, func(x Round) Num { return x.UpMBps })
	r.DownMBps = medianOf(r.Rounds, func(x Round) Num { return x.DownMBps })
	if len(t.setups) > 0 {
		r.SetupMaxMs = numDur(slices.Max(t.setups), time.Millisecond)
	}
	if b.cfg.Rounds > 0 && t.p != nil {
		b.logf(t, "medians of %d rounds: setup %s (spaced %s), rtt %s us, up %s MB/s, down %s MB/s",
			b.cfg.Rounds, fmtMs(r.SetupP50Ms), fmtMs(r.SetupSpacedP50Ms), fmtNum(r.RTTP50Us, 0),
			fmtMBps(r.UpMBps), fmtMBps(r.DownMBps))
	}
}

// settle waits, up to 100 ms, until the PT processes have used less than
// 100 us of CPU in the last 2 ms.
func (b *bench) settle(targets []*target) {
	var pids []int
	for _, t := range targets {
		if t.p != nil && !t.dead {
			pids = append(pids, t.p.Client.Pid(), t.p.Server.Pid())
		}
	}
	b.waitIdle(pids, 2*time.Millisecond, 100*time.Microsecond, 100*time.Millisecond)
}

// quiesce waits, up to limit, until t's processes have used less than 5 ms
// of CPU in 100 ms, and returns how long it waited. A water-pt client
// compiles the default module in the background after it starts (obfs4:
// seconds on a loaded machine, without a compilation cache), which would
// otherwise run into the first round's timings and the conns phase's
// memory and descriptor counts.
func (b *bench) quiesce(t *target, limit time.Duration) time.Duration {
	return b.waitIdle([]int{t.p.Client.Pid(), t.p.Server.Pid()}, 100*time.Millisecond, 5*time.Millisecond, limit)
}

// waitIdle waits, up to limit, until pids have used less than budget of
// CPU in the last window, and returns how long it waited.
func (b *bench) waitIdle(pids []int, window, budget, limit time.Duration) time.Duration {
	start := time.Now()
	prev := cpuNs(pids)
	for time.Since(start) < limit && b.ctx.Err() == nil {
		b.sleep(window)
		now := cpuNs(pids)
		if time.Duration(now-prev) < budget {
			break
		}
		prev = now
	}
	return time.Since(start)
}

// setupPhase times Setups sequential connections of t, each from the SOCKS
// dial to the first echoed byte: back to back when spacing is zero, else
// spacing apart. It gives up after 5 failures in a row or PhaseTimeout.
func (b *bench) setupPhase(t *target, r *Round, spacing time.Duration) error {
	n := b.cfg.Setups
	if n <= 0 {
		return nil
	}
	phase, cancel := context.WithTimeout(b.ctx, b.cfg.PhaseTimeout)
	defer cancel()
	var (
		ds       []time.Duration
		errs     []error
		failures int
		inARow   int
	)
	for i := range n {
		if i > 0 && spacing > 0 {
			b.sleep(spacing)
		}
		if phase.Err() != nil {
			errs = append(errs, fmt.Errorf("phase time limit (%v) after %d connections", b.cfg.PhaseTimeout, i))
			failures += n - i
			break
		}
		d, err := b.setupOne(phase, t, byte('a'+i%26))
		t.res.SetupN++
		if err != nil {
			failures++
			inARow++
			errs = append(errs, fmt.Errorf("connection %d: %w", i+1, err))
			if inARow == 5 {
				failures += n - i - 1
				errs = append(errs, errors.New("5 failures in a row: gave up"))
				break
			}
			continue
		}
		inARow = 0
		if !t.res.SetupFirstMs.OK {
			t.res.SetupFirstMs = numDur(d, time.Millisecond)
		}
		ds = append(ds, d)
	}
	t.res.SetupOK += len(ds)
	kind := "back to back"
	if len(ds) > 0 {
		p50 := numDur(percentile(ds, 50), time.Millisecond)
		if spacing > 0 {
			r.SetupSpacedP50Ms = p50
			kind = fmt.Sprintf("%v apart", spacing)
		} else {
			r.SetupP50Ms = p50
			t.setups = append(t.setups, ds...)
		}
		b.logf(t, "setup, %s: %d/%d connections, p50 %s, max %s", kind, len(ds), n,
			fmtMs(p50), fmtMs(numDur(slices.Max(ds), time.Millisecond)))
	}
	if failures > 0 {
		return fmt.Errorf("%d of %d connections failed: %w", failures, n, errors.Join(firstN(errs, 3)...))
	}
	return nil
}

func (b *bench) setupOne(ctx context.Context, t *target, v byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.DialTimeout)
	defer cancel()
	start := time.Now()
	c, err := t.p.Dial(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write(append(extortest.Echo().Header(), v)); err != nil {
		return 0, fmt.Errorf("write: %w", err)
	}
	var got [1]byte
	if _, err := io.ReadFull(c, got[:]); err != nil {
		return 0, fmt.Errorf("reading the echo: %w", err)
	}
	d := time.Since(start)
	if got[0] != v {
		return 0, fmt.Errorf("echoed 0x%02x, sent 0x%02x", got[0], v)
	}
	return d, nil
}

// rttPhase times RTTs one-byte round trips on one connection of t.
func (b *bench) rttPhase(t *target, r *Round) error {
	n := b.cfg.RTTs
	if n <= 0 {
		return nil
	}
	c, done, err := b.dial(t, b.cfg.PhaseTimeout, extortest.Echo())
	if err != nil {
		return err
	}
	defer done()
	defer c.Close()
	ds := make([]time.Duration, 0, n)
	var buf [1]byte
	for i := range n {
		v := byte(i)
		start := time.Now()
		if _, err := c.Write([]byte{v}); err != nil {
			return fmt.Errorf("round trip %d: write: %w", i+1, err)
		}
		if _, err := io.ReadFull(c, buf[:]); err != nil {
			return fmt.Errorf("round trip %d: read: %w", i+1, err)
		}
		ds = append(ds, time.Since(start))
		if buf[0] != v {
			return fmt.Errorf("round trip %d: echoed 0x%02x, sent 0x%02x", i+1, buf[0], v)
		}
	}
	t.res.RTTN += n
	r.RTTP50Us = numDur(percentile(ds, 50), time.Microsecond)
	r.RTTP99Us = numDur(percentile(ds, 99), time.Microsecond)
	b.logf(t, "rtt: %d round trips, p50 %s us, p99 %s us", n, fmtNum(r.RTTP50Us, 0), fmtNum(r.RTTP99Us, 0))
	return nil
}

// bulkPhase runs one transfer of Bytes, up (dir 0) or down (dir 1).
func (b *bench) bulkPhase(t *target, round, dir int) error {
	if b.cfg.Bytes <= 0 {
		return nil
	}
	r := &t.res.Rounds[round]
	seed := uint64(1000 + 10*round + dir)
	var (
		mbps float64
		err  error
		name = "up"
		dst  = &r.UpMBps
	)
	if dir == 0 {
		mbps, err = b.up(t, seed)
	} else {
		name, dst = "down", &r.DownMBps
		mbps, err = b.down(t, seed)
	}
	if err != nil {
		return err
	}
	*dst = num(mbps)
	b.logf(t, "%s: %s in %.0f MB/s", name, fmtBytes(b.cfg.Bytes), mbps)
	return nil
}

// up writes Bytes into a sink and times it until the sink has them all.
func (b *bench) up(t *target, seed uint64) (float64, error) {
	mode := extortest.Sink()
	if b.cfg.Verify {
		mode = extortest.VerifySink().WithSeed(seed)
	}
	n0 := len(t.p.ExtOR.Sessions())
	c, done, err := b.dial(t, b.cfg.XferTimeout, mode)
	if err != nil {
		return 0, err
	}
	defer done()
	defer c.Close()
	n := b.cfg.Bytes
	start := time.Now()
	var w int64
	if b.cfg.Verify {
		w, err = extortest.NewStream(seed).WriteN(c, n)
	} else {
		w, err = writeConst(c, n)
	}
	if err != nil {
		return 0, fmt.Errorf("writing at offset %d of %d: %w", w, n, err)
	}
	// Done when the sink has counted (and checked) every byte.
	for {
		s, ok := sessionAt(t.p.ExtOR, n0)
		if ok {
			if s.DataErr != nil {
				return 0, fmt.Errorf("sink: %w", s.DataErr)
			}
			if s.BytesIn >= n {
				break
			}
			if s.Closed {
				return 0, fmt.Errorf("sink connection closed after %d of %d bytes", s.BytesIn, n)
			}
		}
		if time.Since(start) > b.cfg.XferTimeout {
			got := int64(0)
			if ok {
				got = s.BytesIn
			}
			return 0, fmt.Errorf("time limit %v: the sink got %d of %d bytes", b.cfg.XferTimeout, got, n)
		}
		time.Sleep(200 * time.Microsecond)
	}
	el := time.Since(start)
	c.(*net.TCPConn).CloseWrite()
	c.Close()
	b.checkTeardown(t, n0)
	return float64(n) / el.Seconds() / 1e6, nil
}

// down reads Bytes from a source and times it.
func (b *bench) down(t *target, seed uint64) (float64, error) {
	n0 := len(t.p.ExtOR.Sessions())
	n := b.cfg.Bytes
	c, done, err := b.dial(t, b.cfg.XferTimeout, extortest.Source(n).WithSeed(seed))
	if err != nil {
		return 0, err
	}
	defer done()
	defer c.Close()
	start := time.Now()
	var check *extortest.Checker
	if b.cfg.Verify {
		check = extortest.NewChecker(seed)
	}
	buf := make([]byte, 256<<10)
	var got int64
	for got < n {
		m, err := c.Read(buf[:min(int64(len(buf)), n-got)])
		if check != nil && m > 0 {
			if _, cerr := check.Write(buf[:m]); cerr != nil {
				return 0, cerr
			}
		}
		got += int64(m)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("reading at offset %d of %d: %w", got, n, err)
		}
	}
	el := time.Since(start)
	c.Close()
	b.checkTeardown(t, n0)
	return float64(n) / el.Seconds() / 1e6, nil
}

// checkTeardown waits a little for the ExtORPort connection of session id to
// close after the client closed its SOCKS connection, and notes it if not.
func (b *bench) checkTeardown(t *target, id int) {
	const limit = 2 * time.Second
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if s, ok := sessionAt(t.p.ExtOR, id); ok && s.Closed {
			return
		}
		time.Sleep(time.Millisecond)
	}
	b.note(t, fmt.Sprintf("the ExtORPort connection was still open %v after the SOCKS connection closed (bulk transfer)", limit))
}

func sessionAt(s *extortest.Server, id int) (extortest.Session, bool) {
	ss := s.Sessions()
	if id < len(ss) {
		return ss[id], true
	}
	return extortest.Session{}, false
}

// writeConst writes n bytes of a fixed pattern (no stream generation).
func writeConst(w io.Writer, n int64) (int64, error) {
	buf := make([]byte, 256<<10)
	extortest.NewStream(7).Read(buf)
	var done int64
	for done < n {
		m, err := w.Write(buf[:min(int64(len(buf)), n-done)])
		done += int64(m)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
