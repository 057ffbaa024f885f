package watm

import (
	"sync"

	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// WASI filetype values reported by fd_fdstat_get.
const (
	filetypeUnknown      uint8 = 0
	filetypeCharDevice   uint8 = 2
	filetypeDirectory    uint8 = 3
	filetypeRegularFile  uint8 = 4
	filetypeSocketStream uint8 = 6
)

// WASI fdflags.
const fdflagNonblock uint16 = 4

// file is one entry of an instance's fd table: a socket, the config file,
// the module's stdout or stderr, or (v1) the /conf directory.
type file interface {
	filetype() uint8
	// read and write move bytes for fd_read and fd_write. With nonblock they
	// return EAGAIN instead of waiting. A read of 0 bytes with ESUCCESS is EOF.
	read(p []byte, nonblock bool) (int, wasip1.Errno)
	write(p []byte, nonblock bool) (int, wasip1.Errno)
	// pollfd returns the OS descriptor that poll(2) can wait on, or -1 for
	// a file that is always ready (config, stdout).
	pollfd() int
	shutdown(how uint8) wasip1.Errno
	close() error
}

type fdEntry struct {
	f     file
	flags uint16
}

// fdTable maps the module's descriptors to host files. It is bounded: a
// module that opens more than max descriptors gets EMFILE.
type fdTable struct {
	mu    sync.Mutex
	files []fdEntry // index is the fd; a nil file is a free slot
	max   int
}

func (t *fdTable) insert(f file) (int32, wasip1.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for fd := 3; fd < len(t.files); fd++ { // 0-2 are stdio
		if t.files[fd].f == nil {
			t.files[fd] = fdEntry{f: f}
			return int32(fd), wasip1.ESUCCESS
		}
	}
	if len(t.files) >= t.max {
		return -1, wasip1.EMFILE
	}
	for len(t.files) < 3 {
		t.files = append(t.files, fdEntry{})
	}
	t.files = append(t.files, fdEntry{f: f})
	return int32(len(t.files) - 1), wasip1.ESUCCESS
}

// setStdio installs fd 0, 1 or 2.
func (t *fdTable) setStdio(fd int, f file) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.files) <= fd {
		t.files = append(t.files, fdEntry{})
	}
	t.files[fd] = fdEntry{f: f}
}

func (t *fdTable) get(fd int32) (file, uint16, wasip1.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].f == nil {
		return nil, 0, wasip1.EBADF
	}
	e := t.files[fd]
	return e.f, e.flags, wasip1.ESUCCESS
}

func (t *fdTable) setFlags(fd int32, flags uint16) wasip1.Errno {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].f == nil {
		return wasip1.EBADF
	}
	t.files[fd].flags = flags
	return wasip1.ESUCCESS
}

// remove takes fd out of the table and returns its file for closing.
func (t *fdTable) remove(fd int32) (file, wasip1.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].f == nil {
		return nil, wasip1.EBADF
	}
	f := t.files[fd].f
	t.files[fd] = fdEntry{}
	return f, wasip1.ESUCCESS
}

// closeAll closes every file; the table is empty afterwards.
func (t *fdTable) closeAll() {
	t.mu.Lock()
	files := t.files
	t.files = nil
	t.mu.Unlock()
	for _, e := range files {
		if e.f != nil {
			_ = e.f.close()
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
func (t *fdTable) removeFile(f file) {
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
func (t *fdTable) peers() []*sockFile {
	t.mu.Lock()
	defer t.mu.Unlock()
	var socks []*sockFile
	for _, e := range t.files {
		if f, ok := e.f.(*sockFile); ok && f.peer {
			socks = append(socks, f)
		}
	}
	return socks
}
