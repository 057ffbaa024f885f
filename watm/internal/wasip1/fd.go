package wasip1

import (
	"github.com/tetratelabs/wazero/api"
)

// allRights is every WASI right: the host does not restrict by rights, it
// restricts by what exists in the fd table.
const allRights = uint64(1)<<29 - 1

// The functions on descriptors check every pointer first (EFAULT), then
// the descriptor (EBADF): a call with both wrong is EFAULT.

// fd_read(fd, iovs, iovs_len, result.nread) reads from a socket, the config
// file or stdin into the module's iovecs. Every pointer is checked before any
// byte is consumed, so a bad pointer (EFAULT) loses no data. Only the first
// iovec may wait; the rest take what is already there.
// Errnos: EFAULT, EBADF, EAGAIN (non-blocking, nothing ready, or the socket
// is throttled by a full write queue), EISDIR (a directory), the socket's
// errors (ECONNRESET, EPIPE, ...).
var fdRead = wasiFunc("fd_read", fdReadFn, Params(i32, i32, i32, i32), "fd", "iovs", "iovs_len", "result.nread")

func fdReadFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, iovs, iovsLen, resultPtr := int32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	return c.readv(mem, fd, iovs, iovsLen, resultPtr)
}

// fd_write(fd, iovs, iovs_len, result.nwritten) is fd_read's mirror. On a
// non-blocking socket every byte is taken (written or queued) or none.
// Errnos: EFAULT, EBADF, EAGAIN (non-blocking socket, queue full, for a
// module that waits for writability), EISDIR (a directory), EPIPE (a
// pending shutdown), the socket's errors.
var fdWrite = wasiFunc("fd_write", fdWriteFn, Params(i32, i32, i32, i32), "fd", "iovs", "iovs_len", "result.nwritten")

func fdWriteFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, iovs, iovsLen, resultPtr := int32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if fd == 1 || fd == 2 {
		c.Counters.StdioWrites.Add(1)
	}
	return c.writev(mem, fd, iovs, iovsLen, resultPtr)
}

// CheckIovecs validates an iovec array and every buffer it points to:
// EFAULT when any lies outside memory.
func CheckIovecs(mem api.Memory, iovs, n uint32) Errno {
	if uint64(n)*8 > uint64(mem.Size()) || !inRange(mem, iovs, n*8) {
		return EFAULT
	}
	for i := uint32(0); i < n; i++ {
		off, _ := mem.ReadUint32Le(iovs + i*8)
		l, _ := mem.ReadUint32Le(iovs + i*8 + 4)
		if !inRange(mem, off, l) {
			return EFAULT
		}
	}
	return ESUCCESS
}

// Iovec returns buffer i of a checked iovec array.
func Iovec(mem api.Memory, iovs, i uint32) []byte {
	off, _ := mem.ReadUint32Le(iovs + i*8)
	l, _ := mem.ReadUint32Le(iovs + i*8 + 4)
	b, _ := mem.Read(off, l)
	return b
}

// readv is fd_read. A non-blocking read from a throttled socket (another
// socket's write queue is full) answers EAGAIN: the module gets no more
// input to write there until the queue drains.
func (c *Context) readv(mem api.Memory, fd int32, iovs, n, resultPtr uint32) Errno {
	if c.fullQueues.Load() > 0 && inRange(mem, resultPtr, 4) && CheckIovecs(mem, iovs, n) == ESUCCESS {
		if f, flags, e := c.fds.get(fd); e == ESUCCESS && flags&fdflagNonblock != 0 {
			if s, ok := f.(*SockFile); ok && c.throttled(s) {
				return EAGAIN
			}
		}
	}
	return c.iov(mem, fd, iovs, n, resultPtr, File.Read)
}

