//go:build wasip1

// Package stream is the connection-level guest SDK: the module author gets
// the network side of a connection as a net.Conn and returns the stream
// the plaintext side is to read and write, typically after a handshake.
//
//	package main
//
//	import (
//		"net"
//
//		"github.com/water-pt/water-pt/watm/guest"
//		"github.com/water-pt/water-pt/watm/guest/stream"
//		_ "github.com/water-pt/water-pt/watm/guest/v0"
//	)
//
//	func init() {
//		stream.Register(stream.Func(func(role guest.Role, network net.Conn) (net.Conn, error) {
//			// A handshake on network; return the conn that frames the data.
//			return network, nil
//		}))
//	}
//
//	func main() {}
//
// WrapConn runs inside the host's role entry (_water_dial, _water_accept,
// _water_associate, or watm_*_v1), so a handshake that fails fails the
// host's dial or accept (a PT client's SOCKS request), and the error's
// text is written to stderr, which the host logs and attaches to the
// error it reports. The network conn has deadlines, and timers work
// (time.Sleep, time.After): the module's scheduler waits in poll_oneoff.
// Deadlines set on network are cleared when WrapConn returns.
//
// The worker then copies between the plaintext side and the returned conn
// on two goroutines. When one side reaches end of file, the other is
// half-closed if it has CloseWrite (as net.TCPConn has) and the other
// direction goes on; if the returned conn has no CloseWrite, the
// connection ends there, both sides closed (as obfs4proxy's copy loop
// does). The host's cancel channel ends it at any time.
//
// Config and args: implement Initer (guest.Args decodes the PT-args form);
// a Transport without it refuses a non-empty config.
//
// This package brings in package net; the byte transforms of package
// guest do not, and their single-threaded data loop stays as it is.
package stream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/water-pt/water-pt/watm/guest"
	"github.com/water-pt/water-pt/watm/guest/internal/core"
	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

// Transport is a connection-level transport.
type Transport interface {
	// WrapConn runs the module's side of the connection set-up on
	// network and returns the conn that carries the plaintext over it.
	// role says which side this is. An error fails the connection; its
	// text reaches the host.
	WrapConn(role guest.Role, network net.Conn) (net.Conn, error)
}

// Func adapts a function to a Transport.
type Func func(role guest.Role, network net.Conn) (net.Conn, error)

// WrapConn calls f.
func (f Func) WrapConn(role guest.Role, network net.Conn) (net.Conn, error) { return f(role, network) }

// Initer is implemented by a Transport that takes a config (or args);
// see guest.Initer.
type Initer = guest.Initer

// Aheader is implemented by a Transport with work to do before its
// connection that needs no config and is used by one connection only,
// such as drawing an ephemeral key pair. A host that knows the
// waterpt_ahead export (water-pt does) calls Ahead once in an instance it
// keeps ready, off the connection's path, before Init; other hosts never
// call it, and neither does water-pt for an instance it makes while a
// connection waits. So WrapConn must do the work itself when Ahead has
// not run; and what Ahead made must be used once at most. An error is
// logged by the host, which then stops calling Ahead.
type Aheader interface {
	Ahead() error
}

// BufSize is each direction's copy buffer.
const BufSize = 64 << 10

// Register sets the module's transport. Call it once, from an init
// function, instead of guest.Register. It panics if t is nil or a
// transport is already registered.
func Register(t Transport) {
	if t == nil {
		panic("stream: Register(nil)")
	}
	c := &conns{t: t}
	hooks := &core.Conn{Enter: c.enter, Worker: c.worker}
	if i, ok := t.(Initer); ok {
		hooks.Init = i.Init
	}
	if a, ok := t.(Aheader); ok {
		hooks.Ahead = a.Ahead
	}
	core.RegisterConn(hooks)
}

// conns is the one connection an instance carries.
type conns struct {
	t       Transport
	network net.Conn // the host's network fd
	wrapped net.Conn // what WrapConn returned
}

// enter runs WrapConn on the network fd.
func (c *conns) enter(role core.Role, network int32) wasi.Errno {
	nc, err := fdConn(network, "network")
	if err != nil {
		core.Fail(role.String(), err)
		return errnoOf(err)
	}
	w, err := c.t.WrapConn(role, nc)
	if err != nil {
		nc.Close()
		core.Fail(role.String(), err)
		return errnoOf(err)
	}
	if w == nil {
		nc.Close()
		core.Fail(role.String(), errors.New("WrapConn returned a nil conn and no error"))
		return wasi.EINVAL
	}
	_ = nc.SetDeadline(time.Time{})
	c.network, c.wrapped = nc, w
	return wasi.ESUCCESS
}

