package wasip1

import "sync"

// WASI filetype values reported by fd_fdstat_get.
const (
	filetypeUnknown      uint8 = 0
	FiletypeCharDevice   uint8 = 2
	filetypeDirectory    uint8 = 3
	filetypeRegularFile  uint8 = 4
	FiletypeSocketStream uint8 = 6
)

// WASI fdflags.
const fdflagNonblock uint16 = 4

// File is one entry of an instance's fd table: a socket, the config file,
// the module's stdout or stderr, a directory (v1's /conf, the services), a
// service, or WATER's cancel channel.
type File interface {
	// Filetype is the WASI filetype fd_fdstat_get reports.
	Filetype() uint8
	// Read and Write move bytes for fd_read and fd_write. With nonblock they
	// return EAGAIN instead of waiting. A read of 0 bytes with ESUCCESS is EOF.
	Read(p []byte, nonblock bool) (int, Errno)
	Write(p []byte, nonblock bool) (int, Errno)
	// Pollfd returns the OS descriptor that poll(2) can wait on, or -1 for
	// a file that is always ready (config, stdout) or virtual.
	Pollfd() int
	// Shutdown is sock_shutdown: how is 1 (RD), 2 (WR) or 3.
	Shutdown(how uint8) Errno
	Close() error
}

// A VirtualFile is a descriptor with no kernel object behind it that host
// code makes readable (WATER's cancel channel): Pollfd is -1, Readable
// reports whether a read would not wait, and whoever makes it readable
// calls the Context's Wake, so that a parked poll_oneoff looks again.
type VirtualFile interface {
	File
	Readable() bool
}

type fdEntry struct {
	f     File
	flags uint16
}

// fdTable maps the module's descriptors to host files. It is bounded: a
// module that opens more than max descriptors gets EMFILE.
type fdTable struct {
	mu    sync.Mutex
	files []fdEntry // index is the fd; a nil File is a free slot
	max   int
}

func (t *fdTable) insert(f File) (int32, Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for fd := 3; fd < len(t.files); fd++ { // 0-2 are stdio
		if t.files[fd].f == nil {
			t.files[fd] = fdEntry{f: f}
			return int32(fd), ESUCCESS
		}
	}
	if len(t.files) >= t.max {
		return -1, EMFILE
	}
	for len(t.files) < 3 {
		t.files = append(t.files, fdEntry{})
	}
	t.files = append(t.files, fdEntry{f: f})
	return int32(len(t.files) - 1), ESUCCESS
}

// setStdio installs fd 0, 1 or 2.
func (t *fdTable) setStdio(fd int, f File) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.files) <= fd {
		t.files = append(t.files, fdEntry{})
	}
	t.files[fd] = fdEntry{f: f}
}

func (t *fdTable) get(fd int32) (File, uint16, Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].f == nil {
		return nil, 0, EBADF
	}
	e := t.files[fd]
	return e.f, e.flags, ESUCCESS
}

func (t *fdTable) setFlags(fd int32, flags uint16) Errno {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].f == nil {
		return EBADF
	}
	t.files[fd].flags = flags
	return ESUCCESS
}

// remove takes fd out of the table and returns its File for closing.
func (t *fdTable) remove(fd int32) (File, Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].f == nil {
		return nil, EBADF
	}
	f := t.files[fd].f
	t.files[fd] = fdEntry{}
	return f, ESUCCESS
}

// closeAll closes every file; the table is empty afterwards.
func (t *fdTable) closeAll() {
	t.mu.Lock()
	files := t.files
	t.files = nil
	t.mu.Unlock()
	for _, e := range files {
		if e.f != nil {
			_ = e.f.Close()
		}
	}
}

// abort makes every blocked read or write on the table's sockets return.
func (t *fdTable) abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.files {
		if a, ok := e.f.(interface{ abort() }); ok {
			a.abort()
		}
	}
}

// removeFile takes f out of the table without closing it.
func (t *fdTable) removeFile(f File) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for fd, e := range t.files {
		if e.f == f {
			t.files[fd] = fdEntry{}
		}
	}
}

// peers returns the connection's own sockets in the table (plaintext,
// dialed, accepted).
func (t *fdTable) peers() []*SockFile {
	t.mu.Lock()
	defer t.mu.Unlock()
	var socks []*SockFile
	for _, e := range t.files {
		if f, ok := e.f.(*SockFile); ok && f.Peer {
			socks = append(socks, f)
		}
	}
	return socks
}
