package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptserver/extortest"
)

// The measurements, in the order run (see Run):
//
//  1. start: every system's pair launched with the PT environment until both
//     printed their METHODS DONE (the server's SMETHOD ARGS become the bridge
//     args);
//  2. Rounds rounds, the systems taking turns in an order that alternates
//     from round to round (forward, then backward), so that drift of a noisy
//     machine hits all alike; each round, phase by phase:
//     setup: Setups sequential connections back to back, each timed from
//     the SOCKS dial to the first echoed byte; setup spaced: as many again,
//     Spacing apart; rtt: RTTs one-byte round trips on one connection; up and
//     down: Bytes each way on one connection. The figures reported are the
//     medians over the rounds of each round's figure;
//  3. then system by system: conns: Conns connections opened Parallel at a
//     time, each echoing EchoBytes of its own stream, all held open; each
//     process's PSS, threads and descriptors are read before and while
//     holding them; then every held connection echoes one more byte;
//     release: they are closed, what comes back is read, and as many are
//     opened again; exit: with those open, both processes' stdin is closed
//     at the same instant, as tor does, and each exit is timed.

// ProfileEnv is the variable that asks cmd/water-pt for a CPU profile,
// written to the file it names.
const ProfileEnv = "WATERPT_CPUPROFILE"

// Config is what to measure and how. DefaultConfig gives the standard run.
type Config struct {
	Rounds    int           // rounds of the setup, rtt and bulk phases
	Setups    int           // sequential connections per round, back to back and again spaced
	Spacing   time.Duration // between the spaced setups
	RTTs      int           // one-byte round trips on one connection, per round
	Bytes     int64         // bytes of each bulk transfer, each way, one per round
	Conns     int           // concurrent connections held open
	Parallel  int           // connections being opened at a time
	EchoBytes int           // bytes each concurrent connection echoes
	Verify    bool          // check bulk bytes against the stream (concurrent conns are always checked)

	Systems []System // measured, in this order; empty: ParseSystems(DefaultSystems)

	WaterBinary    string // "" builds cmd/water-pt
	BaselineBinary string // "" builds the fakept of integration/tortest

	// For the water-pt processes only (systems with Water set).
	ServerOptions []tortest.KV // ServerTransportOptions of the transport
	PTFlags       []string     // command-line arguments of both processes
	ClientFlags   []string
	ServerFlags   []string
	PTEnv         []string // extra KEY=value environment of both processes
	ClientEnv     []string
	ServerEnv     []string
	PprofDir      string // if set, ProfileEnv=PprofDir/SYSTEM-client.prof and -server.prof

	DialTimeout  time.Duration // one connection: SOCKS handshake and a small echo
	XferTimeout  time.Duration // one bulk transfer
	PhaseTimeout time.Duration // a setup or rtt phase of a round; conns: see ConnsTimeout
	ExitTimeout  time.Duration // a process's exit after stdin close
	StartTimeout time.Duration // both PTs reaching METHODS DONE

	Log io.Writer // progress; nil discards it
}

// DefaultConfig returns the standard configuration, or the quick one.
func DefaultConfig(quick bool) Config {
	c := Config{
		Rounds:       5,
		Setups:       50,
		Spacing:      20 * time.Millisecond,
		RTTs:         2000,
		Bytes:        256 << 20,
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
		c.Rounds = 3
		c.Setups = 20
		c.RTTs = 500
		c.Bytes = 32 << 20
		c.Conns = 250
		c.XferTimeout = 15 * time.Second
		c.PhaseTimeout = 30 * time.Second
	}
	return c
}

// ConnsTimeout bounds the opening of the held connections (each of the two
// rounds): PhaseTimeout, or 15 ms per connection if that is longer.
func (c Config) ConnsTimeout() time.Duration {
	return max(c.PhaseTimeout, time.Duration(c.Conns)*15*time.Millisecond)
}

// RunTimeout is the default bound on a whole run of cfg, the last resort
// behind each phase's own: per system, its start, half a PhaseTimeout per
// round (a round takes seconds) and both openings of the held connections;
// plus two minutes to build.
func (c Config) RunTimeout() time.Duration {
	n := time.Duration(max(1, len(c.Systems)))
	return n*(c.StartTimeout+time.Duration(c.Rounds)*c.PhaseTimeout/2+2*c.ConnsTimeout()) + 2*time.Minute
}

