package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptserver/extortest"
)

// The measurements, in the order run (see Run):
//
//  1. start: both PTs launched with the PT environment until both printed
//     their METHODS DONE (the server's SMETHOD ARGS become the bridge args);
//  2. setup: Setups sequential connections, each timed from the SOCKS dial
//     to the first echoed byte;
//  3. rtt: RTTs one-byte round trips on one echoed connection;
//  4. up / down: Runs transfers of Bytes each way on one connection, the
//     two PTs taking turns run by run so that drift of a noisy machine hits
//     both alike; the median is reported;
//  5. conns: Conns connections opened Parallel at a time, each echoing
//     EchoBytes of its own stream, all held open; VmRSS of each PT process
//     is read before and while holding them; then every held connection
//     echoes one more byte;
//  6. exit: with the connections still open, both PTs' stdin is closed at
//     the same instant, as tor does, and each process's exit is timed.

// PT names, as printed.
const (
	NameWater    = "water-pt"
	NameBaseline = "baseline"
)

// Transport names: water-pt provides only "water" (ptserver.MethodName);
// the baseline accepts any name.
const (
	waterTransport    = "water"
	baselineTransport = "baseline"
)

// Packages built when no binary is given.
const (
	waterPackage    = tortest.WaterPTPackage
	baselinePackage = "github.com/water-pt/water-pt/integration/tortest/testdata/fakept"
)

// ProfileEnv is the variable that asks cmd/water-pt for a CPU profile,
// written to the file it names.
const ProfileEnv = "WATERPT_CPUPROFILE"

// Config is what to measure and how. DefaultConfig gives the standard run.
type Config struct {
	Setups    int   // sequential connections timed to the first echoed byte
	RTTs      int   // one-byte round trips on one connection
	Bytes     int64 // bytes of each bulk transfer, each way
	Runs      int   // bulk transfers each way; the median is reported
	Conns     int   // concurrent connections held open
	Parallel  int   // connections being opened at a time
	EchoBytes int   // bytes each concurrent connection echoes
	Verify    bool  // check bulk bytes against the stream (concurrent conns are always checked)

	Only []string // the PTs to run (NameWater, NameBaseline); empty: both

	WaterBinary    string // "" builds cmd/water-pt
	BaselineBinary string // "" builds the fakept of integration/tortest

	// For the water-pt processes only.
	ServerOptions []tortest.KV // ServerTransportOptions of the transport
	PTFlags       []string     // command-line arguments of both processes
	ClientFlags   []string
	ServerFlags   []string
	PTEnv         []string // extra KEY=value environment of both processes
	ClientEnv     []string
	ServerEnv     []string
	PprofDir      string // if set, ProfileEnv=PprofDir/client.prof and server.prof

	DialTimeout  time.Duration // one connection: SOCKS handshake and a small echo
	XferTimeout  time.Duration // one bulk transfer
	PhaseTimeout time.Duration // the setup, rtt and conns phases, each
	ExitTimeout  time.Duration // a process's exit after stdin close
	StartTimeout time.Duration // both PTs reaching METHODS DONE

	Log io.Writer // progress; nil discards it
}

// DefaultConfig returns the standard configuration, or the quick one.
func DefaultConfig(quick bool) Config {
	c := Config{
		Setups:       50,
		RTTs:         2000,
		Bytes:        256 << 20,
		Runs:         3,
		Conns:        1000,
		Parallel:     32,
		EchoBytes:    4 << 10,
		Verify:       true,
		DialTimeout:  10 * time.Second,
		XferTimeout:  30 * time.Second,
		PhaseTimeout: 60 * time.Second,
		ExitTimeout:  5 * time.Second,
		StartTimeout: 60 * time.Second,
	}
	if quick {
		c.Setups = 20
		c.RTTs = 500
		c.Bytes = 32 << 20
		c.Conns = 250
		c.XferTimeout = 15 * time.Second
		c.PhaseTimeout = 30 * time.Second
	}
	return c
}

// Result is what was measured of one PT. Missing figures (a phase that
// failed) are not OK and encode as null.
type Result struct {
	Name       string `json:"name"`
	Binary     string `json:"binary"`
	Transport  string `json:"transport"`
	BridgeArgs string `json:"bridge_args"` // the server's SMETHOD ARGS, as the client got them

	StartMs Num `json:"start_ms"` // launch to both METHODS DONE

	SetupN       int `json:"setup_n"`
	SetupOK      int `json:"setup_ok"`
	SetupP50Ms   Num `json:"setup_p50_ms"`
	SetupFirstMs Num `json:"setup_first_ms"` // the first connection of the process
	SetupMaxMs   Num `json:"setup_max_ms"`

	RTTN     int `json:"rtt_n"`
	RTTP50Us Num `json:"rtt_p50_us"`
	RTTP99Us Num `json:"rtt_p99_us"`

	UpMBps   Num       `json:"up_mbps"` // median of UpRuns; MB = 10^6 bytes
	DownMBps Num       `json:"down_mbps"`
	UpRuns   []float64 `json:"up_runs_mbps"`
	DownRuns []float64 `json:"down_runs_mbps"`

	ConnsTried  int            `json:"conns_tried"`
	ConnsOK     int            `json:"conns_ok"`      // opened and echoed EchoBytes intact
	ConnsHeldOK int            `json:"conns_held_ok"` // still echoing after the RSS reading
	ConnsS      Num            `json:"conns_s"`       // time to open and check them all
	ConnErrors  map[string]int `json:"conn_errors,omitempty"`

	ClientRSSBeforeKB  int64 `json:"client_rss_before_kb"`
	ClientRSSHoldingKB int64 `json:"client_rss_holding_kb"`
	ServerRSSBeforeKB  int64 `json:"server_rss_before_kb"`
	ServerRSSHoldingKB int64 `json:"server_rss_holding_kb"`
	ClientKBPerConn    Num   `json:"client_kb_per_conn"`
	ServerKBPerConn    Num   `json:"server_kb_per_conn"`
	ClientAnonPerConn  Num   `json:"client_anon_kb_per_conn"`
	ServerAnonPerConn  Num   `json:"server_anon_kb_per_conn"`
	// The private part of the modules' linear memories (water-pt only)
	// and the rest of RssAnon: the runtime's own cost per connection.
	ClientLinearPerConn  Num `json:"client_linear_kb_per_conn"`
	ServerLinearPerConn  Num `json:"server_linear_kb_per_conn"`
	ClientRuntimePerConn Num `json:"client_runtime_kb_per_conn"`
	ServerRuntimePerConn Num `json:"server_runtime_kb_per_conn"`

	// Descriptors open before the connections, holding them, and after
	// they closed; VmRSS after they closed, and holding as many again.
	ClientFDsBefore     int   `json:"client_fds_before"`
	ClientFDsHolding    int   `json:"client_fds_holding"`
	ClientFDsAfter      int   `json:"client_fds_after"`
	ServerFDsBefore     int   `json:"server_fds_before"`
	ServerFDsHolding    int   `json:"server_fds_holding"`
	ServerFDsAfter      int   `json:"server_fds_after"`
	ClientRSSAfterKB    int64 `json:"client_rss_after_kb"`
	ServerRSSAfterKB    int64 `json:"server_rss_after_kb"`
	ConnsOK2            int   `json:"conns_ok_second_round"`
	ClientRSSHolding2KB int64 `json:"client_rss_holding2_kb"`
	ServerRSSHolding2KB int64 `json:"server_rss_holding2_kb"`

	ExitClientMs Num `json:"exit_client_ms"`
	ExitServerMs Num `json:"exit_server_ms"`

	Profiles []string `json:"profiles,omitempty"`
	Errors   []string `json:"errors,omitempty"` // failed phases
	Notes    []string `json:"notes,omitempty"`  // odd things seen (stderr output, warnings, slow teardown)
}

