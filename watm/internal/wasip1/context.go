package wasip1

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// Host is the WASI state a runtime's instances share: the clock's origin,
// the limits, the ready watch their parked poll_oneoffs wait on, and the
// write queues' blocks.
type Host struct {
	epoch  time.Time // origin of the modules' monotonic clock
	maxFDs int
	grace  time.Duration // how long a closed socket's queued bytes may take
	// blocks are the write queues' blocks (*queueBlock), shared by all
	// instances: a burst of queued writes reuses them.
	blocks  sync.Pool
	readies *readyWatch // wakes modules parked in poll_oneoff
	// busyWaiters counts the poll_oneoffs waiting in ppoll (busyWait),
	// parked those parked.
	busyWaiters atomic.Int32
	parked      atomic.Int32
}

// NewHost starts the ready watch. maxFDs bounds each instance's fd table,
// grace how long a closed socket's queued bytes may take to be written.
// Close it once every Context is released.
func NewHost(maxFDs int, grace time.Duration) (*Host, error) {
	readies, err := newReadyWatch()
	if err != nil {
		return nil, err
	}
	return &Host{epoch: time.Now(), maxFDs: maxFDs, grace: grace, readies: readies}, nil
}

// Close stops the ready watch.
func (h *Host) Close() { h.readies.close() }

// Parked is the number of instances parked in poll_oneoff.
func (h *Host) Parked() int32 { return h.parked.Load() }

// ReadySockets is the number of sockets registered with the ready watch.
func (h *Host) ReadySockets() int { return h.readies.registered() }

// monotonic is the modules' monotonic clock, in nanoseconds (never 0).
func (h *Host) monotonic() uint64 {
	return uint64(time.Since(h.epoch)) + uint64(time.Second)
}

// Counters count what a module did that other hosts may not take.
type Counters struct {
	ShortWrites atomic.Uint64 // fd_writes the kernel took part of, the rest queued
	Suppressed  atomic.Uint64 // waits that left a write subscription out
	StdioWrites atomic.Uint64 // fd_writes to fd 1 or 2
}

// Context is one instance's WASI state: its fd table (stdio, files,
// sockets), the logger its stdout and stderr go to, the interrupt (a
// forced stop) and the wake-up of a parked poll_oneoff, poll_oneoff's
// scratch space, the write queues, and the exit code. Calls into an
// instance are sequential; what host code outside them may call says so.
type Context struct {
	host   *Host
	fds    fdTable
	logger atomic.Pointer[slog.Logger]
	// stderr is fd 2: a failed call's error quotes a line written there.
	stderr *logFile
	// stopCh is closed by a forced stop (stopping is set first): a module
	// parked in poll_oneoff or blocked on a virtual descriptor wakes at once.
	stopCh   chan struct{}
	stopping atomic.Bool
	// wake (capacity one) wakes a parked poll_oneoff: a socket it waits on
	// is ready (the ready watch), a write queue drained, a virtual
	// descriptor became readable.
	wake     chan struct{}
	exitCode atomic.Int64 // -1, or the code given to proc_exit
	// pollScratch is poll_oneoff's reusable space.
	pollScratch pollState
	// pollsWrite: the module has subscribed to write-readiness at least
	// once, so a full write queue answers it EAGAIN instead of blocking.
	pollsWrite bool
	// iovScratch holds fd_write's iovecs for writeWhole.
	iovScratch [][]byte
	// fullQueues counts the sockets whose write queue is at its bound;
	// queues are all of them, waited for at release.
	fullQueues atomic.Int32
	queues     []*writeQueue
	// Counters count what the module did that other hosts may not take.
	Counters Counters
}

// NewContext returns a Context with fd 0 (always at end of file), 1 and 2
// (lines go to logger).
func NewContext(h *Host, logger *slog.Logger) *Context {
	c := &Context{host: h, stopCh: make(chan struct{}), wake: make(chan struct{}, 1)}
	c.logger.Store(logger)
	c.exitCode.Store(-1)
	c.fds.max = h.maxFDs
	c.fds.setStdio(0, stdinFile{})
	c.fds.setStdio(1, newLogFile(c, "stdout"))
	c.stderr = newLogFile(c, "stderr")
	c.fds.setStdio(2, c.stderr)
	return c
}

