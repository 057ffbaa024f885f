package wasip1

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// memFile is a read-only file held in memory: the config that pull_config
// hands out (v0) or /conf/watm.cfg (v1).
type memFile struct {
	data []byte
	mu   sync.Mutex
	off  int64
}

func (f *memFile) Filetype() uint8 { return filetypeRegularFile }
func (f *memFile) Pollfd() int     { return -1 }
func (f *memFile) size() uint64    { return uint64(len(f.data)) }
func (f *memFile) Close() error    { return nil }

func (f *memFile) Read(p []byte, _ bool) (int, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.readAt(p, f.off)
	f.off += int64(n)
	return n, ESUCCESS
}

func (f *memFile) readAt(p []byte, off int64) int {
	if off < 0 || off >= int64(len(f.data)) {
		return 0
	}
	return copy(p, f.data[off:])
}

func (f *memFile) Write([]byte, bool) (int, Errno) { return 0, EBADF }
func (f *memFile) Shutdown(uint8) Errno            { return ENOTSOCK }

func (f *memFile) seek(off int64, whence uint8) (uint64, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var base int64
	switch whence {
	case whenceSet:
	case whenceCur:
		base = f.off
	case whenceEnd:
		base = int64(len(f.data))
	default:
		return 0, EINVAL
	}
	if base+off < 0 {
		return 0, EINVAL
	}
	f.off = base + off
	return uint64(f.off), ESUCCESS
}

// DirFile is a preopened read-only directory holding named in-memory files
// (v1's /conf with watm.cfg) or services, each open of which is a new file
// (watm's /water with secretbox and curve25519). These are the only
// directories a module ever sees.
type DirFile struct {
	name     string
	entries  map[string][]byte
	services map[string]func() File
}

// NewDir returns the directory name holding no file; services, if any,
// are opened by name (path_open), each open a new File.
func NewDir(name string, services map[string]func() File) *DirFile {
	return &DirFile{name: name, entries: map[string][]byte{}, services: services}
}

// Name is the directory's name, e.g. "/conf".
func (d *DirFile) Name() string { return d.name }

// SetFile puts a read-only file named name holding data in d.
func (d *DirFile) SetFile(name string, data []byte) { d.entries[name] = data }

// NewMemFile returns a read-only file holding data (v0's pull_config).
func NewMemFile(data []byte) File { return &memFile{data: data} }

func (d *DirFile) Filetype() uint8                 { return filetypeDirectory }
func (d *DirFile) Pollfd() int                     { return -1 }
func (d *DirFile) Read([]byte, bool) (int, Errno)  { return 0, EISDIR }
func (d *DirFile) Write([]byte, bool) (int, Errno) { return 0, EISDIR }
func (d *DirFile) Shutdown(uint8) Errno            { return ENOTSOCK }
func (d *DirFile) Close() error                    { return nil }

// service returns the constructor of the service at path, if there is one.
func (d *DirFile) service(path string) (func() File, bool) {
	open, ok := d.services[strings.TrimPrefix(path, "./")]
	return open, ok
}

func (d *DirFile) lookup(path string) ([]byte, Errno) {
	path = strings.TrimPrefix(path, "./")
	data, ok := d.entries[path]
	if !ok {
		return nil, ENOENT
	}
	return data, ESUCCESS
}

// stdinFile is fd 0: always at EOF.
type stdinFile struct{}

func (stdinFile) Filetype() uint8                 { return FiletypeCharDevice }
func (stdinFile) Pollfd() int                     { return -1 }
func (stdinFile) Read([]byte, bool) (int, Errno)  { return 0, ESUCCESS }
func (stdinFile) Write([]byte, bool) (int, Errno) { return 0, EBADF }
func (stdinFile) Shutdown(uint8) Errno            { return ENOTSOCK }
func (stdinFile) Close() error                    { return nil }

// logFile is fd 1 or 2: lines go to the host's logger, never to the
// process's stdout (which tor reads as the PT protocol). A module that
// writes a flood is rate limited: past the budget, lines are counted and
// dropped, and the count is logged when the budget refills.
type logFile struct {
	c       *Context // its logger is the connection's
	stream  string
	mu      sync.Mutex
	line    []byte
	tokens  float64
	last    time.Time
	dropped int
	// lines counts the complete lines written, lastLine is the latest
	// (rate limited or not): a failed call's error quotes it.
	lines    uint64
	lastLine string
}

const (
	logBurst      = 20  // lines at once
	logRate       = 5.0 // lines per second after the burst
	logLineLength = 512 // longer lines are cut
)

func newLogFile(c *Context, stream string) *logFile {
	return &logFile{c: c, stream: stream, tokens: logBurst, last: time.Now()}
}

func (f *logFile) Filetype() uint8                { return FiletypeCharDevice }
func (f *logFile) Pollfd() int                    { return -1 }
func (f *logFile) Read([]byte, bool) (int, Errno) { return 0, EBADF }
func (f *logFile) Shutdown(uint8) Errno           { return ENOTSOCK }

func (f *logFile) Write(p []byte, _ bool) (int, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			f.appendLine(rest)
			break
		}
		f.appendLine(rest[:i])
		f.lines++
		f.lastLine = string(f.line)
		f.emitLocked()
		rest = rest[i+1:]
	}
	return len(p), ESUCCESS
}

func (f *logFile) appendLine(b []byte) {
	if room := logLineLength - len(f.line); room > 0 {
		f.line = append(f.line, b[:min(room, len(b))]...)
	}
}

// emitLocked logs the pending line if the rate limit allows. f.mu is held.
func (f *logFile) emitLocked() {
	now := time.Now()
	f.tokens = min(logBurst, f.tokens+now.Sub(f.last).Seconds()*logRate)
	f.last = now
	if f.tokens < 1 {
		f.dropped++
		f.line = f.line[:0]
		return
	}
	f.tokens--
	if f.dropped > 0 {
		f.c.Logger().Warn("watm: module output rate limited", "stream", f.stream, "dropped_lines", f.dropped)
		f.dropped = 0
	}
	f.c.Logger().Info("watm: module "+f.stream, "line", string(f.line))
	f.line = f.line[:0]
}

func (f *logFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.line) > 0 {
		f.emitLocked()
	}
	return nil
}

// mark returns how many complete lines were written so far.
func (f *logFile) mark() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lines
}

// since returns the latest complete line if one was written after mark.
func (f *logFile) since(mark uint64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lines == mark {
		return ""
	}
	return f.lastLine
}
