//go:build wasip1

// Package greeter is a connection-level test WATM (watm/guest/stream)
// whose server writes first. Its v0 and v1 builds are ./v0 and ./v1.
//
// Handshake, on the network side:
//
//	listener -> dialer   "HELLO listener GREETING\n"  (at once, unasked)
//	dialer   -> listener "CLIENT dialer\n"            (after delay-ms)
//
// The listener waits deadline-ms for the client's line (a read deadline)
// and fails with "no client hello within ...". The dialer sleeps delay-ms
// (a timer) before it reads the greeting. With fail=TEXT, WrapConn fails
// with "handshake refused: TEXT". After the handshake every byte is XORed
// with 0x5a both ways; CloseWrite passes through.
//
// Args: greeting, fail, delay-ms, deadline-ms.
package greeter

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/water-pt/water-pt/watm/guest"
	"github.com/water-pt/water-pt/watm/guest/stream"
)

// Register registers the transport; call it from an init function.
func Register() { stream.Register(&transport{}) }

type transport struct {
	greeting        string
	fail            string
	delay, deadline time.Duration
}

func (t *transport) Init([]byte) error {
	a, err := guest.Args("greeting", "fail", "delay-ms", "deadline-ms")
	if err != nil {
		return err
	}
	t.greeting, t.fail = a["greeting"], a["fail"]
	t.deadline = 5 * time.Second
	for key, d := range map[string]*time.Duration{"delay-ms": &t.delay, "deadline-ms": &t.deadline} {
		if v, ok := a[key]; ok {
			ms, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s=%q: %w", key, v, err)
			}
			*d = time.Duration(ms) * time.Millisecond
		}
	}
	return nil
}

func (t *transport) WrapConn(role guest.Role, network net.Conn) (net.Conn, error) {
	if t.fail != "" {
		return nil, errors.New("handshake refused: " + t.fail)
	}
	if role != guest.CurrentRole() {
		return nil, fmt.Errorf("role %v, but CurrentRole says %v", role, guest.CurrentRole())
	}
	r := bufio.NewReader(network)
	switch role {
	case guest.RoleListener:
		if _, err := fmt.Fprintf(network, "HELLO %v %s\n", role, t.greeting); err != nil {
			return nil, err
		}
		network.SetReadDeadline(time.Now().Add(t.deadline))
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("no client hello within %v: %w", t.deadline, err)
		}
		if !strings.HasPrefix(line, "CLIENT ") {
			return nil, fmt.Errorf("bad client hello %q", line)
		}
	default:
		time.Sleep(t.delay)
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("server greeting: %w", err)
		}
		if !strings.HasPrefix(line, "HELLO listener ") {
			return nil, fmt.Errorf("bad server greeting %q", line)
		}
		if _, err := fmt.Fprintf(network, "CLIENT %v\n", role); err != nil {
			return nil, err
		}
	}
	return &xorConn{Conn: network, r: r}, nil
}

// xorConn XORs every byte with 0x5a. It reads through the handshake's
// reader, which may hold bytes the peer sent right after its line.
type xorConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *xorConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	xor(p[:n])
	return n, err
}

func (c *xorConn) Write(p []byte) (int, error) {
	b := make([]byte, len(p))
	copy(b, p)
	xor(b)
	return c.Conn.Write(b)
}

func (c *xorConn) CloseWrite() error { return c.Conn.(interface{ CloseWrite() error }).CloseWrite() }

func xor(p []byte) {
	for i := range p {
		p[i] ^= 0x5a
	}
}
