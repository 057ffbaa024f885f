package ptserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"
	"golang.org/x/sys/unix"
)

// The client side of tor's Extended ORPort (ext-orport-spec.txt), pipelined:
// a connection's first byte has arrived by the time the ExtORPort is dialed,
// so every round trip of this handshake is set-up time the client waits
// for. goptlib's DialOr takes five (it waits for the auth types before it
// chooses one, and for the auth result before it sends a command); this one
// takes two, because tor reads its input as a buffer and accepts what comes
// early (RATIONALE.md, "Why our own ExtORPort handshake?"):
//
//	-> auth type 1, client nonce       (at once: tor offers SAFE_COOKIE)
//	<- auth types, server hash, server nonce
//	-> client hash, USERADDR, TRANSPORT, DONE (after checking the server hash)
//	<- auth result, OKAY or DENY
//
// Nothing is sent that the server could not have had from us anyway before
// the server has proved it knows the cookie: the client hash and USERADDR
// follow the check of the server hash, as in goptlib. The two round trips
// are extORStart and extORHalf.finish: a connection kept in reserve
// (orspare.go) has done the first before a client needs it.

// extORTimeout bounds the handshake, as goptlib's does.
const extORTimeout = 5 * time.Second

const (
	extORAuthSafeCookie = 1
	extORNonceLen       = 32
	extORCmdDone        = 0x0000
	extORCmdUserAddr    = 0x0001
	extORCmdTransport   = 0x0002
	extORCmdOkay        = 0x1000
	extORCmdDeny        = 0x1001
	extORServerLabel    = "ExtORPort authentication server-to-client hash"
	extORClientLabel    = "ExtORPort authentication client-to-server hash"
	authCookieHeader    = "! Extended ORPort Auth Cookie !\n"
)

// dialOR connects to tor for one inbound connection: the ExtORPort,
// authenticated, with USERADDR addr and TRANSPORT method, when tor gave one;
// else the ORPort.
func dialOR(ctx context.Context, d *net.Dialer, info *pt.ServerInfo, addr, method string) (net.Conn, error) {
	if info.ExtendedOrAddr == nil || info.AuthCookiePath == "" {
		return d.DialContext(ctx, "tcp", info.OrAddr.String())
	}
	c, err := d.DialContext(ctx, "tcp", info.ExtendedOrAddr.String())
	if err != nil {
		return nil, err
	}
	if err := extORSetup(c, info.AuthCookiePath, addr, method); err != nil {
		c.Close()
		return nil, fmt.Errorf("ExtORPort %s: %w", info.ExtendedOrAddr, err)
	}
	return c, nil
}

// extORSetup runs the pipelined handshake on c.
func extORSetup(c net.Conn, cookiePath, addr, method string) error {
	h, err := extORStart(c, cookiePath)
	if err != nil {
		return err
	}
	return h.finish(addr, method)
}

// extORHalf is an ExtORPort connection whose first round trip is done:
// tor has proved it knows the cookie, and waits for our client hash. It
// carries no client yet: USERADDR goes with the client hash, in finish.
type extORHalf struct {
	c           net.Conn
	cookie      []byte
	clientNonce [extORNonceLen]byte
	serverNonce [extORNonceLen]byte
}

// extORStart runs the first round trip of the handshake on c: auth type
// and client nonce out, the server's hash (checked) and nonce in. c has no
// deadline when it returns.
func extORStart(c net.Conn, cookiePath string) (*extORHalf, error) {
	if err := c.SetDeadline(time.Now().Add(extORTimeout)); err != nil {
		return nil, err
	}
	h := &extORHalf{c: c}
	_, _ = rand.Read(h.clientNonce[:])
	if _, err := c.Write(append([]byte{extORAuthSafeCookie}, h.clientNonce[:]...)); err != nil {
		return nil, fmt.Errorf("sending the auth type and nonce: %w", err)
	}
	// Read at every dial, as goptlib does (tor may write a new cookie after
	// starting its transports, tor bug 15240), while tor answers.
	cookie, err := readAuthCookie(cookiePath)
	if err != nil {
		return nil, err
	}
	h.cookie = cookie
	if err := readAuthTypes(c); err != nil {
		return nil, err
	}
	var reply [sha256.Size + extORNonceLen]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		return nil, fmt.Errorf("reading the server hash: %w", err)
	}
	serverHash := reply[:sha256.Size]
	copy(h.serverNonce[:], reply[sha256.Size:])
	if !hmac.Equal(serverHash, extORHash(cookie, extORServerLabel, h.clientNonce[:], h.serverNonce[:])) {
		return nil, errors.New("the server hash does not match the auth cookie: wrong TOR_PT_AUTH_COOKIE_FILE?")
	}
	return h, c.SetDeadline(time.Time{})
}

