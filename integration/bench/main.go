// Command bench is the benchmark water-pt keeps (issues 5, 11 and 13): it
// measures water-pt and other pluggable transports side by side, each driven
// exactly as tor drives a PT, and prints the figures and their ratios.
//
//	go run ./integration/bench            # the standard run, about a minute
//	go run ./integration/bench -quick     # a smaller one, under a minute
//	go run ./integration/bench -json      # JSON on stdout instead of tables
//	go run ./integration/bench -systems obfs4proxy,water-obfs4  # the obfs4 comparison
//	go run ./integration/bench -rounds 0 -conns 8000 -server-options watm=plain  # scale
//
// In one run it builds the PTs it needs (cmd/water-pt; the baseline,
// integration/tortest's testdata/fakept: goptlib plumbing and a plain io.Copy
// relay, no WASM) once into a temporary directory, and for each system
// starts a client and a server process with the PT v1 environment
// (integration/tortest): SOCKS5 in with the server's SMETHOD ARGS as the
// bridge arguments, and the server's ExtORPort out, SAFE_COOKIE-authenticated,
// into a fake tor (ptserver/extortest in Dispatch mode) that echoes, swallows
// or sources bytes as each connection asks. Everything stays on loopback.
//
// The systems (-systems, see KnownSystems) are a binary, a transport name
// and the system they are compared with: baseline; water-pt (transport
// water, compared with baseline); obfs4proxy (Debian's /usr/bin/obfs4proxy,
// transport obfs4); water-obfs4 (water-pt asked for transport obfs4,
// compared with obfs4proxy).
//
// For each system it reports, as medians of -rounds rounds in which the
// systems take turns in alternating order:
//   - setup p50: 50 sequential connections, SOCKS dial to first echoed byte,
//     back to back and again 20 ms apart;
//   - 1-byte round trip p50 and p99: 2000 round trips on one connection;
//   - MB/s up and down: 256 MiB each way on one connection (MB = 10^6 bytes);
//
// and once, after the rounds:
//   - how many of 1000 concurrent connections, opened 32 at a time, each
//     echoing 4 KiB of its own stream, succeed with every byte intact;
//   - the growth of each process's proportional set size (PSS) per held
//     connection, split into the modules' linear memory and the rest (the
//     runtime's own); VmRSS growth too, for comparison with older figures;
//   - each process's threads and descriptors while holding them;
//   - each process's exit time after stdin closes, with them open;
//
// and last, the aims of the project's notes, each met or missed.
//
// Flags choose the sizes (-conns, -bytes, ...) and pass options to the
// water-pt processes only: -server-options watm=reverse, -pt-flag=-watm-pool=8,
// -pt-env KEY=value, and -pprof DIR, which sets WATERPT_CPUPROFILE to
// DIR/SYSTEM-client.prof and DIR/SYSTEM-server.prof. WATERPT_BINARY, or
// -water-binary, skips building water-pt.
//
// The figures to beat, and how they were measured, are in the project's
// notes (anchors.md); bench_test.go runs this in small as a smoke test.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
)

// KV is a key=value pair of ServerTransportOptions.
type KV = tortest.KV

func main() { os.Exit(run(os.Args[1:])) }

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type sizeFlag struct{ v *int64 }

func (s sizeFlag) String() string {
	if s.v == nil {
		return ""
	}
	return fmtBytes(*s.v)
}
func (s sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s.v = n
	return nil
}

func run(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	def := DefaultConfig(false)
	var (
		cfg        = def
		quick      = fs.Bool("quick", false, "a smaller run (under a minute): fewer setups, round trips and connections, 32 MiB transfers")
		asJSON     = fs.Bool("json", false, "print the report as JSON on stdout (progress still goes to stderr)")
		systems    = fs.String("systems", DefaultSystems, "comma-separated systems to measure: "+strings.Join(systemNames(KnownSystems()), ", "))
		obfs4proxy = fs.String("obfs4proxy-binary", Obfs4proxyBinary, "the obfs4proxy (or lyrebird) binary of system obfs4proxy")
		before     = fs.String("before-binary", "", "another water-pt binary (e.g. built from an older commit), measured as system "+NameBefore+" in the same rounds; adds that system to -systems")
		timeout    = fs.Duration("timeout", 0, "bound on the whole run (default: computed from the sizes and phase bounds)")
		quiet      = fs.Bool("q", false, "no progress on stderr")
		echoBytes  = int64(def.EchoBytes)
		serverOpts listFlag
	)
	fs.IntVar(&cfg.Rounds, "rounds", def.Rounds, "rounds of the setup, rtt and bulk phases, systems in alternating order; medians are reported (default 3 with -quick)")
	fs.IntVar(&cfg.Setups, "setups", def.Setups, "sequential connections timed to the first echoed byte, per round, back to back and again spaced")
	fs.DurationVar(&cfg.Spacing, "spacing", def.Spacing, "time between the spaced setups")
	fs.IntVar(&cfg.RTTs, "rtts", def.RTTs, "1-byte round trips on one connection, per round")
	fs.Var(sizeFlag{&cfg.Bytes}, "bytes", "bytes of each bulk transfer, each way, one per round (e.g. 256MiB)")
	fs.IntVar(&cfg.Conns, "conns", def.Conns, "concurrent connections, held open")
	fs.IntVar(&cfg.Parallel, "parallel", def.Parallel, "concurrent connections being opened at a time")
	fs.Var(sizeFlag{&echoBytes}, "echo-bytes", "bytes each concurrent connection echoes (e.g. 4KiB)")
	fs.BoolVar(&cfg.Verify, "verify", def.Verify, "check every bulk byte against the stream (-verify=false: count only)")
	fs.StringVar(&cfg.WaterBinary, "water-binary", os.Getenv(tortest.BinaryEnv), "water-pt binary to run instead of building ./cmd/water-pt (default $"+tortest.BinaryEnv+")")
	fs.StringVar(&cfg.BaselineBinary, "baseline-binary", "", "baseline PT binary instead of building integration/tortest/testdata/fakept")
	fs.Var(&serverOpts, "server-options", "water-pt ServerTransportOptions pair k=v (repeatable), e.g. watm=reverse")
	fs.Var((*listFlag)(&cfg.PTFlags), "pt-flag", "command-line argument of both water-pt processes (repeatable), e.g. -pt-flag=-watm-pool=8")
	fs.Var((*listFlag)(&cfg.ClientFlags), "client-flag", "command-line argument of the water-pt client (repeatable)")
	fs.Var((*listFlag)(&cfg.ServerFlags), "server-flag", "command-line argument of the water-pt server (repeatable)")
	fs.Var((*listFlag)(&cfg.PTEnv), "pt-env", "KEY=value in the environment of both water-pt processes (repeatable)")
	fs.Var((*listFlag)(&cfg.ClientEnv), "client-env", "KEY=value in the water-pt client's environment (repeatable)")
	fs.Var((*listFlag)(&cfg.ServerEnv), "server-env", "KEY=value in the water-pt server's environment (repeatable)")
	fs.StringVar(&cfg.PprofDir, "pprof", "", "write water-pt CPU profiles to DIR/client.prof and DIR/server.prof (sets "+ProfileEnv+")")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", def.DialTimeout, "bound on one connection's SOCKS handshake and small echo")
	fs.DurationVar(&cfg.XferTimeout, "xfer-timeout", def.XferTimeout, "bound on one bulk transfer (default 15s with -quick)")
	fs.DurationVar(&cfg.PhaseTimeout, "phase-timeout", def.PhaseTimeout, "bound on the setup, rtt and conns phases, each (default 30s with -quick)")
	fs.DurationVar(&cfg.ExitTimeout, "exit-timeout", def.ExitTimeout, "bound on a process's exit after stdin closes")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./integration/bench [flags]\n\n"+
			"Measures water-pt and other PTs (-systems), each run as tor runs them.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	// -quick changes the defaults, not what was given explicitly.
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		q := DefaultConfig(true)
		pick := func(name string, dst *int, v int) {
			if !set[name] {
				*dst = v
			}
		}
		pick("setups", &cfg.Setups, q.Setups)
		pick("rtts", &cfg.RTTs, q.RTTs)
		pick("rounds", &cfg.Rounds, q.Rounds)
		pick("conns", &cfg.Conns, q.Conns)
		if !set["bytes"] {
			cfg.Bytes = q.Bytes
		}
		if !set["xfer-timeout"] {
			cfg.XferTimeout = q.XferTimeout
		}
		if !set["phase-timeout"] {
			cfg.PhaseTimeout = q.PhaseTimeout
		}
	}
	cfg.EchoBytes = int(echoBytes)
	for _, o := range serverOpts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			fmt.Fprintf(os.Stderr, "bench: -server-options %q: want k=v\n", o)
			return 2
		}
		cfg.ServerOptions = append(cfg.ServerOptions, KV{Key: k, Value: v})
	}
	for _, l := range [][]string{cfg.PTEnv, cfg.ClientEnv, cfg.ServerEnv} {
		for _, e := range l {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				fmt.Fprintf(os.Stderr, "bench: environment entry %q: want KEY=value\n", e)
				return 2
			}
		}
	}
	var err error
	if cfg.Systems, err = ParseSystems(*systems); err != nil {
		fmt.Fprintf(os.Stderr, "bench: -systems: %v\n", err)
		return 2
	}
	if cfg.Systems, err = withBefore(cfg.Systems, *before); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	for i := range cfg.Systems {
		switch cfg.Systems[i].Name {
		case NameObfs4proxy:
			cfg.Systems[i].Binary = *obfs4proxy
		case NameBefore:
			cfg.Systems[i].Binary = *before
		}
	}
	if cfg.Conns < 0 || cfg.Setups < 0 || cfg.RTTs < 0 || cfg.Rounds < 0 || cfg.Spacing < 0 || cfg.Parallel < 1 || cfg.EchoBytes < 1 {
		fmt.Fprintln(os.Stderr, "bench: counts and -spacing must not be negative, -parallel and -echo-bytes at least 1")
		return 2
	}
	if *timeout == 0 {
		*timeout = cfg.RunTimeout()
	}
	cfg.Log = os.Stderr
	if *quiet {
		cfg.Log = io.Discard
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The phases are bounded one by one; this is the last resort if
	// something still hangs past the whole run's bound.
	watchdog := time.AfterFunc(*timeout+time.Minute, func() {
		fmt.Fprintf(os.Stderr, "bench: still running a minute past -timeout %v: giving up\n", *timeout)
		os.Exit(3)
	})
	defer watchdog.Stop()

	fmt.Fprintf(cfg.Log, "systems %s; the whole run is bounded by %v\n", strings.Join(systemNames(cfg.Systems), ", "), *timeout)
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	rep.Args = args
	if *asJSON {
		if err := rep.WriteJSON(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	} else {
		rep.WriteText(os.Stdout)
	}
	for _, res := range rep.Results {
		if len(res.Errors) > 0 {
			return 1
		}
	}
	return 0
}