// Run builds the binaries and measures each PT. It returns an error only when
// it cannot measure at all (a build failure); a PT's failures are in its
// Result. ctx bounds the whole run.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	rep := &Report{Config: cfg, Machine: machineInfo(), Started: time.Now()}
	want := func(name string) bool {
		if len(cfg.Only) == 0 {
			return true
		}
		for _, n := range cfg.Only {
			if n == name {
				return true
			}
		}
		return false
	}

	// Build once, both binaries at the same time.
	var (
		wg       sync.WaitGroup
		builders []*tortest.Builder
		berrs    = make([]error, 2)
		waterBin = cfg.WaterBinary
		baseBin  = cfg.BaselineBinary
	)
	build := func(i int, pkg string, dst *string) {
		if *dst != "" || !want([]string{NameWater, NameBaseline}[i]) {
			return
		}
		b := &tortest.Builder{Package: pkg}
		builders = append(builders, b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			*dst, berrs[i] = b.Build()
		}()
	}
	t0 := time.Now()
	build(0, waterPackage, &waterBin)
	build(1, baselinePackage, &baseBin)
	wg.Wait()
	defer func() {
		for _, b := range builders {
			b.Close()
		}
	}()
	if err := errors.Join(berrs...); err != nil {
		return nil, err
	}
	if len(builders) > 0 {
		fmt.Fprintf(cfg.Log, "built %d binaries in %v\n", len(builders), time.Since(t0).Round(time.Millisecond))
	}

	b := &bench{ctx: ctx, cfg: cfg}
	var targets []*target
	if want(NameBaseline) {
		targets = append(targets, &target{
			res:  &Result{Name: NameBaseline, Binary: baseBin, Transport: baselineTransport},
			pair: tortest.PairConfig{Binary: baseBin, Transport: baselineTransport},
		})
	}
	if want(NameWater) {
		pc := tortest.PairConfig{
			Binary:        waterBin,
			Transport:     waterTransport,
			ServerOptions: cfg.ServerOptions,
			ClientArgs:    append(append([]string{}, cfg.PTFlags...), cfg.ClientFlags...),
			ServerArgs:    append(append([]string{}, cfg.PTFlags...), cfg.ServerFlags...),
			ClientEnv:     append(append([]string{}, cfg.PTEnv...), cfg.ClientEnv...),
			ServerEnv:     append(append([]string{}, cfg.PTEnv...), cfg.ServerEnv...),
		}
		t := &target{res: &Result{Name: NameWater, Binary: waterBin, Transport: waterTransport}, pair: pc}
		if cfg.PprofDir != "" {
			dir, err := filepath.Abs(cfg.PprofDir)
			if err == nil {
				err = os.MkdirAll(dir, 0o755)
			}
			if err != nil {
				return nil, fmt.Errorf("-pprof: %v", err)
			}
			t.profiles = []string{filepath.Join(dir, "client.prof"), filepath.Join(dir, "server.prof")}
			for _, p := range t.profiles {
				os.Remove(p) // so that a profile found afterwards is from this run
			}
			pc.ClientEnv = append(pc.ClientEnv, ProfileEnv+"="+t.profiles[0])
			pc.ServerEnv = append(pc.ServerEnv, ProfileEnv+"="+t.profiles[1])
			t.pair = pc
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		rep.Results = append(rep.Results, t.res)
	}

	for _, t := range targets {
		sc, err := newScope(t.res.Name, cfg.Log)
		if err != nil {
			return nil, err
		}
		t.sc = sc
		defer sc.Close()
		b.phase(t, "start", b.start)
	}
	b.setups(targets)
	b.rtts(targets)
	b.bulk(targets)
	for _, t := range targets {
		b.phase(t, "conns", b.conns)
		b.phase(t, "release", b.release)
		b.phase(t, "exit", b.exit)
		b.closeHeld(t)
		b.finish(t)
		t.sc.Close() // the next PT's figures should not share the machine with this one
	}
	rep.Duration = time.Since(rep.Started)
	rep.computeRatios()
	return rep, nil
}

// bench is one run.
type bench struct {
	ctx context.Context
	cfg Config
}

// target is one PT under measurement.
type target struct {
	res      *Result
	pair     tortest.PairConfig
	profiles []string // client, server

	sc   *scope
	p    *tortest.Pair // nil until started, and when the start failed
	dead bool          // a process is gone: skip the remaining phases
	held []net.Conn    // the conns phase's connections, until after exit
}

func (b *bench) logf(t *target, format string, args ...any) {
	fmt.Fprintf(b.cfg.Log, "[%s] %s\n", t.res.Name, fmt.Sprintf(format, args...))
}

// phase runs f for t unless t is unusable or the run is over, and records
// its failure.
func (b *bench) phase(t *target, name string, f func(*target) error) {
	if t.dead || b.ctx.Err() != nil {
		if b.ctx.Err() != nil && !t.dead {
			t.res.Errors = append(t.res.Errors, fmt.Sprintf("%s: not run: %v", name, b.ctx.Err()))
			t.dead = true
		}
		return
	}
	if t.p != nil {
		if err := processesAlive(t.p); err != nil {
			t.dead = true
			t.res.Errors = append(t.res.Errors, fmt.Sprintf("%s: not run: %v", name, err))
			b.logf(t, "%s: not run: %v", name, err)
			return
		}
	} else if name != "start" {
		return
	}
	err := func() (err error) {
		defer t.sc.catch(&err)
		return f(t)
	}()
	if err != nil {
		t.res.Errors = append(t.res.Errors, name+": "+err.Error())
		b.logf(t, "%s: FAILED: %v", name, err)
	}
}

func processesAlive(p *tortest.Pair) error {
	for _, side := range []struct {
		name string
		pt   *tortest.PT
	}{{"client", p.Client}, {"server", p.Server}} {
		if side.pt.Exited() {
			msg := fmt.Sprintf("the %s process exited (%v)", side.name, side.pt.ProcessState())
			if s := strings.TrimSpace(side.pt.Stderr()); s != "" {
				msg += "; stderr: " + truncate(s, 400)
			}
			return errors.New(msg)
		}
	}
	return nil
}

