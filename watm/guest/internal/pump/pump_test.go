package pump_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm/guest/internal/pump"
	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

// addOne adds 1 to every byte on Wrap and subtracts it on Unwrap, so a test
// sees which way each direction went.
type addOne struct{}

func (addOne) Wrap(p []byte) []byte {
	for i := range p {
		p[i]++
	}
	return p
}

func (addOne) Unwrap(p []byte) []byte {
	for i := range p {
		p[i]--
	}
	return p
}

// framer cuts the stream into frames of at most 1000 bytes, each behind a
// 2-byte length, and adds 1 to the payload: Wrap returns more bytes than it
// is given (more than pump.BufSize for a full buffer), Unwrap fewer, and
// Unwrap keeps partial frames across calls.
type framer struct {
	wout []byte
	uout []byte
	in   []byte // Unwrap's unparsed input
}

func (f *framer) Wrap(p []byte) []byte {
	f.wout = f.wout[:0]
	for len(p) > 0 {
		n := min(len(p), 1000)
		f.wout = append(f.wout, byte(n>>8), byte(n))
		for _, b := range p[:n] {
			f.wout = append(f.wout, b+1)
		}
		p = p[n:]
	}
	return f.wout
}

func (f *framer) Unwrap(p []byte) []byte {
	f.in = append(f.in, p...)
	f.uout = f.uout[:0]
	for len(f.in) >= 2 {
		n := int(f.in[0])<<8 | int(f.in[1])
		if len(f.in) < 2+n {
			break
		}
		for _, b := range f.in[2 : 2+n] {
			f.uout = append(f.uout, b-1)
		}
		f.in = f.in[2+n:]
	}
	return f.uout
}

var transports = []struct {
	name string
	new  func() pump.Transport
}{
	{"addOne", func() pump.Transport { return addOne{} }},
	{"framer", func() pump.Transport { return new(framer) }},
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 99))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// start runs a loop in a goroutine; the result arrives on the channel.
func start(k *kernel, t pump.Transport, plain, net, cancel int32) <-chan wasi.Errno {
	done := make(chan wasi.Errno, 1)
	go func() { done <- pump.Run(k, t, plain, net, cancel, new(pump.Buffers)) }()
	return done
}

func wait(t *testing.T, done <-chan wasi.Errno, want wasi.Errno) {
	t.Helper()
	select {
	case got := <-done:
		if got != want {
			t.Fatalf("Run returned %v, want %v", got, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return (want %v)", want)
	}
}

// peer sends its bytes then shuts down, and reads to end of file, both at
// once; the result is what it read.
func peer(k *kernel, fd int32, send []byte) <-chan result {
	res := make(chan result, 1)
	werr := make(chan error, 1)
	go func() { werr <- k.writeAll(fd, send, true) }()
	go func() {
		got, err := k.readAll(fd)
		res <- result{got, errors.Join(err, <-werr)}
	}()
	return res
}

type result struct {
	got []byte
	err error
}

func collect(t *testing.T, name string, res <-chan result) []byte {
	t.Helper()
	select {
	case r := <-res:
		if r.err != nil {
			t.Fatalf("%s: %v", name, r.err)
		}
		return r.got
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not finish", name)
		return nil
	}
}

// One loop between a plaintext peer and a network peer, both sending at
// once: each side must get the other's bytes through the right transform.
func TestRunOneLoop(t *testing.T) {
	for _, tr := range transports {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%s/seed%d", tr.name, seed), func(t *testing.T) {
				k := newKernel(seed)
				plain, plainPeer := k.socketpair(3000)
				net, netPeer := k.socketpair(5000)
				done := start(k, tr.new(), plain, net, pump.NoFD)

				up := randomBytes(seed, 300_000+int(seed))
				down := randomBytes(seed+100, 200_000)
				// The network peer speaks the wrapped form.
				wire := bytes.Clone(tr.new().Wrap(bytes.Clone(down)))
				netRes := peer(k, netPeer, wire)
				plainRes := peer(k, plainPeer, up)

				gotWire := collect(t, "network peer", netRes)
				gotPlain := collect(t, "plaintext peer", plainRes)
				wait(t, done, 0)
				if got := tr.new().Unwrap(gotWire); !bytes.Equal(got, up) {
					t.Errorf("network peer got %d bytes that unwrap to %d, not the %d sent", len(gotWire), len(got), len(up))
				}
				if !bytes.Equal(gotPlain, down) {
					t.Errorf("plaintext peer got %d bytes, not the %d sent", len(gotPlain), len(down))
				}
			})
		}
	}
}

