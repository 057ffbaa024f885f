package wasip1

import (
	"github.com/tetratelabs/wazero/api"
)

// The only directories a module can see are v1's preopened /conf and the
// host's services (/water). These functions check every pointer first
// (EFAULT), then the descriptor (EBADF, or ENOTDIR when it is not a
// directory); the directories are read-only (EROFS).

// fd_prestat_get(fd, result.prestat) writes tag u8 @0 (0: directory) and
// the name length u32 @4. Runtimes call it for fd 3, 4, ... until EBADF to
// find their preopens. Errnos: EFAULT, EBADF (not open, or no directory).
var fdPrestatGet = wasiFunc("fd_prestat_get", fdPrestatGetFn, Params(i32, i32), "fd", "result.prestat")

func fdPrestatGetFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, resultPtr := int32(stack[0]), uint32(stack[1])
	if !inRange(mem, resultPtr, 8) {
		return EFAULT
	}
	d, e := c.preopen(fd)
	if e != ESUCCESS {
		return e
	}
	mem.WriteUint32Le(resultPtr, 0)
	mem.WriteUint32Le(resultPtr+4, uint32(len(d.name)))
	return ESUCCESS
}

// fd_prestat_dir_name(fd, path, path_len) copies the preopen's name.
// Errnos: EFAULT, EBADF (not open, or no directory), ENAMETOOLONG (path_len
// is shorter than the name).
var fdPrestatDirName = wasiFunc("fd_prestat_dir_name", fdPrestatDirNameFn, Params(i32, i32, i32), "fd", "result.path", "result.path_len")

func fdPrestatDirNameFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, pathPtr, pathLen := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	buf, ok := mem.Read(pathPtr, pathLen)
	if !ok {
		return EFAULT
	}
	d, e := c.preopen(fd)
	if e != ESUCCESS {
		return e
	}
	if len(buf) < len(d.name) {
		return ENAMETOOLONG
	}
	copy(buf, d.name)
	return ESUCCESS
}

func (c *Context) preopen(fd int32) (*DirFile, Errno) {
	f, _, e := c.fds.get(fd)
	if e != ESUCCESS {
		return nil, e
	}
	d, ok := f.(*DirFile)
	if !ok {
		return nil, EBADF
	}
	return d, ESUCCESS
}

// dirAt resolves (fd, path) to a directory and a path string.
func (c *Context) dirAt(mem api.Memory, fd int32, path, pathLen uint32) (*DirFile, string, Errno) {
	b, ok := mem.Read(path, pathLen)
	if !ok {
		return nil, "", EFAULT
	}
	f, _, e := c.fds.get(fd)
	if e != ESUCCESS {
		return nil, "", e
	}
	d, ok := f.(*DirFile)
	if !ok {
		return nil, "", ENOTDIR
	}
	return d, string(b), ESUCCESS
}

// path_open(fd, dirflags, path, path_len, oflags, fs_rights_base,
// fs_rights_inheriting, fdflags, result.opened_fd) opens a file of /conf
// read-only, or a service of /water (read and write). Creating, truncating
// or opening a file for write is EROFS; ENOENT when nothing has the name;
// ENOTDIR when O_DIRECTORY names a file (every name in them is a file).
// Errnos: EFAULT, EBADF, ENOTDIR, ENOENT, EROFS, EMFILE.
var pathOpen = wasiFunc("path_open", pathOpenFn, Params(i32, i32, i32, i32, i32, i64, i64, i32, i32),
	"fd", "dirflags", "path", "path_len", "oflags", "fs_rights_base", "fs_rights_inheriting", "fdflags", "result.opened_fd")

func pathOpenFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, pathPtr, pathLen, oflags := int32(stack[0]), uint32(stack[2]), uint32(stack[3]), uint16(stack[4])
	rightsBase, fdflags, resultPtr := stack[5], uint16(stack[7]), uint32(stack[8])
	if !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	d, path, e := c.dirAt(mem, fd, pathPtr, pathLen)
	if e != ESUCCESS {
		return e
	}
	const oflagsCreatTruncExcl = 1 | 4 | 8
	const oflagsDirectory = 2
	const rightFdWrite = 1 << 6
	if oflags&oflagsCreatTruncExcl != 0 {
		return EROFS
	}
	wantDir := oflags&oflagsDirectory != 0
	var f File
	if open, ok := d.service(path); ok {
		if wantDir {
			return ENOTDIR
		}
		f = open()
	} else {
		data, e := d.lookup(path)
		if e != ESUCCESS {
			return e
		}
		if wantDir {
			return ENOTDIR
		}
		if fdflags&1 != 0 || (rightsBase&rightFdWrite != 0 && rightsBase != allRights) {
			return EROFS
		}
		f = &memFile{data: data}
	}
	opened, e := c.fds.insert(f)
	if e != ESUCCESS {
		return e
	}
	mem.WriteUint32Le(resultPtr, uint32(opened))
	return ESUCCESS
}

// path_filestat_get(fd, flags, path, path_len, result.filestat) writes the
// 64-byte filestat of the directory itself ("" or "."), a service
// (character device) or a file (regular, with its size).
// Errnos: EFAULT, EBADF, ENOTDIR, ENOENT.
var pathFilestatGet = wasiFunc("path_filestat_get", pathFilestatGetFn, Params(i32, i32, i32, i32, i32),
	"fd", "flags", "path", "path_len", "result.filestat")

func pathFilestatGetFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, pathPtr, pathLen, resultPtr := int32(stack[0]), uint32(stack[2]), uint32(stack[3]), uint32(stack[4])
	if !inRange(mem, resultPtr, 64) {
		return EFAULT
	}
	d, path, e := c.dirAt(mem, fd, pathPtr, pathLen)
	if e != ESUCCESS {
		return e
	}
	buf, _ := mem.Read(resultPtr, 64)
	clear(buf)
	if path == "." || path == "" {
		buf[16] = filetypeDirectory
		return ESUCCESS
	}
	if _, ok := d.service(path); ok {
		buf[16] = FiletypeCharDevice
		return ESUCCESS
	}
	data, e := d.lookup(path)
	if e != ESUCCESS {
		return e
	}
	buf[16] = filetypeRegularFile
	mem.WriteUint64Le(resultPtr+24, 1)
	mem.WriteUint64Le(resultPtr+32, uint64(len(data)))
	return ESUCCESS
}

// memArg names a (pointer, length) pair of parameters by their indexes.
type memArg struct{ ptr, len int }

// pathOp declares a function that checks its (pointer, length) pairs and
// its directory descriptors (the parameters named fd, old_fd and new_fd:
// both of path_link and path_rename), and then answers errno: the
// directories cannot be changed. Errnos: EFAULT, EBADF, ENOTDIR, or errno.
func pathOp(name string, errno Errno, params []api.ValueType, names []string, mems ...memArg) *Func[*Context] {
	var dirs []int
	for i, n := range names {
		if n == "fd" || n == "old_fd" || n == "new_fd" {
			dirs = append(dirs, i)
		}
	}
	return wasiFunc(name, func(c *Context, mem api.Memory, stack []uint64) Errno {
		for _, m := range mems {
			if !inRange(mem, uint32(stack[m.ptr]), uint32(stack[m.len])) {
				return EFAULT
			}
		}
		for _, i := range dirs {
			if e := c.dirOnly(int32(stack[i]), ESUCCESS); e != ESUCCESS {
				return e
			}
		}
		return errno
	}, params, names...)
}

// dirOnly answers errno for a directory: EBADF, ENOTDIR or errno.
func (c *Context) dirOnly(fd int32, errno Errno) Errno {
	f, _, e := c.fds.get(fd)
	if e != ESUCCESS {
		return e
	}
	if _, ok := f.(*DirFile); !ok {
		return ENOTDIR
	}
	return errno
}

