package ptclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// The SOCKS5 server side of tor's connection to the PT (RFC 1928, RFC 1929).
//
// The handshake is read with io.ReadFull straight from the connection, field
// by field, never through a buffer: the bytes that follow the CONNECT request
// belong to the transport and stay in the socket.

// ReplyCode is a SOCKS5 reply code (RFC 1928 section 6, field REP).
type ReplyCode byte

// The reply codes of RFC 1928.
const (
	ReplySucceeded            ReplyCode = 0x00
	ReplyGeneralFailure       ReplyCode = 0x01
	ReplyConnectionNotAllowed ReplyCode = 0x02
	ReplyNetworkUnreachable   ReplyCode = 0x03
	ReplyHostUnreachable      ReplyCode = 0x04
	ReplyConnectionRefused    ReplyCode = 0x05
	ReplyTTLExpired           ReplyCode = 0x06
	ReplyCommandNotSupported  ReplyCode = 0x07
	ReplyAddressNotSupported  ReplyCode = 0x08
)

// String returns the name RFC 1928 gives the code.
func (c ReplyCode) String() string {
	switch c {
	case ReplySucceeded:
		return "succeeded"
	case ReplyGeneralFailure:
		return "general SOCKS server failure"
	case ReplyConnectionNotAllowed:
		return "connection not allowed by ruleset"
	case ReplyNetworkUnreachable:
		return "network unreachable"
	case ReplyHostUnreachable:
		return "host unreachable"
	case ReplyConnectionRefused:
		return "connection refused"
	case ReplyTTLExpired:
		return "TTL expired"
	case ReplyCommandNotSupported:
		return "command not supported"
	case ReplyAddressNotSupported:
		return "address type not supported"
	}
	return fmt.Sprintf("reply 0x%02x", byte(c))
}

// Wire constants.
const (
	socksVersion = 0x05

	methodNoAuth       = 0x00
	methodUserPass     = 0x02
	methodNoAcceptable = 0xff

	userPassVersion = 0x01
	userPassSuccess = 0x00
	userPassFailure = 0x01

	cmdConnect = 0x01

	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04
)

// Request is a SOCKS5 CONNECT request whose handshake has been read and not
// yet answered. Answer it once, with Grant or Reject.
type Request struct {
	// Conn is the connection given to ReadRequest, as it was given (a
	// *net.TCPConn stays one). Nothing of it has been buffered: its next
	// byte is the first the client sent after its request.
	Conn net.Conn
	// Target is the destination as "host:port"; host is an IPv4 address,
	// a bracketed IPv6 address or a domain name, as the client sent it.
	Target string
	// Args are the per-bridge arguments from the username and password;
	// empty when the client chose no-auth.
	Args Args

	replied bool
}

// ReadRequest reads a SOCKS5 handshake from conn up to and including the
// CONNECT request, answering the method negotiation and the RFC 1929
// sub-negotiation itself. It prefers username/password (0x02) to no-auth
// (0x00) when the client offers both, and replies 0xFF to a client that
// offers neither. deadline bounds the whole handshake (the zero time means
// none); it is cleared when ReadRequest returns.
//
// The request must be a CONNECT (else it is answered with
// ReplyCommandNotSupported) to an IPv4, IPv6 or domain-name address (else
// ReplyAddressNotSupported). When the username and password do not parse as
// per-bridge arguments, the request is answered with ReplyGeneralFailure and
// the error names the problem.
//
// On error, ReadRequest has answered the client when the protocol has a way
// to, and the caller only has to close conn. ReadRequest never closes conn.
func ReadRequest(conn net.Conn, deadline time.Time) (req *Request, err error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("socks5: setting the handshake deadline: %w", err)
	}
	defer func() {
		if cerr := conn.SetDeadline(time.Time{}); cerr != nil && err == nil {
			req, err = nil, fmt.Errorf("socks5: clearing the handshake deadline: %w", cerr)
		}
	}()

	method, err := negotiateMethod(conn)
	if err != nil {
		return nil, err
	}
	var args Args
	var argsErr error
	if method == methodUserPass {
		args, argsErr = readUserPass(conn)
		if _, bad := errors.AsType[*badArgsError](argsErr); argsErr != nil && !bad {
			return nil, argsErr
		}
	}
	target, err := readConnect(conn)
	if err != nil {
		return nil, err
	}
	req = &Request{Conn: conn, Target: target, Args: args}
	if argsErr != nil {
		_ = req.Reject(ReplyGeneralFailure) // the args error is the one to report
		return nil, argsErr
	}
	if args == nil {
		req.Args = Args{}
	}
	return req, nil
}

