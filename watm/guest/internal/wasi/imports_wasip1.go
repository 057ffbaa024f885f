//go:build wasip1

package wasi

import (
	"runtime"
	"unsafe"
)

// The raw imports. Pointers are addresses in this module's linear memory;
// every call returns an errno (0 on success).

//go:wasmimport wasi_snapshot_preview1 fd_read
//go:noescape
func fdRead(fd int32, iovs unsafe.Pointer, iovsLen uint32, nread unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 fd_write
//go:noescape
func fdWrite(fd int32, iovs unsafe.Pointer, iovsLen uint32, nwritten unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 fd_close
func fdClose(fd int32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_fdstat_set_flags
func fdFdstatSetFlags(fd int32, flags uint32) uint32

//go:wasmimport wasi_snapshot_preview1 sock_shutdown
func sockShutdown(fd int32, how uint32) uint32

//go:wasmimport wasi_snapshot_preview1 poll_oneoff
//go:noescape
func pollOneoff(in unsafe.Pointer, out unsafe.Pointer, nsubscriptions uint32, nevents unsafe.Pointer) uint32

// iovec is WASI's ciovec/iovec: buf u32 @0, buf_len u32 @4.
type iovec struct {
	buf uint32
	len uint32
}

func iov(p []byte) iovec {
	return iovec{buf: uint32(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), len: uint32(len(p))}
}

// Read reads into p with one fd_read. (0, ESUCCESS) is end of file;
// EAGAIN means a non-blocking fd has nothing to read yet.
func Read(fd int32, p []byte) (int, Errno) {
	if len(p) == 0 {
		return 0, ESUCCESS
	}
	v := iov(p)
	var n uint32
	e := fdRead(fd, unsafe.Pointer(&v), 1, unsafe.Pointer(&n))
	runtime.KeepAlive(p)
	return int(n), Errno(e)
}

// Write writes from p with one fd_write. A non-blocking fd may take fewer
// than len(p) bytes, or none with EAGAIN.
func Write(fd int32, p []byte) (int, Errno) {
	if len(p) == 0 {
		return 0, ESUCCESS
	}
	v := iov(p)
	var n uint32
	e := fdWrite(fd, unsafe.Pointer(&v), 1, unsafe.Pointer(&n))
	runtime.KeepAlive(p)
	return int(n), Errno(e)
}

// Close closes fd.
func Close(fd int32) Errno { return Errno(fdClose(fd)) }

// SetNonblock sets fd's flags to FDFlagNonblock (and clears the others,
// which mean nothing for a socket).
func SetNonblock(fd int32) Errno { return Errno(fdFdstatSetFlags(fd, FDFlagNonblock)) }

// ShutdownWrite half-closes fd: the peer reads end of file, reads on fd go on.
func ShutdownWrite(fd int32) Errno { return Errno(sockShutdown(fd, SDFlagWR)) }

// Poll calls poll_oneoff with subs and fills events; it returns how many
// events were filled. len(events) must be at least len(subs).
func Poll(subs []Subscription, events []Event) (int, Errno) {
	if len(subs) == 0 || len(events) < len(subs) {
		return 0, EINVAL
	}
	var n uint32
	e := pollOneoff(unsafe.Pointer(&subs[0]), unsafe.Pointer(&events[0]), uint32(len(subs)), unsafe.Pointer(&n))
	runtime.KeepAlive(subs)
	runtime.KeepAlive(events)
	return int(n), Errno(e)
}

// ReadAll reads fd to its end, waiting in poll_oneoff if fd is non-blocking
// and has nothing yet. It fails with EFBIG if fd holds more than limit bytes.
func ReadAll(fd int32, limit int) ([]byte, Errno) {
	buf := make([]byte, 0, 4096)
	var subs [1]Subscription
	var events [1]Event
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, EFBIG
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, e := Read(fd, buf[len(buf):cap(buf)])
		switch {
		case e == EAGAIN:
			subs[0].SetFD(0, EventFDRead, fd)
			if _, e := Poll(subs[:], events[:]); e != ESUCCESS {
				return nil, e
			}
		case e != ESUCCESS:
			return nil, e
		case n == 0:
			if len(buf) > limit {
				return nil, EFBIG
			}
			return buf, ESUCCESS
		default:
			buf = buf[:len(buf)+n]
		}
	}
}

// Iovec is one buffer of a Readv or Writev: make it with IovecOf and keep
// the buffer alive (runtime.KeepAlive) until the call has returned.
type Iovec = iovec

// IovecOf is the iovec of p.
func IovecOf(p []byte) Iovec { return iov(p) }

// Readv reads into the buffers of iovs, in order, with one fd_read.
func Readv(fd int32, iovs []Iovec) (int, Errno) {
	if len(iovs) == 0 {
		return 0, ESUCCESS
	}
	var n uint32
	e := fdRead(fd, unsafe.Pointer(unsafe.SliceData(iovs)), uint32(len(iovs)), unsafe.Pointer(&n))
	runtime.KeepAlive(iovs)
	return int(n), Errno(e)
}

// Writev writes the buffers of iovs, in order, with one fd_write.
func Writev(fd int32, iovs []Iovec) (int, Errno) {
	if len(iovs) == 0 {
		return 0, ESUCCESS
	}
	var n uint32
	e := fdWrite(fd, unsafe.Pointer(unsafe.SliceData(iovs)), uint32(len(iovs)), unsafe.Pointer(&n))
	runtime.KeepAlive(iovs)
	return int(n), Errno(e)
}
