package conformance

import (
	"errors"
	"fmt"

	"github.com/water-pt/water-pt/watm"
)

// endings reports how the sessions that ended by themselves ended. Forced
// stops, and connections the stop check cut mid-stream, are the stop and
// cancel checks' business.
func (r *run) endings() {
	var total, failed, pipe int
	var first error
	for _, t := range r.h.tracked() {
		if t.stopped || !ended(t.s) {
			continue
		}
		total++
		err := t.s.Wait()
		var stop *watm.StopError
		switch {
		case err == nil, errors.As(err, &stop):
		case watm.IsNormalClose(err):
			pipe++
		default:
			failed++
			first = firstErr(first, fmt.Errorf("%s: %w", t.role, err))
		}
	}
	switch {
	case failed > 0:
		r.result("endings", Fail, "%d of %d sessions ended with an error; first: %v", failed, total, first)
	case pipe > 0:
		r.result("endings", Warn, "%d of %d sessions' workers returned EPIPE or ECONNRESET at the end of the stream: other hosts log that as an error", pipe, total)
	default:
		r.result("endings", Pass, "all %d sessions that ended did so cleanly", total)
	}
}

// behaviour reports what the module did, over every session of the check,
// that other WATER hosts may not tolerate.
func (r *run) behaviour() {
	var sum watm.Behaviour
	var ignored int
	all := r.h.tracked()
	for _, t := range all {
		b := t.s.Behaviour()
		sum.ShortWritesAbsorbed += b.ShortWritesAbsorbed
		sum.WritePollsSuppressed += b.WritePollsSuppressed
		sum.StdioWrites += b.StdioWrites
		if b.CancelIgnored {
			ignored++
		}
	}
	r.finding("short writes", sum.ShortWritesAbsorbed, "the kernel took only part of %d writes and water-pt queued the rest: "+
		"other hosts return the short count, and the module must then write the rest itself (modules built with the TinyGo SDK treat it as an error and fail there under load)")
	r.finding("write polling", sum.WritePollsSuppressed, "%d waits asked again whether a socket already reported writable was writable: "+
		"water-pt left those out, other hosts return at once and the module busy-polls a CPU core")
	r.finding("stdio", sum.StdioWrites, "%d writes to fd 1 or 2: other hosts may drop them, print them or refuse them")
	if ignored > 0 {
		r.result("cancel", Fail, "%d of %d sessions ignored the cancel channel (%s) and were stopped by force", ignored, len(all), cancelEntry(r.h.m))
	} else {
		r.result("cancel", Pass, "no session had to be stopped by force")
	}
}

func (r *run) finding(name string, n uint64, format string) {
	if n == 0 {
		r.result(name, Pass, "none")
		return
	}
	r.result(name, Warn, format, n)
}
