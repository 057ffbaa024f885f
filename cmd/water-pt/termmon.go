package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stopKind is why the process should stop.
type stopKind int

const (
	// stopHard: stdin closed, a signal after the first SIGINT, the parent
	// gone, or SIGTERM while stdin is watched (tor sends it and closes
	// stdin at the same moment). Tor is gone or going: exit without
	// stopping the connections one by one; they end with the process.
	stopHard stopKind = iota
	// stopNow: SIGTERM with stdin unwatched (no TOR_PT_EXIT_ON_STDIN_CLOSE,
	// someone other than tor): ask the open connections' modules to stop,
	// then exit.
	stopNow
	stopGraceful // first SIGINT: stop accepting, let connections finish
)

// termMon turns tor's ways of saying "stop" into stop events: stdin closed
// (when TOR_PT_EXIT_ON_STDIN_CLOSE=1), SIGTERM, SIGINT (the first graceful,
// the second not), and the parent's death (PR_SET_PDEATHSIG, and a check
// that the parent is still the one that started us).
type termMon struct {
	events chan stopKind
	// sigterm is what SIGTERM means: stopHard when stdin is watched.
	sigterm stopKind
	sigs    chan os.Signal
	done    chan struct{}
}

func newTermMon(stdin io.Reader, watchStdin bool) *termMon {
	t := &termMon{events: make(chan stopKind, 4), sigterm: stopNow, sigs: make(chan os.Signal, 4), done: make(chan struct{})}
	if watchStdin {
		t.sigterm = stopHard
	}
	signal.Notify(t.sigs, syscall.SIGINT, syscall.SIGTERM)
	ppid := os.Getppid()
	// Ask the kernel for SIGTERM when the parent dies; if it died before
	// this call, the check below catches it.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
	go t.routineSignals()
	if watchStdin {
		go t.routineStdin(stdin)
	}
	go t.routineParent(ppid)
	return t
}

func (t *termMon) send(k stopKind) {
	select {
	case t.events <- k:
	default:
	}
}

func (t *termMon) routineSignals() {
	sigints := 0
	for {
		select {
		case s := <-t.sigs:
			switch {
			case s == syscall.SIGINT && sigints == 0:
				sigints++
				t.send(stopGraceful)
			case sigints > 0 || s == syscall.SIGINT:
				t.send(stopHard)
			default:
				t.send(t.sigterm)
			}
		case <-t.done:
			return
		}
	}
}

// routineStdin reads stdin until EOF: tor closes it when it wants us gone.
func (t *termMon) routineStdin(stdin io.Reader) {
	_, _ = io.Copy(io.Discard, stdin)
	t.send(stopHard)
}

// routineParent polls the parent pid: a belt to PR_SET_PDEATHSIG's braces
// (which fires when the parent *thread* exits).
func (t *termMon) routineParent(ppid int) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if os.Getppid() != ppid {
				t.send(stopHard)
				return
			}
		case <-t.done:
			return
		}
	}
}

func (t *termMon) stop() {
	signal.Stop(t.sigs)
	close(t.done)
}
