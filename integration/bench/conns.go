package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptserver/extortest"
)

// Bounds of the conns phase's checks, so that a PT that stops answering
// (out of descriptors, say) costs seconds, not a dial timeout per
// connection.
const (
	// heldCheckWidth is how many held connections are checked at once; they
	// share one deadline (DialTimeout).
	heldCheckWidth = 512
	// quietTime is how long the bench waits after opening or closing
	// connections before reading memory: the PTs' own work settles.
	quietTime = 300 * time.Millisecond
)

// conns opens Conns connections, Parallel at a time, each echoing EchoBytes
// of its own stream, holds them, and reads each process before and while
// holding them: PSS, VmRSS, the linear memories' PSS, threads, descriptors.
// Then every held connection echoes one more byte.
func (b *bench) conns(t *target) error {
	n := b.cfg.Conns
	t.res.ConnsTried = n
	if n <= 0 {
		return nil
	}
	b.sleep(quietTime) // let the rounds' connections go
	b.quiesce(t, b.cfg.StartTimeout/2)
	b.settleMemory(t)
	before, err := b.snapshots(t)
	if err != nil {
		return err
	}
	start := time.Now()
	ok, errCount := b.openHeld(t, n, 100000)
	el := time.Since(start)
	t.res.ConnsOK = ok
	t.res.ConnsS = numDur(el, time.Second)
	if len(errCount) > 0 {
		t.res.ConnErrors = errCount
	}
	b.logf(t, "conns: %d/%d opened and echoed %s intact in %.2f s", ok, n, fmtBytes(int64(b.cfg.EchoBytes)), el.Seconds())

	b.sleep(quietTime)
	if err := processesAlive(t.p); err != nil {
		return err
	}
	holding, err := b.snapshots(t)
	if err != nil {
		return err
	}
	t.res.Client.fill(before[0], holding[0], ok)
	t.res.Server.fill(before[1], holding[1], ok)
	for i, side := range []*Proc{&t.res.Client, &t.res.Server} {
		b.logf(t, "conns: %s PSS %d -> %d kB (%s kB/conn; linear %s, runtime %s), threads %d -> %d, fds %d -> %d (%s/conn)",
			[]string{"client", "server"}[i], side.PSSBeforeKB, side.PSSHoldingKB, fmtNum(side.KBPerConn, 1),
			fmtNum(side.LinearPerConn, 1), fmtNum(side.RuntimePerConn, 1),
			side.ThreadsBefore, side.ThreadsHolding, side.FDsBefore, side.FDsHolding, fmtNum(side.FDsPerConn, 2))
	}

	t.res.ConnsHeldOK = b.checkHeld(t)
	if t.res.ConnsHeldOK != ok {
		b.note(t, fmt.Sprintf("%d of %d held connections no longer echoed after %.1f s", ok-t.res.ConnsHeldOK, ok, time.Since(start).Seconds()))
	}
	if ok < n {
		return fmt.Errorf("%d of %d connections failed: %v", n-ok, n, fmtErrCount(errCount))
	}
	return nil
}

// settleMemory waits, up to 5 s, until neither process's PSS moved by more
// than 1% in 250 ms: after the bulk transfers, Go processes give freed heap
// back to the kernel for a while, which would be subtracted from what the
// connections cost.
func (b *bench) settleMemory(t *target) {
	pids := []int{t.p.Client.Pid(), t.p.Server.Pid()}
	prev := make([]int64, len(pids))
	for try := range 20 {
		stable := true
		for i, pid := range pids {
			kb, _ := pssKB(pid)
			if d := kb - prev[i]; d > prev[i]/100 || -d > prev[i]/100 {
				stable = false
			}
			prev[i] = kb
		}
		if stable && try > 0 {
			return
		}
		b.sleep(250 * time.Millisecond)
	}
}

// snapshots reads the client and the server process.
func (b *bench) snapshots(t *target) ([2]procSnap, error) {
	var s [2]procSnap
	var errs [2]error
	s[0], errs[0] = snapshot(t.p.Client.Pid(), true)
	s[1], errs[1] = snapshot(t.p.Server.Pid(), true)
	return s, errors.Join(errs[:]...)
}

