package wasip1

import (
	"math"
	"time"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"
)

// Subscription and event layouts of poll_oneoff.
//
//	subscription (48 bytes)          event (32 bytes)
//	 0 userdata u64                   0 userdata u64
//	 8 tag u8 (0 clock, 1 read,       8 error u16
//	          2 write)               10 type u8
//	16 clock id u32 | fd u32         16 nbytes u64
//	24 clock timeout u64             24 flags u16 (1: hangup)
//	32 clock precision u64
//	40 clock flags u16 (1: absolute)
const (
	subSize          = 48
	eventSize        = 32
	eventClock       = 0
	eventFdRead      = 1
	eventFdWrite     = 2
	clockAbstime     = 1
	eventFlagHangup  = 1
	maxSubscriptions = 1024
)

// poll_oneoff(in, out, nsubscriptions, result.nevents) waits until one of
// the subscribed descriptors is ready, a clock fires, or the connection is
// stopped. A busy connection waits a little in ppoll(2) on the real
// descriptors; then the module parks, holding no OS thread, until the
// runtime's ready watch, a clock, a virtual descriptor (WATER's cancel
// channel), a write queue or a forced stop wakes it (RATIONALE.md, "Why
// ppoll first, then park?"). Descriptors that are always ready (config,
// stdout) and bad descriptors (an event with EBADF) make it return at once.
// Errnos: EFAULT (in, out or the result outside memory), EINVAL (no
// subscription), ENOTSUP (more than 1024); an event's own error is EBADF (not
// open) or EINVAL (an unknown tag or clock).
var pollOneoff = wasiFunc("poll_oneoff", pollOneoffFn, Params(i32, i32, i32, i32), "in", "out", "nsubscriptions", "result.nevents")

func pollOneoffFn(c *Context, mem api.Memory, stack []uint64) Errno {
	inPtr, outPtr, n, resultPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if !inRange64(mem, inPtr, uint64(n)*subSize) || !inRange64(mem, outPtr, uint64(n)*eventSize) || !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	if n == 0 {
		return EINVAL
	}
	if n > maxSubscriptions {
		return ENOTSUP
	}
	nev, e := c.poll(mem, inPtr, outPtr, n)
	if e != ESUCCESS {
		return e
	}
	mem.WriteUint32Le(resultPtr, nev)
	return ESUCCESS
}

// pollState is the scratch space of poll_oneoff, kept per instance so the
// hot path does not allocate.
type pollState struct {
	fds    []unix.PollFd
	subs   []int       // subscription index of fds[i]
	socks  []*SockFile // the socket of fds[i]
	clocks []pollClock
	queued []pollQueued // write subscriptions whose socket has bytes queued
	// throttled: a read subscription was left out because its socket is
	// throttled (another socket's write queue is full).
	throttled bool
	// virtualWait: a read subscription waits on a virtual descriptor.
	virtualWait bool
	timer       *time.Timer // the earliest clock, while parked
}

type pollClock struct {
	sub      uint32 // address of the subscription
	deadline int64
}

type pollQueued struct {
	sub uint32
	s   *SockFile
}

// busyWait is how long a poll_oneoff with nothing ready may wait in
// ppoll(2) before it parks, in slices of at most busySlice (between which
// it looks at its wake channel: a write queue, a virtual descriptor), and
// maxBusyWaiters how many instances of a Runtime may wait so at once (each
// holds a thread meanwhile): see RATIONALE.md.
const (
	busyWait       = time.Millisecond
	busySlice      = 250 * time.Microsecond
	maxBusyWaiters = 16
)

// poll is poll_oneoff. It returns the events that are ready; with none
// ready yet, it waits (busyWaitPoll, then park) for a descriptor, the
// earliest clock, a write queue, a virtual descriptor or a forced stop, and
// reports only the clocks whose deadline passed.
func (c *Context) poll(mem api.Memory, inPtr, outPtr, n uint32) (uint32, Errno) {
	ps := &c.pollScratch
	now := c.host.monotonic()
	busyLeft := busyWait
	for first := true; ; first = false {
		select { // what woke an earlier wait is in the scan below
		case <-c.wake:
		default:
		}
		ps.fds, ps.subs, ps.socks = ps.fds[:0], ps.subs[:0], ps.socks[:0]
		ps.clocks, ps.queued, ps.throttled, ps.virtualWait = ps.clocks[:0], ps.queued[:0], false, false
		nev := c.pollScan(mem, inPtr, outPtr, n, now, first)
		if len(ps.fds) > 0 {
			if e := c.ppoll(ps.fds, 0); e != ESUCCESS {
				return 0, e
			}
		}
		nev = c.pollEvents(mem, inPtr, outPtr, nev)
		if c.stopping.Load() {
			c.exitStopped()
		}
		if nev > 0 || len(ps.clocks) == 0 && len(ps.fds) == 0 && len(ps.queued) == 0 && !ps.throttled && !ps.virtualWait {
			return nev, ESUCCESS
		}
		if busyLeft > 0 && (len(ps.fds) > 0 || c.untilClock() <= busyLeft) {
			if nev, e := c.busyWaitPoll(mem, inPtr, outPtr, &busyLeft); e != ESUCCESS || nev > 0 {
				return nev, e
			}
			continue
		}
		c.park()
	}
}

