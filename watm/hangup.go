package watm

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// hangupWatch is a Runtime's one watch over the connection sockets of all
// its running sessions, so that no module outlives its connection whatever
// it does (spins, loops on an empty poll_oneoff, waits on a clock): one
// epoll instance, itself waited on in the Go netpoller, and one goroutine,
// whatever the number of connections. Each session's plaintext and network
// sockets are registered edge-triggered for EPOLLRDHUP, EPOLLHUP and
// EPOLLERR only: data never wakes it.
//
// The rule (RATIONALE.md says why): an error (a reset) ends the session at
// once; a hang-up (the peer's FIN, alone or with ours) ends it only if the
// module has not read that end of file within wait and has not read
// anything else from the socket meanwhile. A module that relays a
// half-close reads the EOF and goes on.
type hangupWatch struct {
	ep   *os.File // the epoll instance
	rc   syscall.RawConn
	wait time.Duration
	end  func(s *Session, reason string)
	wg   sync.WaitGroup // routineWatch

	mu   sync.Mutex // guards everything below
	next uint64
	regs map[uint64]*watched
}

// watched is one registered socket.
type watched struct {
	s     *Session
	sock  *sockFile
	timer *time.Timer // the pending end-of-file check, if any
	reads uint64      // sock.reads when the check was (re)armed
}

// hangupEvents is what a registration asks for: hang-ups and errors,
// edge-triggered, never readability.
const hangupEvents = unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLET

func newHangupWatch(wait time.Duration, end func(*Session, string)) (*hangupWatch, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("watm: epoll: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watm: epoll: %w", err)
	}
	// Non-blocking, so os.NewFile registers it with the netpoller: the
	// watching goroutine parks there and holds no thread.
	ep := os.NewFile(uintptr(fd), "watm-hangups")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("watm: epoll: %w", err)
	}
	h := &hangupWatch{ep: ep, rc: rc, wait: wait, end: end, regs: map[uint64]*watched{}}
	h.wg.Add(1)
	go h.routineWatch()
	return h, nil
}

// close stops watching; every session has been deregistered by then.
func (h *hangupWatch) close() {
	h.ep.Close()
	h.wg.Wait()
}

// add registers one of s's connection sockets. A socket that cannot be
// registered (already closed) is not watched: the session ends anyway when
// the module uses it.
func (h *hangupWatch) add(s *Session, f *sockFile) {
	h.mu.Lock()
	h.next++
	id := h.next
	h.regs[id] = &watched{s: s, sock: f}
	h.mu.Unlock()
	f.hangups = h
	f.watchID.Store(id)
	ev := unix.EpollEvent{Events: hangupEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	if err := h.ctl(unix.EPOLL_CTL_ADD, f, &ev); err != nil {
		h.remove(f)
	}
}

// remove deregisters f, before f's descriptor is closed.
func (h *hangupWatch) remove(f *sockFile) {
	id := f.watchID.Swap(0)
	if id == 0 {
		return
	}
	h.mu.Lock()
	if w := h.regs[id]; w != nil && w.timer != nil {
		w.timer.Stop()
	}
	delete(h.regs, id)
	h.mu.Unlock()
	_ = h.ctl(unix.EPOLL_CTL_DEL, f, nil)
}

// ctl runs epoll_ctl while both descriptors are held open, so that a
// descriptor number closed meanwhile (and reused) is never touched.
func (h *hangupWatch) ctl(op int, f *sockFile, ev *unix.EpollEvent) error {
	var err error
	cerr := h.rc.Control(func(ep uintptr) {
		cerr := f.rc.Control(func(fd uintptr) { err = unix.EpollCtl(int(ep), op, int(fd), ev) })
		if err == nil {
			err = cerr
		}
	})
	if err == nil {
		err = cerr
	}
	return err
}

// registered returns the number of sockets being watched.
func (h *hangupWatch) registered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.regs)
}

// routineWatch takes the ready events, without blocking a thread: the
// epoll descriptor is readable while events are pending.
func (h *hangupWatch) routineWatch() {
	defer h.wg.Done()
	events := make([]unix.EpollEvent, 64)
	for {
		var n int
		err := h.rc.Read(func(fd uintptr) bool {
			var e error
			for {
				n, e = unix.EpollWait(int(fd), events, 0)
				if e != unix.EINTR {
					break
				}
			}
			return e != nil || n > 0
		})
		if err != nil {
			return // closed
		}
		for _, ev := range events[:max(n, 0)] {
			h.handle(ev)
		}
	}
}

func (h *hangupWatch) handle(ev unix.EpollEvent) {
	id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.regs[id]
	switch {
	case w == nil:
	case ev.Events&unix.EPOLLERR != 0:
		h.end(w.s, "a socket of the connection failed (reset)")
	case w.sock.eof.Load() || w.timer != nil:
		// The module has read the end of file, or a check is pending.
	default:
		w.reads = w.sock.reads.Load()
		w.timer = time.AfterFunc(h.wait, func() { h.check(id) })
	}
}

// check runs wait after a hang-up: the module has had its chance to read
// the end of file.
func (h *hangupWatch) check(id uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.regs[id]
	switch {
	case w == nil, w.sock.eof.Load():
	case w.sock.reads.Load() != w.reads:
		// Still draining what came before the end of file.
		w.reads = w.sock.reads.Load()
		w.timer.Reset(h.wait)
	default:
		h.end(w.s, "the connection's peer hung up and the module did not read the end of file within "+h.wait.String())
	}
}