// finish runs the second round trip: the client hash, USERADDR addr,
// TRANSPORT method and DONE in one write, then tor's auth result and its
// answer to DONE. c has no deadline when it returns.
func (h *extORHalf) finish(addr, method string) error {
	c := h.c
	if err := c.SetDeadline(time.Now().Add(extORTimeout)); err != nil {
		return err
	}
	msg := extORHash(h.cookie, extORClientLabel, h.clientNonce[:], h.serverNonce[:])
	if addr != "" {
		msg = extORCommand(msg, extORCmdUserAddr, addr)
	}
	if method != "" {
		msg = extORCommand(msg, extORCmdTransport, method)
	}
	msg = extORCommand(msg, extORCmdDone, "")
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("sending the client hash and commands: %w", err)
	}
	if err := readAuthResult(c); err != nil {
		return err
	}
	if err := readReply(c); err != nil {
		return err
	}
	return c.SetDeadline(time.Time{})
}

// readAuthTypes reads the server's auth types up to their 0 byte, one
// byte at a time (nothing past the list is consumed), and checks that
// SAFE_COOKIE is one of them.
func readAuthTypes(c net.Conn) error {
	offered := false
	var b [1]byte
	for range 256 {
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return fmt.Errorf("reading the auth types: %w", err)
		}
		if b[0] == 0 {
			if !offered {
				return errors.New("the server does not offer SAFE_COOKIE authentication (type 1)")
			}
			return nil
		}
		offered = offered || b[0] == extORAuthSafeCookie
	}
	return errors.New("the server listed 256 auth types without an end")
}

func readAuthResult(c net.Conn) error {
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return fmt.Errorf("reading the auth result: %w", err)
	}
	if b[0] != 1 {
		return errors.New("the server rejected our authentication: wrong TOR_PT_AUTH_COOKIE_FILE?")
	}
	return nil
}

// readReply reads the server's answer to DONE.
func readReply(c net.Conn) error {
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return fmt.Errorf("reading the reply to DONE: %w", err)
	}
	cmd, n := binary.BigEndian.Uint16(hdr[:2]), binary.BigEndian.Uint16(hdr[2:])
	if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
		return fmt.Errorf("reading the reply to DONE: %w", err)
	}
	switch cmd {
	case extORCmdOkay:
		return nil
	case extORCmdDeny:
		return errors.New("the server denied the connection (DENY)")
	}
	return fmt.Errorf("the server answered DONE with command 0x%04x, want OKAY", cmd)
}

// extORCommand appends a command (type, length, body) to b.
func extORCommand(b []byte, cmd uint16, body string) []byte {
	b = binary.BigEndian.AppendUint16(b, cmd)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func extORHash(cookie []byte, label string, clientNonce, serverNonce []byte) []byte {
	h := hmac.New(sha256.New, cookie)
	h.Write([]byte(label))
	h.Write(clientNonce)
	h.Write(serverNonce)
	return h.Sum(nil)
}

// readAuthCookie reads tor's auth cookie file: the 32-byte header and the
// 32-byte cookie, nothing more.
//
// It takes three system calls (open, one read, close): the file is read at
// every dial, and os.ReadFile's eight or so (a stat for the size, the
// runtime poller's attempts to register a regular file) were about 70 us on
// the set-up path whenever tor answered before they were done.
func readAuthCookie(path string) ([]byte, error) {
	b, err := readSmallFile(path, 65)
	if err != nil {
		return nil, fmt.Errorf("reading TOR_PT_AUTH_COOKIE_FILE: %w", err)
	}
	if len(b) != 64 || subtle.ConstantTimeCompare(b[:32], []byte(authCookieHeader)) != 1 {
		return nil, fmt.Errorf("TOR_PT_AUTH_COOKIE_FILE %s is not an auth cookie file (64 bytes, starting %q)", path, bytes.TrimSpace([]byte(authCookieHeader)))
	}
	return b[32:], nil
}

// readSmallFile reads up to max bytes of the regular file at path in one
// read: a regular file's read is short only at its end.
func readSmallFile(path string, max int) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	b := make([]byte, max)
	for {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		return b[:n], nil
	}
}
