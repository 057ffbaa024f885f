package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/internal/ptlog"
	"github.com/water-pt/water-pt/watm"
)

// Defaults for the abuse limits.
const (
	defaultIdleTimeout   = 60 * time.Second
	defaultMaxModuleSize = 32 << 20
)

// registerLimits adds the flags common to every mode that bound what
// outside input can cost.
func (o *options) registerLimits(fs *flag.FlagSet) {
	o.maxModuleSize = defaultMaxModuleSize
	fs.Var(&o.maxModuleSize, "watm-max-size", "largest module file loaded (bytes, or with a KiB, MiB or GiB suffix)")
}

// registerServerLimits adds the server's flags against idle floods.
func (o *options) registerServerLimits(fs *flag.FlagSet) {
	fs.DurationVar(&o.idleTimeout, "server-idle-timeout", defaultIdleTimeout,
		"server: close an inbound connection that sends nothing for this long; no module instance or ExtORPort "+
			"connection is taken before its first byte (0: take them at once and never time out, for modules whose server speaks first)")
	fs.IntVar(&o.maxConns, "max-conns", 0, "server: most inbound connections open at once; more are closed at once (0: no cap)")
}

// checkServerLimits refuses negative -server-idle-timeout and -max-conns
// (0 is how each is turned off).
func (o *options) checkServerLimits() error {
	if o.idleTimeout < 0 {
		return fmt.Errorf("-server-idle-timeout %v: want 0 (no deadline) or more", o.idleTimeout)
	}
	if o.maxConns < 0 {
		return fmt.Errorf("-max-conns %d: want 0 (no cap) or more", o.maxConns)
	}
	return nil
}

// byteSize is a flag value in bytes, with an optional KiB, MiB or GiB
// suffix.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return fmt.Errorf("want a positive size such as 33554432 or 32MiB")
	}
	*b = byteSize(n * mult)
	return nil
}

// raiseFDLimit raises the soft RLIMIT_NOFILE to the hard limit: every
// connection costs descriptors (client: 2, server: 3), and the soft limit
// is often 1024. (Go's os package does the same at start-up since Go 1.19;
// this logs the limit and covers a runtime that did not.)
func raiseFDLimit(logger *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		logger.Warn("cannot read the descriptor limit", "err", err)
		return
	}
	soft := lim.Cur
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			logger.Warn("cannot raise the descriptor limit", "soft", soft, "hard", lim.Max, "err", err)
			return
		}
	}
	logger.Info("descriptor limit", "was", soft, "now", lim.Cur, "hard", lim.Max)
}

// newRuntime creates the runtime with its compilation cache in cacheDir
// ("" for none). The cache only saves compile time: a directory that cannot
// be written is logged (and sent to tor) and the runtime runs without one.
func newRuntime(ctx context.Context, ropts []watm.Option, cacheDir string, logger *slog.Logger) (*watm.Runtime, error) {
	if cacheDir == "" {
		return watm.NewRuntime(ctx, ropts...)
	}
	err := probeWritable(cacheDir)
	if err == nil {
		var rt *watm.Runtime
		if rt, err = watm.NewRuntime(ctx, append(ropts, watm.WithCompilationCacheDir(cacheDir))...); err == nil {
			return rt, nil
		}
	}
	logger.Warn("compiled-module cache unusable; running without it (modules are compiled at each start). "+
		"Make the directory writable, choose another with -watm-cache, or -watm-cache off",
		"dir", cacheDir, "err", err, ptlog.NotifyTor, true)
	return watm.NewRuntime(ctx, ropts...)
}

// probeWritable creates dir if needed and checks a file can be written in
// it: wazero fails every compilation when it cannot write its cache.
func probeWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// missingBindaddrs are the transports tor asked for (TOR_PT_SERVER_TRANSPORTS)
// that have no bind address in TOR_PT_SERVER_BINDADDR: goptlib drops them
// silently, and tor would wait for an SMETHOD or SMETHOD-ERROR about each.
func missingBindaddrs(transports string, info pt.ServerInfo) []string {
	have := map[string]bool{}
	for _, b := range info.Bindaddrs {
		have[b.MethodName] = true
	}
	var missing []string
	for _, name := range strings.Split(transports, ",") {
		if name != "" && name != "*" && !have[name] {
			have[name] = true
			missing = append(missing, name)
		}
	}
	return missing
}
