package wasip1

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A connection's socket outside the Go netpoller.
//
// A net.Conn's descriptor is registered with the Go netpoller, edge-
// triggered, for reading and writing. A module never waits there (it waits
// in poll_oneoff: ppoll, then the ready watch), but the registration stays,
// and every byte that arrives and every acknowledgement that frees send
// space wakes the thread the runtime keeps blocked in epoll_wait, to find
// nobody waiting: about four wake-ups and epoll_waits per round trip in a
// client (perf stat), on the CPUs the connection's own work needs. So when a
// session starts, each of its sockets leaves the netpoller (OwnDescriptor):
// a duplicate descriptor that no epoll instance holds replaces the conn's,
// and the conn is closed. RATIONALE.md, "Why does a session's socket leave
// the Go netpoller?".

// ownedFD is a socket descriptor that a SockFile owns itself, as a
// syscall.RawConn. Operations hold a reference, so Close never closes the
// descriptor under one. Non-blocking operations (all that the shipped
// modules make) are plain system calls. An operation that has to wait (a
// blocking fd_read, the write queue's flusher) first waits a little in
// ppoll, as poll_oneoff does (a busy socket is usually ready within a
// millisecond: the flusher of a bulk transfer waits so between most
// writes), then in the netpoller through a twin: a duplicate made at the
// first such wait and registered there, so that a waiting connection still
// holds no thread.
type ownedFD struct {
	busy *atomic.Int32 // the Host's busyWaiters, shared with poll_oneoff

	mu       sync.Mutex // guards everything below
	fd       int        // -1 once closed
	refs     int        // operations using fd
	closing  bool
	deadline time.Time // the last SetDeadline, for a twin made later
	twin     *os.File  // nil until an operation has to wait
}

var _ syscall.RawConn = (*ownedFD)(nil)

// acquire returns the descriptor with a reference held, or false once
// Close has been called.
func (o *ownedFD) acquire() (int, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return -1, false
	}
	o.refs++
	return o.fd, true
}

func (o *ownedFD) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refs--
	if o.refs == 0 && o.closing {
		o.closeFD()
	}
}

// closeFD closes the descriptor once; o.mu is held.
func (o *ownedFD) closeFD() {
	if o.fd >= 0 {
		_ = unix.Close(o.fd)
		o.fd = -1
	}
}

// Control runs f on the descriptor.
func (o *ownedFD) Control(f func(fd uintptr)) error {
	fd, ok := o.acquire()
	if !ok {
		return net.ErrClosed
	}
	defer o.release()
	f(uintptr(fd))
	return nil
}

// Read runs f until it returns true, waiting for readability between calls.
func (o *ownedFD) Read(f func(fd uintptr) bool) error {
	return o.do(f, unix.POLLIN, syscall.RawConn.Read)
}

// Write runs f until it returns true, waiting for writability between
// calls.
func (o *ownedFD) Write(f func(fd uintptr) bool) error {
	return o.do(f, unix.POLLOUT, syscall.RawConn.Write)
}

func (o *ownedFD) do(f func(fd uintptr) bool, events int16, wait func(syscall.RawConn, func(uintptr) bool) error) error {
	if done, err := o.busyWait(f, events); done || err != nil {
		return err
	}
	twin, err := o.twinFile()
	if err != nil {
		return err
	}
	rc, err := twin.SyscallConn()
	if err != nil {
		return err
	}
	return wait(rc, f)
}

// busyWait runs f, and while it is not done waits for events in ppoll, in
// slices of busySlice, for up to busyWait, if fewer than maxBusyWaiters wait
// so (poll.go). It reports whether f is done, or why it stopped: the
// descriptor closed, or the deadline passed.
func (o *ownedFD) busyWait(f func(fd uintptr) bool, events int16) (bool, error) {
	fd, ok := o.acquire()
	if !ok {
		return false, net.ErrClosed
	}
	defer o.release()
	if f(uintptr(fd)) {
		return true, nil
	}
	if o.busy == nil {
		return false, nil
	}
	defer o.busy.Add(-1)
	if o.busy.Add(1) > maxBusyWaiters {
		return false, nil
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
	ts := unix.NsecToTimespec(int64(busySlice))
	for end := time.Now().Add(busyWait); time.Now().Before(end); {
		fds[0].Revents = 0
		if _, err := unix.Ppoll(fds, &ts, nil); err != nil && err != unix.EINTR {
			return false, nil
		}
		o.mu.Lock()
		closing, deadline := o.closing, o.deadline
		o.mu.Unlock()
		switch {
		case closing:
			return false, net.ErrClosed
		case !deadline.IsZero() && !time.Now().Before(deadline):
			return false, os.ErrDeadlineExceeded
		case fds[0].Revents != 0 && f(uintptr(fd)):
			return true, nil
		}
	}
	return false, nil
}

// twinFile returns the twin, made at the first call: a duplicate of the
// descriptor, which os.NewFile registers with the netpoller (the socket is
// non-blocking), with the last deadline set.
func (o *ownedFD) twinFile() (*os.File, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return nil, net.ErrClosed
	}
	if o.twin != nil {
		return o.twin, nil
	}
	nfd, err := unix.FcntlInt(uintptr(o.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	o.twin = os.NewFile(uintptr(nfd), "watm-socket")
	if !o.deadline.IsZero() {
		_ = o.twin.SetDeadline(o.deadline)
	}
	return o.twin, nil
}

// SetDeadline bounds operations that wait (the twin's); only a deadline in
// the past is used, to wake them (SockFile.abort).
func (o *ownedFD) SetDeadline(t time.Time) error {
	o.mu.Lock()
	o.deadline = t
	twin := o.twin
	o.mu.Unlock()
	if twin != nil {
		return twin.SetDeadline(t)
	}
	return nil
}

// Close closes the descriptor once no operation uses it, and the twin at
// once, which wakes an operation waiting on it.
func (o *ownedFD) Close() error {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return nil
	}
	o.closing = true
	if o.refs == 0 {
		o.closeFD()
	}
	twin := o.twin
	o.mu.Unlock()
	if twin != nil {
		_ = twin.Close()
	}
	return nil
}

// OwnPeers takes the connection's own sockets out of the Go netpoller
// (OwnDescriptor): called when its session starts.
func (c *Context) OwnPeers() {
	for _, s := range c.Peers() {
		s.OwnDescriptor(&c.host.busyWaiters)
	}
}

// OwnDescriptor takes s's socket out of the Go netpoller (see ownedFD): a
// duplicate descriptor replaces the conn's, and the conn is closed, which
// deregisters it. Only a TCP or Unix conn is taken, and only before any
// write was queued (the queue's flusher uses the conn); otherwise, or if
// the duplicate cannot be made, s stays as it was. The caller owns s (no
// other goroutine uses it) and uses the conn it wrapped no more, except to
// close it.
func (s *SockFile) OwnDescriptor(busy *atomic.Int32) {
	switch s.conn.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return
	}
	if s.bridge != nil || s.wq != nil {
		return
	}
	if s.readyID.Load() != 0 {
		s.readies.remove(s) // registered by the old descriptor
	}
	nfd := -1
	if err := s.rc.Control(func(fd uintptr) { nfd, _ = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || nfd < 0 {
		return
	}
	o := &ownedFD{fd: nfd, busy: busy}
	s.mu.Lock()
	old := s.conn
	s.conn, s.rc, s.osfd = o, o, nfd
	s.mu.Unlock()
	_ = old.Close()
}