// fill sets p's figures from the readings before and while holding k
// connections.
func (p *Proc) fill(before, holding procSnap, k int) {
	p.PSSBeforeKB, p.PSSHoldingKB = before.PSSKB, holding.PSSKB
	p.RSSBeforeKB, p.RSSHoldingKB = before.RSSKB, holding.RSSKB
	p.ThreadsBefore, p.ThreadsHolding = before.Threads, holding.Threads
	p.FDsBefore, p.FDsHolding = before.FDs, holding.FDs
	if k <= 0 {
		return
	}
	per := func(a, b int64) Num { return num(float64(b-a) / float64(k)) }
	p.KBPerConn = per(before.PSSKB, holding.PSSKB)
	p.RSSPerConn = per(before.RSSKB, holding.RSSKB)
	p.FDsPerConn = per(int64(before.FDs), int64(holding.FDs))
	if before.LinearOK && holding.LinearOK {
		p.LinearPerConn = per(before.LinearKB, holding.LinearKB)
		p.RuntimePerConn = num(p.KBPerConn.V - p.LinearPerConn.V)
	}
}

// openHeld opens n connections into t.held, Parallel at a time, each echoing
// EchoBytes of the stream of seedBase+i, and returns how many succeeded and
// the kinds of failure. It stops after ConnsTimeout, or after giveUp
// failures in a row (a PT that stopped accepting).
func (b *bench) openHeld(t *target, n int, seedBase uint64) (int, map[string]int) {
	limit := b.cfg.ConnsTimeout()
	phase, cancel := context.WithCancelCause(b.ctx)
	defer cancel(nil)
	stop := time.AfterFunc(limit, func() { cancel(fmt.Errorf("phase time limit %v", limit)) })
	defer stop.Stop()
	giveUp := int64(max(100, 4*b.cfg.Parallel))
	t.held = make([]net.Conn, n)
	var (
		ok, inARow atomic.Int64
		mu         sync.Mutex
		errCount   = map[string]int{}
	)
	record := func(err error) {
		mu.Lock()
		errCount[errorKind(err)]++
		mu.Unlock()
	}
	parallel(n, b.cfg.Parallel, func(i int) {
		if phase.Err() != nil {
			record(fmt.Errorf("not opened: %v", context.Cause(phase)))
			return
		}
		c, err := b.openEcho(phase, t, seedBase+uint64(i))
		if err != nil {
			record(err)
			if inARow.Add(1) == giveUp {
				cancel(fmt.Errorf("gave up after %d failures in a row", giveUp))
			}
			return
		}
		inARow.Store(0)
		t.held[i] = c
		ok.Add(1)
	})
	return int(ok.Load()), errCount
}

// openEcho opens one connection and echoes EchoBytes of the stream of seed.
func (b *bench) openEcho(ctx context.Context, t *target, seed uint64) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, b.cfg.DialTimeout)
	defer cancel()
	c, err := t.p.Dial(dctx)
	if err != nil {
		return nil, err
	}
	// The phase's end (time limit, giving up) interrupts the echo too.
	stop := context.AfterFunc(dctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.Write(extortest.Echo().Header()); err != nil {
		c.Close()
		return nil, fmt.Errorf("echo: writing the mode header: %w", err)
	}
	if err := tortest.CheckEchoSeed(c, int64(b.cfg.EchoBytes), seed); err != nil {
		c.Close()
		return nil, err
	}
	if !stop() {
		c.Close()
		return nil, fmt.Errorf("echo: %v", context.Cause(dctx))
	}
	return c, nil
}

// checkHeld has every held connection echo one more byte, all within one
// DialTimeout, and returns how many did.
func (b *bench) checkHeld(t *target) int {
	deadline := time.Now().Add(b.cfg.DialTimeout)
	var held atomic.Int64
	parallel(len(t.held), heldCheckWidth, func(i int) {
		if c := t.held[i]; c != nil && echoByte(c, deadline) == nil {
			held.Add(1)
		}
	})
	return int(held.Load())
}

func echoByte(c net.Conn, deadline time.Time) error {
	c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte{'!'}); err != nil {
		return err
	}
	var buf [1]byte
	if _, err := io.ReadFull(c, buf[:]); err != nil {
		return err
	}
	if buf[0] != '!' {
		return errors.New("bad echo")
	}
	return nil
}

