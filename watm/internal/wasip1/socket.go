package wasip1

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// SockFile is a stream socket in a module's fd table. Reads and writes go
// straight between the OS descriptor and the module's linear memory through
// the descriptor's RawConn: the conn's (the Go netpoller owns the
// descriptor) or, once the connection's session has started, the
// SockFile's own (OwnDescriptor); either way a concurrent Close is safe.
type SockFile struct {
	// mu guards conn, rc and osfd against OwnDescriptor for the methods
	// that other goroutines call (abort, Close, Detach, RawConn); the
	// owner's calls read them without it.
	mu     sync.Mutex
	conn   io.Closer // the owner of the descriptor
	rc     syscall.RawConn
	osfd   int
	bridge *connBridge // non-nil when conn had no descriptor of its own
	once   sync.Once
	cerr   error
	// wq holds what the kernel did not take of non-blocking writes; nil
	// until the first short write.
	wq *writeQueue
	// writableReported: poll_oneoff reported the socket writable and no
	// fd_write was made on it since.
	writableReported bool
	// Peer: one of the connection's own sockets (plaintext, dialed,
	// accepted), which WATER's hang-up watch follows (Watch).
	Peer bool
	eof  atomic.Bool // the module has read end of file
	// moved is the watching session's progress counter and unwatchFn what
	// lets go of the socket, nil until a watch follows it (Watch).
	moved     atomic.Pointer[atomic.Uint64]
	unwatchFn atomic.Pointer[func()]
	// readies holds the socket's registration (readyID, 0 for none) while
	// a parked poll_oneoff has waited on it; parkEvents is poll's scratch.
	readies    *readyWatch
	readyID    atomic.Uint64
	parkEvents uint32
}

// NewSockFile wraps any net.Conn. A conn with an OS descriptor (TCP, Unix,
// anything implementing syscall.Conn) is used directly; any other conn is
// bridged through a socketpair by two copy goroutines that the File owns.
func NewSockFile(c net.Conn) (*SockFile, error) {
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return newRawSockFile(c, rc)
		}
	}
	return newBridgedSockFile(c)
}

func newRawSockFile(owner io.Closer, rc syscall.RawConn) (*SockFile, error) {
	s := &SockFile{conn: owner, rc: rc, osfd: -1}
	if err := rc.Control(func(fd uintptr) { s.osfd = int(fd) }); err != nil {
		return nil, fmt.Errorf("watm: socket descriptor: %w", err)
	}
	return s, nil
}

func (s *SockFile) Filetype() uint8 { return FiletypeSocketStream }
func (s *SockFile) Pollfd() int     { return s.osfd }

func (s *SockFile) Read(p []byte, nonblock bool) (int, Errno) {
	var n int
	var errno Errno
	err := s.rc.Read(func(fd uintptr) bool {
		var e error
		n, e = unix.Read(int(fd), p)
		if e == unix.EINTR {
			return false
		}
		if e == unix.EAGAIN && !nonblock {
			return false // wait for readiness in the netpoller
		}
		n, errno = fixN(n, e)
		return true
	})
	if err != nil {
		return 0, closedErrno(err)
	}
	if errno == ESUCCESS {
		if n > 0 {
			s.progressed()
		} else if len(p) > 0 {
			s.eof.Store(true)
		}
	}
	return n, errno
}

// unwatch deregisters the socket from the hang-up and ready watches
// before its descriptor is closed or given back.
func (s *SockFile) unwatch() {
	if fn := s.unwatchFn.Swap(nil); fn != nil {
		(*fn)()
	}
	if s.readyID.Load() != 0 {
		s.readies.remove(s)
	}
}

func (s *SockFile) Write(p []byte, nonblock bool) (int, Errno) {
	var n int
	var errno Errno
	err := s.rc.Write(func(fd uintptr) bool {
		var e error
		n, e = unix.Write(int(fd), p)
		if e == unix.EINTR {
			return false
		}
		if e == unix.EAGAIN && !nonblock {
			return false
		}
		n, errno = fixN(n, e)
		return true
	})
	return s.written(n, errno, err)
}

// written is the result of a write through s's RawConn: a closed conn's
// errno, or the count, counted as progress for the hang-up watch.
func (s *SockFile) written(n int, errno Errno, err error) (int, Errno) {
	if err != nil {
		return 0, closedErrno(err)
	}
	if n > 0 {
		s.progressed()
	}
	return n, errno
}

// Watch lets a watch outside the fd table (WATER's hang-up watch) follow
// s: every byte moved through s adds to moved, and unwatch runs once,
// before s's descriptor is closed or given back (Detach).
func (s *SockFile) Watch(moved *atomic.Uint64, unwatch func()) {
	s.moved.Store(moved)
	s.unwatchFn.Store(&unwatch)
}

// Unwatch runs the unwatch that Watch was given, if it has not run yet.
func (s *SockFile) Unwatch() { s.unwatch() }

// EOF reports whether the module has read the end of file.
func (s *SockFile) EOF() bool { return s.eof.Load() }