// start launches the pair as tor would.
func (b *bench) start(t *target) error {
	cfg := t.pair
	cfg.Mode = extortest.Dispatch()
	cfg.SetupWithin = b.cfg.StartTimeout
	start := time.Now()
	t.p = tortest.StartPair(t.sc, cfg)
	t.res.StartMs = numDur(time.Since(start), time.Millisecond)
	var args []string
	for _, kv := range t.p.ServerMethod.Args {
		args = append(args, kv.Key+"="+kv.Value)
	}
	t.res.BridgeArgs = strings.Join(args, " ")
	b.logf(t, "started in %s: SOCKS %s, bridge %s %s", fmtMs(t.res.StartMs), t.p.ClientMethod.Addr, t.p.ServerMethod.Addr, t.res.BridgeArgs)
	return nil
}

// dial opens a connection through the pair and sends the ExtORPort's
// Dispatch header for mode. The returned cancel ends ctx, the context that
// bounds the connection's use: its expiry or cancellation interrupts every
// blocked read and write on the connection.
func (b *bench) dial(t *target, timeout time.Duration, mode extortest.Mode) (net.Conn, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	c, err := t.p.Dial(ctx)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	done := func() { stop(); cancel() }
	if _, err := c.Write(mode.Header()); err != nil {
		done()
		c.Close()
		return nil, nil, fmt.Errorf("writing the mode header: %w", err)
	}
	return c, done, nil
}

// The setups and round trips are interleaved: the PTs take turns, a setup
// or a block of rttBlock round trips at a time, so that both are measured
// under the same conditions. On a shared 2-CPU VM the round-trip time of
// either PT moves by a third or more from one minute to the next with where
// the kernel happens to place the threads; measured one PT after the other,
// the ratio compared two different moments of the machine.
//
// Before each setup the bench waits for every PT process to go quiet (see
// settle), so that neither PT's background work (water-pt refills its pool
// of instances after each connection) lands in the other's measurement.
// The round trips have no background work to wait for: their blocks follow
// each other at once.
const rttBlock = 100

// settle waits, up to 100 ms, until the PT processes have used less than
// 100 us of CPU in the last 2 ms.
func (b *bench) settle(targets []*target) {
	var pids []int
	for _, t := range targets {
		if t.p != nil && !t.dead {
			pids = append(pids, t.p.Client.Pid(), t.p.Server.Pid())
		}
	}
	prev := cpuNs(pids)
	for range 50 {
		time.Sleep(2 * time.Millisecond)
		now := cpuNs(pids)
		if now-prev < 100_000 {
			return
		}
		prev = now
	}
}

// cpuNs sums the CPU time of every thread of pids
// (/proc/PID/task/TID/schedstat, first field, in ns).
func cpuNs(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if fs := strings.Fields(string(b)); len(fs) > 0 {
				n, _ := strconv.ParseInt(fs[0], 10, 64)
				sum += n
			}
		}
	}
	return sum
}

// setupState is one PT's progress through the setup phase.
type setupState struct {
	ds       []time.Duration
	errs     []error
	failures int
	inARow   int
	over     bool // gave up, or the phase time ran out
}

// setups times Setups sequential connections per PT, from the SOCKS dial to
// the first echoed byte, the PTs taking turns.
func (b *bench) setups(targets []*target) {
	n := b.cfg.Setups
	if n <= 0 {
		return
	}
	phase, cancel := context.WithTimeout(b.ctx, b.cfg.PhaseTimeout*time.Duration(len(targets)))
	defer cancel()
	st := map[*target]*setupState{}
	for _, t := range targets {
		t.res.SetupN = n
		st[t] = &setupState{}
	}
	for i := range n {
		for _, t := range targets {
			s := st[t]
			if s.over {
				continue
			}
			b.settle(targets)
			b.phase(t, "setup", func(t *target) error { b.setupStep(phase, t, s, i); return nil })
		}
	}
	for _, t := range targets {
		b.phase(t, "setup", func(t *target) error { return b.setupResult(t, st[t]) })
	}
}

// setupStep times t's setup number i (from 0) into s.
func (b *bench) setupStep(phase context.Context, t *target, s *setupState, i int) {
	n := b.cfg.Setups
	if err := phase.Err(); err != nil {
		s.errs = append(s.errs, fmt.Errorf("phase time limit (%v) after %d connections", b.cfg.PhaseTimeout, i))
		s.failures += n - i
		s.over = true
		return
	}
	d, err := b.setupOne(t, byte('a'+i%26))
	if err != nil {
		s.failures++
		s.inARow++
		s.errs = append(s.errs, fmt.Errorf("connection %d: %w", i+1, err))
		if s.inARow == 5 {
			s.failures += n - i - 1
			s.errs = append(s.errs, errors.New("5 failures in a row: gave up"))
			s.over = true
		}
		return
	}
	s.inARow = 0
	if i == 0 {
		t.res.SetupFirstMs = numDur(d, time.Millisecond)
	}
	s.ds = append(s.ds, d)
}

