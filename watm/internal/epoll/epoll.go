// Package epoll holds the epoll(7) plumbing the runtime's watches share
// (the ready watch in wasip1, the hang-up watch in watm): an epoll
// instance waited on in the Go netpoller, so the goroutine that takes its
// events parks there and holds no thread.
package epoll

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// NewNetpolled creates an epoll instance that is itself waited on in the
// Go netpoller (it is non-blocking, so os.NewFile registers it).
func NewNetpolled(name string) (*os.File, syscall.RawConn, error) {
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

// Wait waits in the netpoller until ep has events and takes them; it
// fails once ep is closed.
func Wait(ep syscall.RawConn, events []unix.EpollEvent) (int, error) {
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

// Ctl runs epoll_ctl on f's descriptor while both descriptors are held
// open, so that a descriptor number closed meanwhile (and reused) is never
// touched.
func Ctl(ep syscall.RawConn, op int, f syscall.RawConn, ev *unix.EpollEvent) error {
	var err error
	cerr := ep.Control(func(epfd uintptr) {
		cerr := f.Control(func(fd uintptr) { err = unix.EpollCtl(int(epfd), op, int(fd), ev) })
		if err == nil {
			err = cerr
		}
	})
	if err == nil {
		err = cerr
	}
	return err
}

// Data packs a registration id into an event's data, ID unpacks it.
func Data(events uint32, id uint64) unix.EpollEvent {
	return unix.EpollEvent{Events: events, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}

// ID is the registration id Data packed into ev.
func ID(ev unix.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }
