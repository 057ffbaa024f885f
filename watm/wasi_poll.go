package watm

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
// stopped. It blocks in ppoll(2) on the real descriptors, always together
// with the instance's interrupt descriptor so that a forced stop wakes it.
// Descriptors that are always ready (config, stdout) and bad descriptors
// (an event with EBADF) make it return at once.
var pollOneoff = &hostFunc{name: "poll_oneoff", params: params(i32, i32, i32, i32),
	names: []string{"in", "out", "nsubscriptions", "result.nevents"},
	body: func(in *instance, mem api.Memory, s []uint64) Errno {
		inPtr, outPtr, n, resPtr := p32(s, 0), p32(s, 1), p32(s, 2), p32(s, 3)
		if !inRange64(mem, inPtr, uint64(n)*subSize) || !inRange64(mem, outPtr, uint64(n)*eventSize) || !inRange(mem, resPtr, 4) {
			return EFAULT
		}
		if n == 0 {
			return EINVAL
		}
		if n > maxSubscriptions {
			return ENOTSUP
		}
		nev, e := in.poll(mem, inPtr, outPtr, n)
		if e != ESUCCESS {
			return e
		}
		mem.WriteUint32Le(resPtr, nev)
		return ESUCCESS
	}}

// pollState is the scratch space of poll_oneoff, kept per instance so the
// hot path does not allocate.
type pollState struct {
	fds  []unix.PollFd
	subs []int // subscription index of fds[i] (fds[0] is the interrupt)
}

func (in *instance) poll(mem api.Memory, inPtr, outPtr, n uint32) (uint32, Errno) {
	ps := &in.pollScratch
	ps.fds = append(ps.fds[:0], unix.PollFd{Fd: int32(in.interrupt), Events: unix.POLLIN})
	ps.subs = append(ps.subs[:0], -1)
	var nev uint32
	deadline := int64(math.MaxInt64) // monotonic ns
	now := in.monotonic()
	for i := uint32(0); i < n; i++ {
		sub := inPtr + i*subSize
		tag, _ := mem.ReadByte(sub + 8)
		switch tag {
		case eventClock:
			if d, e := clockDeadline(in, mem, sub, now); e != ESUCCESS {
				nev = writeEvent(mem, outPtr, nev, sub, e, eventClock, 0)
			} else if d < deadline {
				deadline = d
			}
		case eventFdRead, eventFdWrite:
			fd, _ := mem.ReadUint32Le(sub + 16)
			f, _, e := in.fds.get(int32(fd))
			switch {
			case e != ESUCCESS:
				nev = writeEvent(mem, outPtr, nev, sub, e, tag, 0)
			case f.pollfd() < 0:
				nev = writeEvent(mem, outPtr, nev, sub, ESUCCESS, tag, 0)
			default:
				ev := int16(unix.POLLIN)
				if tag == eventFdWrite {
					ev = unix.POLLOUT
				}
				ps.fds = append(ps.fds, unix.PollFd{Fd: int32(f.pollfd()), Events: ev})
				ps.subs = append(ps.subs, int(i))
			}
		default:
			nev = writeEvent(mem, outPtr, nev, sub, EINVAL, tag, 0)
		}
	}
	timeout := time.Duration(-1)
	if nev > 0 {
		timeout = 0
	} else if deadline != math.MaxInt64 {
		timeout = time.Duration(max(0, deadline-int64(now)))
	}
	if e := in.ppoll(ps.fds, timeout); e != ESUCCESS {
		return 0, e
	}
	if ps.fds[0].Revents != 0 && in.stopping.Load() {
		in.exitStopped()
	}
	for j := 1; j < len(ps.fds); j++ {
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
		nev = writeEvent(mem, outPtr, nev, sub, errno, tag, flags)
	}
	if nev == 0 { // nothing ready: the clocks fired
		for i := uint32(0); i < n; i++ {
			sub := inPtr + i*subSize
			if tag, _ := mem.ReadByte(sub + 8); tag == eventClock {
				nev = writeEvent(mem, outPtr, nev, sub, ESUCCESS, eventClock, 0)
			}
		}
	}
	return nev, ESUCCESS
}

// clockDeadline returns a clock subscription's deadline on the monotonic
// clock in nanoseconds.
func clockDeadline(in *instance, mem api.Memory, sub uint32, now uint64) (int64, Errno) {
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

// ppoll waits, restarting after EINTR with the time that is left.
func (in *instance) ppoll(fds []unix.PollFd, timeout time.Duration) Errno {
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
			return errnoOf(err)
		}
		return ESUCCESS
	}
}