// fdConn makes a net.Conn of a socket fd the host gave. Closing the conn
// closes the fd.
func fdConn(fd int32, name string) (net.Conn, error) {
	// Go's wasip1 os.NewFile polls only an fd that is non-blocking
	// already; a blocking one would block the whole module in fd_read.
	if e := wasi.SetNonblock(fd); e != wasi.ESUCCESS {
		return nil, fmt.Errorf("%s fd %d: non-blocking mode: %w", name, fd, syscall.Errno(e))
	}
	f := os.NewFile(uintptr(fd), name)
	if f == nil {
		return nil, fmt.Errorf("%s fd %d: %w", name, fd, syscall.EBADF)
	}
	defer f.Close() // the conn holds its own reference to fd
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("%s fd %d: %w", name, fd, err)
	}
	return nc, nil
}

// worker copies between the plaintext fd and the wrapped conn until the
// connection ends or cancel turns readable.
func (c *conns) worker(plainFD, cancelFD int32) wasi.Errno {
	plain, err := fdConn(plainFD, "plaintext")
	if err != nil {
		c.wrapped.Close()
		c.network.Close()
		core.Fail("worker", err)
		return errnoOf(err)
	}
	var cancel net.Conn
	if cancelFD >= 0 {
		if cancel, err = fdConn(cancelFD, "cancel"); err != nil {
			plain.Close()
			c.wrapped.Close()
			c.network.Close()
			core.Fail("worker", err)
			return errnoOf(err)
		}
	}
	err = run(plain, c.wrapped, cancel)
	c.network.Close() // in case the wrapped conn does not close it
	switch {
	case err == nil:
		return wasi.ESUCCESS
	case errors.Is(err, errCanceled):
		return wasi.ECANCELED
	}
	core.Fail("worker", err)
	return errnoOf(err)
}

var errCanceled = errors.New("canceled by the host")

// run copies plain <-> wrapped and closes both before it returns. cancel
// (may be nil) ends it when readable; run closes it too.
func run(plain, wrapped, cancel net.Conn) error {
	results := make(chan error, 2)
	go func() { results <- copyHalf(wrapped, plain, "plaintext -> network") }()
	go func() { results <- copyHalf(plain, wrapped, "network -> plaintext") }()
	canceled := make(chan struct{})
	watcher := make(chan struct{})
	if cancel != nil {
		go func() {
			defer close(watcher)
			var b [1]byte
			if _, err := cancel.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
				close(canceled) // a byte, a hang-up, or a failure: stop
			}
		}()
	} else {
		close(watcher)
	}

	var result error
	closed := false
	closeBoth := func() {
		if !closed {
			closed = true
			wrapped.Close()
			plain.Close()
		}
	}
	for pending := 2; pending > 0; {
		select {
		case err := <-results:
			pending--
			if closed {
				continue // errors of a connection already being closed
			}
			if err != nil {
				if !errors.Is(err, errNoHalfClose) {
					result = err
				}
				closeBoth()
			}
		case <-canceled:
			canceled = nil
			if !closed {
				result = errCanceled
				closeBoth()
			}
		}
	}
	closeBoth()
	if cancel != nil {
		_ = cancel.SetReadDeadline(time.Now())
		<-watcher
		cancel.Close()
	}
	return result
}

// errNoHalfClose ends a connection whose destination cannot be half-closed
// once its source reached end of file.
var errNoHalfClose = errors.New("end of file, and no half-close")

// copyHalf copies src to dst until src's end of file, then half-closes
// dst (or reports errNoHalfClose).
func copyHalf(dst, src net.Conn, name string) error {
	buf := make([]byte, BufSize)
	if _, err := io.CopyBuffer(onlyWriter{dst}, onlyReader{src}, buf); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	cw, ok := dst.(interface{ CloseWrite() error })
	if !ok {
		return errNoHalfClose
	}
	// A peer that is gone shows up in the other direction.
	_ = cw.CloseWrite()
	return nil
}

// onlyReader and onlyWriter hide ReadFrom/WriteTo, so that io.CopyBuffer
// uses its buffer (net.TCPConn's ReadFrom would use a 32 KiB one of its
// own).
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

// errnoOf picks the errno a failed call returns to the host; the text
// itself went to stderr.
func errnoOf(err error) wasi.Errno {
	var en syscall.Errno
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return wasi.Errno(syscall.ETIMEDOUT)
	case errors.As(err, &en) && en > 0 && en < 1<<16:
		return wasi.Errno(en)
	}
	return wasi.Errno(syscall.EPROTO)
}