// writev is fd_write: on a non-blocking socket every byte is taken or none
// (writeWhole); elsewhere it is iov.
func (c *Context) writev(mem api.Memory, fd int32, iovs, n, resultPtr uint32) Errno {
	if !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	if e := CheckIovecs(mem, iovs, n); e != ESUCCESS {
		return e
	}
	f, flags, e := c.fds.get(fd)
	s, ok := f.(*SockFile)
	if e != ESUCCESS || !ok {
		return c.iov(mem, fd, iovs, n, resultPtr, File.Write)
	}
	if flags&fdflagNonblock == 0 {
		if s.wq != nil {
			s.wq.waitEmpty()
		}
		return c.iov(mem, fd, iovs, n, resultPtr, File.Write)
	}
	bufs := c.iovScratch[:0]
	for i := uint32(0); i < n; i++ {
		bufs = append(bufs, Iovec(mem, iovs, i))
	}
	done, e := c.writeWhole(s, bufs)
	clear(bufs)
	c.iovScratch = bufs[:0]
	if e != ESUCCESS {
		return c.HostErrno(e)
	}
	mem.WriteUint32Le(resultPtr, uint32(done))
	return ESUCCESS
}

// resultFD returns fd's entry for a function that writes size bytes at
// resultPtr: EFAULT for a result outside memory comes before EBADF, as
// everywhere in this package.
func (c *Context) resultFD(mem api.Memory, fd int32, resultPtr, size uint32) (File, uint16, Errno) {
	if !inRange(mem, resultPtr, size) {
		return nil, 0, EFAULT
	}
	return c.fds.get(fd)
}

// iov moves bytes between fd and the module's iovecs with op (read or
// write), then stores the count at resultPtr. Only the first non-empty
// iovec may wait (in blocking mode); the rest take what is ready.
func (c *Context) iov(mem api.Memory, fd int32, iovs, n, resultPtr uint32,
	op func(f File, p []byte, nonblock bool) (int, Errno)) Errno {
	if !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	if e := CheckIovecs(mem, iovs, n); e != ESUCCESS {
		return e
	}
	f, flags, e := c.fds.get(fd)
	if e != ESUCCESS {
		return e
	}
	nonblock := flags&fdflagNonblock != 0
	if s, ok := f.(*SockFile); ok {
		if s.wq != nil {
			if e := s.wq.takeErr(); e != ESUCCESS {
				return c.HostErrno(e) // the flusher's write error
			}
		}
	}
	total := 0
	for i := uint32(0); i < n; i++ {
		buf := Iovec(mem, iovs, i)
		if len(buf) == 0 {
			continue
		}
		done, e := op(f, buf, nonblock || total > 0)
		if e != ESUCCESS {
			if total > 0 && e == EAGAIN {
				break
			}
			return c.HostErrno(e)
		}
		total += done
		if done < len(buf) {
			break
		}
	}
	mem.WriteUint32Le(resultPtr, uint32(total))
	return ESUCCESS
}

// fd_close(fd) closes and forgets a descriptor. Errnos: EBADF.
var fdClose = wasiFunc("fd_close", fdCloseFn, Params(i32), "fd")

func fdCloseFn(c *Context, _ api.Memory, stack []uint64) Errno {
	fd := int32(stack[0])
	f, e := c.fds.remove(fd)
	if e != ESUCCESS {
		return e
	}
	_ = f.Close()
	return ESUCCESS
}

// fd_fdstat_get(fd, result.stat) writes the 24-byte fdstat: filetype u8 @0,
// flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16. Sockets are
// SOCKET_STREAM, which is what Go's net.FileConn checks for.
// Errnos: EFAULT, EBADF.
var fdFdstatGet = wasiFunc("fd_fdstat_get", fdFdstatGetFn, Params(i32, i32), "fd", "result.stat")

func fdFdstatGetFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, resultPtr := int32(stack[0]), uint32(stack[1])
	f, flags, e := c.resultFD(mem, fd, resultPtr, 24)
	if e != ESUCCESS {
		return e
	}
	buf, _ := mem.Read(resultPtr, 24)
	clear(buf)
	buf[0] = f.Filetype()
	mem.WriteUint16Le(resultPtr+2, flags)
	mem.WriteUint64Le(resultPtr+8, allRights)
	mem.WriteUint64Le(resultPtr+16, allRights)
	return ESUCCESS
}

