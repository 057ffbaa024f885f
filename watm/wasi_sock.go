package watm

import (
	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// sock_recv(fd, ri_data, ri_data_len, ri_flags, result.ro_datalen,
// result.ro_flags) is fd_read on a socket; RECV_PEEK and RECV_WAITALL are
// not supported (ENOTSUP), ro_flags is always 0.
var sockRecv = &hostFunc{name: "sock_recv", params: params(i32, i32, i32, i32, i32, i32),
	names: []string{"fd", "ri_data", "ri_data_len", "ri_flags", "result.ro_datalen", "result.ro_flags"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		flagsPtr := p32(s, 5)
		if !inRange(mem, flagsPtr, 2) {
			return wasip1.EFAULT
		}
		if e := in.sockOnly(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 4)); e != wasip1.ESUCCESS {
			return e
		}
		if uint16(s[3]) != 0 {
			return wasip1.ENOTSUP
		}
		if e := in.readv(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 4)); e != wasip1.ESUCCESS {
			return e
		}
		mem.WriteUint16Le(flagsPtr, 0)
		return wasip1.ESUCCESS
	}}

// sock_send(fd, si_data, si_data_len, si_flags, result.so_datalen) is
// fd_write on a socket.
var sockSend = &hostFunc{name: "sock_send", params: params(i32, i32, i32, i32, i32),
	names: []string{"fd", "si_data", "si_data_len", "si_flags", "result.so_datalen"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		if e := in.sockOnly(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 4)); e != wasip1.ESUCCESS {
			return e
		}
		return in.writev(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 4))
	}}

// sockOnly checks pointers, then that fd is a socket.
func (in *instance) sockOnly(mem api.Memory, fd int32, iovs, n, resultPtr uint32) wasip1.Errno {
	if !inRange(mem, resultPtr, 4) {
		return wasip1.EFAULT
	}
	if e := checkIovecs(mem, iovs, n); e != wasip1.ESUCCESS {
		return e
	}
	f, _, e := in.fds.get(fd)
	if e != wasip1.ESUCCESS {
		return e
	}
	if f.filetype() != filetypeSocketStream {
		return wasip1.ENOTSOCK
	}
	return wasip1.ESUCCESS
}

// sock_shutdown(fd, how): how is RD (1), WR (2) or both. Shutting down WR
// is how a module propagates a half-close to its peer.
var sockShutdown = &hostFunc{name: "sock_shutdown", params: params(i32, i32), names: []string{"fd", "how"},
	body: func(in *instance, _ api.Memory, s []uint64) wasip1.Errno {
		f, _, e := in.fds.get(int32(s[0]))
		if e != wasip1.ESUCCESS {
			return e
		}
		return in.hostErrno(f.shutdown(uint8(s[1])))
	}}

// sock_accept(fd, flags, result.fd): a WATM receives connections through
// host_accept, never by accepting on a socket of its own.
var sockAccept = &hostFunc{name: "sock_accept", params: params(i32, i32, i32), names: []string{"fd", "flags", "result.fd"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		if !inRange(mem, p32(s, 2), 4) {
			return wasip1.EFAULT
		}
		f, _, e := in.fds.get(int32(s[0]))
		if e != wasip1.ESUCCESS {
			return e
		}
		if f.filetype() != filetypeSocketStream {
			return wasip1.ENOTSOCK
		}
		return wasip1.ENOTSUP
	}}
