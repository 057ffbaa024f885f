package watm

import (
	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// The only directory a module can see is v1's preopened /conf. These
// functions check every pointer first (EFAULT), then the descriptor (EBADF,
// or ENOTDIR when it is not a directory); /conf is read-only (EROFS).

// fd_prestat_get(fd, result.prestat) writes tag u8 @0 (0: directory) and
// the name length u32 @4. Runtimes call it for fd 3, 4, ... until EBADF to
// find their preopens.
var fdPrestatGet = &hostFunc{name: "fd_prestat_get", params: params(i32, i32), names: []string{"fd", "result.prestat"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		ptr := p32(s, 1)
		if !inRange(mem, ptr, 8) {
			return wasip1.EFAULT
		}
		d, e := in.preopen(int32(s[0]))
		if e != wasip1.ESUCCESS {
			return e
		}
		mem.WriteUint32Le(ptr, 0)
		mem.WriteUint32Le(ptr+4, uint32(len(d.name)))
		return wasip1.ESUCCESS
	}}

// fd_prestat_dir_name(fd, path, path_len) copies the preopen's name.
var fdPrestatDirName = &hostFunc{name: "fd_prestat_dir_name", params: params(i32, i32, i32), names: []string{"fd", "result.path", "result.path_len"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		buf, ok := mem.Read(p32(s, 1), p32(s, 2))
		if !ok {
			return wasip1.EFAULT
		}
		d, e := in.preopen(int32(s[0]))
		if e != wasip1.ESUCCESS {
			return e
		}
		if len(buf) < len(d.name) {
			return wasip1.ENAMETOOLONG
		}
		copy(buf, d.name)
		return wasip1.ESUCCESS
	}}

func (in *instance) preopen(fd int32) (*dirFile, wasip1.Errno) {
	f, _, e := in.fds.get(fd)
	if e != wasip1.ESUCCESS {
		return nil, e
	}
	d, ok := f.(*dirFile)
	if !ok {
		return nil, wasip1.EBADF
	}
	return d, wasip1.ESUCCESS
}

// dirAt resolves (fd, path) to a directory and a path string.
func (in *instance) dirAt(mem api.Memory, fd int32, path, pathLen uint32) (*dirFile, string, wasip1.Errno) {
	b, ok := mem.Read(path, pathLen)
	if !ok {
		return nil, "", wasip1.EFAULT
	}
	f, _, e := in.fds.get(fd)
	if e != wasip1.ESUCCESS {
		return nil, "", e
	}
	d, ok := f.(*dirFile)
	if !ok {
		return nil, "", wasip1.ENOTDIR
	}
	return d, string(b), wasip1.ESUCCESS
}

// path_open(fd, dirflags, path, path_len, oflags, rights_base,
// rights_inheriting, fdflags, result.opened_fd) opens a file of /conf
// read-only, or a service of /water (read and write). Creating, truncating
// or opening a file for write is EROFS; ENOENT when nothing has the name;
// ENOTDIR when O_DIRECTORY names a file (every name in them is a file).
// Errnos: EFAULT, EBADF, ENOTDIR, ENOENT, EROFS, EMFILE.
var pathOpen = &hostFunc{name: "path_open", params: params(i32, i32, i32, i32, i32, i64, i64, i32, i32),
	names: []string{"fd", "dirflags", "path", "path_len", "oflags", "fs_rights_base", "fs_rights_inheriting", "fdflags", "result.opened_fd"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		res := p32(s, 8)
		if !inRange(mem, res, 4) {
			return wasip1.EFAULT
		}
		d, path, e := in.dirAt(mem, int32(s[0]), p32(s, 2), p32(s, 3))
		if e != wasip1.ESUCCESS {
			return e
		}
		const oflagsCreatTruncExcl = 1 | 4 | 8
		const oflagsDirectory = 2
		const rightFdWrite = 1 << 6
		if uint16(s[4])&oflagsCreatTruncExcl != 0 {
			return wasip1.EROFS
		}
		wantDir := uint16(s[4])&oflagsDirectory != 0
		var f file
		if open, ok := d.service(path); ok {
			if wantDir {
				return wasip1.ENOTDIR
			}
			f = open()
		} else {
			data, e := d.lookup(path)
			if e != wasip1.ESUCCESS {
				return e
			}
			if wantDir {
				return wasip1.ENOTDIR
			}
			if uint16(s[7])&1 != 0 || (s[5]&rightFdWrite != 0 && s[5] != allRights) {
				return wasip1.EROFS
			}
			f = &memFile{data: data}
		}
		fd, e := in.fds.insert(f)
		if e != wasip1.ESUCCESS {
			return e
		}
		mem.WriteUint32Le(res, uint32(fd))
		return wasip1.ESUCCESS
	}}

// path_filestat_get(fd, flags, path, path_len, result.filestat).
var pathFilestatGet = &hostFunc{name: "path_filestat_get", params: params(i32, i32, i32, i32, i32),
	names: []string{"fd", "flags", "path", "path_len", "result.filestat"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		ptr := p32(s, 4)
		if !inRange(mem, ptr, 64) {
			return wasip1.EFAULT
		}
		d, path, e := in.dirAt(mem, int32(s[0]), p32(s, 2), p32(s, 3))
		if e != wasip1.ESUCCESS {
			return e
		}
		buf, _ := mem.Read(ptr, 64)
		clear(buf)
		if path == "." || path == "" {
			buf[16] = filetypeDirectory
			return wasip1.ESUCCESS
		}
		if _, ok := d.service(path); ok {
			buf[16] = filetypeCharDevice
			return wasip1.ESUCCESS
		}
		data, e := d.lookup(path)
		if e != wasip1.ESUCCESS {
			return e
		}
		buf[16] = filetypeRegularFile
		mem.WriteUint64Le(ptr+24, 1)
		mem.WriteUint64Le(ptr+32, uint64(len(data)))
		return wasip1.ESUCCESS
	}}

// pathOp declares a path function that checks its pointers and descriptor
// and then answers errno: /conf cannot be changed.
func pathOp(name string, errno wasip1.Errno, names []string, ts []api.ValueType, ptrs ...[2]int) *hostFunc {
	return &hostFunc{name: name, params: ts, names: names,
		body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
			for _, p := range ptrs {
				if !inRange(mem, p32(s, p[0]), p32(s, p[1])) {
					return wasip1.EFAULT
				}
			}
			f, _, e := in.fds.get(int32(s[0]))
			if e != wasip1.ESUCCESS {
				return e
			}
			if _, ok := f.(*dirFile); !ok {
				return wasip1.ENOTDIR
			}
			return errno
		}}
}

