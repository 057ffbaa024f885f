// Package pump is the data loop of a WATM: it moves bytes between the
// plaintext fd and the network fd through a Transport, on one thread, with
// raw non-blocking WASI calls.
//
// Pipeline:
//
//	plain fd --fd_read--> up.buf   --Wrap-->   up.out   --fd_write--> net fd
//	net fd   --fd_read--> down.buf --Unwrap--> down.out --fd_write--> plain fd
//
// Both fds are set non-blocking. Each turn of the loop steps both
// directions as far as they go without blocking: a direction writes its
// pending output (partially if the destination takes less) and reads again
// only once that output is gone, so a transform's result is never
// overwritten and memory stays at one BufSize buffer per direction. A
// direction never waits on its own write while the other could move: two
// such loops talking to each other cannot deadlock.
//
// When neither direction moved, the loop waits in poll_oneoff on FD_READ of
// each source whose buffer is empty, FD_WRITE of each destination with
// pending output, and FD_READ of the cancel fd. End of file on a source is
// passed on once its output is flushed: sock_shutdown(dst, WR) half-closes
// the destination and the other direction goes on. When both directions
// have ended the loop returns ESUCCESS. A read or write error ends it with
// that errno. The cancel fd turning readable (a byte, or a hang-up) ends it
// with ECANCELED; it is also checked every few turns while data flows, so a
// busy connection stops promptly too.
package pump

import "github.com/water-pt/water-pt/watm/guest/internal/wasi"

// Transport is the transform a WATM applies; see package guest.
type Transport interface {
	Wrap(p []byte) []byte
	Unwrap(p []byte) []byte
}

// Sys is the set of WASI calls the loop makes. WASI() is the real one;
// tests use a fake.
type Sys interface {
	// SetNonblock makes fd non-blocking: Read and Write return EAGAIN
	// instead of waiting.
	SetNonblock(fd int32) wasi.Errno
	// Read is one fd_read; (0, ESUCCESS) is end of file.
	Read(fd int32, p []byte) (int, wasi.Errno)
	// Write is one fd_write; it may take fewer than len(p) bytes.
	Write(fd int32, p []byte) (int, wasi.Errno)
	// ShutdownWrite is sock_shutdown(fd, SDFLAGS_WR).
	ShutdownWrite(fd int32) wasi.Errno
	// Poll is one poll_oneoff on subs. With wait it blocks until at least
	// one is ready; without, it returns at once. It fills ready and
	// returns how many entries it filled.
	Poll(subs []Sub, wait bool, ready []Ready) (int, wasi.Errno)
}

// Sub is one readiness subscription: FD_WRITE on FD if Write, else FD_READ.
type Sub struct {
	FD    int32
	Write bool
}

// Ready is one event from Poll: Sub is the index of the subscription in the
// slice given to Poll, Err the event's error.
type Ready struct {
	Sub int
	Err wasi.Errno
}

const (
	// BufSize is the read buffer of each direction. 256 KiB moves a bulk
	// transfer in a quarter of the reads and writes of 64 KiB: 0.80-0.95 of
	// the baseline's throughput instead of 0.58-0.77 (go run
	// ./integration/bench, 2-CPU VM). Its pages cost memory only once a
	// connection has used them.
	BufSize = 256 << 10
	// MaxSubs is the most subscriptions the loop asks Poll for: one per
	// direction and the cancel fd.
	MaxSubs = 3

	// maxRounds bounds the reads and writes one direction makes in a turn,
	// so that a busy direction does not starve the other.
	maxRounds = 8
	// cancelEvery is how many busy turns pass between checks of the
	// cancel fd.
	cancelEvery = 8
)

// NoFD stands for "no cancel fd" in Run.
const NoFD int32 = -1

// Buffers is the memory of one loop: a read buffer per direction and the
// loop's state. A module keeps its Buffers in a global, so that they are
// part of the module's initial memory rather than a large allocation that
// grows the Go heap by several times their size, and so that Run allocates
// nothing: in an instance cloned from a snapshot, each first allocation of
// a size class takes a new span and faults in its pages, which cost the
// worker's start 100-200 us before its first read (issue 13).
type Buffers struct {
	bytes [2 * BufSize]byte
	dirs  [2]direction
	subs  [MaxSubs]Sub
	owner [MaxSubs]*direction // nil: the cancel fd
	ready [MaxSubs]Ready
}