func (b *bench) setupResult(t *target, s *setupState) error {
	n := b.cfg.Setups
	t.res.SetupOK = len(s.ds)
	if len(s.ds) > 0 {
		t.res.SetupP50Ms = numDur(percentile(s.ds, 50), time.Millisecond)
		t.res.SetupMaxMs = numDur(percentile(s.ds, 100), time.Millisecond)
	}
	b.logf(t, "setup: %d/%d connections, p50 %s, first %s, max %s", len(s.ds), n,
		fmtMs(t.res.SetupP50Ms), fmtMs(t.res.SetupFirstMs), fmtMs(t.res.SetupMaxMs))
	if s.failures > 0 {
		return fmt.Errorf("%d of %d connections failed: %w", s.failures, n, errors.Join(firstN(s.errs, 3)...))
	}
	return nil
}

func (b *bench) setupOne(t *target, v byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.DialTimeout)
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

// rttConn is one PT's connection of the round-trip phase.
type rttConn struct {
	c    net.Conn
	done context.CancelFunc
	ds   []time.Duration
	bad  bool
}

// rtts times RTTs one-byte round trips per PT, each on one connection, the
// PTs taking turns every rttBlock round trips.
func (b *bench) rtts(targets []*target) {
	n := b.cfg.RTTs
	if n <= 0 {
		return
	}
	st := map[*target]*rttConn{}
	for _, t := range targets {
		b.phase(t, "rtt", func(t *target) error {
			c, done, err := b.dial(t, b.cfg.PhaseTimeout*time.Duration(len(targets)), extortest.Echo())
			if err != nil {
				return err
			}
			st[t] = &rttConn{c: c, done: done, ds: make([]time.Duration, 0, n)}
			return nil
		})
	}
	defer func() {
		for _, r := range st {
			r.done()
			r.c.Close()
		}
	}()
	for i := 0; i < n; i += rttBlock {
		for _, t := range targets {
			r := st[t]
			if r == nil || r.bad {
				continue
			}
			b.phase(t, "rtt", func(t *target) error {
				if err := roundTrips(r, i, min(n, i+rttBlock)); err != nil {
					r.bad = true
					return err
				}
				return nil
			})
		}
	}
	for _, t := range targets {
		if r := st[t]; r != nil && !r.bad {
			t.res.RTTN = n
			t.res.RTTP50Us = numDur(percentile(r.ds, 50), time.Microsecond)
			t.res.RTTP99Us = numDur(percentile(r.ds, 99), time.Microsecond)
			b.logf(t, "rtt: %d round trips, p50 %s us, p99 %s us", n, fmtNum(t.res.RTTP50Us, 0), fmtNum(t.res.RTTP99Us, 0))
		}
	}
}

// roundTrips times round trips from to to on r.
func roundTrips(r *rttConn, from, to int) error {
	var buf [1]byte
	for i := from; i < to; i++ {
		v := byte(i)
		start := time.Now()
		if _, err := r.c.Write([]byte{v}); err != nil {
			return fmt.Errorf("round trip %d: write: %w", i+1, err)
		}
		if _, err := io.ReadFull(r.c, buf[:]); err != nil {
			return fmt.Errorf("round trip %d: read: %w", i+1, err)
		}
		r.ds = append(r.ds, time.Since(start))
		if buf[0] != v {
			return fmt.Errorf("round trip %d: echoed 0x%02x, sent 0x%02x", i+1, buf[0], v)
		}
	}
	return nil
}