// negotiateMethod reads the version identifier/method selection message and
// answers it:
//
//	client: VER=5 | NMETHODS | METHODS[NMETHODS]
//	server: VER=5 | METHOD
func negotiateMethod(conn net.Conn) (byte, error) {
	var b [1]byte
	if err := readFull(conn, b[:], "version"); err != nil {
		return 0, err
	}
	if b[0] != socksVersion {
		return 0, fmt.Errorf("socks5: bad version %d", b[0])
	}
	if err := readFull(conn, b[:], "method count"); err != nil {
		return 0, err
	}
	methods := make([]byte, b[0])
	if err := readFull(conn, methods, "methods"); err != nil {
		return 0, err
	}
	method := byte(methodNoAcceptable)
	switch {
	case bytes.IndexByte(methods, methodUserPass) >= 0:
		method = methodUserPass
	case bytes.IndexByte(methods, methodNoAuth) >= 0:
		method = methodNoAuth
	}
	if err := write(conn, []byte{socksVersion, method}, "method selection"); err != nil {
		return 0, err
	}
	if method == methodNoAcceptable {
		return 0, fmt.Errorf("socks5: no acceptable authentication method among % x", methods)
	}
	return method, nil
}

// badArgsError is a username/password that arrived whole but does not parse
// as per-bridge arguments: the handshake goes on so that the request can be
// rejected with a reply.
type badArgsError struct{ err error }

func (e *badArgsError) Error() string {
	return "socks5: bad per-bridge arguments in the username/password: " + e.err.Error()
}

func (e *badArgsError) Unwrap() error { return e.err }

// readUserPass reads the RFC 1929 sub-negotiation and answers it:
//
//	client: VER=1 | ULEN | UNAME[ULEN] | PLEN | PASSWD[PLEN]
//	server: VER=1 | STATUS
//
// A username and password that do not parse as arguments are accepted here
// (STATUS 0) and returned as a *badArgsError.
func readUserPass(conn net.Conn) (Args, error) {
	fail := func(err error) (Args, error) {
		// The failure is what matters, not whether the client hears of it.
		_ = write(conn, []byte{userPassVersion, userPassFailure}, "username/password status")
		return nil, err
	}
	var b [1]byte
	if err := readFull(conn, b[:], "username/password version"); err != nil {
		return nil, err
	}
	if b[0] != userPassVersion {
		return fail(fmt.Errorf("socks5: bad username/password version %d", b[0]))
	}
	if err := readFull(conn, b[:], "username length"); err != nil {
		return nil, err
	}
	if b[0] == 0 {
		return fail(errors.New("socks5: empty username"))
	}
	user := make([]byte, b[0])
	if err := readFull(conn, user, "username"); err != nil {
		return nil, err
	}
	if err := readFull(conn, b[:], "password length"); err != nil {
		return nil, err
	}
	if b[0] == 0 {
		return fail(errors.New("socks5: empty password"))
	}
	pass := make([]byte, b[0])
	if err := readFull(conn, pass, "password"); err != nil {
		return nil, err
	}
	if err := write(conn, []byte{userPassVersion, userPassSuccess}, "username/password status"); err != nil {
		return nil, err
	}
	args, err := ArgsFromAuth(user, pass)
	if err != nil {
		return nil, &badArgsError{err}
	}
	return args, nil
}

