//go:build wasip1

package wasi

import (
	"runtime"
	"strings"
	"unsafe"
)

//go:wasmimport wasi_snapshot_preview1 fd_prestat_get
//go:noescape
func fdPrestatGet(fd int32, prestat unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 fd_prestat_dir_name
//go:noescape
func fdPrestatDirName(fd int32, path unsafe.Pointer, pathLen uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_open
//go:noescape
func pathOpen(dirfd int32, dirflags uint32, path unsafe.Pointer, pathLen uint32, oflags uint32,
	rightsBase, rightsInheriting uint64, fdflags uint32, fd unsafe.Pointer) uint32

// prestat is WASI's prestat: tag u8 @0 (0: a directory), name_len u32 @4.
type prestat struct {
	tag     uint32 // the u8 tag and its padding
	nameLen uint32
}

// rightFDRead is rights.fd_read.
const rightFDRead = 1 << 1

// FindPreopen returns the fd of the preopened directory named dir ("/conf"
// also matches "conf" and "/conf/"), or ENOENT.
func FindPreopen(dir string) (int32, Errno) {
	want := strings.Trim(dir, "/")
	name := make([]byte, 256)
	for fd := int32(3); ; fd++ {
		var ps prestat
		switch Errno(fdPrestatGet(fd, unsafe.Pointer(&ps))) {
		case ESUCCESS:
		case EBADF:
			return -1, ENOENT // past the last preopen
		default:
			continue
		}
		if ps.tag&0xff != 0 || ps.nameLen > uint32(len(name)) || ps.nameLen == 0 {
			continue
		}
		if fdPrestatDirName(fd, unsafe.Pointer(&name[0]), ps.nameLen) != 0 {
			continue
		}
		if strings.Trim(string(name[:ps.nameLen]), "/") == want {
			return fd, ESUCCESS
		}
	}
}

// OpenRead opens path, relative to the directory dirfd, for reading.
func OpenRead(dirfd int32, path string) (int32, Errno) {
	if path == "" {
		return -1, EINVAL
	}
	p := []byte(path)
	var fd int32
	e := pathOpen(dirfd, 0, unsafe.Pointer(&p[0]), uint32(len(p)), 0, rightFDRead, 0, 0, unsafe.Pointer(&fd))
	runtime.KeepAlive(p)
	if e != 0 {
		return -1, Errno(e)
	}
	return fd, ESUCCESS
}

// rightFDWrite is rights.fd_write.
const rightFDWrite = 1 << 6

// OpenReadWrite opens path, relative to the directory dirfd, for reading
// and writing: a host service such as /water/secretbox.
func OpenReadWrite(dirfd int32, path string) (int32, Errno) {
	if path == "" {
		return -1, EINVAL
	}
	p := []byte(path)
	var fd int32
	e := pathOpen(dirfd, 0, unsafe.Pointer(&p[0]), uint32(len(p)), 0, rightFDRead|rightFDWrite, 0, 0, unsafe.Pointer(&fd))
	runtime.KeepAlive(p)
	if e != 0 {
		return -1, Errno(e)
	}
	return fd, ESUCCESS
}
