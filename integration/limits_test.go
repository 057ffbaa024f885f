package integration

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptserver/extortest"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// Abuse: what a hostile client, a flood or a bad bridge line can make a PT
// spend, and that it gets it back.

// TestAcceptSurvivesFDExhaustion runs each side out of descriptors (a
// limit of 64, 80 connections at once): the accept loop must log once,
// back off, and serve again once the connections are gone.
func TestAcceptSurvivesFDExhaustion(t *testing.T) {
	for _, side := range []string{"client", "server"} {
		t.Run(side, func(t *testing.T) {
			p := startWaterPair(t, tortest.PairConfig{})
			echoOnce(t, p, 1000)
			pt, addr := p.Client, p.ClientMethod.Addr
			if side == "server" {
				pt, addr = p.Server, p.ServerMethod.Addr
			}
			setFDLimit(t, pt.Pid(), 64)
			conns := dialMany(t, addr, 80)
			ctx := ctxTimeout(t, 30*time.Second)
			l, err := waitLogContaining(ctx, pt, 0, "accept failed; retrying")
			if err != nil {
				t.Fatalf("the PT never ran out of descriptors: %v", err)
			}
			if sev, _ := l.Get("SEVERITY"); sev != "warning" || !strings.Contains(l.Text, "too many open files") {
				t.Errorf("want a warning naming the error: %s", l.Text)
			}
			for _, c := range conns {
				c.Close()
			}
			echoOnce(t, p, 1000)
			if n := countLogs(pt, "accept failed"); n != 1 {
				t.Errorf("%d LOG lines about accept, want 1 (once per burst)", n)
			}
			stopPair(t, p)
		})
	}
}

// TestServerIdleDeadline opens 200 connections to the server that send
// nothing. Until its first byte a connection must hold one descriptor (no
// module instance, no ExtORPort connection); each is closed at the idle
// deadline, and the server gives back every descriptor, every thread that
// is doing something, and (within 2 MiB, 4 under -race) its memory. Two rounds: the first
// brings the Go runtime to the threads and heap a burst needs, the second
// must cost nothing more. Go never ends an OS thread it once started: the
// idle ones (parked on a futex) may stay, a few, never one per connection.
func TestServerIdleDeadline(t *testing.T) {
	const (
		idle  = 3 * time.Second
		conns = 200
		// Go returns freed heap to the kernel gradually: one round's
		// garbage (about 10 kB per connection) may still be mapped. Doubled
		// under -race, whose shadow memory follows the heap.
		pssTolerance = 2 << 10 // kB
		// Parked threads Go may keep after a burst of 200 connections.
		parkedTolerance = 8
	)
	p := startWaterPair(t, tortest.PairConfig{ServerArgs: []string{"-server-idle-timeout", idle.String()}})
	echoOnce(t, p, 1000)
	pid := p.Server.Pid()
	fds0, _, _ := settledUsage(t, pid)
	idleRound(t, p, conns, idle)
	waitFor(t, 10*time.Second, "descriptors back", func() bool { return tortest.CountFDs(pid) <= fds0 })
	fds0, threads0, pss0 := settledUsage(t, pid)
	all0, unparked0, _ := tortest.Threads(pid)
	pssAllowed := int64(pssTolerance)
	if tortest.RaceEnabled() {
		pssAllowed *= 2
	}

	idleRound(t, p, conns, idle)
	waitFor(t, 10*time.Second, "descriptors back", func() bool { return tortest.CountFDs(pid) <= fds0 })
	fds1, threads1, pss1 := settledUsage(t, pid)
	all1, unparked1, err := tortest.Threads(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server after the second round: fds %d -> %d, threads %d -> %d (not parked %d -> %d), PSS %d -> %d kB",
		fds0, fds1, threads0, threads1, unparked0, unparked1, pss0, pss1)
	if fds1 != fds0 || unparked1 > unparked0 || all1 > all0+parkedTolerance || pss1 > pss0+pssAllowed {
		t.Errorf("not given back: fds %d -> %d, threads %d -> %d (not parked %d -> %d; %d more parked allowed), PSS %d -> %d kB (%d kB allowed)",
			fds0, fds1, all0, all1, unparked0, unparked1, parkedTolerance, pss0, pss1, pssAllowed)
	}
	echoOnce(t, p, 1000)
	stopPair(t, p)
}