var (
	pathCreateDirectory = pathOp("path_create_directory", wasip1.EROFS, []string{"fd", "path", "path_len"},
		params(i32, i32, i32), [2]int{1, 2})
	pathFilestatSetTimes = pathOp("path_filestat_set_times", wasip1.EROFS, []string{"fd", "flags", "path", "path_len", "atim", "mtim", "fst_flags"},
		params(i32, i32, i32, i32, i64, i64, i32), [2]int{2, 3})
	pathLink = pathOp("path_link", wasip1.EROFS, []string{"old_fd", "old_flags", "old_path", "old_path_len", "new_fd", "new_path", "new_path_len"},
		params(i32, i32, i32, i32, i32, i32, i32), [2]int{2, 3}, [2]int{5, 6})
	pathRemoveDirectory = pathOp("path_remove_directory", wasip1.EROFS, []string{"fd", "path", "path_len"},
		params(i32, i32, i32), [2]int{1, 2})
	pathRename = pathOp("path_rename", wasip1.EROFS, []string{"fd", "old_path", "old_path_len", "new_fd", "new_path", "new_path_len"},
		params(i32, i32, i32, i32, i32, i32), [2]int{1, 2}, [2]int{4, 5})
	pathUnlinkFile = pathOp("path_unlink_file", wasip1.EROFS, []string{"fd", "path", "path_len"},
		params(i32, i32, i32), [2]int{1, 2})
	fdReaddir = pathOp("fd_readdir", wasip1.ENOTSUP, []string{"fd", "buf", "buf_len", "cookie", "result.bufused"},
		params(i32, i32, i32, i64, i32), [2]int{1, 2}, [2]int{4, 4})
)

// path_readlink(fd, path, path_len, buf, buf_len, result.bufused): /conf
// has no links.
var pathReadlink = &hostFunc{name: "path_readlink", params: params(i32, i32, i32, i32, i32, i32),
	names: []string{"fd", "path", "path_len", "buf", "buf_len", "result.bufused"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		if !inRange(mem, p32(s, 3), p32(s, 4)) || !inRange(mem, p32(s, 5), 4) {
			return wasip1.EFAULT
		}
		d, path, e := in.dirAt(mem, int32(s[0]), p32(s, 1), p32(s, 2))
		if e != wasip1.ESUCCESS {
			return e
		}
		if _, e := d.lookup(path); e != wasip1.ESUCCESS {
			return e
		}
		return wasip1.EINVAL // not a link
	}}

// path_symlink(old_path, old_path_len, fd, new_path, new_path_len): the
// descriptor is the third parameter.
var pathSymlink = &hostFunc{name: "path_symlink", params: params(i32, i32, i32, i32, i32),
	names: []string{"old_path", "old_path_len", "fd", "new_path", "new_path_len"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		if !inRange(mem, p32(s, 0), p32(s, 1)) || !inRange(mem, p32(s, 3), p32(s, 4)) {
			return wasip1.EFAULT
		}
		f, _, e := in.fds.get(int32(s[2]))
		if e != wasip1.ESUCCESS {
			return e
		}
		if _, ok := f.(*dirFile); !ok {
			return wasip1.ENOTDIR
		}
		return wasip1.EROFS
	}}