// bulk runs the transfers: for each run, up then down, each PT in turn.
func (b *bench) bulk(targets []*target) {
	if b.cfg.Runs <= 0 || b.cfg.Bytes <= 0 {
		return
	}
	stopped := map[*target][2]bool{} // a direction that failed is not run again
	for run := range b.cfg.Runs {
		for dir, name := range []string{"up", "down"} {
			for _, t := range targets {
				if stopped[t][dir] {
					continue
				}
				seed := uint64(1000 + 10*run + dir)
				b.phase(t, fmt.Sprintf("%s run %d", name, run+1), func(t *target) error {
					var mbps float64
					var err error
					if dir == 0 {
						mbps, err = b.up(t, seed)
					} else {
						mbps, err = b.down(t, seed)
					}
					if err != nil {
						s := stopped[t]
						s[dir] = true
						stopped[t] = s
						return err
					}
					if dir == 0 {
						t.res.UpRuns = append(t.res.UpRuns, mbps)
					} else {
						t.res.DownRuns = append(t.res.DownRuns, mbps)
					}
					b.logf(t, "%s run %d: %s in %.0f MB/s", name, run+1, fmtBytes(b.cfg.Bytes), mbps)
					return nil
				})
			}
		}
	}
	for _, t := range targets {
		t.res.UpMBps = median(t.res.UpRuns)
		t.res.DownMBps = median(t.res.DownRuns)
	}
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

func (b *bench) note(t *target, msg string) {
	for _, n := range t.res.Notes {
		if n == msg {
			return
		}
	}
	t.res.Notes = append(t.res.Notes, msg)
	b.logf(t, "note: %s", msg)
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

// conns opens Conns connections, Parallel at a time, each echoing EchoBytes
// of its own stream, holds them, and reads the PTs' VmRSS before and while
// holding them.
func (b *bench) conns(t *target) error {
	n := b.cfg.Conns
	t.res.ConnsTried = n
	if n <= 0 {
		return nil
	}
	time.Sleep(300 * time.Millisecond) // let the previous phases' connections go
	cb, err1 := rssKB(t.p.Client.Pid())
	sb, err2 := rssKB(t.p.Server.Pid())
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	t.res.ClientRSSBeforeKB, t.res.ServerRSSBeforeKB = cb, sb
	cab, _ := anonKB(t.p.Client.Pid())
	sab, _ := anonKB(t.p.Server.Pid())
	clb, cok := linearKB(t.p.Client.Pid())
	slb, sok := linearKB(t.p.Server.Pid())

	t.res.ClientFDsBefore, t.res.ServerFDsBefore = tortest.CountFDs(t.p.Client.Pid()), tortest.CountFDs(t.p.Server.Pid())
	start := time.Now()
	ok, errCount := b.openHeld(t, n, 100000)
	el := time.Since(start)
	t.res.ConnsOK = ok
	t.res.ConnsS = numDur(el, time.Second)
	if len(errCount) > 0 {
		t.res.ConnErrors = errCount
	}
	b.logf(t, "conns: %d/%d opened and echoed %s intact in %.2f s", t.res.ConnsOK, n, fmtBytes(int64(b.cfg.EchoBytes)), el.Seconds())

	time.Sleep(300 * time.Millisecond)
	if err := processesAlive(t.p); err != nil {
		return err
	}
	ch, err1 := rssKB(t.p.Client.Pid())
	sh, err2 := rssKB(t.p.Server.Pid())
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	t.res.ClientRSSHoldingKB, t.res.ServerRSSHoldingKB = ch, sh
	cah, err1 := anonKB(t.p.Client.Pid())
	sah, err2 := anonKB(t.p.Server.Pid())
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if k := t.res.ConnsOK; k > 0 {
		t.res.ClientKBPerConn = num(float64(ch-cb) / float64(k))
		t.res.ServerKBPerConn = num(float64(sh-sb) / float64(k))
		t.res.ClientAnonPerConn = num(float64(cah-cab) / float64(k))
		t.res.ServerAnonPerConn = num(float64(sah-sab) / float64(k))
		if clh, ok := linearKB(t.p.Client.Pid()); ok && cok {
			t.res.ClientLinearPerConn = num(float64(clh-clb) / float64(k))
			t.res.ClientRuntimePerConn = num(float64((cah-cab)-(clh-clb)) / float64(k))
		}
		if slh, ok := linearKB(t.p.Server.Pid()); ok && sok {
			t.res.ServerLinearPerConn = num(float64(slh-slb) / float64(k))
			t.res.ServerRuntimePerConn = num(float64((sah-sab)-(slh-slb)) / float64(k))
		}
	}
	b.logf(t, "conns: VmRSS client %d -> %d kB (%s kB/conn), server %d -> %d kB (%s kB/conn)",
		cb, ch, fmtNum(t.res.ClientKBPerConn, 1), sb, sh, fmtNum(t.res.ServerKBPerConn, 1))

	t.res.ClientFDsHolding, t.res.ServerFDsHolding = tortest.CountFDs(t.p.Client.Pid()), tortest.CountFDs(t.p.Server.Pid())

	// Are they all still alive? One more byte each.
	var held atomic.Int64
	b.parallel(n, func(i int) {
		if c := t.held[i]; c != nil && echoByte(c, b.cfg.DialTimeout) == nil {
			held.Add(1)
		}
	})
	t.res.ConnsHeldOK = int(held.Load())
	if t.res.ConnsHeldOK != t.res.ConnsOK {
		b.note(t, fmt.Sprintf("%d of %d held connections no longer echoed after %.1f s", t.res.ConnsOK-t.res.ConnsHeldOK, t.res.ConnsOK, time.Since(start).Seconds()))
	}
	if t.res.ConnsOK < n {
		return fmt.Errorf("%d of %d connections failed: %v", n-t.res.ConnsOK, n, fmtErrCount(errCount))
	}
	return nil
}

// openHeld opens n connections into t.held, Parallel at a time, each echoing
// EchoBytes of the stream of seedBase+i, and returns how many succeeded and
// the kinds of failure.
func (b *bench) openHeld(t *target, n int, seedBase uint64) (int, map[string]int) {
	phase, cancel := context.WithTimeout(b.ctx, b.cfg.PhaseTimeout)
	defer cancel()
	t.held = make([]net.Conn, n)
	var (
		ok       atomic.Int64
		mu       sync.Mutex
		errCount = map[string]int{}
	)
	record := func(err error) {
		mu.Lock()
		errCount[errorKind(err)]++
		mu.Unlock()
	}
	b.parallel(n, func(i int) {
		if phase.Err() != nil {
			record(fmt.Errorf("not opened: phase time limit %v", b.cfg.PhaseTimeout))
			return
		}
		c, err := b.openEcho(phase, t, seedBase+uint64(i))
		if err != nil {
			record(err)
			return
		}
		t.held[i] = c
		ok.Add(1)
	})
	return int(ok.Load()), errCount
}

// parallel calls f(i) for every i in [0, n), Parallel calls at a time, and
// returns when all have.
func (b *bench) parallel(n int, f func(i int)) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range max(1, b.cfg.Parallel) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// release closes the held connections and waits, up to 3 s, until each
// process has no more descriptors open than before they were opened; then
// it reads what memory each kept. Descriptors still open are noted, not
// failed: the baseline keeps the pipes of its splices in Go's pool until a
// garbage collection. It then opens as many again, so that the
// exit phase has them open and a second round shows whether holding them
// costs more than the first time (growth without bound).
func (b *bench) release(t *target) error {
	if b.cfg.Conns <= 0 || t.res.ConnsOK == 0 {
		return nil
	}
	b.closeHeld(t)
	pids := []int{t.p.Client.Pid(), t.p.Server.Pid()}
	before := []int{t.res.ClientFDsBefore, t.res.ServerFDsBefore}
	after := make([]int, 2)
	deadline := time.Now().Add(3 * time.Second)
	for {
		for i, pid := range pids {
			after[i] = tortest.CountFDs(pid)
		}
		if (after[0] <= before[0] && after[1] <= before[1]) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.settle([]*target{t})
	t.res.ClientFDsAfter, t.res.ServerFDsAfter = after[0], after[1]
	t.res.ClientRSSAfterKB, _ = rssKB(pids[0])
	t.res.ServerRSSAfterKB, _ = rssKB(pids[1])
	b.logf(t, "release: fds client %d -> %d -> %d, server %d -> %d -> %d; VmRSS after close client %d kB, server %d kB",
		before[0], t.res.ClientFDsHolding, after[0], before[1], t.res.ServerFDsHolding, after[1],
		t.res.ClientRSSAfterKB, t.res.ServerRSSAfterKB)
	for i, side := range []string{"client", "server"} {
		if after[i] > before[i] {
			b.note(t, fmt.Sprintf("the %s still had %d descriptors open 3 s after its %d connections closed (%d before)",
				side, after[i], t.res.ConnsOK, before[i]))
		}
	}

	ok, errCount := b.openHeld(t, b.cfg.Conns, 200000)
	t.res.ConnsOK2 = ok
	time.Sleep(300 * time.Millisecond)
	t.res.ClientRSSHolding2KB, _ = rssKB(pids[0])
	t.res.ServerRSSHolding2KB, _ = rssKB(pids[1])
	b.logf(t, "release: %d/%d opened again; VmRSS holding them client %d kB (first time %d), server %d kB (first time %d)",
		ok, b.cfg.Conns, t.res.ClientRSSHolding2KB, t.res.ClientRSSHoldingKB, t.res.ServerRSSHolding2KB, t.res.ServerRSSHoldingKB)
	if ok < b.cfg.Conns {
		return fmt.Errorf("second round: %d of %d connections failed: %v", b.cfg.Conns-ok, b.cfg.Conns, fmtErrCount(errCount))
	}
	return nil
}

// openEcho opens one connection and echoes EchoBytes of the stream of seed.
func (b *bench) openEcho(ctx context.Context, t *target, seed uint64) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, b.cfg.DialTimeout)
	defer cancel()
	c, err := t.p.Dial(dctx)
	if err != nil {
		return nil, err
	}
	dl, _ := dctx.Deadline()
	c.SetDeadline(dl)
	if _, err := c.Write(extortest.Echo().Header()); err != nil {
		c.Close()
		return nil, fmt.Errorf("echo: writing the mode header: %w", err)
	}
	if err := tortest.CheckEchoSeed(c, int64(b.cfg.EchoBytes), seed); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func echoByte(c net.Conn, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
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

// errorKind shortens an error to a key for counting: digits (ports,
// offsets) elided.
func errorKind(err error) string {
	s := err.Error()
	var b strings.Builder
	digits := false
	for _, r := range s {
		if r >= '0' && r <= '9' {
			if !digits {
				b.WriteByte('N')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	return truncate(b.String(), 200)
}

func fmtErrCount(m map[string]int) string {
	type kv struct {
		k string
		n int
	}
	var l []kv
	for k, n := range m {
		l = append(l, kv{k, n})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n })
	var parts []string
	for _, e := range l[:min(3, len(l))] {
		parts = append(parts, fmt.Sprintf("%d× %s", e.n, e.k))
	}
	return strings.Join(parts, "; ")
}

// exit closes both PTs' stdin at the same instant, as tor does, with the
// connections still open, and times each process's exit.
func (b *bench) exit(t *target) error {
	p := t.p
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
		fmtMs(t.res.ExitClientMs), fmtMs(t.res.ExitServerMs), t.res.ConnsOK)
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

// finish collects what the processes said that a reader should know, and
// the profiles.
func (b *bench) finish(t *target) {
	if t.p == nil {
		return
	}
	if !t.p.Client.Exited() || !t.p.Server.Exited() {
		// The exit phase did not run: stop them now, as tor would.
		t.p.Stop(b.cfg.ExitTimeout)
	}
	for _, side := range []struct {
		name string
		pt   *tortest.PT
	}{{"client", t.p.Client}, {"server", t.p.Server}} {
		if s := strings.TrimSpace(side.pt.Stderr()); s != "" {
			b.note(t, fmt.Sprintf("%s wrote to stderr (tor does not read it): %s", side.name, truncate(s, 300)))
		}
		warn := 0
		var first string
		for _, l := range side.pt.Lines() {
			if l.Kind != tortest.KindLog {
				continue
			}
			if sev, _ := l.Get("SEVERITY"); sev == "warning" || sev == "error" {
				if warn == 0 {
					msg, _ := l.Get("MESSAGE")
					first = sev + ": " + msg
				}
				warn++
			}
		}
		if warn > 0 {
			b.note(t, fmt.Sprintf("%s logged %d warnings or errors to tor; first: %s", side.name, warn, truncate(first, 200)))
		}
	}
	for _, p := range t.profiles {
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			t.res.Profiles = append(t.res.Profiles, p)
		} else {
			b.note(t, fmt.Sprintf("no CPU profile at %s (does this water-pt support %s?)", p, ProfileEnv))
		}
	}
}

// rssKB reads VmRSS of pid from /proc.
func rssKB(pid int) (int64, error) { return tortest.StatusField(pid, "VmRSS:") }

// anonKB reads RssAnon of pid: the private memory. VmRSS also counts, once
// per mapping, pages shared between instances (a module's initial memory
// image), so it overstates what each connection costs.
func anonKB(pid int) (int64, error) { return tortest.StatusField(pid, "RssAnon:") }

// linearKB sums the private (Anonymous) memory of pid's WebAssembly linear
// memories, read from /proc/PID/smaps. watm maps each instance's memory as
// one reservation that starts with the module's initial image (a mapping of
// the memfd "watm-image") followed by anonymous read-write and PROT_NONE
// pages; a mapping counts when it is such an image mapping or continues one
// without a gap. ok is false when there is no such mapping at all (a PT
// without WebAssembly, or modules without an image).
func linearKB(pid int) (kb int64, ok bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return linearSmaps(f)
}

func linearSmaps(r io.Reader) (kb int64, ok bool) {
	var (
		in      bool
		lastEnd uint64
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if v, found := strings.CutPrefix(line, "Anonymous:"); found && in {
			if fs := strings.Fields(v); len(fs) > 0 {
				n, _ := strconv.ParseInt(fs[0], 10, 64)
				kb += n
			}
			continue
		}
		fs := strings.Fields(line)
		if len(fs) < 5 || !strings.Contains(fs[0], "-") || len(fs[1]) != 4 {
			continue // a field line, not a mapping's header
		}
		lo, hi, _ := strings.Cut(fs[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			in = false
			continue
		}
		path := strings.Join(fs[5:], " ")
		switch {
		case strings.Contains(path, "memfd:watm-image"):
			in, ok = true, true
		case in && path == "" && start == lastEnd && (fs[1] == "rw-p" || fs[1] == "---p"):
		default:
			in = false
		}
		lastEnd = end
	}
	return kb, ok
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(math.Ceil(float64(len(s))*p/100)) - 1
	return s[max(0, min(k, len(s)-1))]
}

func median(v []float64) Num {
	if len(v) == 0 {
		return Num{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return num(s[len(s)/2])
	}
	return num((s[len(s)/2-1] + s[len(s)/2]) / 2)
}

func firstN(errs []error, n int) []error { return errs[:min(n, len(errs))] }

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
