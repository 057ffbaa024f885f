package watm

import (
	"sync"

	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// cancelFile is the module's end of its cancel channel (v0
// _water_cancel_with, v1 watm_ctrlpipe_v1): a descriptor in the fd table
// with no kernel object behind it (a wasip1.VirtualFile). Modules see what
// the end of a socketpair showed them (which is what it was): a stream
// socket, never readable until the host asks the module to stop, then
// readable with the one cancel byte, and not readable again once it is
// read; writes are taken and dropped (the host never read them). A
// blocking read waits for the byte or a forced stop.
type cancelFile struct {
	wasi  *wasip1.Context
	fired chan struct{} // closed when the host writes the byte

	mu      sync.Mutex
	once    sync.Once
	b       byte
	pending bool // the byte is written and not read yet
	shutRD  bool // sock_shutdown(RD): reads see end of file
}

func newCancelFile(c *wasip1.Context, b byte) *cancelFile {
	return &cancelFile{wasi: c, b: b, fired: make(chan struct{})}
}

// fire writes the cancel byte and wakes a module waiting on it.
func (c *cancelFile) fire() {
	c.once.Do(func() {
		c.mu.Lock()
		c.pending = true
		c.mu.Unlock()
		close(c.fired)
		c.wasi.Wake()
	})
}

// Readable reports whether a read would not wait.
func (c *cancelFile) Readable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending || c.shutRD
}

func (c *cancelFile) Filetype() uint8 { return wasip1.FiletypeSocketStream }
func (c *cancelFile) Pollfd() int     { return -1 }
func (c *cancelFile) Close() error    { return nil }

func (c *cancelFile) Read(p []byte, nonblock bool) (int, wasip1.Errno) {
	if len(p) == 0 {
		return 0, wasip1.ESUCCESS
	}
	if !nonblock {
		select {
		case <-c.fired:
		case <-c.wasi.Stopped():
			return 0, wasip1.EBADF // the forced stop unwinds the module (Context.HostErrno)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.shutRD:
		return 0, wasip1.ESUCCESS
	case c.pending:
		c.pending = false
		p[0] = c.b
		return 1, wasip1.ESUCCESS
	}
	if !nonblock {
		// The byte was read already: like the socketpair, wait for good.
		c.mu.Unlock()
		<-c.wasi.Stopped()
		c.mu.Lock()
		return 0, wasip1.EBADF
	}
	return 0, wasip1.EAGAIN
}

func (c *cancelFile) Write(p []byte, _ bool) (int, wasip1.Errno) { return len(p), wasip1.ESUCCESS }

func (c *cancelFile) Shutdown(how uint8) wasip1.Errno {
	if how < 1 || how > 3 {
		return wasip1.EINVAL
	}
	c.mu.Lock()
	c.shutRD = c.shutRD || how&1 != 0
	c.mu.Unlock()
	return wasip1.ESUCCESS
}