// Two loops talking to each other over small buffers, every end sending
// at once: with a blocking write anywhere this deadlocks.
func TestRunTwoLoopsNoDeadlock(t *testing.T) {
	for _, tr := range transports {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%s/seed%d", tr.name, seed), func(t *testing.T) {
				k := newKernel(seed)
				cPlain, cApp := k.socketpair(1024)
				sPlain, sApp := k.socketpair(2048)
				cNet, sNet := k.socketpair(512)
				cDone := start(k, tr.new(), cPlain, cNet, pump.NoFD)
				sDone := start(k, tr.new(), sPlain, sNet, pump.NoFD)

				fromClient := randomBytes(seed, 1<<20)
				fromServer := randomBytes(seed+1, 1<<20+17)
				cRes := peer(k, cApp, fromClient)
				sRes := peer(k, sApp, fromServer)

				if got := collect(t, "client app", cRes); !bytes.Equal(got, fromServer) {
					t.Errorf("client app got %d bytes, not the server's %d", len(got), len(fromServer))
				}
				if got := collect(t, "server app", sRes); !bytes.Equal(got, fromClient) {
					t.Errorf("server app got %d bytes, not the client's %d", len(got), len(fromClient))
				}
				wait(t, cDone, 0)
				wait(t, sDone, 0)
			})
		}
	}
}

// End of file on one side reaches the other as end of file while the
// other direction goes on.
func TestRunHalfClose(t *testing.T) {
	k := newKernel(1)
	plain, plainPeer := k.socketpair(100)
	net, netPeer := k.socketpair(100)
	done := start(k, addOne{}, plain, net, pump.NoFD)

	if err := k.writeAll(plainPeer, []byte("hello"), true); err != nil {
		t.Fatal(err)
	}
	got, err := k.readAll(netPeer) // ends only if the shutdown got through
	if err != nil || string(got) != "ifmmp" {
		t.Fatalf("network peer read %q, %v; want %q", got, err, "ifmmp")
	}
	if err := k.writeAll(netPeer, []byte("xpsme"), true); err != nil {
		t.Fatal(err)
	}
	got, err = k.readAll(plainPeer)
	if err != nil || string(got) != "world" {
		t.Fatalf("plaintext peer read %q, %v; want %q", got, err, "world")
	}
	wait(t, done, 0)
}

func TestRunCancelIdle(t *testing.T) {
	k := newKernel(1)
	plain, _ := k.socketpair(100)
	net, _ := k.socketpair(100)
	cancel, cancelPeer := k.socketpair(1)
	done := start(k, addOne{}, plain, net, cancel)
	k.waitIdle(t)
	k.writeAll(cancelPeer, []byte{0}, false)
	wait(t, done, wasi.ECANCELED)
}

func TestRunCancelHangup(t *testing.T) {
	k := newKernel(1)
	plain, _ := k.socketpair(100)
	net, _ := k.socketpair(100)
	cancel, cancelPeer := k.socketpair(1)
	done := start(k, addOne{}, plain, net, cancel)
	k.Close(cancelPeer)
	wait(t, done, wasi.ECANCELED)
}

// A connection that never goes idle still stops on cancel.
func TestRunCancelBusy(t *testing.T) {
	k := newKernel(1)
	plain, plainPeer := k.socketpair(1 << 16)
	net, netPeer := k.socketpair(1 << 16)
	cancel, cancelPeer := k.socketpair(1)
	done := start(k, addOne{}, plain, net, cancel)

	// The plaintext peer sends forever, the network peer drains forever.
	go func() {
		p := make([]byte, 1<<16)
		for {
			if _, e := k.Write(plainPeer, p); e != 0 {
				return
			}
		}
	}()
	got := make(chan int, 1)
	go func() {
		p := make([]byte, 1<<16)
		total, signalled := 0, false
		for {
			n, e := k.Read(netPeer, p)
			if e != 0 || n == 0 {
				return
			}
			if total += n; total > 4<<20 && !signalled {
				got <- total
				signalled = true
			}
		}
	}()
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no data flowed")
	}
	k.writeAll(cancelPeer, []byte{0}, false)
	wait(t, done, wasi.ECANCELED)
	k.Close(plain) // unblock the peers
	k.Close(net)
}

func TestRunErrors(t *testing.T) {
	t.Run("EPIPE", func(t *testing.T) {
		k := newKernel(1)
		plain, plainPeer := k.socketpair(100)
		net, netPeer := k.socketpair(100)
		k.Close(netPeer)
		done := start(k, addOne{}, plain, net, pump.NoFD)
		go k.writeAll(plainPeer, []byte("data"), false)
		wait(t, done, wasi.EPIPE)
	})
	t.Run("ECONNRESET", func(t *testing.T) {
		k := newKernel(1)
		plain, _ := k.socketpair(100)
		net, _ := k.socketpair(100)
		done := start(k, addOne{}, plain, net, pump.NoFD)
		k.Reset(net, wasi.ECONNRESET)
		wait(t, done, wasi.ECONNRESET)
	})
	t.Run("fd closed under the loop", func(t *testing.T) {
		k := newKernel(1)
		plain, _ := k.socketpair(100)
		net, _ := k.socketpair(100)
		done := start(k, addOne{}, plain, net, pump.NoFD)
		k.waitIdle(t)
		k.Close(net)
		wait(t, done, wasi.EBADF)
	})
	t.Run("SetNonblock fails", func(t *testing.T) {
		k := newKernel(1)
		plain, _ := k.socketpair(100)
		net, _ := k.socketpair(100)
		k.fds[net].failSet = wasi.ENOTSUP
		wait(t, start(k, addOne{}, plain, net, pump.NoFD), wasi.ENOTSUP)
	})
}

