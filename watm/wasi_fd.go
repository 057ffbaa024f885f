package watm

import (
	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// allRights is every WASI right: the host does not restrict by rights, it
// restricts by what exists in the fd table.
const allRights = uint64(1)<<29 - 1

// fd_read(fd, iovs, iovs_len, result.nread) reads from a socket, the config
// file or stdin into the module's iovecs. Every pointer is checked before any
// byte is consumed, so a bad pointer (EFAULT) loses no data. Only the first
// iovec may wait; the rest take what is already there.
var fdRead = &hostFunc{name: "fd_read", params: params(i32, i32, i32, i32), names: []string{"fd", "iovs", "iovs_len", "result.nread"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		return in.readv(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 3))
	}}

// fd_write(fd, iovs, iovs_len, result.nwritten) is fd_read's mirror.
var fdWrite = &hostFunc{name: "fd_write", params: params(i32, i32, i32, i32), names: []string{"fd", "iovs", "iovs_len", "result.nwritten"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		if fd := int32(s[0]); fd == 1 || fd == 2 {
			in.behaviour.stdioWrites.Add(1)
		}
		return in.writev(mem, int32(s[0]), p32(s, 1), p32(s, 2), p32(s, 3))
	}}

// checkIovecs validates an iovec array and every buffer it points to.
func checkIovecs(mem api.Memory, iovs, n uint32) wasip1.Errno {
	if uint64(n)*8 > uint64(mem.Size()) || !inRange(mem, iovs, n*8) {
		return wasip1.EFAULT
	}
	for i := uint32(0); i < n; i++ {
		off, _ := mem.ReadUint32Le(iovs + i*8)
		l, _ := mem.ReadUint32Le(iovs + i*8 + 4)
		if !inRange(mem, off, l) {
			return wasip1.EFAULT
		}
	}
	return wasip1.ESUCCESS
}

func iovec(mem api.Memory, iovs, i uint32) []byte {
	off, _ := mem.ReadUint32Le(iovs + i*8)
	l, _ := mem.ReadUint32Le(iovs + i*8 + 4)
	b, _ := mem.Read(off, l)
	return b
}

// readv is fd_read. A non-blocking read from a throttled socket (another
// socket's write queue is full) answers EAGAIN: the module gets no more
// input to write there until the queue drains.
func (in *instance) readv(mem api.Memory, fd int32, iovs, n, resultPtr uint32) wasip1.Errno {
	if in.fullQueues.Load() > 0 && inRange(mem, resultPtr, 4) && checkIovecs(mem, iovs, n) == wasip1.ESUCCESS {
		if f, flags, e := in.fds.get(fd); e == wasip1.ESUCCESS && flags&fdflagNonblock != 0 {
			if s, ok := f.(*sockFile); ok && in.throttled(s) {
				return wasip1.EAGAIN
			}
		}
	}
	return in.iov(mem, fd, iovs, n, resultPtr, file.read)
}

// writev is fd_write: on a non-blocking socket every byte is taken or none
// (writeWhole); elsewhere it is iov.
func (in *instance) writev(mem api.Memory, fd int32, iovs, n, resultPtr uint32) wasip1.Errno {
	if !inRange(mem, resultPtr, 4) {
		return wasip1.EFAULT
	}
	if e := checkIovecs(mem, iovs, n); e != wasip1.ESUCCESS {
		return e
	}
	f, flags, e := in.fds.get(fd)
	s, ok := f.(*sockFile)
	if e != wasip1.ESUCCESS || !ok {
		return in.iov(mem, fd, iovs, n, resultPtr, file.write)
	}
	if flags&fdflagNonblock == 0 {
		if s.wq != nil {
			s.wq.waitEmpty()
		}
		return in.iov(mem, fd, iovs, n, resultPtr, file.write)
	}
	bufs := in.iovScratch[:0]
	for i := uint32(0); i < n; i++ {
		bufs = append(bufs, iovec(mem, iovs, i))
	}
	done, e := in.writeWhole(s, bufs)
	clear(bufs)
	in.iovScratch = bufs[:0]
	if e != wasip1.ESUCCESS {
		return in.hostErrno(e)
	}
	mem.WriteUint32Le(resultPtr, uint32(done))
	return wasip1.ESUCCESS
}

