package main

import (
	"fmt"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"
)

// goptlib panics when one of its own error lines would carry a byte a PT
// line may not (a newline, anything outside printable ASCII): a torrc whose
// ServerTransportOptions hold "water:ä" without a colon crashes the PT with a
// stack trace on stderr, and tor is told nothing. These wrappers turn that
// into the ENV-ERROR goptlib meant to print.

// serverSetup is pt.ServerSetup that cannot panic.
func serverSetup() (info pt.ServerInfo, err error) {
	defer recoverSetup(&err)
	return pt.ServerSetup(nil)
}

// clientSetup is pt.ClientSetup that cannot panic.
func clientSetup() (info pt.ClientInfo, err error) {
	defer recoverSetup(&err)
	return pt.ClientSetup(nil)
}

func recoverSetup(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%v", r)
		envError(fmt.Sprint(r))
	}
}
