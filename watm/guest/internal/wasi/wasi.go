// Package wasi is the guest's raw view of WASI preview 1: the few calls the
// data loop makes, the errno numbers they return and the memory layouts of
// poll_oneoff's subscriptions and events.
//
// The calls themselves (imports_wasip1.go) exist only when GOOS=wasip1; the
// numbers and layouts are plain Go so that they can be tested anywhere.
package wasi

import (
	"strconv"

	"github.com/water-pt/water-pt/watm/internal/spec"
)

// Errno is a WASI preview 1 errno. Zero means success.
type Errno uint16

// The errnos the guest produces or tests for (spec has them all).
const (
	ESUCCESS   Errno = spec.ESUCCESS
	EAGAIN     Errno = spec.EAGAIN
	EALREADY   Errno = spec.EALREADY
	EBADF      Errno = spec.EBADF
	ECANCELED  Errno = spec.ECANCELED
	ECONNRESET Errno = spec.ECONNRESET
	EFAULT     Errno = spec.EFAULT
	EFBIG      Errno = spec.EFBIG
	EINTR      Errno = spec.EINTR
	EINVAL     Errno = spec.EINVAL
	EIO        Errno = spec.EIO
	ENOENT     Errno = spec.ENOENT
	ENOSYS     Errno = spec.ENOSYS
	ENOTCONN   Errno = spec.ENOTCONN
	ENOTSUP    Errno = spec.ENOTSUP
	EPIPE      Errno = spec.EPIPE
)

// Error names the errno, e.g. "EPIPE" or "errno 142".
func (e Errno) Error() string {
	if e == ESUCCESS {
		return "success"
	}
	if name, ok := spec.ErrnoName(uint16(e)); ok {
		return name
	}
	return "errno " + strconv.Itoa(int(e))
}

// Result is what an exported function returns for e: 0 for success, else
// the negated errno.
func (e Errno) Result() int32 { return -int32(e) }

// Flags and selectors passed to the calls.
const (
	FDFlagNonblock = 4 // fdflags.nonblock, for fd_fdstat_set_flags
	SDFlagWR       = 2 // sdflags.wr, for sock_shutdown: no more writes
	ClockMonotonic = 1 // clockid.monotonic
)

// EventType is the tag of a subscription and the type of an event.
type EventType uint8

// The event types of poll_oneoff.
const (
	EventClock   EventType = 0
	EventFDRead  EventType = 1
	EventFDWrite EventType = 2
)

// EventFDHangup is the bit of an fd event's flags set when the peer hung up.
const EventFDHangup = 1

// Subscription is one entry of poll_oneoff's input array. Layout (48 bytes,
// 8-byte aligned):
//
//	 0: userdata u64
//	 8: tag      u8   (EventType)
//	16: fd       u32  (fd_read, fd_write)
//	16: clock id u32, 24: timeout u64, 32: precision u64, 40: flags u16 (clock)
type Subscription struct {
	_ [0]uint64 // alignment
	b [48]byte
}

// Event is one entry of poll_oneoff's output array. Layout (32 bytes,
// 8-byte aligned):
//
//	 0: userdata u64
//	 8: error    u16 (Errno)
//	10: type     u8  (EventType)
//	16: nbytes   u64 (fd events)
//	24: flags    u16 (fd events; EventFDHangup)
type Event struct {
	_ [0]uint64 // alignment
	b [32]byte
}

// SetFD makes s a subscription of type t (EventFDRead or EventFDWrite) on fd.
func (s *Subscription) SetFD(userdata uint64, t EventType, fd int32) {
	s.b = [48]byte{}
	put64(s.b[0:], userdata)
	s.b[8] = byte(t)
	put32(s.b[16:], uint32(fd))
}

// SetClock makes s a relative timeout of timeout nanoseconds on the
// monotonic clock.
func (s *Subscription) SetClock(userdata uint64, timeout uint64) {
	s.b = [48]byte{}
	put64(s.b[0:], userdata)
	s.b[8] = byte(EventClock)
	put32(s.b[16:], ClockMonotonic)
	put64(s.b[24:], timeout)
}

// UserData returns the subscription's userdata.
func (e *Event) UserData() uint64 { return get64(e.b[0:]) }

// Errno returns the event's error.
func (e *Event) Errno() Errno { return Errno(get16(e.b[8:])) }

// Type returns the event's type.
func (e *Event) Type() EventType { return EventType(e.b[10]) }

// NBytes returns the bytes available to read or the space to write.
func (e *Event) NBytes() uint64 { return get64(e.b[16:]) }

// Hangup reports whether the fd event has the hangup flag.
func (e *Event) Hangup() bool { return get16(e.b[24:])&EventFDHangup != 0 }

func put32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func put64(b []byte, v uint64) {
	put32(b, uint32(v))
	put32(b[4:], uint32(v>>32))
}

func get16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func get32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func get64(b []byte) uint64 { return uint64(get32(b)) | uint64(get32(b[4:]))<<32 }
