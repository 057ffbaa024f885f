package wasip1

import (
	"github.com/tetratelabs/wazero/api"
)

// sock_recv(fd, ri_data, ri_data_len, ri_flags, result.ro_datalen,
// result.ro_flags) is fd_read on a socket; RECV_PEEK and RECV_WAITALL are
// not supported (ENOTSUP), ro_flags is always 0.
// Errnos: EFAULT, EBADF, ENOTSOCK, ENOTSUP, and fd_read's.
var sockRecv = wasiFunc("sock_recv", sockRecvFn, Params(i32, i32, i32, i32, i32, i32),
	"fd", "ri_data", "ri_data_len", "ri_flags", "result.ro_datalen", "result.ro_flags")

func sockRecvFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, iovs, iovsLen, riFlags := int32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint16(stack[3])
	resultPtr, flagsPtr := uint32(stack[4]), uint32(stack[5])
	if !inRange(mem, flagsPtr, 2) {
		return EFAULT
	}
	if e := c.sockOnly(mem, fd, iovs, iovsLen, resultPtr); e != ESUCCESS {
		return e
	}
	if riFlags != 0 {
		return ENOTSUP
	}
	if e := c.readv(mem, fd, iovs, iovsLen, resultPtr); e != ESUCCESS {
		return e
	}
	mem.WriteUint16Le(flagsPtr, 0)
	return ESUCCESS
}

// sock_send(fd, si_data, si_data_len, si_flags, result.so_datalen) is
// fd_write on a socket; WASI defines no si_flags, so any is ENOTSUP (as
// wazero answers). Errnos: EFAULT, EBADF, ENOTSOCK, ENOTSUP, and fd_write's.
var sockSend = wasiFunc("sock_send", sockSendFn, Params(i32, i32, i32, i32, i32),
	"fd", "si_data", "si_data_len", "si_flags", "result.so_datalen")

func sockSendFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, iovs, iovsLen, siFlags, resultPtr := int32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint16(stack[3]), uint32(stack[4])
	if e := c.sockOnly(mem, fd, iovs, iovsLen, resultPtr); e != ESUCCESS {
		return e
	}
	if siFlags != 0 {
		return ENOTSUP
	}
	return c.writev(mem, fd, iovs, iovsLen, resultPtr)
}

// sockOnly checks pointers, then that fd is a socket.
func (c *Context) sockOnly(mem api.Memory, fd int32, iovs, n, resultPtr uint32) Errno {
	if !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	if e := CheckIovecs(mem, iovs, n); e != ESUCCESS {
		return e
	}
	f, _, e := c.fds.get(fd)
	if e != ESUCCESS {
		return e
	}
	if f.Filetype() != FiletypeSocketStream {
		return ENOTSOCK
	}
	return ESUCCESS
}

// sock_shutdown(fd, how): how is RD (1), WR (2) or both. Shutting down WR
// is how a module propagates a half-close to its peer; with bytes queued,
// after the last of them.
// Errnos: EBADF, EINVAL (how), ENOTSOCK, the socket's errors (ENOTCONN, ...).
var sockShutdown = wasiFunc("sock_shutdown", sockShutdownFn, Params(i32, i32), "fd", "how")

func sockShutdownFn(c *Context, _ api.Memory, stack []uint64) Errno {
	fd, how := int32(stack[0]), uint8(stack[1])
	f, _, e := c.fds.get(fd)
	if e != ESUCCESS {
		return e
	}
	return c.HostErrno(f.Shutdown(how))
}

// sock_accept(fd, flags, result.fd): a WATM receives connections through
// host_accept, never by accepting on a socket of its own.
// Errnos: EFAULT, EBADF, ENOTSOCK, ENOTSUP.
var sockAccept = wasiFunc("sock_accept", sockAcceptFn, Params(i32, i32, i32), "fd", "flags", "result.fd")

func sockAcceptFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, resultPtr := int32(stack[0]), uint32(stack[2])
	f, _, e := c.resultFD(mem, fd, resultPtr, 4)
	if e != ESUCCESS {
		return e
	}
	if f.Filetype() != FiletypeSocketStream {
		return ENOTSOCK
	}
	return ENOTSUP
}