// Run moves bytes between plain and net through t until both directions
// have ended (ESUCCESS), a read or write fails (that errno), or cancel
// turns readable (ECANCELED). cancel may be NoFD. bufs is the loop's
// memory; nil allocates it. Run sets plain and net non-blocking and leaves
// all fds open.
func Run(sys Sys, t Transport, plain, net, cancel int32, bufs *Buffers) wasi.Errno {
	if e := sys.SetNonblock(plain); e != wasi.ESUCCESS {
		return e
	}
	if e := sys.SetNonblock(net); e != wasi.ESUCCESS {
		return e
	}
	if bufs == nil {
		bufs = new(Buffers)
	}
	up, down := &bufs.dirs[0], &bufs.dirs[1]
	*up = direction{src: plain, dst: net, t: t, wrap: true, buf: bufs.bytes[:BufSize:BufSize], readable: true, writable: true}
	*down = direction{src: net, dst: plain, t: t, buf: bufs.bytes[BufSize:], readable: true, writable: true}
	dirs := [2]*direction{up, down}
	subs, owner, ready := &bufs.subs, &bufs.owner, &bufs.ready

	var (
		turns  int
		failed wasi.Errno // an event error seen with no progress since
	)
	for {
		// Step both directions as far as they go.
		moved := false
		for _, d := range dirs {
			m, e := d.step(sys)
			if e != wasi.ESUCCESS {
				return e
			}
			moved = moved || m
		}
		if up.done && down.done {
			return wasi.ESUCCESS
		}
		if moved {
			failed = wasi.ESUCCESS
			turns++
			if cancel >= 0 && turns%cancelEvery == 0 {
				subs[0] = Sub{FD: cancel}
				n, e := sys.Poll(subs[:1], false, ready[:])
				if e != wasi.ESUCCESS {
					return e
				}
				if n > 0 {
					return wasi.ECANCELED
				}
			}
			continue
		}

		// Nothing moved: wait until something can.
		n := 0
		for _, d := range dirs {
			switch {
			case d.done:
				continue
			case len(d.out) > 0:
				subs[n] = Sub{FD: d.dst, Write: true}
			default:
				subs[n] = Sub{FD: d.src}
			}
			owner[n] = d
			n++
		}
		if cancel >= 0 {
			subs[n] = Sub{FD: cancel}
			owner[n] = nil
			n++
		}
		got, e := sys.Poll(subs[:n], true, ready[:])
		if e != wasi.ESUCCESS {
			return e
		}
		perr := wasi.ESUCCESS
		for _, r := range ready[:min(got, len(ready))] {
			if r.Sub < 0 || r.Sub >= n {
				continue
			}
			d := owner[r.Sub]
			if d == nil {
				return wasi.ECANCELED
			}
			if subs[r.Sub].Write {
				d.writable = true
			} else {
				d.readable = true
			}
			if perr == wasi.ESUCCESS {
				perr = r.Err
			}
		}
		// An event error normally shows again in the next read or write;
		// if a poll reports one twice with no progress between, give up
		// with it instead of spinning.
		if perr != wasi.ESUCCESS && failed != wasi.ESUCCESS {
			return failed
		}
		failed = perr
	}
}

// direction is one half of the pipeline: src -> buf -> xform -> out -> dst.
type direction struct {
	src, dst int32
	t        Transport
	wrap     bool   // t.Wrap, else t.Unwrap (a method value would allocate)
	buf      []byte // read buffer, BufSize
	out      []byte // transformed bytes not yet written; may alias buf

	// Readiness hints: false after EAGAIN (or a short read or write) until
	// poll_oneoff reports the fd ready again.
	readable, writable bool

	eof  bool // src reached end of file
	done bool // eof, out flushed, dst shut down for writing
}

// step moves d's bytes as far as they go without blocking. It reports
// whether anything happened.
func (d *direction) step(sys Sys) (moved bool, err wasi.Errno) {
	for range maxRounds {
		if len(d.out) > 0 {
			if !d.writable {
				return moved, wasi.ESUCCESS
			}
			n, e := sys.Write(d.dst, d.out)
			if n > 0 {
				d.out = d.out[min(n, len(d.out)):]
				moved = true
			}
			switch {
			case e == wasi.EAGAIN:
				d.writable = false
				return moved, wasi.ESUCCESS
			case e != wasi.ESUCCESS:
				return moved, e
			case len(d.out) > 0:
				// A short write: dst is full for now.
				d.writable = false
				return moved, wasi.ESUCCESS
			}
			continue
		}
		if d.eof {
			if !d.done {
				// Errors are ignored: a peer that is gone shows up in the
				// other direction's reads and writes.
				sys.ShutdownWrite(d.dst)
				d.done = true
				moved = true
			}
			return moved, wasi.ESUCCESS
		}
		if !d.readable {
			return moved, wasi.ESUCCESS
		}
		n, e := sys.Read(d.src, d.buf)
		switch {
		case e == wasi.EAGAIN:
			d.readable = false
			return moved, wasi.ESUCCESS
		case e != wasi.ESUCCESS:
			return moved, e
		case n == 0:
			d.eof = true
			moved = true
			continue
		}
		moved = true
		n = min(n, len(d.buf))
		if n < len(d.buf) {
			// src is most likely drained: ask poll_oneoff rather than
			// spend a read on EAGAIN.
			d.readable = false
		}
		if d.wrap {
			d.out = d.t.Wrap(d.buf[:n])
		} else {
			d.out = d.t.Unwrap(d.buf[:n])
		}
	}
	return moved, wasi.ESUCCESS
}
