package watm

import (
	"fmt"
	"os"
	"runtime/metrics"
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
// module has not read that end of file within wait and has moved no byte
// on any of the connection's sockets meanwhile. A module that relays a
// half-close reads the EOF and goes on. A wait during which the process
// itself was starved of CPU (goroutines waited starvedAfter or more to run)
// proves nothing, so it is given again, up to maxStarved in all.
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
	moved uint64      // s.moved when the check was (re)armed
	slow  uint64      // slowRuns() when the check was (re)armed
	since time.Time   // when the hang-up was seen
}

// starvedAfter is the scheduling latency that marks a wait as starved:
// far above what a process with a core to spare shows (microseconds),
// well under the wait itself. maxStarved bounds how long starvation can
// put off ending a session.
const (
	starvedAfter = 50 * time.Millisecond
	maxStarved   = 10 * time.Second
)

// slowRuns counts the goroutine runs, since the process started, that
// waited starvedAfter or more to be scheduled (the runtime samples them).
// A module that has not read its end of file may simply not have had the
// CPU to do it: under load, hundreds of runnable goroutines share two
// cores, and one can wait a second to run.
func slowRuns() uint64 {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := s[0].Value.Float64Histogram()
	var n uint64
	for i, c := range h.Counts {
		if h.Buckets[i] >= starvedAfter.Seconds() {
			n += c
		}
	}
	return n
}

// hangupEvents is what a registration asks for: hang-ups and errors,
// edge-triggered, never readability.
const hangupEvents = unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLET

func newHangupWatch(wait time.Duration, end func(*Session, string)) (*hangupWatch, error) {
	ep, rc, err := newNetpolledEpoll("watm-hangups")
	if err != nil {
		return nil, err
	}
	h := &hangupWatch{ep: ep, rc: rc, wait: wait, end: end, regs: map[uint64]*watched{}}
	h.wg.Add(1)
	go h.routineWatch()
	return h, nil
}

// newNetpolledEpoll creates an epoll instance that is itself waited on in
// the Go netpoller (it is non-blocking, so os.NewFile registers it): the
// goroutine that takes its events parks there and holds no thread.
func newNetpolledEpoll(name string) (*os.File, syscall.RawConn, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("watm: epoll: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("watm: epoll: %w", err)
	}
	ep := os.NewFile(uintptr(fd), name)
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, nil, fmt.Errorf("watm: epoll: %w", err)
	}
	return ep, rc, nil
}

// epollWait waits in the netpoller until ep has events and takes them; it
// fails once ep is closed.
func epollWait(ep syscall.RawConn, events []unix.EpollEvent) (int, error) {
	var n int
	err := ep.Read(func(fd uintptr) bool {
		var e error
		for {
			n, e = unix.EpollWait(int(fd), events, 0)
			if e != unix.EINTR {
				break
			}
		}
		return e != nil || n > 0
	})
	return max(n, 0), err
}

// epollCtl runs epoll_ctl while both descriptors are held open, so that a
// descriptor number closed meanwhile (and reused) is never touched.
func epollCtl(ep syscall.RawConn, op int, f *sockFile, ev *unix.EpollEvent) error {
	var err error
	cerr := ep.Control(func(epfd uintptr) {
		cerr := f.rc.Control(func(fd uintptr) { err = unix.EpollCtl(int(epfd), op, int(fd), ev) })
		if err == nil {
			err = cerr
		}
	})
	if err == nil {
		err = cerr
	}
	return err
}

// epollData packs a registration id into an event's data, regID unpacks it.
func epollData(events uint32, id uint64) unix.EpollEvent {
	return unix.EpollEvent{Events: events, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}

func regID(ev unix.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }

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
	f.moved.Store(&s.moved)
	f.watchID.Store(id)
	ev := epollData(hangupEvents, id)
	if err := epollCtl(h.rc, unix.EPOLL_CTL_ADD, f, &ev); err != nil {
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
	_ = epollCtl(h.rc, unix.EPOLL_CTL_DEL, f, nil)
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
		n, err := epollWait(h.rc, events)
		if err != nil {
			return // closed
		}
		for _, ev := range events[:n] {
			h.handle(ev)
		}
	}
}

func (h *hangupWatch) handle(ev unix.EpollEvent) {
	id := regID(ev)
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
		w.moved = w.s.moved.Load()
		w.slow = slowRuns()
		w.since = time.Now()
		w.timer = time.AfterFunc(h.wait, func() { h.check(id) })
	}
}

// starved reports whether the process was starved of CPU since w's check
// was armed (and rearms that measure), within maxStarved of the hang-up.
func (h *hangupWatch) starved(w *watched) bool {
	slow := slowRuns()
	if slow == w.slow || time.Since(w.since) > maxStarved {
		return false
	}
	w.slow = slow
	return true
}

// check runs wait after a hang-up: the module has had its chance to read
// the end of file.
func (h *hangupWatch) check(id uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.regs[id]
	switch {
	case w == nil, w.sock.eof.Load():
	case w.s.moved.Load() != w.moved:
		// Still moving bytes (on any of the connection's sockets: a relay
		// blocked writing what came before the end of file reads it later).
		w.moved = w.s.moved.Load()
		w.slow = slowRuns()
		w.timer.Reset(h.wait)
	case h.starved(w):
		// The module may not have had the CPU to read it.
		w.timer.Reset(h.wait)
	default:
		h.end(w.s, "the connection's peer hung up and the module did not read the end of file within "+h.wait.String())
	}
}