// With room in the sockets, the loop moves whole buffers and waits in
// poll_oneoff about once per buffer, not once per byte or per call.
func TestRunPollsPerBuffer(t *testing.T) {
	k := newKernel(1)
	plain, plainPeer := k.socketpair(1 << 20)
	net, netPeer := k.socketpair(1 << 20)
	done := start(k, addOne{}, plain, net, pump.NoFD)
	const size = 32 << 20
	netRes := peer(k, netPeer, nil)
	plainRes := peer(k, plainPeer, make([]byte, size))
	if got := collect(t, "network peer", netRes); len(got) != size {
		t.Fatalf("network peer got %d bytes, want %d", len(got), size)
	}
	collect(t, "plaintext peer", plainRes)
	wait(t, done, 0)
	k.mu.Lock()
	polls := k.polls
	k.mu.Unlock()
	// The fake cuts reads and writes at random and its peers write when the
	// scheduler lets them, so the pace is theirs, not BufSize's: allow a few
	// polls per 64 KiB (a loop that polled per call or per byte would make
	// tens of thousands).
	const unit = 64 << 10
	if limit := 8 * size / unit; polls > limit {
		t.Errorf("%d polls for %d x 64 KiB, want at most %d", polls, size/unit, limit)
	}
	t.Logf("%d polls for %d bytes", polls, size)
}

// stuckSys reports an error event on every poll while reads and writes
// keep saying EAGAIN: the loop must give up with the event's error rather
// than spin.
type stuckSys struct{ polls int }

func (*stuckSys) SetNonblock(int32) wasi.Errno          { return 0 }
func (*stuckSys) Read(int32, []byte) (int, wasi.Errno)  { return 0, wasi.EAGAIN }
func (*stuckSys) Write(int32, []byte) (int, wasi.Errno) { return 0, wasi.EAGAIN }
func (*stuckSys) ShutdownWrite(int32) wasi.Errno        { return 0 }
func (s *stuckSys) Poll(subs []pump.Sub, wait bool, ready []pump.Ready) (int, wasi.Errno) {
	s.polls++
	ready[0] = pump.Ready{Sub: 0, Err: wasi.EIO}
	return 1, 0
}

func TestRunPollErrorDoesNotSpin(t *testing.T) {
	s := new(stuckSys)
	if got := pump.Run(s, addOne{}, 3, 4, pump.NoFD, nil); got != wasi.EIO {
		t.Fatalf("Run returned %v, want EIO", got)
	}
	if s.polls > 2 {
		t.Errorf("%d polls before giving up, want 2", s.polls)
	}
}

// TestRunAllocatesNothing: a loop's state lives in its Buffers, so Run
// allocates nothing, here through a wait in Poll, a byte each way and end
// of file. In an instance cloned from a snapshot every first allocation of
// a size class faults in a new span's pages, which made the worker's start
// cost 100-200 us before its first read.
func TestRunAllocatesNothing(t *testing.T) {
	bufs := new(pump.Buffers)
	var sys scripted
	allocs := testing.AllocsPerRun(20, func() {
		sys = scripted{}
		if e := pump.Run(&sys, identity{}, 3, 4, 5, bufs); e != wasi.ESUCCESS {
			t.Fatalf("Run: %v", e)
		}
	})
	if allocs != 0 {
		t.Errorf("Run allocates %v times", allocs)
	}
	if sys.polls != 2 || sys.written != 2 {
		t.Errorf("the script ran %d polls and wrote %d bytes, want 2 and 2: the test no longer covers a wait", sys.polls, sys.written)
	}
}

type identity struct{}

func (identity) Wrap(p []byte) []byte   { return p }
func (identity) Unwrap(p []byte) []byte { return p }

// scripted is a Sys without allocations: each of fds 3 and 4 first has
// nothing (EAGAIN), then, once a Poll has said so, one byte, then end of
// file.
type scripted struct {
	reads   [5]int
	polls   int
	written int
}

func (s *scripted) SetNonblock(int32) wasi.Errno   { return wasi.ESUCCESS }
func (s *scripted) ShutdownWrite(int32) wasi.Errno { return wasi.ESUCCESS }

func (s *scripted) Read(fd int32, p []byte) (int, wasi.Errno) {
	s.reads[fd]++
	switch {
	case s.polls == 0:
		return 0, wasi.EAGAIN
	case s.reads[fd] == 2:
		p[0] = 'x'
		return 1, wasi.ESUCCESS
	}
	return 0, wasi.ESUCCESS
}

func (s *scripted) Write(fd int32, p []byte) (int, wasi.Errno) {
	s.written += len(p)
	return len(p), wasi.ESUCCESS
}

func (s *scripted) Poll(subs []pump.Sub, wait bool, ready []pump.Ready) (int, wasi.Errno) {
	if !wait {
		return 0, wasi.ESUCCESS
	}
	s.polls++
	n := 0
	for i, sub := range subs {
		if sub.FD != 5 {
			ready[n] = pump.Ready{Sub: i}
			n++
		}
	}
	return n, wasi.ESUCCESS
}
