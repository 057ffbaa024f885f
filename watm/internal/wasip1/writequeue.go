package wasip1

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// writeQueueBound is how many bytes a socket's host-side write queue holds
// before the instance's other sockets stop giving it input (reads answer
// EAGAIN, polls wait) and a module that waits for writability gets EAGAIN;
// see RATIONALE.md, "Why does the host queue what a non-blocking write could
// not send?". A module that never waits for writability may go past it by
// what it had already read, and blocks only at writeQueueHardBound (a
// module writing what it never read, say).
const (
	writeQueueBound     = 256 << 10
	writeQueueHardBound = 4 << 20
)

// writeQueue holds the bytes of non-blocking fd_writes that the kernel did
// not take, in order, until a flusher goroutine (owned by the socket,
// running only while the queue is not empty) has written them. A socket gets
// one on its first short write; its chunks are freed as they are written.
type writeQueue struct {
	s      *SockFile
	grace  time.Duration
	wake   func()        // tells poll_oneoff that the queue emptied, failed or fell below the bound
	full   *atomic.Int32 // the instance's count of queues at or over the bound
	blocks *sync.Pool    // the Runtime's queueBlocks

	mu      sync.Mutex
	cond    sync.Cond
	chunks  []queueChunk
	iovs    [][]byte // the flusher's writev buffers, reused
	queued  int
	running bool  // a flusher goroutine is running
	err     Errno // the flusher's write error, reported on the next call
	aborted bool
	// shutWR: sock_shutdown(WR) came while bytes were queued; the flusher
	// shuts down after the last one. then: run when the flusher ends (a
	// close that came while bytes were queued).
	shutWR bool
	then   func()
	wg     sync.WaitGroup
}

// queueBlockSize is the size of the blocks a queue copies writes into.
// The blocks come from a pool of the Runtime's, not one allocation per
// write: a module that writes faster than its peer reads (every module
// built with Go's runtime, which never waits for writability as long as
// writes are whole) has all its writes copied here, and allocating each
// cost more in garbage collection than the copy itself (RATIONALE.md, "Why
// are queued writes copied into pooled blocks?").
const queueBlockSize = 64 << 10

type queueBlock = [queueBlockSize]byte

// flushIovecs bounds the blocks the flusher writes in one call (1 MiB).
const flushIovecs = 16

// queueChunk is the bytes start to end of a block still to be written.
type queueChunk struct {
	blk        *queueBlock
	start, end int
}

func newWriteQueue(s *SockFile, grace time.Duration, wake func(), full *atomic.Int32, blocks *sync.Pool) *writeQueue {
	q := &writeQueue{s: s, grace: grace, wake: wake, full: full, blocks: blocks}
	q.cond.L = &q.mu
	return q
}

// takeErr returns and forgets the flusher's error.
func (q *writeQueue) takeErr() Errno {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.err
	q.err = ESUCCESS
	return e
}

// empty reports whether nothing waits to be written (a failed queue is
// empty: its error is what the next call gets).
func (q *writeQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queued == 0
}

// tryAppend queues all of bufs if they fit under the bound, else nothing.
func (q *writeQueue) tryAppend(bufs [][]byte, n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued+n > writeQueueBound {
		return false
	}
	for _, b := range bufs {
		q.appendLocked(b)
	}
	return true
}

// appendBlocking queues all of bufs, waiting while the queue is at its
// hard bound. It returns EBADF when the socket is closed or the instance
// stopped, or the flusher's error.
func (q *writeQueue) appendBlocking(bufs [][]byte) Errno {
	for _, b := range bufs {
		for len(b) > 0 {
			q.mu.Lock()
			for q.queued >= writeQueueHardBound && !q.aborted && q.err == ESUCCESS {
				q.cond.Wait()
			}
			if q.aborted {
				q.mu.Unlock()
				return EBADF
			}
			if e := q.err; e != ESUCCESS {
				q.err = ESUCCESS
				q.mu.Unlock()
				return e
			}
			k := min(len(b), writeQueueHardBound-q.queued)
			q.appendLocked(b[:k])
			q.mu.Unlock()
			b = b[k:]
		}
	}
	return ESUCCESS
}

// appendLocked copies b to the end of the queue: into the last block's
// room, then into new blocks.
func (q *writeQueue) appendLocked(b []byte) {
	q.setQueued(q.queued + len(b))
	for len(b) > 0 {
		if k := len(q.chunks); k == 0 || q.chunks[k-1].end == queueBlockSize {
			q.chunks = append(q.chunks, queueChunk{blk: q.newBlock()})
		}
		c := &q.chunks[len(q.chunks)-1]
		n := copy(c.blk[c.end:], b)
		c.end += n
		b = b[n:]
	}
	if !q.running {
		q.running = true
		q.wg.Add(1)
		go q.routineFlush()
	}
}