// idleRound opens n connections to the server that send nothing and checks
// that each costs one descriptor and no ExtORPort connection, and that the
// server closes each at the idle deadline.
func idleRound(t *testing.T, p *tortest.Pair, n int, idle time.Duration) {
	t.Helper()
	pid := p.Server.Pid()
	fds0 := tortest.CountFDs(pid)
	sessions0 := len(p.ExtOR.Sessions())
	start := time.Now()
	cs := dialMany(t, p.ServerMethod.Addr, n)
	waitFor(t, 10*time.Second, "every connection accepted", func() bool { return tortest.CountFDs(pid) >= fds0+n })
	if fds := tortest.CountFDs(pid); fds > fds0+n {
		t.Errorf("%d idle connections hold %d descriptors, want %d (one each)", n, fds-fds0, n)
	}
	if k := len(p.ExtOR.Sessions()) - sessions0; k != 0 {
		t.Errorf("%d ExtORPort connections for connections that sent nothing, want 0", k)
	}
	var wg sync.WaitGroup
	closedAt := make([]time.Duration, n)
	for i, c := range cs {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(idle + 20*time.Second))
			_, err := c.Read(make([]byte, 1))
			closedAt[i] = time.Since(start)
			if !errors.Is(err, io.EOF) && !isReset(err) {
				t.Errorf("conn %d: %v, want closed by the server", i, err)
			}
		})
	}
	wg.Wait()
	for i, d := range closedAt {
		if d < idle-100*time.Millisecond {
			t.Fatalf("conn %d closed after %v, before the %v deadline", i, d, idle)
		}
	}
	t.Logf("all %d closed between %v and %v (deadline %v)", n, minDuration(closedAt), maxDuration(closedAt), idle)
	for _, c := range cs {
		c.Close()
	}
}

// TestMaxConns: with -max-conns 5 and five connections open, more are
// closed at once, logged once for the burst; once the five close, the
// server serves again.
func TestMaxConns(t *testing.T) {
	const maxConns = 5
	p := startWaterPair(t, tortest.PairConfig{ServerArgs: []string{"-max-conns", "5"}})
	echoOnce(t, p, 1000)
	pid := p.Server.Pid()
	base, _, _ := settledUsage(t, pid)
	held := dialMany(t, p.ServerMethod.Addr, maxConns)
	waitFor(t, 10*time.Second, "the five accepted", func() bool { return tortest.CountFDs(pid) >= base+maxConns })
	fds := tortest.CountFDs(pid)
	for i, c := range dialMany(t, p.ServerMethod.Addr, 10) {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Fatalf("connection %d past the cap: %v, want closed at once", maxConns+i+1, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("connection %d past the cap closed after %v", maxConns+i+1, d)
		}
	}
	if _, err := waitLogContaining(ctxTimeout(t, 10*time.Second), p.Server, 0, "too many connections"); err != nil {
		t.Fatal(err)
	}
	if n := countLogs(p.Server, "too many connections"); n != 1 {
		t.Errorf("%d LOG lines about the cap for one burst, want 1", n)
	}
	if now := tortest.CountFDs(pid); now > fds {
		t.Errorf("the refused connections left %d descriptors", now-fds)
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, 10*time.Second, "the five closed", func() bool { return tortest.CountFDs(pid) <= base })
	echoOnce(t, p, 1000)
	stopPair(t, p)
}

// TestHugeModuleFile names a 1 GiB (sparse) file as the module on a bridge
// line: it is refused from its size, before any read, in under 100 ms, and
// the client's memory does not grow; 20 such requests at once likewise.
func TestHugeModuleFile(t *testing.T) {
	const (
		maxLatency = 100 * time.Millisecond
		maxGrowth  = 10 << 10 // kB
	)
	bin := tortest.Build(t)
	path := filepath.Join(t.TempDir(), "huge.wasm")
	if err := os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 1<<30); err != nil {
		t.Fatal(err)
	}
	env := tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, "")
	pt := tortest.Start(t, bin, env, wazeroCacheArgs(t)...)
	ms, err := pt.WaitDone(ctxTimeout(t, 2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	socks := ms[0].Addr
	target := watmtest.ClosedPort(t)
	// The default module, compiled at start, is loaded once this answers.
	if _, rep, _ := tortest.DialSOCKS(ctxTimeout(t, time.Minute), socks, target, nil); rep != tortest.ReplyConnectionRefused {
		t.Fatalf("warm-up request: reply %#x, want connection refused", rep)
	}
	rss0, err := tortest.StatusField(pt.Pid(), "VmRSS:")
	if err != nil {
		t.Fatal(err)
	}
	args := []tortest.KV{{Key: "watm", Value: path}}
	request := func() (time.Duration, error) {
		start := time.Now()
		_, rep, err := tortest.DialSOCKS(ctxTimeout(t, 10*time.Second), socks, target, args)
		d := time.Since(start)
		if rep != tortest.ReplyNotAllowed {
			return d, errors.Join(errors.New("reply is not 'connection not allowed'"), err)
		}
		return d, nil
	}
	if d, err := request(); err != nil || d > maxLatency {
		t.Errorf("one request: %v after %v, want refused within %v", err, d, maxLatency)
	}
	l, err := waitLogContaining(ctxTimeout(t, 10*time.Second), pt, 0, "module rejected")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{path, "1073741824 bytes", "-watm-max-size"} {
		if !strings.Contains(l.Text, want) {
			t.Errorf("LOG line does not say %q: %s", want, l.Text)
		}
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if d, err := request(); err != nil || d > maxLatency {
				t.Errorf("parallel request %d: %v after %v, want refused within %v", i, err, d, maxLatency)
			}
		})
	}
	wg.Wait()
	rss1, err := tortest.StatusField(pt.Pid(), "VmRSS:")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("VmRSS %d -> %d kB", rss0, rss1)
	if rss1 > rss0+maxGrowth {
		t.Errorf("VmRSS grew %d kB, want under %d", rss1-rss0, maxGrowth)
	}
	pt.CloseStdin()
	if code := waitExit(t, pt, 5*time.Second); code != 0 {
		t.Errorf("exit status %d", code)
	}
	noStderr(t, pt)
}