// fd_fdstat_set_flags(fd, flags): only NONBLOCK changes behaviour; APPEND,
// DSYNC, RSYNC and SYNC are recorded and mean nothing for a socket.
// Errnos: EINVAL (a flag WASI does not define), EBADF.
var fdFdstatSetFlags = wasiFunc("fd_fdstat_set_flags", fdFdstatSetFlagsFn, Params(i32, i32), "fd", "flags")

func fdFdstatSetFlagsFn(c *Context, _ api.Memory, stack []uint64) Errno {
	fd, flags := int32(stack[0]), uint16(stack[1])
	if flags&^0x1f != 0 {
		return EINVAL
	}
	return c.fds.setFlags(fd, flags)
}

// fd_filestat_get(fd, result.filestat) writes the 64-byte filestat: the
// filetype @16 and, for the config file, its size @32; the rest is zero.
// Errnos: EFAULT, EBADF.
var fdFilestatGet = wasiFunc("fd_filestat_get", fdFilestatGetFn, Params(i32, i32), "fd", "result.filestat")

func fdFilestatGetFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, resultPtr := int32(stack[0]), uint32(stack[1])
	f, _, e := c.resultFD(mem, fd, resultPtr, 64)
	if e != ESUCCESS {
		return e
	}
	buf, _ := mem.Read(resultPtr, 64)
	clear(buf)
	buf[16] = f.Filetype()
	mem.WriteUint64Le(resultPtr+24, 1)
	if sz, ok := f.(interface{ size() uint64 }); ok {
		mem.WriteUint64Le(resultPtr+32, sz.size())
	}
	return ESUCCESS
}

// fd_seek(fd, offset, whence, result.newoffset): the config file seeks;
// sockets answer ESPIPE.
// Errnos: EFAULT, EBADF, ESPIPE, EINVAL (a bad whence, or before the start).
var fdSeek = wasiFunc("fd_seek", fdSeekFn, Params(i32, i64, i32, i32), "fd", "offset", "whence", "result.newoffset")

func fdSeekFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, offset, whence, resultPtr := int32(stack[0]), int64(stack[1]), uint8(stack[2]), uint32(stack[3])
	if !inRange(mem, resultPtr, 8) {
		return EFAULT
	}
	return c.seek(fd, offset, whence, mem, resultPtr)
}

// fd_tell(fd, result.offset) is fd_seek(fd, 0, CUR).
// Errnos: EFAULT, EBADF, ESPIPE.
var fdTell = wasiFunc("fd_tell", fdTellFn, Params(i32, i32), "fd", "result.offset")

func fdTellFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, resultPtr := int32(stack[0]), uint32(stack[1])
	if !inRange(mem, resultPtr, 8) {
		return EFAULT
	}
	return c.seek(fd, 0, whenceCur, mem, resultPtr)
}

const (
	whenceSet = 0
	whenceCur = 1
	whenceEnd = 2
)

func (c *Context) seek(fd int32, off int64, whence uint8, mem api.Memory, resultPtr uint32) Errno {
	f, _, e := c.fds.get(fd)
	if e != ESUCCESS {
		return e
	}
	sk, ok := f.(interface {
		seek(int64, uint8) (uint64, Errno)
	})
	if !ok {
		return ESPIPE
	}
	pos, e := sk.seek(off, whence)
	if e == ESUCCESS {
		mem.WriteUint64Le(resultPtr, pos)
	}
	return e
}

// fd_pread(fd, iovs, iovs_len, offset, result.nread): the config file can
// be read at an offset; sockets answer ESPIPE.
// Errnos: EFAULT, EBADF, ESPIPE.
var fdPread = wasiFunc("fd_pread", fdPreadFn, Params(i32, i32, i32, i64, i32), "fd", "iovs", "iovs_len", "offset", "result.nread")

func fdPreadFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, iovs, iovsLen, offset, resultPtr := int32(stack[0]), uint32(stack[1]), uint32(stack[2]), int64(stack[3]), uint32(stack[4])
	if !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	if e := CheckIovecs(mem, iovs, iovsLen); e != ESUCCESS {
		return e
	}
	f, _, e := c.fds.get(fd)
	if e != ESUCCESS {
		return e
	}
	m, ok := f.(*memFile)
	if !ok {
		return ESPIPE
	}
	total := 0
	for i := uint32(0); i < iovsLen; i++ {
		total += m.readAt(Iovec(mem, iovs, i), offset+int64(total))
	}
	mem.WriteUint32Le(resultPtr, uint32(total))
	return ESUCCESS
}

// fd_pwrite(fd, iovs, iovs_len, offset, result.nwritten): nothing can be
// written at an offset; on the config file it is EBADF, as fd_write: it is
// read-only. Errnos: EFAULT, EBADF, ESPIPE.
var fdPwrite = wasiFunc("fd_pwrite", fdPwriteFn, Params(i32, i32, i32, i64, i32), "fd", "iovs", "iovs_len", "offset", "result.nwritten")

func fdPwriteFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, iovs, iovsLen, resultPtr := int32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[4])
	if !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	if e := CheckIovecs(mem, iovs, iovsLen); e != ESUCCESS {
		return e
	}
	f, _, e := c.fds.get(fd)
	if e != ESUCCESS {
		return e
	}
	if _, ok := f.(*memFile); ok {
		return EBADF
	}
	return ESPIPE
}

// fd_advise(fd, offset, len, advice) takes the hint and ignores it; an
// advice WASI does not define (above 5, NOREUSE) is EINVAL, as wazero
// answers. Errnos: EBADF, EINVAL.
var fdAdvise = wasiFunc("fd_advise", fdAdviseFn, Params(i32, i64, i64, i32), "fd", "offset", "len", "advice")

func fdAdviseFn(c *Context, _ api.Memory, stack []uint64) Errno {
	fd, advice := int32(stack[0]), uint8(stack[3])
	if _, _, e := c.fds.get(fd); e != ESUCCESS {
		return e
	}
	if advice > 5 {
		return EINVAL
	}
	return ESUCCESS
}

// fdOnly declares a function that only checks its descriptor (its first
// parameter), then answers with errno: the file-system operations a socket
// or config file cannot do. Errnos: EBADF, or errno.
func fdOnly(name string, errno Errno, params []api.ValueType, names ...string) *Func[*Context] {
	return wasiFunc(name, func(c *Context, _ api.Memory, stack []uint64) Errno {
		fd := int32(stack[0])
		if _, _, e := c.fds.get(fd); e != ESUCCESS {
			return e
		}
		return errno
	}, params, names...)
}

var (
	// fd_allocate(fd, offset, len). Errnos: EBADF, ENOTSUP.
	fdAllocate = fdOnly("fd_allocate", ENOTSUP, Params(i32, i64, i64), "fd", "offset", "len")
	// fd_datasync(fd). Errnos: EBADF, EINVAL.
	fdDatasync = fdOnly("fd_datasync", EINVAL, Params(i32), "fd")
	// fd_sync(fd). Errnos: EBADF, EINVAL.
	fdSync = fdOnly("fd_sync", EINVAL, Params(i32), "fd")
	// fd_fdstat_set_rights(fd, fs_rights_base, fs_rights_inheriting).
	// Errnos: EBADF, ENOTSUP.
	fdFdstatSetRights = fdOnly("fd_fdstat_set_rights", ENOTSUP, Params(i32, i64, i64), "fd", "fs_rights_base", "fs_rights_inheriting")
	// fd_filestat_set_size(fd, size). Errnos: EBADF, EINVAL.
	fdFilestatSetSize = fdOnly("fd_filestat_set_size", EINVAL, Params(i32, i64), "fd", "size")
	// fd_filestat_set_times(fd, atim, mtim, fst_flags). Errnos: EBADF, ENOTSUP.
	fdFilestatSetTimes = fdOnly("fd_filestat_set_times", ENOTSUP, Params(i32, i64, i64, i32), "fd", "atim", "mtim", "fst_flags")
	// fd_renumber(fd, to). Errnos: EBADF, ENOTSUP.
	fdRenumber = fdOnly("fd_renumber", ENOTSUP, Params(i32, i32), "fd", "to")
)