// iov moves bytes between fd and the module's iovecs with op (read or
// write), then stores the count at resultPtr. Only the first non-empty
// iovec may wait (in blocking mode); the rest take what is ready.
func (in *instance) iov(mem api.Memory, fd int32, iovs, n, resultPtr uint32,
	op func(f file, p []byte, nonblock bool) (int, wasip1.Errno)) wasip1.Errno {
	if !inRange(mem, resultPtr, 4) {
		return wasip1.EFAULT
	}
	if e := checkIovecs(mem, iovs, n); e != wasip1.ESUCCESS {
		return e
	}
	f, flags, e := in.fds.get(fd)
	if e != wasip1.ESUCCESS {
		return e
	}
	nonblock := flags&fdflagNonblock != 0
	if s, ok := f.(*sockFile); ok {
		if s.wq != nil {
			if e := s.wq.takeErr(); e != wasip1.ESUCCESS {
				return in.hostErrno(e) // the flusher's write error
			}
		}
	}
	total := 0
	for i := uint32(0); i < n; i++ {
		buf := iovec(mem, iovs, i)
		if len(buf) == 0 {
			continue
		}
		done, e := op(f, buf, nonblock || total > 0)
		if e != wasip1.ESUCCESS {
			if total > 0 && e == wasip1.EAGAIN {
				break
			}
			return in.hostErrno(e)
		}
		total += done
		if done < len(buf) {
			break
		}
	}
	mem.WriteUint32Le(resultPtr, uint32(total))
	return wasip1.ESUCCESS
}

// fd_close(fd) closes and forgets a descriptor.
var fdClose = &hostFunc{name: "fd_close", params: params(i32), names: []string{"fd"},
	body: func(in *instance, _ api.Memory, s []uint64) wasip1.Errno {
		f, e := in.fds.remove(int32(s[0]))
		if e != wasip1.ESUCCESS {
			return e
		}
		_ = f.close()
		return wasip1.ESUCCESS
	}}

// fd_fdstat_get(fd, result.stat) writes the 24-byte fdstat: filetype u8 @0,
// flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16. Sockets are
// SOCKET_STREAM, which is what Go's net.FileConn checks for.
var fdFdstatGet = &hostFunc{name: "fd_fdstat_get", params: params(i32, i32), names: []string{"fd", "result.stat"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		ptr := p32(s, 1)
		if !inRange(mem, ptr, 24) {
			return wasip1.EFAULT
		}
		f, flags, e := in.fds.get(int32(s[0]))
		if e != wasip1.ESUCCESS {
			return e
		}
		buf, _ := mem.Read(ptr, 24)
		clear(buf)
		buf[0] = f.filetype()
		mem.WriteUint16Le(ptr+2, flags)
		mem.WriteUint64Le(ptr+8, allRights)
		mem.WriteUint64Le(ptr+16, allRights)
		return wasip1.ESUCCESS
	}}

// fd_fdstat_set_flags(fd, flags): only NONBLOCK changes behaviour; APPEND,
// DSYNC, RSYNC and SYNC are recorded and mean nothing for a socket.
var fdFdstatSetFlags = &hostFunc{name: "fd_fdstat_set_flags", params: params(i32, i32), names: []string{"fd", "flags"},
	body: func(in *instance, _ api.Memory, s []uint64) wasip1.Errno {
		flags := uint16(s[1])
		if flags&^0x1f != 0 {
			return wasip1.EINVAL
		}
		return in.fds.setFlags(int32(s[0]), flags)
	}}

// fd_filestat_get(fd, result.filestat) writes the 64-byte filestat: the
// filetype @16 and, for the config file, its size @32; the rest is zero.
var fdFilestatGet = &hostFunc{name: "fd_filestat_get", params: params(i32, i32), names: []string{"fd", "result.filestat"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		ptr := p32(s, 1)
		if !inRange(mem, ptr, 64) {
			return wasip1.EFAULT
		}
		f, _, e := in.fds.get(int32(s[0]))
		if e != wasip1.ESUCCESS {
			return e
		}
		buf, _ := mem.Read(ptr, 64)
		clear(buf)
		buf[16] = f.filetype()
		mem.WriteUint64Le(ptr+24, 1)
		if sz, ok := f.(interface{ size() uint64 }); ok {
			mem.WriteUint64Le(ptr+32, sz.size())
		}
		return wasip1.ESUCCESS
	}}

// fd_seek(fd, offset, whence, result.newoffset): the config file seeks;
// sockets answer ESPIPE.
var fdSeek = &hostFunc{name: "fd_seek", params: params(i32, i64, i32, i32), names: []string{"fd", "offset", "whence", "result.newoffset"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		ptr := p32(s, 3)
		if !inRange(mem, ptr, 8) {
			return wasip1.EFAULT
		}
		return in.seek(int32(s[0]), int64(s[1]), uint8(s[2]), mem, ptr)
	}}