// routineFlush writes the queue out, waiting for the socket's readiness in
// the netpoller, and ends when the queue is empty, a write fails or the
// socket is aborted.
func (q *writeQueue) routineFlush() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if q.queued == 0 || q.aborted {
			q.finishLocked()
			return
		}
		// Appends only add after end (or blocks after these), so the
		// bytes written here stay as they are while unlocked. All that is
		// queued goes in one writev: fewer calls, fewer waits.
		bufs := q.iovs[:0]
		for _, c := range q.chunks[:min(len(q.chunks), flushIovecs)] {
			bufs = append(bufs, c.blk[c.start:c.end])
		}
		q.iovs = bufs
		q.mu.Unlock()
		n, e := q.s.writev(bufs, false)
		q.mu.Lock()
		if e != ESUCCESS {
			q.err = e
			q.finishLocked()
			return
		}
		below := q.setQueued(q.queued - n)
		q.consumedLocked(n)
		q.cond.Broadcast()
		q.mu.Unlock()
		if below {
			q.wake()
		}
	}
}

// finishLocked ends the flusher: the queue is empty (or dropped), a
// pending shutdown(WR) is done, a pending close runs. It unlocks q.mu.
func (q *writeQueue) finishLocked() {
	if q.shutWR && !q.aborted && q.queued == 0 {
		_ = q.s.rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_WR) })
	}
	q.running = false
	for _, c := range q.chunks {
		q.blocks.Put(c.blk)
	}
	q.chunks, q.iovs = nil, nil
	q.setQueued(0)
	then := q.then
	q.then = nil
	q.cond.Broadcast()
	q.mu.Unlock()
	if then != nil {
		then()
	}
	q.wake()
}

// shutdownWhenDrained makes the flusher shut down the socket's write side
// after the last queued byte; it reports false if the queue is empty (the
// caller shuts down now).
func (q *writeQueue) shutdownWhenDrained() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.running {
		return false
	}
	q.shutWR = true
	return true
}

// closeWhenDrained runs closeFn once the queue is written, or dropped after
// the grace period; it reports false if the queue is empty (the caller
// closes now). The instance waits for the flusher before it is released.
func (q *writeQueue) closeWhenDrained(closeFn func()) bool {
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		return false
	}
	t := time.AfterFunc(q.grace, q.abort)
	q.then = func() { t.Stop(); closeFn() }
	q.mu.Unlock()
	return true
}

// drain waits up to the grace period for the queue to be written. It
// reports whether it was; if not, the queue is dropped. Either way no
// flusher runs when it returns.
func (q *writeQueue) drain() bool {
	t := time.AfterFunc(q.grace, q.abort)
	defer t.Stop()
	q.mu.Lock()
	for q.running && !q.aborted {
		q.cond.Wait()
	}
	ok := q.queued == 0
	q.mu.Unlock()
	if !ok {
		q.abort()
	}
	q.wg.Wait()
	return ok
}

// setQueued changes the count and keeps the instance's count of full
// queues; it reports whether the queue fell below the bound.
func (q *writeQueue) setQueued(n int) bool {
	was := q.queued >= writeQueueBound
	q.queued = n
	switch now := n >= writeQueueBound; {
	case now && !was:
		q.full.Add(1)
	case was && !now:
		q.full.Add(-1)
		return true
	}
	return false
}

