package watm

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Errno is a WASI preview-1 error number. Host functions work with Errno and
// it becomes an ABI value only at the boundary, where it is returned to the
// module as a u16 (WASI functions) or as a negative i32 (host_dial and
// friends).
type Errno uint16

// WASI preview-1 errno values used by the host (the full table is in
// errnoNames).
const (
	ESUCCESS     Errno = 0
	EACCES       Errno = 2
	EADDRINUSE   Errno = 3
	EAGAIN       Errno = 6
	EBADF        Errno = 8
	ECANCELED    Errno = 11
	ECONNABORTED Errno = 13
	ECONNREFUSED Errno = 14
	ECONNRESET   Errno = 15
	EFAULT       Errno = 21
	EHOSTUNREACH Errno = 23
	EINTR        Errno = 27
	EINVAL       Errno = 28
	EIO          Errno = 29
	EISDIR       Errno = 31
	EMFILE       Errno = 33
	ENETDOWN     Errno = 38
	ENETUNREACH  Errno = 40
	ENOENT       Errno = 44
	ENOMEM       Errno = 48
	ENOSYS       Errno = 52
	ENOTCONN     Errno = 53
	ENOTDIR      Errno = 54
	ENOTSOCK     Errno = 57
	ENOTSUP      Errno = 58
	EPERM        Errno = 63
	EPIPE        Errno = 64
	ESPIPE       Errno = 70
	ETIMEDOUT    Errno = 73
	ENOTCAPABLE  Errno = 76
)

var errnoNames = [...]string{
	"ESUCCESS", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT",
	"EAGAIN", "EALREADY", "EBADF", "EBADMSG", "EBUSY", "ECANCELED", "ECHILD",
	"ECONNABORTED", "ECONNREFUSED", "ECONNRESET", "EDEADLK", "EDESTADDRREQ",
	"EDOM", "EDQUOT", "EEXIST", "EFAULT", "EFBIG", "EHOSTUNREACH", "EIDRM",
	"EILSEQ", "EINPROGRESS", "EINTR", "EINVAL", "EIO", "EISCONN", "EISDIR",
	"ELOOP", "EMFILE", "EMLINK", "EMSGSIZE", "EMULTIHOP", "ENAMETOOLONG",
	"ENETDOWN", "ENETRESET", "ENETUNREACH", "ENFILE", "ENOBUFS", "ENODEV",
	"ENOENT", "ENOEXEC", "ENOLCK", "ENOLINK", "ENOMEM", "ENOMSG", "ENOPROTOOPT",
	"ENOSPC", "ENOSYS", "ENOTCONN", "ENOTDIR", "ENOTEMPTY", "ENOTRECOVERABLE",
	"ENOTSOCK", "ENOTSUP", "ENOTTY", "ENXIO", "EOVERFLOW", "EOWNERDEAD", "EPERM",
	"EPIPE", "EPROTO", "EPROTONOSUPPORT", "EPROTOTYPE", "ERANGE", "EROFS",
	"ESPIPE", "ESRCH", "ESTALE", "ETIMEDOUT", "ETXTBSY", "EXDEV", "ENOTCAPABLE",
}

// String returns the errno's name, e.g. "EFAULT".
func (e Errno) String() string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return "errno(" + itoa(int(e)) + ")"
}

// Error makes Errno an error: "errno 21 (EFAULT)".
func (e Errno) Error() string { return "errno " + itoa(int(e)) + " (" + e.String() + ")" }

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// errnoOf maps a host error (from the OS or the net package) to a WASI errno.
func errnoOf(err error) Errno {
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