// readConnect reads the request and returns its destination as host:port:
//
//	VER=5 | CMD | RSV=0 | ATYP | DST.ADDR | DST.PORT
//
// DST.ADDR is 4 bytes (ATYP 1), a length byte and a name (ATYP 3) or 16
// bytes (ATYP 4). A request it cannot serve is answered with a failure reply.
func readConnect(conn net.Conn) (string, error) {
	reject := func(code ReplyCode, err error) (string, error) {
		_ = writeReply(conn, code, nil)
		return "", err
	}
	var hdr [4]byte
	if err := readFull(conn, hdr[:], "request"); err != nil {
		return "", err
	}
	if hdr[0] != socksVersion {
		return reject(ReplyGeneralFailure, fmt.Errorf("socks5: bad version %d in request", hdr[0]))
	}
	// The whole request is read before it is judged, so that a reply is
	// not followed by unread bytes (closing a socket with unread bytes
	// resets the connection, and the reply may be lost).
	var host string
	switch atyp := hdr[3]; atyp {
	case atypIPv4:
		var a [4]byte
		if err := readFull(conn, a[:], "IPv4 address"); err != nil {
			return "", err
		}
		host = netip.AddrFrom4(a).String()
	case atypIPv6:
		var a [16]byte
		if err := readFull(conn, a[:], "IPv6 address"); err != nil {
			return "", err
		}
		host = netip.AddrFrom16(a).String()
	case atypDomain:
		var n [1]byte
		if err := readFull(conn, n[:], "domain name length"); err != nil {
			return "", err
		}
		name := make([]byte, n[0])
		if err := readFull(conn, name, "domain name"); err != nil {
			return "", err
		}
		host = string(name)
	default:
		return reject(ReplyAddressNotSupported, fmt.Errorf("socks5: unsupported address type 0x%02x", atyp))
	}
	var port [2]byte
	if err := readFull(conn, port[:], "port"); err != nil {
		return "", err
	}
	switch {
	case hdr[1] != cmdConnect:
		return reject(ReplyCommandNotSupported, fmt.Errorf("socks5: unsupported command 0x%02x", hdr[1]))
	case hdr[2] != 0:
		return reject(ReplyGeneralFailure, fmt.Errorf("socks5: reserved byte is 0x%02x, want 0x00", hdr[2]))
	case host == "":
		return reject(ReplyGeneralFailure, errors.New("socks5: empty domain name"))
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port[0])<<8|int(port[1]))), nil
}

// Grant answers the request with ReplySucceeded and bound as BND.ADDR and
// BND.PORT (0.0.0.0:0 when nil or not an IP address; tor ignores them).
func (r *Request) Grant(bound net.Addr) error {
	return r.reply(ReplySucceeded, bound)
}

// Reject answers the request with a failure code (see [ReplyForError]).
func (r *Request) Reject(code ReplyCode) error {
	if code == ReplySucceeded {
		return errors.New("socks5: Reject with the success code")
	}
	return r.reply(code, nil)
}

func (r *Request) reply(code ReplyCode, bound net.Addr) error {
	if r.replied {
		return errors.New("socks5: request already answered")
	}
	r.replied = true
	return writeReply(r.Conn, code, bound)
}

// writeReply writes VER=5 | REP | RSV=0 | ATYP | BND.ADDR | BND.PORT.
func writeReply(conn net.Conn, code ReplyCode, bound net.Addr) error {
	ap := addrPort(bound)
	b := make([]byte, 0, 4+16+2)
	b = append(b, socksVersion, byte(code), 0)
	if a := ap.Addr(); a.Is4() {
		b = append(b, atypIPv4)
		b = append(b, a.AsSlice()...)
	} else {
		b = append(b, atypIPv6)
		b = append(b, a.AsSlice()...)
	}
	b = append(b, byte(ap.Port()>>8), byte(ap.Port()))
	return write(conn, b, "reply")
}

// addrPort returns a's IP address and port, unmapped, or 0.0.0.0:0.
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case nil:
	case *net.TCPAddr:
		if a != nil {
			ap = a.AddrPort()
		}
	case *net.UDPAddr:
		if a != nil {
			ap = a.AddrPort()
		}
	default:
		ap, _ = netip.ParseAddrPort(a.String())
	}
	if !ap.Addr().IsValid() {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func readFull(conn net.Conn, b []byte, what string) error {
	if _, err := io.ReadFull(conn, b); err != nil {
		return fmt.Errorf("socks5: reading %s: %w", what, err)
	}
	return nil
}

func write(conn net.Conn, b []byte, what string) error {
	if _, err := conn.Write(b); err != nil {
		return fmt.Errorf("socks5: writing %s: %w", what, err)
	}
	return nil
}