var (
	// path_create_directory(fd, path, path_len).
	// Errnos: EFAULT, EBADF, ENOTDIR, EROFS.
	pathCreateDirectory = pathOp("path_create_directory", EROFS, Params(i32, i32, i32),
		[]string{"fd", "path", "path_len"}, memArg{1, 2})
	// path_filestat_set_times(fd, flags, path, path_len, atim, mtim, fst_flags).
	// Errnos: EFAULT, EBADF, ENOTDIR, EROFS.
	pathFilestatSetTimes = pathOp("path_filestat_set_times", EROFS, Params(i32, i32, i32, i32, i64, i64, i32),
		[]string{"fd", "flags", "path", "path_len", "atim", "mtim", "fst_flags"}, memArg{2, 3})
	// path_link(old_fd, old_flags, old_path, old_path_len, new_fd, new_path,
	// new_path_len). Errnos: EFAULT, EBADF, ENOTDIR, EROFS.
	pathLink = pathOp("path_link", EROFS, Params(i32, i32, i32, i32, i32, i32, i32),
		[]string{"old_fd", "old_flags", "old_path", "old_path_len", "new_fd", "new_path", "new_path_len"}, memArg{2, 3}, memArg{5, 6})
	// path_remove_directory(fd, path, path_len).
	// Errnos: EFAULT, EBADF, ENOTDIR, EROFS.
	pathRemoveDirectory = pathOp("path_remove_directory", EROFS, Params(i32, i32, i32),
		[]string{"fd", "path", "path_len"}, memArg{1, 2})
	// path_rename(fd, old_path, old_path_len, new_fd, new_path, new_path_len).
	// Errnos: EFAULT, EBADF, ENOTDIR, EROFS.
	pathRename = pathOp("path_rename", EROFS, Params(i32, i32, i32, i32, i32, i32),
		[]string{"fd", "old_path", "old_path_len", "new_fd", "new_path", "new_path_len"}, memArg{1, 2}, memArg{4, 5})
	// path_unlink_file(fd, path, path_len).
	// Errnos: EFAULT, EBADF, ENOTDIR, EROFS.
	pathUnlinkFile = pathOp("path_unlink_file", EROFS, Params(i32, i32, i32),
		[]string{"fd", "path", "path_len"}, memArg{1, 2})
)

// fd_readdir(fd, buf, buf_len, cookie, result.bufused): listing is not
// supported. Errnos: EFAULT, EBADF, ENOTDIR, ENOTSUP.
var fdReaddir = wasiFunc("fd_readdir", fdReaddirFn, Params(i32, i32, i32, i64, i32),
	"fd", "buf", "buf_len", "cookie", "result.bufused")

func fdReaddirFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, bufPtr, bufLen, resultPtr := int32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[4])
	if !inRange(mem, bufPtr, bufLen) || !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	return c.dirOnly(fd, ENOTSUP)
}

// path_readlink(fd, path, path_len, buf, buf_len, result.bufused): the
// directories have no links.
// Errnos: EFAULT, EBADF, ENOTDIR, ENOENT, EINVAL (not a link).
var pathReadlink = wasiFunc("path_readlink", pathReadlinkFn, Params(i32, i32, i32, i32, i32, i32),
	"fd", "path", "path_len", "buf", "buf_len", "result.bufused")

func pathReadlinkFn(c *Context, mem api.Memory, stack []uint64) Errno {
	fd, pathPtr, pathLen := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	bufPtr, bufLen, resultPtr := uint32(stack[3]), uint32(stack[4]), uint32(stack[5])
	if !inRange(mem, bufPtr, bufLen) || !inRange(mem, resultPtr, 4) {
		return EFAULT
	}
	d, path, e := c.dirAt(mem, fd, pathPtr, pathLen)
	if e != ESUCCESS {
		return e
	}
	if _, e := d.lookup(path); e != ESUCCESS {
		return e
	}
	return EINVAL // not a link
}

// path_symlink(old_path, old_path_len, fd, new_path, new_path_len): the
// descriptor is the third parameter.
// Errnos: EFAULT, EBADF, ENOTDIR, EROFS.
var pathSymlink = wasiFunc("path_symlink", pathSymlinkFn, Params(i32, i32, i32, i32, i32),
	"old_path", "old_path_len", "fd", "new_path", "new_path_len")

func pathSymlinkFn(c *Context, mem api.Memory, stack []uint64) Errno {
	oldPtr, oldLen, fd, newPtr, newLen := uint32(stack[0]), uint32(stack[1]), int32(stack[2]), uint32(stack[3]), uint32(stack[4])
	if !inRange(mem, oldPtr, oldLen) || !inRange(mem, newPtr, newLen) {
		return EFAULT
	}
	return c.dirOnly(fd, EROFS)
}
