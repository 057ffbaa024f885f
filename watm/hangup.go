package watm

import (
	"os"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"

	"github.com/water-pt/water-pt/watm/internal/epoll"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
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
	sock  *wasip1.SockFile
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
	ep, rc, err := epoll.NewNetpolled("watm-hangups")
	if err != nil {
		return nil, err
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
func (h *hangupWatch) add(s *Session, f *wasip1.SockFile) {
	h.mu.Lock()
	h.next++
	id := h.next
	h.regs[id] = &watched{s: s, sock: f}
	h.mu.Unlock()
	f.Watch(&s.moved, func() { h.remove(id, f) })
	ev := epoll.Data(hangupEvents, id)
	if err := epoll.Ctl(h.rc, unix.EPOLL_CTL_ADD, f.RawConn(), &ev); err != nil {
		f.Unwatch()
	}
}

// remove deregisters f (registration id), before f's descriptor is closed:
// the socket's Unwatch calls it, once.
func (h *hangupWatch) remove(id uint64, f *wasip1.SockFile) {
	h.mu.Lock()
	if w := h.regs[id]; w != nil && w.timer != nil {
		w.timer.Stop()
	}
	delete(h.regs, id)
	h.mu.Unlock()
	_ = epoll.Ctl(h.rc, unix.EPOLL_CTL_DEL, f.RawConn(), nil)
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
		n, err := epoll.Wait(h.rc, events)
		if err != nil {
			return // closed
		}
		for _, ev := range events[:n] {
			h.handle(ev)
		}
	}
}

func (h *hangupWatch) handle(ev unix.EpollEvent) {
	id := epoll.ID(ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.regs[id]
	switch {
	case w == nil:
	case ev.Events&unix.EPOLLERR != 0:
		h.end(w.s, "a socket of the connection failed (reset)")
	case w.sock.EOF() || w.timer != nil:
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
	case w == nil, w.sock.EOF():
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