// fd_tell(fd, result.offset) is fd_seek(fd, 0, CUR).
var fdTell = &hostFunc{name: "fd_tell", params: params(i32, i32), names: []string{"fd", "result.offset"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		ptr := p32(s, 1)
		if !inRange(mem, ptr, 8) {
			return wasip1.EFAULT
		}
		return in.seek(int32(s[0]), 0, whenceCur, mem, ptr)
	}}

const (
	whenceSet = 0
	whenceCur = 1
	whenceEnd = 2
)

func (in *instance) seek(fd int32, off int64, whence uint8, mem api.Memory, ptr uint32) wasip1.Errno {
	f, _, e := in.fds.get(fd)
	if e != wasip1.ESUCCESS {
		return e
	}
	sk, ok := f.(interface {
		seek(int64, uint8) (uint64, wasip1.Errno)
	})
	if !ok {
		return wasip1.ESPIPE
	}
	pos, e := sk.seek(off, whence)
	if e == wasip1.ESUCCESS {
		mem.WriteUint64Le(ptr, pos)
	}
	return e
}

// fd_pread(fd, iovs, iovs_len, offset, result.nread) and fd_pwrite: the
// config file can be read at an offset; sockets answer ESPIPE.
var fdPread = &hostFunc{name: "fd_pread", params: params(i32, i32, i32, i64, i32), names: []string{"fd", "iovs", "iovs_len", "offset", "result.nread"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		iovs, n, ptr := p32(s, 1), p32(s, 2), p32(s, 4)
		if !inRange(mem, ptr, 4) {
			return wasip1.EFAULT
		}
		if e := checkIovecs(mem, iovs, n); e != wasip1.ESUCCESS {
			return e
		}
		f, _, e := in.fds.get(int32(s[0]))
		if e != wasip1.ESUCCESS {
			return e
		}
		c, ok := f.(*memFile)
		if !ok {
			return wasip1.ESPIPE
		}
		off, total := int64(s[3]), 0
		for i := uint32(0); i < n; i++ {
			got := c.readAt(iovec(mem, iovs, i), off+int64(total))
			total += got
		}
		mem.WriteUint32Le(ptr, uint32(total))
		return wasip1.ESUCCESS
	}}

var fdPwrite = &hostFunc{name: "fd_pwrite", params: params(i32, i32, i32, i64, i32), names: []string{"fd", "iovs", "iovs_len", "offset", "result.nwritten"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		if !inRange(mem, p32(s, 4), 4) {
			return wasip1.EFAULT
		}
		if e := checkIovecs(mem, p32(s, 1), p32(s, 2)); e != wasip1.ESUCCESS {
			return e
		}
		if _, _, e := in.fds.get(int32(s[0])); e != wasip1.ESUCCESS {
			return e
		}
		return wasip1.ESPIPE
	}}

// fdOnly declares a function that only checks its descriptor, then answers
// with errno: the file-system operations a socket or config file cannot do.
func fdOnly(name string, errno wasip1.Errno, ps []string, ts ...paramType) *hostFunc {
	return &hostFunc{name: name, params: ts, names: ps,
		body: func(in *instance, _ api.Memory, s []uint64) wasip1.Errno {
			if _, _, e := in.fds.get(int32(s[0])); e != wasip1.ESUCCESS {
				return e
			}
			return errno
		}}
}

type paramType = api.ValueType

var (
	fdAdvise           = fdOnly("fd_advise", wasip1.ESUCCESS, []string{"fd", "offset", "len", "advice"}, i32, i64, i64, i32)
	fdAllocate         = fdOnly("fd_allocate", wasip1.ENOTSUP, []string{"fd", "offset", "len"}, i32, i64, i64)
	fdDatasync         = fdOnly("fd_datasync", wasip1.EINVAL, []string{"fd"}, i32)
	fdSync             = fdOnly("fd_sync", wasip1.EINVAL, []string{"fd"}, i32)
	fdFdstatSetRights  = fdOnly("fd_fdstat_set_rights", wasip1.ENOTSUP, []string{"fd", "fs_rights_base", "fs_rights_inheriting"}, i32, i64, i64)
	fdFilestatSetSize  = fdOnly("fd_filestat_set_size", wasip1.EINVAL, []string{"fd", "size"}, i32, i64)
	fdFilestatSetTimes = fdOnly("fd_filestat_set_times", wasip1.ENOTSUP, []string{"fd", "atim", "mtim", "fst_flags"}, i32, i64, i64, i32)
	fdRenumber         = fdOnly("fd_renumber", wasip1.ENOTSUP, []string{"fd", "to"}, i32, i32)
)