// Result is what was measured of one system. Missing figures (a phase that
// failed) are not OK and encode as null.
type Result struct {
	Name       string `json:"name"`
	Binary     string `json:"binary"`
	Transport  string `json:"transport"`
	BridgeArgs string `json:"bridge_args"` // the server's SMETHOD ARGS, as the client got them

	StartMs Num `json:"start_ms"` // launch to both METHODS DONE

	// Each round's figures; the headline figures are their medians.
	Rounds []Round `json:"rounds"`

	SetupN           int `json:"setup_n"`  // over all rounds, back to back and spaced
	SetupOK          int `json:"setup_ok"` // connections that echoed
	SetupP50Ms       Num `json:"setup_p50_ms"`
	SetupSpacedP50Ms Num `json:"setup_spaced_p50_ms"`
	SetupFirstMs     Num `json:"setup_first_ms"` // the first connection of the process
	SetupMaxMs       Num `json:"setup_max_ms"`   // over all rounds, back to back

	RTTN     int `json:"rtt_n"`
	RTTP50Us Num `json:"rtt_p50_us"`
	RTTP99Us Num `json:"rtt_p99_us"`

	UpMBps   Num `json:"up_mbps"` // MB = 10^6 bytes
	DownMBps Num `json:"down_mbps"`

	ConnsTried  int            `json:"conns_tried"`
	ConnsOK     int            `json:"conns_ok"`      // opened and echoed EchoBytes intact
	ConnsHeldOK int            `json:"conns_held_ok"` // still echoing after the memory reading
	ConnsS      Num            `json:"conns_s"`       // time to open and check them all
	ConnErrors  map[string]int `json:"conn_errors,omitempty"`
	ConnsOK2    int            `json:"conns_ok_second_round"` // opened again after the release

	Client Proc `json:"client"`
	Server Proc `json:"server"`

	ExitOpen     int `json:"exit_open"`      // connections open when stdin closed (the second round's)
	ExitClientMs Num `json:"exit_client_ms"` // stdin closed to the process gone
	ExitServerMs Num `json:"exit_server_ms"`

	Profiles []string `json:"profiles,omitempty"`
	Errors   []string `json:"errors,omitempty"` // failed phases
	Notes    []string `json:"notes,omitempty"`  // odd things seen (stderr output, warnings, slow teardown)
}

// Round is one round's figures of one system.
type Round struct {
	SetupP50Ms       Num `json:"setup_p50_ms"`
	SetupSpacedP50Ms Num `json:"setup_spaced_p50_ms"`
	RTTP50Us         Num `json:"rtt_p50_us"`
	RTTP99Us         Num `json:"rtt_p99_us"`
	UpMBps           Num `json:"up_mbps"`
	DownMBps         Num `json:"down_mbps"`
}

// Proc is what the conns and release phases read of one process.
type Proc struct {
	// Growth of the proportional set size per held connection, and its
	// split: the PSS of the modules' linear memories (water-pt only) and
	// the rest, the runtime's own.
	KBPerConn      Num `json:"pss_kb_per_conn"`
	LinearPerConn  Num `json:"linear_pss_kb_per_conn"`
	RuntimePerConn Num `json:"runtime_pss_kb_per_conn"`
	RSSPerConn     Num `json:"rss_kb_per_conn"` // VmRSS growth, as earlier figures were given
	FDsPerConn     Num `json:"fds_per_conn"`    // descriptors holding minus before, per connection

	// Before the connections, holding them, after they closed, and
	// holding as many again.
	PSSBeforeKB    int64 `json:"pss_before_kb"`
	PSSHoldingKB   int64 `json:"pss_holding_kb"`
	PSSAfterKB     int64 `json:"pss_after_kb"`
	PSSHolding2KB  int64 `json:"pss_holding2_kb"`
	RSSBeforeKB    int64 `json:"rss_before_kb"`
	RSSHoldingKB   int64 `json:"rss_holding_kb"`
	ThreadsBefore  int   `json:"threads_before"`
	ThreadsHolding int   `json:"threads_holding"`
	ThreadsAfter   int   `json:"threads_after"`
	FDsBefore      int   `json:"fds_before"`
	FDsHolding     int   `json:"fds_holding"`
	FDsAfter       int   `json:"fds_after"`
}

// Run builds the binaries and measures each system. It returns an error
// only when it cannot measure at all (a build failure, too few descriptors);
// a system's failures are in its Result. ctx bounds the whole run.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if len(cfg.Systems) == 0 {
		cfg.Systems, _ = ParseSystems(DefaultSystems)
	}
	if err := checkFDLimit(cfg); err != nil {
		return nil, err
	}
	rep := &Report{Config: cfg, Machine: machineInfo(), Started: time.Now()}
	bins, cleanup, err := buildBinaries(cfg)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	b := &bench{ctx: ctx, cfg: cfg}
	var targets []*target
	for _, s := range cfg.Systems {
		t, err := b.newTarget(s, bins)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
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
	b.rounds(targets)
	for _, t := range targets {
		b.phase(t, "conns", b.conns)
		b.phase(t, "release", b.release)
		b.phase(t, "exit", b.exit)
		b.closeHeld(t)
		b.finish(t)
		t.sc.Close() // the next system's figures should not share the machine with this one
	}
	rep.Duration = time.Since(rep.Started)
	rep.computeRatios()
	rep.checkAims()
	return rep, nil
}

// checkFDLimit raises the descriptor limit and checks that the bench
// process can hold its side of Conns connections: the SOCKS client's socket
// and the fake ExtORPort's, 2 per connection.
func checkFDLimit(cfg Config) error {
	limit, err := raiseFDLimit()
	if err != nil {
		return fmt.Errorf("reading the descriptor limit: %v", err)
	}
	const spare = 200 // the PTs' pipes, the listeners, the round phases' leftovers
	if need := uint64(2*cfg.Conns + spare); need > limit {
		return fmt.Errorf("-conns %d needs about %d descriptors in the bench process (2 per connection: the SOCKS side and the fake ExtORPort's side) but its hard limit is %d: lower -conns to %d or raise the hard limit (ulimit -Hn)",
			cfg.Conns, need, limit, (limit-spare)/2)
	}
	return nil
}

