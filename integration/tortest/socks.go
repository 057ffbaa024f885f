package tortest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// SOCKS5 reply codes (RFC 1928 section 6).
const (
	ReplySucceeded           byte = 0x00
	ReplyGeneralFailure      byte = 0x01
	ReplyNotAllowed          byte = 0x02
	ReplyNetworkUnreachable  byte = 0x03
	ReplyHostUnreachable     byte = 0x04
	ReplyConnectionRefused   byte = 0x05
	ReplyTTLExpired          byte = 0x06
	ReplyCommandNotSupported byte = 0x07
	ReplyAddressNotSupported byte = 0x08
	// ReplyNone is returned by DialSOCKS when the handshake failed before the
	// PT answered the CONNECT request.
	ReplyNone byte = 0xff
)

// Limits of RFC 1929 fields, and tor's limit for PT arguments
// (MAX_SOCKS5_AUTH_FIELD_SIZE, MAX_SOCKS5_AUTH_SIZE_TOTAL).
const (
	maxSOCKSAuthField = 255
	MaxSOCKSArgsLen   = 2 * maxSOCKSAuthField
)

// EncodeSOCKSArgs is tor's pt_stringify_socks_args: each "k=v" of the bridge
// line with ';' and '\' escaped by a backslash, joined by ';'. Tor does not
// escape '=' (pt-spec lists it, but the PT splits each pair at its first '=',
// so a '=' in a value survives; a '=' in a key cannot be expressed).
func EncodeSOCKSArgs(args []KV) string {
	parts := make([]string, len(args))
	for i, kv := range args {
		parts[i] = escapePTArg(kv.Key+"="+kv.Value, ";\\")
	}
	return strings.Join(parts, ";")
}

// SOCKSAuth returns the RFC 1929 username and password tor sends for args:
// the encoded string if it fits in 255 bytes, with a single NUL byte as the
// password; otherwise its first 255 bytes and the rest. More than
// MaxSOCKSArgsLen bytes is an error (tor refuses such a bridge line).
func SOCKSAuth(args []KV) (user, pass []byte, err error) {
	s := EncodeSOCKSArgs(args)
	switch {
	case len(s) == 0:
		return nil, nil, errors.New("no SOCKS arguments")
	case len(s) > MaxSOCKSArgsLen:
		return nil, nil, fmt.Errorf("SOCKS arguments are %d bytes encoded, more than %d", len(s), MaxSOCKSArgsLen)
	case len(s) > maxSOCKSAuthField:
		return []byte(s[:maxSOCKSAuthField]), []byte(s[maxSOCKSAuthField:]), nil
	}
	return []byte(s), []byte{0}, nil
}

// SOCKSError is a failed SOCKS handshake.
type SOCKSError struct {
	Stage string // "greeting", "auth", "connect"
	Reply byte   // the CONNECT reply code, or ReplyNone
	Err   error
}

func (e *SOCKSError) Error() string {
	if e.Reply != ReplyNone {
		return fmt.Sprintf("socks %s: reply 0x%02x (%s)", e.Stage, e.Reply, replyText(e.Reply))
	}
	return fmt.Sprintf("socks %s: %v", e.Stage, e.Err)
}

func (e *SOCKSError) Unwrap() error { return e.Err }

func replyText(r byte) string {
	texts := []string{"succeeded", "general failure", "not allowed by ruleset",
		"network unreachable", "host unreachable", "connection refused",
		"TTL expired", "command not supported", "address type not supported"}
	if int(r) < len(texts) {
		return texts[r]
	}
	return "unassigned"
}

// DialSOCKS connects to a PT client's SOCKS5 port (socksAddr, from its
// CMETHOD line) and asks it to reach target (the bridge, "ip:port"), passing
// args exactly as tor passes a bridge line's k=v pairs:
//
//   - no args: the greeting offers only "no authentication" (0x00);
//   - with args: it offers 0x00 and username/password (0x02), and if the PT
//     picks 0x02 sends SOCKSAuth(args); if the PT picks 0x00, tor (and this
//     function) goes on without sending the args.
//
// The CONNECT request carries target as an IPv4 or IPv6 address (tor always
// dials bridges by address) or, if target's host is not an IP literal, as a
// domain name.
//
// On success it returns the connection (a *net.TCPConn, so CloseWrite works)
// and ReplySucceeded. If the PT answers CONNECT with an error it returns the
// reply code and a *SOCKSError; failures before that return ReplyNone. ctx
// bounds the dial and the handshake, not the returned connection.
func DialSOCKS(ctx context.Context, socksAddr, target string, args []KV) (net.Conn, byte, error) {
	req, err := connectRequest(target)
	if err != nil {
		return nil, ReplyNone, err
	}
	var user, pass []byte
	if len(args) > 0 {
		if user, pass, err = SOCKSAuth(args); err != nil {
			return nil, ReplyNone, err
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", socksAddr)
	if err != nil {
		return nil, ReplyNone, err
	}
	// Let a cancelled ctx interrupt the handshake; wait for the callback if it
	// started, so nothing touches c after we return.
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.SetDeadline(time.Unix(1, 0))
		close(interrupted)
	})
	rep, err := socksHandshake(c, user, pass, req)
	if !stop() {
		<-interrupted
		if err == nil {
			err = &SOCKSError{Stage: "connect", Reply: ReplyNone, Err: ctx.Err()}
		}
	}
	if err != nil {
		c.Close()
		return nil, rep, err
	}
	c.SetDeadline(time.Time{})
	return c, ReplySucceeded, nil
}

