package watm

import (
	"bytes"
	"strings"
	"sync"
	"time"

	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// memFile is a read-only file held in memory: the config that pull_config
// hands out (v0) or /conf/watm.cfg (v1).
type memFile struct {
	data []byte
	mu   sync.Mutex
	off  int64
}

func (f *memFile) filetype() uint8 { return filetypeRegularFile }
func (f *memFile) pollfd() int     { return -1 }
func (f *memFile) size() uint64    { return uint64(len(f.data)) }
func (f *memFile) close() error    { return nil }

func (f *memFile) read(p []byte, _ bool) (int, wasip1.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.readAt(p, f.off)
	f.off += int64(n)
	return n, wasip1.ESUCCESS
}

func (f *memFile) readAt(p []byte, off int64) int {
	if off < 0 || off >= int64(len(f.data)) {
		return 0
	}
	return copy(p, f.data[off:])
}

func (f *memFile) write([]byte, bool) (int, wasip1.Errno) { return 0, wasip1.EBADF }
func (f *memFile) shutdown(uint8) wasip1.Errno            { return wasip1.ENOTSOCK }

func (f *memFile) seek(off int64, whence uint8) (uint64, wasip1.Errno) {
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
		return 0, wasip1.EINVAL
	}
	if base+off < 0 {
		return 0, wasip1.EINVAL
	}
	f.off = base + off
	return uint64(f.off), wasip1.ESUCCESS
}

// dirFile is a preopened read-only directory holding named in-memory files
// (v1's /conf with watm.cfg) or services, each open of which is a new file
// (/water with secretbox, see hostbox.go). These are the only directories a
// module ever sees.
type dirFile struct {
	name     string
	entries  map[string][]byte
	services map[string]func() file
}

func (d *dirFile) filetype() uint8                        { return filetypeDirectory }
func (d *dirFile) pollfd() int                            { return -1 }
func (d *dirFile) read([]byte, bool) (int, wasip1.Errno)  { return 0, wasip1.EISDIR }
func (d *dirFile) write([]byte, bool) (int, wasip1.Errno) { return 0, wasip1.EISDIR }
func (d *dirFile) shutdown(uint8) wasip1.Errno            { return wasip1.ENOTSOCK }
func (d *dirFile) close() error                           { return nil }

// service returns the constructor of the service at path, if there is one.
func (d *dirFile) service(path string) (func() file, bool) {
	open, ok := d.services[strings.TrimPrefix(path, "./")]
	return open, ok
}

func (d *dirFile) lookup(path string) ([]byte, wasip1.Errno) {
	path = strings.TrimPrefix(path, "./")
	data, ok := d.entries[path]
	if !ok {
		return nil, wasip1.ENOENT
	}
	return data, wasip1.ESUCCESS
}

// stdinFile is fd 0: always at EOF.
type stdinFile struct{}

func (stdinFile) filetype() uint8                        { return filetypeCharDevice }
func (stdinFile) pollfd() int                            { return -1 }
func (stdinFile) read([]byte, bool) (int, wasip1.Errno)  { return 0, wasip1.ESUCCESS }
func (stdinFile) write([]byte, bool) (int, wasip1.Errno) { return 0, wasip1.EBADF }
func (stdinFile) shutdown(uint8) wasip1.Errno            { return wasip1.ENOTSOCK }
func (stdinFile) close() error                           { return nil }

// logFile is fd 1 or 2: lines go to the host's logger, never to the
// process's stdout (which tor reads as the PT protocol). A module that
// writes a flood is rate limited: past the budget, lines are counted and
// dropped, and the count is logged when the budget refills.
type logFile struct {
	in      *instance // its logger is the connection's
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

func newLogFile(in *instance, stream string) *logFile {
	return &logFile{in: in, stream: stream, tokens: logBurst, last: time.Now()}
}

func (f *logFile) filetype() uint8                       { return filetypeCharDevice }
func (f *logFile) pollfd() int                           { return -1 }
func (f *logFile) read([]byte, bool) (int, wasip1.Errno) { return 0, wasip1.EBADF }
func (f *logFile) shutdown(uint8) wasip1.Errno           { return wasip1.ENOTSOCK }

func (f *logFile) write(p []byte, _ bool) (int, wasip1.Errno) {
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
	return len(p), wasip1.ESUCCESS
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
		f.in.logger.Warn("watm: module output rate limited", "stream", f.stream, "dropped_lines", f.dropped)
		f.dropped = 0
	}
	f.in.logger.Info("watm: module "+f.stream, "line", string(f.line))
	f.line = f.line[:0]
}

func (f *logFile) close() error {
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
