package watm

import (
	"github.com/tetratelabs/wazero/api"
)

// sock_recv(fd, ri_data, ri_data_len, ri_flags, result.ro_datalen,
// result.ro_flags) is fd_read on a socket; RECV_PEEK and RECV_WAITALL are
// not supported (ENOTSUP), ro_flags is always 0.
var sockRecv = &hostFunc{name: "sock_recv", params: params(i32, i32, i32, i32, i32, i32),
	names: []string{"fd", "ri_data", "ri_data_len", "ri_flags", "result.ro_datalen", "result.ro_flags"},
	body: func(in *instance, mem api.Memory, s []uint64) Errno {
		flagsPtr := p32(s, 5)
		if !inRange(mem, flagsPtr, 2) {
			return EFAULT
		}
		if e := in.sockOnly(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 4)); e != ESUCCESS {
			return e
		}
		if uint16(s[3]) != 0 {
			return ENOTSUP
		}
		if e := in.readv(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 4)); e != ESUCCESS {
			return e
		}
		mem.WriteUint16Le(flagsPtr, 0)
		return ESUCCESS
	}}

// sock_send(fd, si_data, si_data_len, si_flags, result.so_datalen) is
// fd_write on a socket; WASI defines no si_flags, so any is ENOTSUP (as
// wazero answers).
var sockSend = &hostFunc{name: "sock_send", params: params(i32, i32, i32, i32, i32),
	names: []string{"fd", "si_data", "si_data_len", "si_flags", "result.so_datalen"},
	body: func(in *instance, mem api.Memory, s []uint64) Errno {
		if e := in.sockOnly(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 4)); e != ESUCCESS {
			return e
		}
		if uint16(s[3]) != 0 {
			return ENOTSUP
		}
		return in.writev(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 4))
	}}

// sockOnly checks pointers, then that fd is a socket.
func (in *instance) sockOnly(mem api.Memory, fd int32, iovs, n, resultPtr uint32) Errno {
	if !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	if e := checkIovecs(mem, iovs, n); e != ESUCCESS {
		return e
	}
	f, _, e := in.fds.get(fd)
	if e != ESUCCESS {
		return e
	}
	if f.filetype() != filetypeSocketStream {
		return ENOTSOCK
	}
	return ESUCCESS
}

// sock_shutdown(fd, how): how is RD (1), WR (2) or both. Shutting down WR
// is how a module propagates a half-close to its peer.
var sockShutdown = &hostFunc{name: "sock_shutdown", params: params(i32, i32), names: []string{"fd", "how"},
	body: func(in *instance, _ api.Memory, s []uint64) Errno {
		f, _, e := in.fds.get(int32(s[0]))
		if e != ESUCCESS {
			return e
		}
		return in.hostErrno(f.shutdown(uint8(s[1])))
	}}

// sock_accept(fd, flags, result.fd): a WATM receives connections through
// host_accept, never by accepting on a socket of its own.
var sockAccept = &hostFunc{name: "sock_accept", params: params(i32, i32, i32), names: []string{"fd", "flags", "result.fd"},
	body: func(in *instance, mem api.Memory, s []uint64) Errno {
		if !inRange(mem, p32(s, 2), 4) {
			return EFAULT
		}
		f, _, e := in.fds.get(int32(s[0]))
		if e != ESUCCESS {
			return e
		}
		if f.filetype() != filetypeSocketStream {
			return ENOTSOCK
		}
		return ENOTSUP
	}}