// owner is the conn or ownedFD that owns the descriptor, for the methods
// other goroutines call.
func (s *SockFile) owner() io.Closer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// RawConn is the descriptor's RawConn (for epoll registrations).
func (s *SockFile) RawConn() syscall.RawConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rc
}

// progressed counts bytes moved through s for the hang-up watch.
func (s *SockFile) progressed() {
	if m := s.moved.Load(); m != nil {
		m.Add(1)
	}
}

func fixN(n int, err error) (int, Errno) {
	if err != nil {
		return 0, ErrnoOf(err)
	}
	if n < 0 {
		return 0, EIO
	}
	return n, ESUCCESS
}

// closedErrno is the errno for a RawConn whose conn is already closed.
func closedErrno(err error) Errno {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
		return EBADF
	}
	return ErrnoOf(err)
}

// shutdown implements sock_shutdown: how is WASI's sdflags (1 RD, 2 WR).
func (s *SockFile) Shutdown(how uint8) Errno {
	if how == 2 && s.wq != nil && s.wq.shutdownWhenDrained() {
		return ESUCCESS // the flusher shuts down after the last queued byte
	}
	if how&2 != 0 && s.wq != nil {
		s.wq.drain() // SHUT_RDWR: no reads will follow, so waiting is safe
	}
	var mode int
	switch how {
	case 1:
		mode = unix.SHUT_RD
	case 2:
		mode = unix.SHUT_WR
	case 3:
		mode = unix.SHUT_RDWR
	default:
		return EINVAL
	}
	var errno Errno
	err := s.rc.Control(func(fd uintptr) {
		if e := unix.Shutdown(int(fd), mode); e != nil {
			errno = ErrnoOf(e)
		}
	})
	if err != nil {
		return closedErrno(err)
	}
	return errno
}

func (s *SockFile) Close() error {
	s.once.Do(func() {
		s.unwatch()
		closeFn := func() error {
			err := s.owner().Close()
			if s.bridge != nil {
				s.bridge.close()
			}
			return err
		}
		// Queued bytes are written first, within the grace period, without
		// holding up the module: it may have to read for its peer to read.
		if s.wq == nil || !s.wq.closeWhenDrained(func() { _ = closeFn() }) {
			s.cerr = closeFn()
		}
	})
	return s.cerr
}

// SocketPair returns two connected, non-blocking Unix stream sockets as
// *os.File (registered with the netpoller).
func SocketPair() (a, b *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("watm: socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "watm-pair"), os.NewFile(uintptr(fds[1]), "watm-pair"), nil
}

// FileSock puts one end of a socketpair in the fd table.
func FileSock(f *os.File) (*SockFile, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	s, err := newRawSockFile(f, rc)
	if err != nil {
		f.Close()
	}
	return s, err
}

// FileConn turns one end of a socketpair into a net.Conn for the host side.
func FileConn(f *os.File) (net.Conn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("watm: socketpair conn: %w", err)
	}
	return c, nil
}

// connBridge copies between a descriptor-less net.Conn and the host end of
// a socketpair whose other end is in the module's fd table.
type connBridge struct {
	conn net.Conn
	host net.Conn
	wg   sync.WaitGroup
}

func newBridgedSockFile(c net.Conn) (*SockFile, error) {
	a, b, err := SocketPair()
	if err != nil {
		return nil, err
	}
	host, err := FileConn(a)
	if err != nil {
		b.Close()
		return nil, err
	}
	s, err := FileSock(b)
	if err != nil {
		host.Close()
		return nil, err
	}
	br := &connBridge{conn: c, host: host}
	s.bridge = br
	br.wg.Add(2)
	go br.copy(host, c)
	go br.copy(c, host)
	return s, nil
}

// copy moves one direction and propagates EOF as a half-close.
func (br *connBridge) copy(dst, src net.Conn) {
	defer br.wg.Done()
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		_ = cw.CloseWrite()
		return
	}
	_ = dst.Close()
	_ = src.Close()
}

func (br *connBridge) close() {
	_ = br.conn.Close()
	_ = br.host.Close()
	br.wg.Wait()
}

// abort wakes a blocked read or write: its deadline is put in the past.
func (s *SockFile) abort() {
	if s.wq != nil {
		s.wq.abortWaiters()
	}
	if d, ok := s.owner().(interface{ SetDeadline(time.Time) error }); ok {
		_ = d.SetDeadline(time.Unix(1, 0))
	}
}

// Detach removes the socket from the instance without closing the conn
// it wraps: a failed connection set-up gives the caller back its own conn
// (for example to send a SOCKS error reply on it). A bridged conn cannot be
// given back, as the bridge may have read from it: it is closed.
func (s *SockFile) Detach() {
	s.once.Do(func() {
		s.unwatch()
		if s.bridge != nil {
			s.bridge.close()
			return
		}
		// A stopped set-up aborted it (deadline in the past): give it
		// back usable.
		if d, ok := s.owner().(interface{ SetDeadline(time.Time) error }); ok {
			_ = d.SetDeadline(time.Time{})
		}
	})
}
