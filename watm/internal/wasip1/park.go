package wasip1

import (
	"os"
	"sync"
	"syscall"

	"github.com/water-pt/water-pt/watm/internal/epoll"
	"golang.org/x/sys/unix"
)

// readyWatch is a Runtime's one watch over the sockets that parked modules
// wait on (see poll): one epoll instance, itself waited on in the Go
// netpoller, and one goroutine, whatever the number of connections. A
// parked poll_oneoff registers each subscribed socket's interest
// one-shot (EPOLLONESHOT, re-armed with EPOLL_CTL_MOD at the next park) and
// waits on its instance's wake channel, which this watch signals: an idle
// connection holds no OS thread and no descriptor beyond its sockets.
//
// It is not the hang-up watch's epoll instance: that one holds the same
// sockets edge-triggered for hang-ups, and one epoll instance holds a
// descriptor once, with one set of flags (a one-shot registration would
// disarm the hang-up watch at the first read event).
type readyWatch struct {
	ep *os.File
	rc syscall.RawConn
	wg sync.WaitGroup // routineWatch

	mu   sync.Mutex // guards everything below
	next uint64
	regs map[uint64]chan struct{} // the wake channel of each socket's instance
}

func newReadyWatch() (*readyWatch, error) {
	ep, rc, err := epoll.NewNetpolled("watm-ready")
	if err != nil {
		return nil, err
	}
	w := &readyWatch{ep: ep, rc: rc, regs: map[uint64]chan struct{}{}}
	w.wg.Add(1)
	go w.routineWatch()
	return w, nil
}

// close stops watching; every socket has been deregistered by then.
func (w *readyWatch) close() {
	w.ep.Close()
	w.wg.Wait()
}

// arm registers (or re-arms) f for events, one-shot: when f becomes ready
// wake is signalled. It reports false if f cannot be watched (closed): the
// caller must not park on it.
func (w *readyWatch) arm(f *SockFile, events uint32, wake chan struct{}) bool {
	events |= unix.EPOLLONESHOT
	if id := f.readyID.Load(); id != 0 {
		ev := epoll.Data(events, id)
		return epoll.Ctl(w.rc, unix.EPOLL_CTL_MOD, f.rc, &ev) == nil
	}
	w.mu.Lock()
	w.next++
	id := w.next
	w.regs[id] = wake
	w.mu.Unlock()
	f.readies = w
	f.readyID.Store(id)
	ev := epoll.Data(events, id)
	if err := epoll.Ctl(w.rc, unix.EPOLL_CTL_ADD, f.rc, &ev); err != nil {
		w.remove(f)
		return false
	}
	return true
}

// remove deregisters f, before f's descriptor is closed.
func (w *readyWatch) remove(f *SockFile) {
	id := f.readyID.Swap(0)
	if id == 0 {
		return
	}
	w.mu.Lock()
	delete(w.regs, id)
	w.mu.Unlock()
	_ = epoll.Ctl(w.rc, unix.EPOLL_CTL_DEL, f.rc, nil)
}

// registered returns the number of sockets registered.
func (w *readyWatch) registered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.regs)
}

// routineWatch takes the ready events and wakes their instances.
func (w *readyWatch) routineWatch() {
	defer w.wg.Done()
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := epoll.Wait(w.rc, events)
		if err != nil {
			return // closed
		}
		w.mu.Lock()
		for _, ev := range events[:n] {
			if wake := w.regs[epoll.ID(ev)]; wake != nil {
				signal(wake)
			}
		}
		w.mu.Unlock()
	}
}

// signal wakes whoever waits on c (a channel of capacity one), without
// blocking: a wake already pending is enough.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// epollInterest is the epoll interest of a poll(2) event mask.
func epollInterest(events int16) uint32 {
	var ev uint32
	if events&unix.POLLIN != 0 {
		ev |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if events&unix.POLLOUT != 0 {
		ev |= unix.EPOLLOUT
	}
	return ev
}
