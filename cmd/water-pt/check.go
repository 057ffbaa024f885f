package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/water-pt/water-pt/watm/catalog"
	"github.com/water-pt/water-pt/watm/conformance"
)

const checkUsage = "Usage: water-pt check FILE.wasm [-config B64] [-trusted] [flags]\n\n" +
	"Validates a WATER module, then runs it as dialer against itself as listener over\n" +
	"loopback and prints one line per check: PASS, FAIL or WARN and why. WARN is a\n" +
	"portability finding. Exit status 0 when nothing failed, 1 when a check failed, 2 on bad usage.\n\nFlags:\n"

// runCheck is "water-pt check FILE.wasm": the conformance and speed test
// for module authors (package conformance). Exit status: 0 all passed
// (warnings allowed), 1 a check failed, 2 bad usage.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("water-pt check", checkUsage, stderr)
	var f checkFlags
	f.register(fs)
	file, rest := splitFile(args)
	if code, done := parseFlags(fs, rest, nil); done {
		return code
	}
	usage := func(msg string) int { return usageError(stderr, "water-pt check", msg) }
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if file == "" {
		return usage("name the module file: water-pt check FILE.wasm")
	}
	opts, err := f.options(stderr)
	if err != nil {
		return usage(err.Error())
	}
	wasm, err := os.ReadFile(file)
	if err != nil {
		return usage(err.Error())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return check(ctx, file, wasm, opts, stdout)
}

// splitFile takes the module file from in front of the flags, where the
// usage line puts it (the flag package stops at the first non-flag).
func splitFile(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}

// checkFlags are the flags of "water-pt check".
type checkFlags struct {
	config, listenerConfig string
	trusted                bool
	mib, conns             int
	setups, hold           int
	timeout                time.Duration
	logLevel               string
}

func (f *checkFlags) register(fs *flag.FlagSet) {
	def := conformance.Defaults()
	fs.StringVar(&f.config, "config", "", "the module's config, base64 (as watm-config= takes it); both roles get it unless -listener-config is given")
	fs.StringVar(&f.listenerConfig, "listener-config", "", "the listener's config, base64, when it differs from the dialer's (e.g. a server key where the dialer has the public one)")
	fs.BoolVar(&f.trusted, "trusted", false, "load the module without per-loop stop checks, as -watm-trust-files runs it (faster; a module that spins cannot be stopped)")
	fs.IntVar(&f.mib, "mib", int(def.StreamBytes>>20), "MiB to send each way through one connection")
	fs.IntVar(&f.conns, "conns", def.Conns, "concurrent connections, each with 64 KiB each way")
	fs.IntVar(&f.setups, "setups", def.Setups, "connections to time for the set-up p50")
	fs.IntVar(&f.hold, "hold", def.Hold, "connections to hold open for the memory figure")
	fs.DurationVar(&f.timeout, "timeout", def.Timeout, "time limit of each step")
	fs.StringVar(&f.logLevel, "logLevel", "ERROR", "level of the runtime's log on stderr: ERROR, WARN, INFO or DEBUG")
}

// options checks the flags and turns them into conformance options; the
// runtime logs to stderr.
func (f *checkFlags) options(stderr io.Writer) (conformance.Options, error) {
	o := conformance.Defaults()
	for _, c := range []struct {
		flag, v string
		to      *[]byte
	}{{"-config", f.config, &o.Config}, {"-listener-config", f.listenerConfig, &o.ListenerConfig}} {
		if c.v == "" {
			continue
		}
		b, err := catalog.DecodeConfig(c.v)
		if err != nil {
			return o, fmt.Errorf("%s: %w", c.flag, err)
		}
		*c.to = b
	}
	for _, n := range []struct {
		flag string
		v    int
	}{{"-mib", f.mib}, {"-conns", f.conns}, {"-setups", f.setups}, {"-hold", f.hold}} {
		if n.v < 1 {
			return o, fmt.Errorf("%s %d: must be at least 1", n.flag, n.v)
		}
	}
	if f.timeout <= 0 {
		return o, fmt.Errorf("-timeout %v: must be positive", f.timeout)
	}
	level, err := parseLevel(f.logLevel)
	if err != nil {
		return o, err
	}
	o.Trusted, o.StreamBytes, o.Conns, o.Setups, o.Hold, o.Timeout = f.trusted, int64(f.mib)<<20, f.conns, f.setups, f.hold, f.timeout
	o.Logger = slog.New(newLogHandler(stderr, level, false, false))
	return o, nil
}

// check runs the checks and prints one line per result and a summary.
func check(ctx context.Context, file string, wasm []byte, opts conformance.Options, stdout io.Writer) int {
	fmt.Fprintf(stdout, "water-pt check %s\n", file)
	var fails, warns int
	ok := conformance.Run(ctx, wasm, opts, func(r conformance.Result) {
		switch r.Status {
		case conformance.Fail:
			fails++
		case conformance.Warn:
			warns++
		}
		fmt.Fprintf(stdout, "%-4s %-13s %s\n", r.Status, r.Name, r.Detail)
	})
	if !ok {
		fmt.Fprintf(stdout, "FAIL: %s failed, %s\n", count(fails, "check"), count(warns, "warning"))
		return 1
	}
	fmt.Fprintf(stdout, "PASS: every check passed, %s\n", count(warns, "warning"))
	return 0
}

// count is "1 check", "2 checks".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
