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

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/conformance"
)

// runCheck is "water-pt check FILE.wasm": the conformance and speed test
// for module authors (package conformance). Exit status: 0 all passed
// (warnings allowed), 1 a check failed, 2 bad usage.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("water-pt check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := conformance.Defaults()
	config := fs.String("config", "", "the module's config for both roles, base64 (as watm-config= takes it)")
	trusted := fs.Bool("trusted", false, "load the module without per-loop stop checks, as -watm-trust-files runs it (faster; a module that spins cannot be stopped)")
	mib := fs.Int("mib", int(def.StreamBytes>>20), "MiB to send each way through one connection")
	conns := fs.Int("conns", def.Conns, "concurrent connections, each with 64 KiB each way")
	setups := fs.Int("setups", def.Setups, "connections to time for the set-up p50")
	hold := fs.Int("hold", def.Hold, "connections to hold open for the memory figure")
	timeout := fs.Duration("timeout", def.Timeout, "time limit of each step")
	logLevel := fs.String("logLevel", "ERROR", "level of the runtime's log on stderr: ERROR, WARN, INFO or DEBUG")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: water-pt check FILE.wasm [-config B64] [-trusted] [flags]\n\n"+
			"Validates a WATER module, then runs it as dialer against itself as listener over\n"+
			"loopback and prints one line per check: PASS, FAIL or WARN and why. WARN is a\n"+
			"portability finding. Exit status 0 when nothing failed, 1 when a check failed, 2 on bad usage.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	file, rest := splitFile(args)
	if code, done := parseFlags(fs, rest, nil); done {
		return code
	}
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "water-pt check: %s (see water-pt check -h)\n", msg)
		return 2
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if file == "" {
		return usage("name the module file: water-pt check FILE.wasm")
	}
	opts, err := checkOptions(def, *config, *trusted, *mib, *conns, *setups, *hold, *timeout, *logLevel, stderr)
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

// checkOptions turns the flags into conformance options.
func checkOptions(o conformance.Options, config string, trusted bool, mib, conns, setups, hold int, timeout time.Duration, level string, stderr io.Writer) (conformance.Options, error) {
	if config != "" {
		b, err := watm.DecodeConfig(config)
		if err != nil {
			return o, fmt.Errorf("-config: %w", err)
		}
		o.Config = b
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"-mib", mib}, {"-conns", conns}, {"-setups", setups}, {"-hold", hold}} {
		if f.v < 1 {
			return o, fmt.Errorf("%s %d: must be at least 1", f.name, f.v)
		}
	}
	if timeout <= 0 {
		return o, fmt.Errorf("-timeout %v: must be positive", timeout)
	}
	lv, err := parseLevel(level)
	if err != nil {
		return o, err
	}
	o.Trusted, o.StreamBytes, o.Conns, o.Setups, o.Hold, o.Timeout = trusted, int64(mib)<<20, conns, setups, hold, timeout
	o.Logger = slog.New(newLogHandler(stderr, lv, false, true))
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
		fmt.Fprintf(stdout, "FAIL: %d checks failed, %d warnings\n", fails, warns)
		return 1
	}
	fmt.Fprintf(stdout, "PASS: every check passed, %d warnings\n", warns)
	return 0
}