// buildBinaries builds, in parallel, each package a system needs and no
// binary was given for. It returns the binaries by package.
func buildBinaries(cfg Config) (map[string]string, func(), error) {
	bins := map[string]string{waterPackage: cfg.WaterBinary, baselinePackage: cfg.BaselineBinary}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		builders []*tortest.Builder
		errs     []error
	)
	cleanup := func() {
		for _, b := range builders {
			b.Close()
		}
	}
	t0 := time.Now()
	for _, s := range cfg.Systems {
		mu.Lock() // the builds below write bins as they finish
		skip := s.Binary != "" || bins[s.Package] != ""
		if !skip {
			bins[s.Package] = "(building)"
		}
		mu.Unlock()
		if skip {
			continue
		}
		bd := &tortest.Builder{Package: s.Package}
		builders = append(builders, bd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := bd.Build()
			mu.Lock()
			defer mu.Unlock()
			bins[bd.Package] = p
			errs = append(errs, err)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, cleanup, err
	}
	if len(builders) > 0 {
		fmt.Fprintf(cfg.Log, "built %d binaries in %v\n", len(builders), time.Since(t0).Round(time.Millisecond))
	}
	return bins, cleanup, nil
}

// newTarget prepares the pair of system s.
func (b *bench) newTarget(s System, bins map[string]string) (*target, error) {
	cfg := b.cfg
	bin := s.Binary
	if bin == "" {
		bin = bins[s.Package]
	}
	t := &target{
		res:     &Result{Name: s.Name, Binary: bin, Transport: s.Transport, Rounds: make([]Round, cfg.Rounds)},
		pair:    tortest.PairConfig{Binary: bin, Transport: s.Transport},
		stopped: map[string]bool{},
	}
	if !s.Water {
		return t, nil
	}
	pc := &t.pair
	pc.ServerOptions = cfg.ServerOptions
	if len(pc.ServerOptions) == 0 {
		pc.ServerOptions = s.DefaultServerOptions
	}
	pc.ClientArgs = append(append([]string{}, cfg.PTFlags...), cfg.ClientFlags...)
	pc.ServerArgs = append(append([]string{}, cfg.PTFlags...), cfg.ServerFlags...)
	pc.ClientEnv = append(append([]string{}, cfg.PTEnv...), cfg.ClientEnv...)
	pc.ServerEnv = append(append([]string{}, cfg.PTEnv...), cfg.ServerEnv...)
	if cfg.PprofDir != "" {
		dir, err := filepath.Abs(cfg.PprofDir)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			return nil, fmt.Errorf("-pprof: %v", err)
		}
		t.profiles = []string{filepath.Join(dir, s.Name+"-client.prof"), filepath.Join(dir, s.Name+"-server.prof")}
		for _, p := range t.profiles {
			os.Remove(p) // so that a profile found afterwards is from this run
		}
		pc.ClientEnv = append(pc.ClientEnv, ProfileEnv+"="+t.profiles[0])
		pc.ServerEnv = append(pc.ServerEnv, ProfileEnv+"="+t.profiles[1])
	}
	return t, nil
}

// bench is one run.
type bench struct {
	ctx context.Context
	cfg Config
}

// target is one system under measurement.
type target struct {
	res      *Result
	pair     tortest.PairConfig
	profiles []string // client, server

	sc      *scope
	p       *tortest.Pair   // nil until started, and when the start failed
	dead    bool            // a process is gone: skip the remaining phases
	stopped map[string]bool // phases of the rounds that failed: not run again
	setups  []time.Duration // every back-to-back setup, over the rounds
	held    []net.Conn      // the conns phase's connections, until after exit
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
	if d := b.quiesce(t, b.cfg.StartTimeout/2); d > time.Second {
		b.logf(t, "busy for %.1f s after starting (compiling a module in the background); measuring from now", d.Seconds())
	}
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

func (b *bench) note(t *target, msg string) {
	for _, n := range t.res.Notes {
		if n == msg {
			return
		}
	}
	t.res.Notes = append(t.res.Notes, msg)
	b.logf(t, "note: %s", msg)
}

// sleep waits d or until the run is over.
func (b *bench) sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-b.ctx.Done():
	}
}

// parallel calls f(i) for every i in [0, n), width calls at a time, and
// returns when all have.
func parallel(n, width int, f func(i int)) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range max(1, min(width, n)) {
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

// medianOf is the median of the figures of rounds that have one.
func medianOf(rounds []Round, get func(Round) Num) Num {
	var v []float64
	for _, r := range rounds {
		if n := get(r); n.OK {
			v = append(v, n.V)
		}
	}
	return median(v)
}

func firstN(errs []error, n int) []error { return errs[:min(n, len(errs))] }

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
