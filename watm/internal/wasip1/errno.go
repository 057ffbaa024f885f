package wasip1

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/water-pt/water-pt/watm/internal/spec"
)

// Errno is a WASI preview-1 error number, valued as in spec. Host
// functions work with Errno; it becomes an ABI value only at the boundary,
// where it is returned to the module as a u16 (WASI functions, ABI) or as
// a negative i32 (host_dial and friends, NegABI).
type Errno uint16

// The WASI preview-1 errno values the host returns (spec has them all).
const (
	ESUCCESS     Errno = spec.ESUCCESS
	EACCES       Errno = spec.EACCES
	EADDRINUSE   Errno = spec.EADDRINUSE
	EAGAIN       Errno = spec.EAGAIN
	EBADF        Errno = spec.EBADF
	EBUSY        Errno = spec.EBUSY
	ECANCELED    Errno = spec.ECANCELED
	ECONNABORTED Errno = spec.ECONNABORTED
	ECONNREFUSED Errno = spec.ECONNREFUSED
	ECONNRESET   Errno = spec.ECONNRESET
	EFAULT       Errno = spec.EFAULT
	EHOSTUNREACH Errno = spec.EHOSTUNREACH
	EINTR        Errno = spec.EINTR
	EINVAL       Errno = spec.EINVAL
	EIO          Errno = spec.EIO
	EISDIR       Errno = spec.EISDIR
	EMFILE       Errno = spec.EMFILE
	ENAMETOOLONG Errno = spec.ENAMETOOLONG
	ENETDOWN     Errno = spec.ENETDOWN
	ENETUNREACH  Errno = spec.ENETUNREACH
	ENOENT       Errno = spec.ENOENT
	ENOMEM       Errno = spec.ENOMEM
	ENOSYS       Errno = spec.ENOSYS
	ENOTCONN     Errno = spec.ENOTCONN
	ENOTDIR      Errno = spec.ENOTDIR
	ENOTSOCK     Errno = spec.ENOTSOCK
	ENOTSUP      Errno = spec.ENOTSUP
	EPERM        Errno = spec.EPERM
	EPIPE        Errno = spec.EPIPE
	EROFS        Errno = spec.EROFS
	ESPIPE       Errno = spec.ESPIPE
	ETIMEDOUT    Errno = spec.ETIMEDOUT
	ENOTCAPABLE  Errno = spec.ENOTCAPABLE
)

// String returns the errno's name, e.g. "EFAULT".
func (e Errno) String() string {
	if name, ok := spec.ErrnoName(uint16(e)); ok {
		return name
	}
	return "errno(" + strconv.Itoa(int(e)) + ")"
}

// Error makes Errno an error: "errno 21 (EFAULT)".
func (e Errno) Error() string { return "errno " + strconv.Itoa(int(e)) + " (" + e.String() + ")" }

// ABI is e as a WASI function returns it (errno, a u16 in an i32).
func (e Errno) ABI() uint64 { return uint64(e) }

// NegABI is e as the WATER imports that return a descriptor return a
// failure: the negative errno, in an i32.
func (e Errno) NegABI() int32 { return -int32(e) }

// ErrnoOf maps a host error (from the OS or the net package) to a WASI
// errno.
func ErrnoOf(err error) Errno {
	if err == nil {
		return ESUCCESS
	}
	var en Errno
	if errors.As(err, &en) {
		return en
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return errnoFromSyscall(se)
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrClosedPipe), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrClosed):
		return EPIPE
	case errors.Is(err, context.Canceled):
		return ECANCELED
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ETIMEDOUT
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ETIMEDOUT
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return EHOSTUNREACH
	}
	return EIO
}
func errnoFromSyscall(e syscall.Errno) Errno {
	switch e {
	case 0:
		return ESUCCESS
	case syscall.EAGAIN:
		return EAGAIN
	case syscall.EBADF:
		return EBADF
	case syscall.ECONNREFUSED:
		return ECONNREFUSED
	case syscall.ECONNRESET:
		return ECONNRESET
	case syscall.ECONNABORTED:
		return ECONNABORTED
	case syscall.EPIPE:
		return EPIPE
	case syscall.ENOTCONN:
		return ENOTCONN
	case syscall.EHOSTUNREACH:
		return EHOSTUNREACH
	case syscall.ENETUNREACH:
		return ENETUNREACH
	case syscall.ENETDOWN:
		return ENETDOWN
	case syscall.ETIMEDOUT:
		return ETIMEDOUT
	case syscall.EACCES:
		return EACCES
	case syscall.EPERM:
		return EPERM
	case syscall.EADDRINUSE:
		return EADDRINUSE
	case syscall.EINTR:
		return EINTR
	case syscall.EINVAL:
		return EINVAL
	case syscall.EMFILE, syscall.ENFILE:
		return EMFILE
	case syscall.ENOMEM, syscall.ENOBUFS:
		return ENOMEM
	case syscall.ENOTSOCK:
		return ENOTSOCK
	case syscall.ENOSYS:
		return ENOSYS
	}
	return EIO
}