// untilClock is how long until the earliest clock subscription fires.
func (c *Context) untilClock() time.Duration {
	d := earliest(c.pollScratch.clocks)
	if d == math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(max(0, d-int64(c.host.monotonic())))
}

// busyWaitPoll waits in ppoll(2) while *left lasts, if fewer than
// maxBusyWaiters of the Runtime wait so (else it gives up its budget). It
// returns the events found, or none when its wake channel fired (the
// caller scans again) or the budget is spent.
func (c *Context) busyWaitPoll(mem api.Memory, inPtr, outPtr uint32, left *time.Duration) (uint32, Errno) {
	ps := &c.pollScratch
	rt := c.host
	defer rt.busyWaiters.Add(-1)
	if rt.busyWaiters.Add(1) > maxBusyWaiters {
		*left = 0
		return 0, ESUCCESS
	}
	for *left > 0 {
		slice := min(*left, busySlice, c.untilClock())
		start := time.Now()
		if e := c.ppoll(ps.fds, slice); e != ESUCCESS {
			return 0, e
		}
		*left -= max(time.Since(start), time.Microsecond)
		if c.stopping.Load() {
			c.exitStopped()
		}
		if nev := c.pollEvents(mem, inPtr, outPtr, 0); nev > 0 {
			return nev, ESUCCESS
		}
		select {
		case <-c.wake:
			return 0, ESUCCESS
		default:
		}
	}
	return 0, ESUCCESS
}

// park waits, holding no thread, until something the scan found worth
// waiting for may have happened: a subscribed socket is ready (registered
// one-shot with the runtime's ready watch), the earliest clock, a wake-up
// (write queue, virtual descriptor) or a forced stop. The caller scans again:
// what woke it is only a hint.
func (c *Context) park() {
	ps := &c.pollScratch
	for i, s := range ps.socks {
		s.parkEvents |= epollInterest(ps.fds[i].Events)
	}
	ok := true
	for _, s := range ps.socks {
		if s.parkEvents != 0 {
			ok = c.host.readies.arm(s, s.parkEvents, c.wake) && ok
			s.parkEvents = 0
		}
	}
	if !ok {
		return // a socket closed meanwhile: the next scan reports it
	}
	var timeout <-chan time.Time
	if wait := c.untilClock(); wait != math.MaxInt64 {
		if ps.timer == nil {
			ps.timer = time.NewTimer(wait)
		} else {
			ps.timer.Reset(wait)
		}
		defer ps.timer.Stop()
		timeout = ps.timer.C
	}
	c.host.parked.Add(1)
	defer c.host.parked.Add(-1)
	select {
	case <-c.wake:
	case <-timeout:
	case <-c.stopCh:
		c.exitStopped()
	}
}

// pollScan reads the subscriptions: clocks get their deadline, fd
// subscriptions a pollfd, and what is ready at once (bad descriptors,
// always-ready files, a socket whose queue failed or emptied) an event. A
// write subscription on a socket already reported writable, with nothing
// written since, is left out when the wait has a read or clock
// subscription: a module that always asks "writable?" would otherwise
// never sleep.
func (c *Context) pollScan(mem api.Memory, inPtr, outPtr, n uint32, now uint64, count bool) uint32 {
	ps := &c.pollScratch
	var nev uint32
	waitsOnOther := false
	for i := uint32(0); i < n; i++ {
		if tag, _ := mem.ReadByte(inPtr + i*subSize + 8); tag == eventClock || tag == eventFdRead {
			waitsOnOther = true
			break
		}
	}
	suppressed := false
	for i := uint32(0); i < n; i++ {
		sub := inPtr + i*subSize
		tag, _ := mem.ReadByte(sub + 8)
		switch tag {
		case eventClock:
			if d, e := clockDeadline(mem, sub, now); e != ESUCCESS {
				nev = writeEvent(mem, outPtr, nev, sub, e, eventClock, 0)
			} else {
				ps.clocks = append(ps.clocks, pollClock{sub: sub, deadline: d})
			}
		case eventFdRead, eventFdWrite:
			fd, _ := mem.ReadUint32Le(sub + 16)
			f, _, e := c.fds.get(int32(fd))
			switch {
			case e != ESUCCESS:
				nev = writeEvent(mem, outPtr, nev, sub, e, tag, 0)
			case tag == eventFdRead && isVirtual(f):
				if f.(VirtualFile).Readable() {
					nev = writeEvent(mem, outPtr, nev, sub, ESUCCESS, tag, 0)
				} else {
					ps.virtualWait = true
				}
			case f.Pollfd() < 0:
				nev = writeEvent(mem, outPtr, nev, sub, ESUCCESS, tag, 0)
			case tag == eventFdRead:
				if s, ok := f.(*SockFile); ok && c.throttled(s) {
					ps.throttled = true
					break
				}
				c.pollAdd(f.Pollfd(), unix.POLLIN, i, f.(*SockFile))
			default:
				s := f.(*SockFile)
				c.pollsWrite = true
				switch {
				case waitsOnOther && s.writableReported:
					suppressed = true
				case s.wq != nil && !s.wq.empty():
					ps.queued = append(ps.queued, pollQueued{sub: sub, s: s})
				default:
					c.pollAdd(f.Pollfd(), unix.POLLOUT, i, s)
				}
			}
		default:
			nev = writeEvent(mem, outPtr, nev, sub, EINVAL, tag, 0)
		}
	}
	if suppressed && count {
		c.Counters.Suppressed.Add(1)
	}
	return nev
}

