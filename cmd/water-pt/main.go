// Command water-pt is a Tor pluggable transport (PT v1 managed proxy) that
// runs WebAssembly Transport Modules (WATMs).
//
// tor launches it with the PT environment; it speaks SOCKS5 to tor on the
// client side and forwards to tor's ExtORPort on the server side, and every
// connection runs through its own instance of the module the bridge line
// (client) or ServerTransportOptions (server) chooses.
//
//	water-pt [flags]                 managed mode, as tor runs it
//	water-pt client -listen ADDR ... standalone SOCKS5 client, no tor
//	water-pt server -listen ADDR ... standalone server, no tor
//	water-pt relay -listen ADDR -to ADDR ... the relay role: plain TCP in, wrapped out
//	water-pt check FILE.wasm         conformance and speed test for module authors
//	water-pt demo                    a server and client on loopback, checked
//	water-pt -version
//
// Run "water-pt -h" for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/water-pt/water-pt/watm"
)

// version is set at build time with -ldflags "-X main.version=...";
// otherwise it comes from the module's build info.
var version = ""

func versionString() string {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	return "water-pt " + v
}

func main() {
	// One P more than CPUs: each module's pool refill runs WebAssembly at
	// idle priority (see watm/pool.go), and while the kernel keeps it
	// waiting it holds a P that Go cannot preempt it off.
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// options are the flags common to every mode.
type options struct {
	enableLogging bool
	logLevel      string
	unsafeLogging bool
	watmDirs      stringList
	cacheDir      string
	poolSize      int
	allowDial     stringList
	trustFiles    bool
	setupTimeout  time.Duration // 0: the default for the role (setupTimeoutFor)
	serves        bool          // the process accepts bridge connections (server, demo)
	maxModuleSize byteSize
	idleTimeout   time.Duration // server
	maxConns      int           // server
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// register adds the common flags; stateDir names the state directory in
// their help ("$TOR_PT_STATE_LOCATION" in managed mode).
func (o *options) register(fs *flag.FlagSet, stateDir string) {
	fs.BoolVar(&o.enableLogging, "enableLogging", false, "write a log file, "+logFileName+", in "+stateDir)
	fs.StringVar(&o.logLevel, "logLevel", "ERROR", "log level: ERROR, WARN, INFO or DEBUG")
	fs.BoolVar(&o.unsafeLogging, "unsafeLogging", false, "do not scrub IP addresses from logs")
	fs.Var(&o.watmDirs, "watm-dir", "a directory of NAME.wasm modules, searched before the embedded ones (repeatable; default "+stateDir+"/watm)")
	fs.StringVar(&o.cacheDir, "watm-cache", "", "compiled-module cache directory (default "+stateDir+`/wazero-cache; "off" to disable)`)
	fs.IntVar(&o.poolSize, "watm-pool", 4, "started module instances to keep ready per module (0 to start each on demand)")
	fs.BoolVar(&o.trustFiles, "watm-trust-files", false, "run modules from files (not only the embedded ones) without per-loop stop checks: "+
		"byte loops run 2-10x faster, but a module stuck in a loop can no longer be stopped. Only for modules you trust")
	fs.DurationVar(&o.setupTimeout, "watm-setup-timeout", 0, "how long a connection's set-up in the module (init, the role's entry, the dial) may take; "+
		"past it the instance is stopped, the SOCKS request is refused with TTL expired (client) or the connection closed (server). "+
		"Default 30s on a client, "+serverSetupTimeout.String()+" on a server (an obfs4 server holds a failed probe open for up to 89s before it closes, as lyrebird does)")
	o.registerLimits(fs)
	fs.Var(&o.allowDial, "watm-allow-dial", `host:port a v1 module may dial itself with water_dial, besides the bridge (repeatable; "*" allows any address). By default a module may dial only the bridge`)
}

// dialPolicy is the water_dial policy -watm-allow-dial asks for, or nil for
// the runtime's default (the connection's own destination only).
func (o *options) dialPolicy() watm.DialPolicy {
	if len(o.allowDial) == 0 {
		return nil
	}
	return watm.AllowTCP(o.allowDial...)
}

const mainUsage = "Usage: water-pt [flags]            (managed mode: run by tor)\n" +
	"       water-pt client -h | server -h | relay -h  (standalone modes)\n" +
	"       water-pt check FILE.wasm        (conformance and speed test of a module; check -h)\n" +
	"       water-pt demo [-mib N]          (a pair on loopback through the default module)\n\nFlags:\n"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if path := os.Getenv("WATERPT_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	if len(args) > 0 && (args[0] == "client" || args[0] == "server" || args[0] == "relay") {
		return runStandalone(args[0], args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "check" {
		return runCheck(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "demo" {
		return runDemo(args[1:], stdout, stderr)
	}
	fs := newFlagSet("water-pt", mainUsage, stderr)
	var opts options
	showVersion := fs.Bool("version", false, "print the version and exit")
	opts.register(fs, "$TOR_PT_STATE_LOCATION")
	opts.registerServerLimits(fs)
	if code, done := parseFlags(fs, args, managedFlagError); done {
		return code
	}
	if *showVersion {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q (see water-pt -h)", fs.Arg(0))
		fmt.Fprintln(stderr, "water-pt:", err)
		managedFlagError(err)
		return 2
	}
	level, err := opts.check()
	if err != nil {
		fmt.Fprintln(stderr, "water-pt:", err)
		managedFlagError(err)
		return 2
	}
	return runManaged(context.Background(), &opts, level, stdin, stdout)
}

// newFlagSet is the flag set of a water-pt command: its errors go to
// stderr, and -h prints usage there, then the flags.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// usageError reports a usage mistake of command cmd ("water-pt check") on
// stderr, pointing at its -h, and returns exit code 2.
func usageError(stderr io.Writer, cmd, msg string) int {
	fmt.Fprintf(stderr, "%s: %s (see %s -h)\n", cmd, msg, cmd)
	return 2
}

// parseFlags parses args; done says to exit with code (0 after -h, 2 on a
// bad flag, which onErr, if set, also reports).
func parseFlags(fs *flag.FlagSet, args []string, onErr func(error)) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	}
	if onErr != nil {
		onErr(err)
	}
	return 2, true
}

// managedFlagError tells tor why the flags on its *TransportPlugin line are
// wrong: tor reads stdout, not stderr.
func managedFlagError(err error) {
	if os.Getenv("TOR_PT_MANAGED_TRANSPORT_VER") != "" {
		envError("bad flags on the transport plugin line: " + err.Error())
	}
}

// serverSetupTimeout is a server's default set-up timeout: longer than the
// longest probe-resistance delay of an obfs4 server (30 s plus up to 59 s,
// drawn from its drbg-seed as lyrebird does), which runs inside the
// module's accept. Cutting it short would close every failed probe at the
// same early moment, which lyrebird never does.
const serverSetupTimeout = 2 * time.Minute

// check validates the flag values that the flag package cannot, and
// returns the -logLevel.
func (o *options) check() (slog.Level, error) {
	level, err := parseLevel(o.logLevel)
	if err == nil {
		err = o.checkServerLimits()
	}
	if err == nil {
		_, err = o.setupTimeoutFor()
	}
	return level, err
}

// setupTimeoutFor is -watm-setup-timeout, or the default for the process's
// role when it is not set.
func (o *options) setupTimeoutFor() (time.Duration, error) {
	switch {
	case o.setupTimeout < 0:
		return 0, fmt.Errorf("-watm-setup-timeout %v: must be positive (e.g. 30s)", o.setupTimeout)
	case o.setupTimeout > 0:
		return o.setupTimeout, nil
	case o.serves:
		return serverSetupTimeout, nil
	}
	return watm.DefaultSetupTimeout, nil
}