// timedWait is cond.Wait that returns after d at the latest.
func (q *writeQueue) timedWait(d time.Duration) {
	t := time.AfterFunc(d, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	q.cond.Wait()
	t.Stop()
}

// waitEmpty waits until no flusher runs (the queue was written, failed or
// was aborted).
func (q *writeQueue) waitEmpty() {
	q.mu.Lock()
	for q.running && !q.aborted {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// abortWaiters marks the queue aborted and wakes its waiters (the socket's
// own abort wakes a flusher blocked in a write).
func (q *writeQueue) abortWaiters() {
	q.mu.Lock()
	q.aborted = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// abort drops the queue and wakes every waiter; a flusher blocked in a
// write is woken by the socket's deadline.
func (q *writeQueue) abort() {
	q.mu.Lock()
	q.aborted = true
	running := q.running
	q.cond.Broadcast()
	q.mu.Unlock()
	if running {
		q.s.abort()
	}
}

// newBlock takes a block from the pool.
func (q *writeQueue) newBlock() *queueBlock {
	if b, ok := q.blocks.Get().(*queueBlock); ok {
		return b
	}
	return new(queueBlock)
}

// consumedLocked drops n written bytes from the head of the queue; a
// block written to its end goes back to the pool, the last one is reused.
func (q *writeQueue) consumedLocked(n int) {
	for n > 0 {
		c := &q.chunks[0]
		k := min(n, c.end-c.start)
		c.start += k
		n -= k
		switch {
		case c.start < c.end:
		case len(q.chunks) == 1:
			c.start, c.end = 0, 0
		default:
			q.blocks.Put(c.blk)
			q.chunks[0] = queueChunk{}
			q.chunks = q.chunks[1:]
		}
	}
}

// writeWhole is fd_write on a non-blocking socket: every byte of bufs is
// taken (written, or queued behind the kernel), or, for a module that
// waits for writability, none with EAGAIN when the queue is full. It never
// returns a short count.
func (c *Context) writeWhole(s *SockFile, bufs [][]byte) (int, Errno) {
	s.writableReported = false
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if q := s.wq; q != nil {
		if e := q.takeErr(); e != ESUCCESS {
			return 0, e
		}
		if q.shutPending() {
			return 0, EPIPE
		}
		if !q.empty() {
			return c.queueWrite(s, bufs, total)
		}
	}
	n, e := s.writev(bufs, true)
	switch {
	case e == EAGAIN && c.pollsWrite:
		return 0, EAGAIN
	case e == EAGAIN:
		n = 0
	case e != ESUCCESS:
		return 0, e
	}
	if n == total {
		return n, ESUCCESS
	}
	return c.queueWrite(s, skip(bufs, n), total)
}

// queueWrite queues bufs (total bytes were asked for in this call).
func (c *Context) queueWrite(s *SockFile, bufs [][]byte, total int) (int, Errno) {
	if s.wq == nil {
		s.wq = newWriteQueue(s, c.host.grace, c.wakePoll, &c.fullQueues, &c.host.blocks)
		c.queues = append(c.queues, s.wq)
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	c.Counters.ShortWrites.Add(1)
	if n < total || !c.pollsWrite {
		// Part was written (it cannot be taken back) or the module never
		// waits for writability: take the rest. What it reads next is held
		// back while the queue is full (throttled), so this grows past the
		// bound by at most what it had already read.
		if e := s.wq.appendBlocking(bufs); e != ESUCCESS {
			return 0, e
		}
		return total, ESUCCESS
	}
	if !s.wq.tryAppend(bufs, n) {
		c.Counters.ShortWrites.Add(^uint64(0))
		return 0, EAGAIN
	}
	return total, ESUCCESS
}

// skip drops the first n bytes of bufs.
func skip(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 && n > 0 {
		rest := make([][]byte, len(bufs))
		copy(rest, bufs)
		rest[0] = rest[0][n:]
		bufs = rest
	}
	return bufs
}

// writev writes bufs with one writev(2), waiting for writability unless
// nonblock; one buffer (what most modules pass) with write(2), which
// builds no iovec array on the heap.
func (s *SockFile) writev(bufs [][]byte, nonblock bool) (int, Errno) {
	var n int
	var errno Errno
	err := s.rc.Write(func(fd uintptr) bool {
		var e error
		if len(bufs) == 1 {
			n, e = unix.Write(int(fd), bufs[0])
		} else {
			n, e = unix.Writev(int(fd), bufs)
		}
		if e == unix.EINTR || (e == unix.EAGAIN && !nonblock) {
			return false
		}
		n, errno = fixN(n, e)
		return true
	})
	return s.written(n, errno, err)
}

// wakePoll wakes a parked poll_oneoff: a queue emptied, failed or fell
// below its bound (poll_oneoff waits for that while a write subscription's
// socket has bytes queued or a read is throttled).
func (c *Context) wakePoll() { signal(c.wake) }

// throttled reports whether reads from s are held back: a socket of the
// instance other than s has a full write queue, so the module gets no more
// input to put there until it drains. A full queue's own socket still
// reads (its peer may wait for that before it reads again), unless another
// queue is full too: what it reads would go there. The cancel channel is
// never held back (it is no SockFile): a module must see it however full
// its queues are.
func (c *Context) throttled(s *SockFile) bool {
	full := c.fullQueues.Load()
	if full == 0 {
		return false
	}
	if s.wq != nil && !s.wq.below() {
		full--
	}
	return full > 0
}

// shutPending reports whether a shutdown(WR) waits for the queue.
func (q *writeQueue) shutPending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shutWR && q.running
}

// below reports whether the queue holds less than its bound.
func (q *writeQueue) below() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queued < writeQueueBound
}