func (c *Context) pollAdd(fd int, events int16, sub uint32, s *SockFile) {
	ps := &c.pollScratch
	ps.fds = append(ps.fds, unix.PollFd{Fd: int32(fd), Events: events})
	ps.subs = append(ps.subs, int(sub))
	ps.socks = append(ps.socks, s)
}

// pollEvents writes the events ppoll found, the write subscriptions whose
// queue has emptied and the clocks whose deadline passed.
func (c *Context) pollEvents(mem api.Memory, inPtr, outPtr, nev uint32) uint32 {
	ps := &c.pollScratch
	for j := range ps.fds {
		re := ps.fds[j].Revents
		if re == 0 {
			continue
		}
		sub := inPtr + uint32(ps.subs[j])*subSize
		tag, _ := mem.ReadByte(sub + 8)
		var flags uint16
		if re&(unix.POLLHUP|unix.POLLERR) != 0 {
			flags = eventFlagHangup
		}
		errno := ESUCCESS
		if re&unix.POLLNVAL != 0 {
			errno = EBADF
		}
		if tag == eventFdWrite {
			ps.socks[j].writableReported = true
		}
		nev = writeEvent(mem, outPtr, nev, sub, errno, tag, flags)
	}
	for _, q := range ps.queued {
		if q.s.wq.empty() {
			q.s.writableReported = true
			nev = writeEvent(mem, outPtr, nev, q.sub, ESUCCESS, eventFdWrite, 0)
		}
	}
	now := int64(c.host.monotonic())
	for _, c := range ps.clocks {
		if c.deadline <= now {
			nev = writeEvent(mem, outPtr, nev, c.sub, ESUCCESS, eventClock, 0)
		}
	}
	return nev
}

func earliest(clocks []pollClock) int64 {
	d := int64(math.MaxInt64)
	for _, c := range clocks {
		d = min(d, c.deadline)
	}
	return d
}

// clockDeadline returns a clock subscription's deadline on the monotonic
// clock in nanoseconds.
func clockDeadline(mem api.Memory, sub uint32, now uint64) (int64, Errno) {
	id, _ := mem.ReadUint32Le(sub + 16)
	timeout, _ := mem.ReadUint64Le(sub + 24)
	flags, _ := mem.ReadUint16Le(sub + 40)
	if timeout > math.MaxInt64/2 {
		timeout = math.MaxInt64 / 2
	}
	if flags&clockAbstime == 0 {
		return int64(now + timeout), ESUCCESS
	}
	switch id {
	case clockMonotonic:
		return int64(timeout), ESUCCESS
	case clockRealtime:
		return int64(now) + (int64(timeout) - time.Now().UnixNano()), ESUCCESS
	}
	return 0, EINVAL
}

func writeEvent(mem api.Memory, out, nev, sub uint32, errno Errno, tag uint8, flags uint16) uint32 {
	ud, _ := mem.ReadUint64Le(sub)
	ev := out + nev*eventSize
	buf, _ := mem.Read(ev, eventSize)
	clear(buf)
	mem.WriteUint64Le(ev, ud)
	mem.WriteUint16Le(ev+8, uint16(errno))
	mem.WriteByte(ev+10, tag)
	if tag != eventClock && errno == ESUCCESS {
		mem.WriteUint64Le(ev+16, 1)
		mem.WriteUint16Le(ev+24, flags)
	}
	return nev + 1
}

func isVirtual(f File) bool {
	_, ok := f.(VirtualFile)
	return ok
}

// ppoll waits, restarting after EINTR with the time that is left.
func (c *Context) ppoll(fds []unix.PollFd, timeout time.Duration) Errno {
	start := time.Now()
	for {
		var ts *unix.Timespec
		if timeout >= 0 {
			left := max(0, timeout-time.Since(start))
			t := unix.NsecToTimespec(left.Nanoseconds())
			ts = &t
		}
		_, err := unix.Ppoll(fds, ts, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ErrnoOf(err)
		}
		return ESUCCESS
	}
}
