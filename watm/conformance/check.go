// Package conformance is water-pt's conformance and speed test for WATER
// transport modules ("water-pt check"): it validates a module, then runs
// it as dialer against itself as listener over loopback, in one process,
// and reports one Result per check.
//
// The checks, in order: load (every validation problem named), roles,
// set-up time (p50 of Options.Setups connections), a stream of
// Options.StreamBytes each way at once checked byte for byte (MB/s each
// way), Options.Conns concurrent connections with data checked, memory per
// instance (PSS growth from /proc/self/smaps_rollup while holding
// Options.Hold connections), a stop through the cancel channel while data
// flows, how every session ended, and what the module did that other WATER
// hosts may not tolerate (watm.Session.Behaviour). A module without a
// listener role is run against a plain TCP peer: set-up and stop only.
//
// Every step has a time limit (Options.Timeout), so a hostile module
// (spinning, trapping, never answering) fails a step instead of hanging the
// check. A module loaded trusted (no loop checks) that spins without a host
// call cannot be stopped; the check then gives up after a bounded wait.
package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/water-pt/water-pt/watm"
)

// Status is the outcome of one check.
type Status string

// The outcomes. WARN is a portability finding: it does not fail the check.
const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Warn Status = "WARN"
)

// Result is one check's outcome.
type Result struct {
	Name   string
	Status Status
	Detail string
}

// Options says what to check and how hard.
type Options struct {
	Config         []byte        // the module's config (nil: none)
	ListenerConfig []byte        // the listener's config when it differs from the dialer's (nil: Config)
	Trusted        bool          // load without loop checks (watm.Runtime.LoadTrusted)
	StreamBytes    int64         // bytes each way through one connection
	Conns          int           // concurrent connections
	ConnBytes      int           // bytes each way through each concurrent connection
	Setups         int           // connections timed for the set-up p50
	Hold           int           // connections held open for the memory figure
	Timeout        time.Duration // time limit of each step
	Logger         *slog.Logger  // the runtime's log (nil: discarded)
}

// Defaults are the sizes of the issue that asked for the check.
func Defaults() Options {
	return Options{StreamBytes: 64 << 20, Conns: 100, ConnBytes: 64 << 10, Setups: 50, Hold: 50, Timeout: time.Minute}
}

// Run checks the module in wasm and calls report for each result as it
// comes. It returns true when no check failed (warnings allowed).
func Run(ctx context.Context, wasm []byte, opts Options, report func(Result)) bool {
	r := &run{opts: opts, report: report}
	r.all(ctx, wasm)
	return !r.failed
}

// run is one Run: the results so far and the sessions it started.
type run struct {
	opts   Options
	report func(Result)
	failed bool
	h      *harness
}

func (r *run) result(name string, st Status, format string, a ...any) {
	if st == Fail {
		r.failed = true
	}
	r.report(Result{Name: name, Status: st, Detail: fmt.Sprintf(format, a...)})
}

func (r *run) all(ctx context.Context, wasm []byte) {
	logger := r.opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rt, err := watm.NewRuntime(ctx, watm.WithLogger(logger))
	if err != nil {
		r.result("runtime", Fail, "%v", err)
		return
	}
	defer r.closeRuntime(rt)
	m := r.load(ctx, rt, wasm)
	if m == nil || !r.roles(m) {
		return
	}
	h, err := newHarness(ctx, m, r.opts)
	if err != nil {
		r.result("harness", Fail, "%v", err)
		return
	}
	r.h = h
	defer h.stop()
	if !r.setup(ctx) {
		r.endings()
		return
	}
	if h.listens {
		r.stream(ctx)
		r.concurrent(ctx)
		r.memory(ctx)
	}
	r.stop(ctx)
	r.endings()
	r.behaviour()
}

// closeRuntime closes rt (which ends every session, set-ups in progress
// included), then waits for the harness, each bounded: a trusted module
// spinning without host calls cannot be stopped, and the check must still
// end. The goroutine left behind then ends with the process.
func (r *run) closeRuntime(rt *watm.Runtime) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rt.Close(context.Background())
	}()
	select {
	case <-done:
	case <-time.After(r.opts.Timeout):
		r.result("cleanup", Fail, "the runtime did not close within %v: an instance cannot be stopped (a trusted module spinning without host calls?)", r.opts.Timeout)
		return
	}
	if r.h != nil && !r.h.wait(r.opts.Timeout) {
		r.result("cleanup", Fail, "a connection's set-up did not end within %v of the runtime's close", r.opts.Timeout)
	}
}

func (r *run) load(ctx context.Context, rt *watm.Runtime, wasm []byte) *watm.Module {
	load, how := rt.Load, "with loop checks"
	if r.opts.Trusted {
		load, how = rt.LoadTrusted, "trusted: no loop checks"
	}
	m, err := load(ctx, wasm)
	if err != nil {
		r.result("load", Fail, "%v", err)
		return nil
	}
	r.result("load", Pass, "valid WATER v%d module, %d bytes, sha256 %s (%s)", m.Version(), len(wasm), m.SHA256(), how)
	return m
}

// roles checks that the module can be run against itself.
func (r *run) roles(m *watm.Module) bool {
	var have []string
	for _, role := range []watm.Role{watm.RoleDialer, watm.RoleListener, watm.RoleRelay} {
		if m.Can(role) {
			have = append(have, role.String())
		}
	}
	switch {
	case !m.Can(watm.RoleDialer):
		r.result("roles", Fail, "no dialer role (it has %s): the check runs the module as dialer against itself as listener", orNone(have))
		return false
	case !m.Can(watm.RoleListener):
		r.result("roles", Fail, "no listener role: %s entry missing; the check runs the dialer against a plain TCP peer (set-up and stop only)", listenEntry(m))
		return true
	}
	r.result("roles", Pass, "%s", strings.Join(have, ", "))
	return true
}

func listenEntry(m *watm.Module) string {
	if m.Version() == 0 {
		return "_water_accept"
	}
	return "watm_accept_v1"
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