// release closes the held connections and waits, up to 3 s, until each
// process has no more descriptors open than before they were opened; then
// it reads what memory and threads each kept. Descriptors still open are
// noted, not failed: the baseline keeps the pipes of its splices in Go's
// pool until a garbage collection. It then opens as many again, so that the
// exit phase has them open and a second round shows whether holding them
// costs more than the first time (growth without bound).
func (b *bench) release(t *target) error {
	if b.cfg.Conns <= 0 || t.res.ConnsOK == 0 {
		return nil
	}
	b.closeHeld(t)
	pids := []int{t.p.Client.Pid(), t.p.Server.Pid()}
	procs := []*Proc{&t.res.Client, &t.res.Server}
	deadline := time.Now().Add(3 * time.Second)
	for {
		for i, pid := range pids {
			procs[i].FDsAfter = countFDs(pid)
		}
		if (procs[0].FDsAfter <= procs[0].FDsBefore && procs[1].FDsAfter <= procs[1].FDsBefore) || time.Now().After(deadline) {
			break
		}
		b.sleep(20 * time.Millisecond)
	}
	b.settle([]*target{t})
	if err := processesAlive(t.p); err != nil {
		return err
	}
	for i, pid := range pids {
		s, _ := snapshot(pid, false)
		procs[i].PSSAfterKB, procs[i].ThreadsAfter = s.PSSKB, s.Threads
	}
	for i, side := range []string{"client", "server"} {
		p := procs[i]
		b.logf(t, "release: %s fds %d -> %d -> %d, threads %d -> %d -> %d, PSS after close %d kB",
			side, p.FDsBefore, p.FDsHolding, p.FDsAfter, p.ThreadsBefore, p.ThreadsHolding, p.ThreadsAfter, p.PSSAfterKB)
		if p.FDsAfter > p.FDsBefore {
			b.note(t, fmt.Sprintf("the %s still had %d descriptors open 3 s after its %d connections closed (%d before)",
				side, p.FDsAfter, t.res.ConnsOK, p.FDsBefore))
		}
	}

	ok, errCount := b.openHeld(t, b.cfg.Conns, 200000)
	t.res.ConnsOK2 = ok
	b.sleep(quietTime)
	for i, pid := range pids {
		procs[i].PSSHolding2KB, _ = pssKB(pid)
	}
	b.logf(t, "release: %d/%d opened again; PSS holding them client %d kB (first time %d), server %d kB (first time %d)",
		ok, b.cfg.Conns, procs[0].PSSHolding2KB, procs[0].PSSHoldingKB, procs[1].PSSHolding2KB, procs[1].PSSHoldingKB)
	if ok < b.cfg.Conns {
		return fmt.Errorf("second round: %d of %d connections failed: %v", b.cfg.Conns-ok, b.cfg.Conns, fmtErrCount(errCount))
	}
	return nil
}

// exit closes both PTs' stdin at the same instant, as tor does, with the
// connections still open, and times each process's exit.
func (b *bench) exit(t *target) error {
	p := t.p
	for _, c := range t.held {
		if c != nil {
			t.res.ExitOpen++
		}
	}
	p.Server.CloseStdin()
	p.Client.CloseStdin()
	var errs []error
	for _, side := range []struct {
		name string
		pt   *tortest.PT
		ms   *Num
	}{{"client", p.Client, &t.res.ExitClientMs}, {"server", p.Server, &t.res.ExitServerMs}} {
		code, el, err := side.pt.Wait(b.cfg.ExitTimeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s still running %v after stdin closed", side.name, b.cfg.ExitTimeout))
			side.pt.Kill()
			continue
		}
		*side.ms = numDur(el, time.Millisecond)
		if code != 0 {
			b.note(t, fmt.Sprintf("the %s exited with %v after stdin closed", side.name, side.pt.ProcessState()))
		}
	}
	b.logf(t, "exit: client %s, server %s after stdin closed (%d connections open)",
		fmtMs(t.res.ExitClientMs), fmtMs(t.res.ExitServerMs), t.res.ExitOpen)
	return errors.Join(errs...)
}

func (b *bench) closeHeld(t *target) {
	for _, c := range t.held {
		if c != nil {
			c.Close()
		}
	}
	t.held = nil
}
