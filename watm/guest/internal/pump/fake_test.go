package pump_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm/guest/internal/pump"
	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

// kernel is a fake host: an fd table of in-memory stream sockets with small
// buffers, shared by any number of loops (each in its own goroutine) and
// test goroutines. Reads and writes move a random number of bytes so that
// short reads and writes are the norm. Fds set non-blocking get EAGAIN;
// the others (the test's ends) block.
type kernel struct {
	mu    sync.Mutex
	cond  sync.Cond
	fds   map[int32]*end
	next  int32
	rng   *rand.Rand
	polls int // Poll calls, for the efficiency check
	idle  int // Poll calls now blocked with nothing ready
}

type end struct {
	rx, tx   *pipe
	nonblock bool
	closed   bool
	failSet  wasi.Errno // returned by SetNonblock
}

// pipe is one direction of a socket.
type pipe struct {
	buf      []byte
	capacity int
	wclosed  bool       // writer shut down: reader gets EOF once buf is empty
	rclosed  bool       // reader closed: writer gets EPIPE
	reset    wasi.Errno // reader gets this once buf is empty
}

func newKernel(seed uint64) *kernel {
	k := &kernel{fds: map[int32]*end{}, next: 3, rng: rand.New(rand.NewPCG(seed, seed))}
	k.cond.L = &k.mu
	return k
}

// socketpair returns two connected fds, each direction buffering capacity
// bytes.
func (k *kernel) socketpair(capacity int) (int32, int32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ab := &pipe{capacity: capacity}
	ba := &pipe{capacity: capacity}
	a, b := k.next, k.next+1
	k.next += 2
	k.fds[a] = &end{rx: ba, tx: ab}
	k.fds[b] = &end{rx: ab, tx: ba}
	return a, b
}

func (k *kernel) chunk(n int) int {
	if n <= 1 {
		return n
	}
	if k.rng.IntN(4) == 0 {
		return n // often everything
	}
	return 1 + k.rng.IntN(n)
}

func (k *kernel) SetNonblock(fd int32) wasi.Errno {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.fds[fd]
	if !ok || e.closed {
		return wasi.EBADF
	}
	if e.failSet != 0 {
		return e.failSet
	}
	e.nonblock = true
	return 0
}

func (k *kernel) Read(fd int32, p []byte) (int, wasi.Errno) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		e, ok := k.fds[fd]
		if !ok || e.closed {
			return 0, wasi.EBADF
		}
		switch {
		case len(e.rx.buf) > 0:
			n := copy(p[:k.chunk(min(len(p), len(e.rx.buf)))], e.rx.buf)
			e.rx.buf = e.rx.buf[n:]
			k.cond.Broadcast()
			return n, 0
		case e.rx.reset != 0:
			return 0, e.rx.reset
		case e.rx.wclosed:
			return 0, 0
		case e.nonblock:
			return 0, wasi.EAGAIN
		}
		k.cond.Wait()
	}
}

func (k *kernel) Write(fd int32, p []byte) (int, wasi.Errno) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		e, ok := k.fds[fd]
		if !ok || e.closed {
			return 0, wasi.EBADF
		}
		switch {
		case e.tx.rclosed:
			return 0, wasi.EPIPE
		case e.tx.wclosed:
			return 0, wasi.EPIPE
		case len(e.tx.buf) < e.tx.capacity:
			n := k.chunk(min(len(p), e.tx.capacity-len(e.tx.buf)))
			e.tx.buf = append(e.tx.buf, p[:n]...)
			k.cond.Broadcast()
			return n, 0
		case e.nonblock:
			return 0, wasi.EAGAIN
		}
		k.cond.Wait()
	}
}

func (k *kernel) ShutdownWrite(fd int32) wasi.Errno {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.fds[fd]
	if !ok || e.closed {
		return wasi.EBADF
	}
	e.tx.wclosed = true
	k.cond.Broadcast()
	return 0
}

func (k *kernel) Close(fd int32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.fds[fd]
	e.closed = true
	e.tx.wclosed = true
	e.rx.rclosed = true
	k.cond.Broadcast()
}

// Reset makes reads on fd fail with errno once its buffer is drained.
func (k *kernel) Reset(fd int32, errno wasi.Errno) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fds[fd].rx.reset = errno
	k.cond.Broadcast()
}

func (k *kernel) Poll(subs []pump.Sub, wait bool, ready []pump.Ready) (int, wasi.Errno) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.polls++
	if len(subs) == 0 || len(subs) > pump.MaxSubs {
		return 0, wasi.EINVAL
	}
	for {
		n := 0
		for i, s := range subs {
			e, ok := k.fds[s.FD]
			var r bool
			var errno wasi.Errno
			switch {
			case !ok || e.closed:
				r, errno = true, wasi.EBADF
			case s.Write:
				r = e.tx.rclosed || e.tx.wclosed || len(e.tx.buf) < e.tx.capacity
			default:
				r = len(e.rx.buf) > 0 || e.rx.wclosed || e.rx.reset != 0
			}
			if r && n < len(ready) {
				ready[n] = pump.Ready{Sub: i, Err: errno}
				n++
			}
		}
		if n > 0 || !wait {
			return n, 0
		}
		k.idle++
		k.cond.Wait()
		k.idle--
	}
}

// waitIdle returns once a Poll call is blocked with nothing ready (the
// loop has gone idle), failing the test after a few seconds.
func (k *kernel) waitIdle(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		k.mu.Lock()
		idle := k.idle
		k.mu.Unlock()
		if idle > 0 {
			return
		}
	}
	t.Fatal("the loop did not go idle in poll_oneoff within 5s")
}

// writeAll writes p to the blocking fd, then shuts it down if shut.
func (k *kernel) writeAll(fd int32, p []byte, shut bool) error {
	for len(p) > 0 {
		n, e := k.Write(fd, p)
		if e != 0 {
			return fmt.Errorf("write fd %d: %v", fd, e)
		}
		p = p[n:]
	}
	if shut {
		k.ShutdownWrite(fd)
	}
	return nil
}

// readAll reads the blocking fd until end of file.
func (k *kernel) readAll(fd int32) ([]byte, error) {
	var out []byte
	buf := make([]byte, 7000)
	for {
		n, e := k.Read(fd, buf)
		if e != 0 {
			return out, fmt.Errorf("read fd %d: %v", fd, e)
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}