// setFDLimit sets pid's descriptor limit (soft and hard) to n.
func setFDLimit(t testing.TB, pid, n int) {
	t.Helper()
	if fds := tortest.CountFDs(pid); fds < 0 || fds > n/2 {
		t.Fatalf("the PT holds %d descriptors already: a limit of %d tests nothing", fds, n)
	}
	lim := unix.Rlimit{Cur: uint64(n), Max: uint64(n)}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
}

// dialMany opens n TCP connections to addr and holds them (closed at
// cleanup). The kernel completes them whether or not the PT accepts.
func dialMany(t testing.TB, addr string, n int) []net.Conn {
	t.Helper()
	cs := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
	})
	for range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("connection %d of %d: %v", len(cs)+1, n, err)
		}
		cs = append(cs, c)
	}
	return cs
}

// waitLogContaining waits for a LOG line from index from whose MESSAGE
// holds s.
func waitLogContaining(ctx context.Context, pt *tortest.PT, from int, s string) (tortest.Line, error) {
	for {
		l, err := pt.WaitLineFrom(ctx, from, "LOG ")
		if err != nil {
			return l, err
		}
		if m, _ := l.Get("MESSAGE"); strings.Contains(m, s) {
			return l, nil
		}
		from = l.Index + 1
	}
}

func countLogs(pt *tortest.PT, s string) int {
	n := 0
	for _, l := range pt.Lines() {
		if m, ok := l.Get("MESSAGE"); ok && l.Kind == tortest.KindLog && strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// settledUsage reads pid's descriptors, threads and PSS once its descriptor
// count has held still for a second (pools refill after each connection).
func settledUsage(t testing.TB, pid int) (fds int, threads, pssKB int64) {
	t.Helper()
	last, same := -1, 0
	waitFor(t, 20*time.Second, "descriptors settle", func() bool {
		n := tortest.CountFDs(pid)
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		return same >= 5
	})
	threads, err1 := tortest.StatusField(pid, "Threads:")
	pssKB, err2 := tortest.PssKB(pid)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	return last, threads, pssKB
}

// waitFor polls cond every 200 ms until it holds, failing after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func minDuration(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

func maxDuration(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// TestServerExtORPortDenied: when tor's ExtORPort refuses the handshake,
// the server closes the client's connection and logs that it cannot reach
// tor (not that the module rejected it).
func TestServerExtORPortDenied(t *testing.T) {
	p := startWaterPair(t, tortest.PairConfig{ExtOROpts: []extortest.Option{extortest.WithDeny()},
		ServerArgs: []string{"-enableLogging", "-logLevel", "WARN"}})
	ctx := ctxTimeout(t, 30*time.Second)
	c, err := p.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || (err != io.EOF && !isReset(err)) {
		t.Fatalf("read: %d, %v; want the connection closed", n, err)
	}
	var log []byte
	waitFor(t, 10*time.Second, "a log line about the ExtORPort", func() bool {
		log, _ = os.ReadFile(filepath.Join(p.ServerStateDir, logFile))
		return strings.Contains(string(log), "cannot reach tor's ExtORPort/ORPort")
	})
	if !strings.Contains(string(log), "DENY") {
		t.Errorf("the log does not carry the ExtORPort's refusal:\n%s", log)
	}
	if strings.Contains(string(log), "module rejected") {
		t.Errorf("the log says the module rejected the connection:\n%s", log)
	}
	stopPair(t, p)
}