// Logger is where the module's output and the host's notes about it go.
func (c *Context) Logger() *slog.Logger { return c.logger.Load() }

// SetLogger replaces the logger (a connection's own).
func (c *Context) SetLogger(l *slog.Logger) { c.logger.Store(l) }

// Insert puts f in the fd table: its descriptor, or EMFILE when the table
// is full.
func (c *Context) Insert(f File) (int32, Errno) { return c.fds.insert(f) }

// RemoveFile takes f out of the fd table without closing it.
func (c *Context) RemoveFile(f File) { c.fds.removeFile(f) }

// Peers returns the connection's own sockets in the table (those marked
// Peer: plaintext, dialed, accepted).
func (c *Context) Peers() []*SockFile { return c.fds.peers() }

// StderrMark returns how many lines the module wrote to stderr so far.
func (c *Context) StderrMark() uint64 { return c.stderr.mark() }

// StderrSince returns the module's latest stderr line if it wrote one
// after mark, else "".
func (c *Context) StderrSince(mark uint64) string { return c.stderr.since(mark) }

// ExitCode is the code the module gave proc_exit, or -1.
func (c *Context) ExitCode() int64 { return c.exitCode.Load() }

// ResetExitCode forgets a proc_exit (a start function's normal end).
func (c *Context) ResetExitCode() { c.exitCode.Store(-1) }

// FullQueues is the number of write queues at or over their bound.
func (c *Context) FullQueues() int32 { return c.fullQueues.Load() }

// Wake wakes a parked poll_oneoff, which scans its subscriptions again.
// Any goroutine may call it.
func (c *Context) Wake() { signal(c.wake) }

// Stopped is closed by Stop.
func (c *Context) Stopped() <-chan struct{} { return c.stopCh }

// Stopping reports whether Stop was called.
func (c *Context) Stopping() bool { return c.stopping.Load() }

// Stop wakes a module blocked in the host: poll_oneoff, a blocking read or
// write; from then on every host call unwinds the module (exitStopped).
// Any goroutine may call it, more than once.
func (c *Context) Stop() {
	if c.stopping.CompareAndSwap(false, true) {
		close(c.stopCh)
	}
	c.fds.abort()
}

// exitCodeStopped is the exit code of an instance stopped by the host.
const exitCodeStopped = sys.ExitCodeContextCanceled

// exitStopped unwinds the module (a stopped instance).
func (c *Context) exitStopped() { panic(sys.NewExitError(exitCodeStopped)) }

// HostErrno passes e, an error of the host's, on, unless the instance is
// being stopped: then the module is unwound at once instead of seeing an
// error it might retry.
func (c *Context) HostErrno(e Errno) Errno {
	if e != ESUCCESS && c.stopping.Load() {
		c.exitStopped()
	}
	return e
}

// Release closes every file and waits for the write queues' flushers
// (each bounded by the grace period). No call into the module may run.
func (c *Context) Release() {
	c.fds.closeAll()
	for _, q := range c.queues {
		q.wg.Wait()
	}
}

// Get returns the file open as fd: EBADF when none is.
func (c *Context) Get(fd int32) (File, Errno) {
	f, _, e := c.fds.get(fd)
	return f, e
}

// Flags returns fd's fdflags (fd_fdstat_set_flags): EBADF when fd is not
// open.
func (c *Context) Flags(fd int32) (uint16, Errno) {
	_, flags, e := c.fds.get(fd)
	return flags, e
}

// SetFlags sets fd's fdflags (a snapshot's clone restoring them).
func (c *Context) SetFlags(fd int32, flags uint16) Errno { return c.fds.setFlags(fd, flags) }

// PollsWrite reports whether the module has subscribed to write-readiness.
func (c *Context) PollsWrite() bool { return c.pollsWrite }