func connectRequest(target string) ([]byte, error) {
	host, portStr, err := net.SplitHostPort(target)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q", target)
	}
	req := []byte{5, 1, 0} // version, CONNECT, reserved
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Is4() {
			req = append(req, 1)
		} else {
			req = append(req, 4)
		}
		req = append(req, ip.AsSlice()...)
	} else {
		if len(host) > 255 {
			return nil, fmt.Errorf("host name %q too long", host)
		}
		req = append(req, 3, byte(len(host)))
		req = append(req, host...)
	}
	return binary.BigEndian.AppendUint16(req, uint16(port)), nil
}

func socksHandshake(c net.Conn, user, pass, req []byte) (byte, error) {
	greeting := []byte{5, 1, 0}
	if user != nil {
		greeting = []byte{5, 2, 0, 2}
	}
	if _, err := c.Write(greeting); err != nil {
		return ReplyNone, &SOCKSError{"greeting", ReplyNone, err}
	}
	var resp [2]byte
	if _, err := io.ReadFull(c, resp[:]); err != nil {
		return ReplyNone, &SOCKSError{"greeting", ReplyNone, err}
	}
	if resp[0] != 5 {
		return ReplyNone, &SOCKSError{"greeting", ReplyNone, fmt.Errorf("version %d in method selection", resp[0])}
	}
	switch {
	case resp[1] == 0:
	case resp[1] == 2 && user != nil:
		msg := []byte{1, byte(len(user))}
		msg = append(msg, user...)
		msg = append(msg, byte(len(pass)))
		msg = append(msg, pass...)
		if _, err := c.Write(msg); err != nil {
			return ReplyNone, &SOCKSError{"auth", ReplyNone, err}
		}
		if _, err := io.ReadFull(c, resp[:]); err != nil {
			return ReplyNone, &SOCKSError{"auth", ReplyNone, err}
		}
		if resp[1] != 0 {
			return ReplyNone, &SOCKSError{"auth", ReplyNone, fmt.Errorf("username/password rejected (status 0x%02x)", resp[1])}
		}
	default:
		return ReplyNone, &SOCKSError{"greeting", ReplyNone, fmt.Errorf("PT chose method 0x%02x", resp[1])}
	}
	if _, err := c.Write(req); err != nil {
		return ReplyNone, &SOCKSError{"connect", ReplyNone, err}
	}
	var hdr [4]byte // version, reply, reserved, address type
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return ReplyNone, &SOCKSError{"connect", ReplyNone, err}
	}
	if hdr[0] != 5 {
		return ReplyNone, &SOCKSError{"connect", ReplyNone, fmt.Errorf("version %d in reply", hdr[0])}
	}
	var addrLen int
	switch hdr[3] {
	case 1:
		addrLen = 4
	case 4:
		addrLen = 16
	case 3:
		var n [1]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return ReplyNone, &SOCKSError{"connect", ReplyNone, err}
		}
		addrLen = int(n[0])
	default:
		if hdr[1] != ReplySucceeded {
			return hdr[1], &SOCKSError{"connect", hdr[1], nil}
		}
		return ReplyNone, &SOCKSError{"connect", ReplyNone, fmt.Errorf("address type %d in reply", hdr[3])}
	}
	if _, err := io.ReadFull(c, make([]byte, addrLen+2)); err != nil && hdr[1] == ReplySucceeded {
		return ReplyNone, &SOCKSError{"connect", ReplyNone, err}
	}
	if hdr[1] != ReplySucceeded {
		return hdr[1], &SOCKSError{"connect", hdr[1], nil}
	}
	return ReplySucceeded, nil
}
