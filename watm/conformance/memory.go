package conformance

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// memory holds Hold connections (each having moved a little data both
// ways, so both workers ran) and divides the growth of the process's PSS
// by the instances held: two per connection. The figure includes the
// host's share (sockets, goroutines), as a deployment would pay it.
func (r *run) memory(ctx context.Context) {
	ctx, cancel := r.step(ctx)
	defer cancel()
	before, err := settledPSS()
	if err != nil {
		r.result("memory", Warn, "cannot measure: %v", err)
		return
	}
	var held []*pair
	defer func() { stopAll(held) }()
	for range r.opts.Hold {
		p, err := r.h.dial(ctx)
		if err != nil {
			r.result("memory", Fail, "holding %d connections: %v", r.opts.Hold, err)
			return
		}
		held = append(held, p)
		if _, _, err := both(ctx, p, 1<<10); err != nil {
			r.result("memory", Fail, "holding %d connections: %v%s", r.opts.Hold, err, sessionNotes(p))
			return
		}
	}
	after, err := settledPSS()
	if err != nil {
		r.result("memory", Warn, "cannot measure: %v", err)
		return
	}
	instances := int64(2 * r.opts.Hold)
	r.result("memory", Pass, "%d KiB PSS per instance (growth of the process holding %d connections, %d instances)",
		max(after-before, 0)/instances, r.opts.Hold, instances)
}

// settledPSS is the process's proportional set size in KiB after a GC that
// returns freed memory to the OS.
func settledPSS() (int64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	return readPSS("/proc/self/smaps_rollup")
}

// readPSS reads the "Pss:" line (kB) of an smaps_rollup file.
func readPSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Pss:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: bad Pss line %q", path, sc.Text())
		}
		return kb, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no Pss line", path)
}
