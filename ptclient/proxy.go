package ptclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/proxy"
)

// TOR_PT_PROXY: tor asks the PT to reach its bridges through an upstream
// proxy, socks5://[user:pass@]ip:port, socks4a://ip:port or
// http://[user:pass@]ip:port, and waits for PROXY DONE or PROXY-ERROR. The
// errors of ParseProxyURL and ProxyDialer are written for that PROXY-ERROR
// line; none of them shows a password.

// ContextDialer dials with a context, like *net.Dialer.
type ContextDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// ProxyError is a refusal by the upstream proxy: it answered, and said no, or
// the request cannot be put to it at all (an IPv6 destination through
// socks4a). Reply is the SOCKS5 code that [ReplyForError] gives it.
type ProxyError struct {
	Scheme string    // "socks5", "socks4a" or "http"
	Reply  ReplyCode // what to tell tor
	Msg    string    // what the proxy said, printable ASCII only
	Err    error     // the underlying error, if any
}

func (e *ProxyError) Error() string {
	return e.Scheme + " proxy refused: " + e.Msg
}

func (e *ProxyError) Unwrap() error { return e.Err }

// ParseProxyURL parses and checks the value of TOR_PT_PROXY as lyrebird does
// (cmd/lyrebird/pt_extras.go): an absolute URL with no path, query or
// fragment; scheme socks5, socks4a or http; host an IP address literal, not a
// name (tor writes an address there, and a name would need a DNS lookup
// outside the proxy); a port; a socks4a URL carries no password; a socks5
// username and password are both present, 1 to 255 bytes each (RFC 1929).
func ParseProxyURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the input, which may hold a password.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("proxy URL does not parse: %v", err)
	}
	switch {
	case !u.IsAbs():
		return nil, fmt.Errorf("proxy URL %s is relative, must be absolute", u.Redacted())
	case u.Opaque != "":
		return nil, fmt.Errorf("proxy URL %s is not of the form scheme://host:port", u.Redacted())
	case u.Path != "":
		return nil, fmt.Errorf("proxy URL %s has a path", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("proxy URL %s has a query", u.Redacted())
	case u.Fragment != "":
		return nil, fmt.Errorf("proxy URL %s has a fragment", u.Redacted())
	}
	if err := checkScheme(u.Scheme); err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "socks4a":
		if _, ok := u.User.Password(); ok {
			return nil, fmt.Errorf("proxy URL %s has a password, which socks4a cannot send", u.Redacted())
		}
	case "socks5":
		if u.User != nil {
			p, ok := u.User.Password()
			if n := len(u.User.Username()); n < 1 || n > 255 {
				return nil, fmt.Errorf("proxy URL %s has a %d-byte username, socks5 takes 1 to 255", u.Redacted(), n)
			}
			if !ok || len(p) < 1 || len(p) > 255 {
				return nil, fmt.Errorf("proxy URL %s has a %d-byte password, socks5 takes 1 to 255", u.Redacted(), len(p))
			}
		}
	}
	if _, err := netip.ParseAddr(u.Hostname()); err != nil {
		return nil, fmt.Errorf("proxy URL %s: host %q is not an IP address", u.Redacted(), u.Hostname())
	}
	if _, err := proxyHostPort(u); err != nil {
		return nil, err
	}
	return u, nil
}

func checkScheme(scheme string) error {
	switch scheme {
	case "socks5", "socks4a", "http":
		return nil
	}
	return fmt.Errorf("unsupported proxy scheme %q: use socks5, socks4a or http", scheme)
}

// proxyHostPort returns the proxy's host:port, which must have a port.
func proxyHostPort(u *url.URL) (string, error) {
	if u.Hostname() == "" {
		return "", fmt.Errorf("proxy URL %s has no host", u.Redacted())
	}
	p := u.Port()
	if p == "" {
		return "", fmt.Errorf("proxy URL %s has no port", u.Redacted())
	}
	if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("proxy URL %s: bad port %q", u.Redacted(), p)
	}
	return u.Host, nil
}

// ProxyDialer returns a dialer that reaches its destinations through the
// proxy u (socks5, socks4a or http CONNECT), dialing the proxy itself with
// forward (a plain *net.Dialer when nil). u must have a port; its host may
// be a name here (ParseProxyURL is the strict check).
//
// The dialer takes networks "tcp", "tcp4" and "tcp6" (the proxy picks the
// family) and returns the very connection forward returned, with the proxy
// handshake read off it byte by byte: nothing that follows is buffered.
// A refusal by the proxy is a *[ProxyError]; failing to reach the proxy is
// forward's error, wrapped.
func ProxyDialer(u *url.URL, forward ContextDialer) (ContextDialer, error) {
	if err := checkScheme(u.Scheme); err != nil {
		return nil, err
	}
	addr, err := proxyHostPort(u)
	if err != nil {
		return nil, err
	}
	if forward == nil {
		forward = &net.Dialer{}
	}
	d := &proxyDialer{scheme: u.Scheme, addr: addr, forward: forward}
	switch u.Scheme {
	case "socks5":
		var auth *proxy.Auth
		if u.User != nil {
			auth = &proxy.Auth{User: u.User.Username()}
			auth.Password, _ = u.User.Password()
		}
		pd, err := proxy.SOCKS5("tcp", addr, auth, nil)
		if err != nil {
			return nil, fmt.Errorf("socks5 proxy: %w", err)
		}
		wc, ok := pd.(withConnDialer)
		if !ok {
			return nil, fmt.Errorf("socks5 proxy: golang.org/x/net/proxy returned a %T, which cannot dial over a given connection", pd)
		}
		d.connect = func(ctx context.Context, c net.Conn, network, target string) error {
			_, err := wc.DialWithConn(ctx, c, network, target)
			if err != nil && ctx.Err() != nil {
				// x/net reports a canceled handshake as the i/o timeout
				// it used to interrupt it.
				return ctx.Err()
			}
			return socks5Error(err)
		}
	case "socks4a":
		d.connect = socks4aConnect(u.User.Username())
	case "http":
		var auth string
		if u.User != nil {
			p, _ := u.User.Password()
			auth = base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + p))
		}
		d.connect = httpConnect(auth)
	}
	return d, nil
}

type proxyDialer struct {
	scheme  string
	addr    string // the proxy's host:port
	forward ContextDialer
	// connect asks the proxy, over c, for a connection to target.
	connect func(ctx context.Context, c net.Conn, network, target string) error
}

func (d *proxyDialer) DialContext(ctx context.Context, network, target string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("%s proxy: network %q not supported, only tcp", d.scheme, network)
	}
	c, err := d.forward.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("%s proxy %s: %w", d.scheme, d.addr, err)
	}
	if err := d.connect(ctx, c, network, target); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s proxy %s: connecting to %s: %w", d.scheme, d.addr, target, err)
	}
	return c, nil
}

// withConnDialer is the method of golang.org/x/net/internal/socks.Dialer
// that runs the SOCKS5 handshake on a connection we dialed and hands the
// connection back unwrapped (its DialContext wraps it).
type withConnDialer interface {
	DialWithConn(ctx context.Context, c net.Conn, network, address string) (net.Addr, error)
}

// socks5Error turns the refusals golang.org/x/net/proxy reports as bare
// strings into a *ProxyError with the proxy's reply code. The strings are
// those of x/net's internal/socks; the proxytest end-to-end tests notice if
// they change.
func socks5Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Err != nil {
		msg = oe.Err.Error()
	}
	if name, ok := strings.CutPrefix(msg, "unknown error "); ok {
		code := ReplyGeneralFailure
		for c := ReplyGeneralFailure; c <= ReplyAddressNotSupported; c++ {
			if c.String() == name {
				code = c
			}
		}
		return &ProxyError{Scheme: "socks5", Reply: code, Msg: printable(name), Err: err}
	}
	switch msg {
	case "username/password authentication failed", "no acceptable authentication methods":
		return &ProxyError{Scheme: "socks5", Reply: ReplyConnectionNotAllowed, Msg: msg, Err: err}
	}
	return err
}

// SOCKS4a (an extension of SOCKS4, https://www.openssh.com/txt/socks4a.protocol):
//
//	client: VN=4 | CD=1 | DSTPORT(2) | DSTIP(4) | USERID | 0 [| HOST | 0]
//	server: VN=0 | CD | DSTPORT(2) | DSTIP(4)
//
// A name goes in HOST, with DSTIP 0.0.0.1; an IPv4 address goes in DSTIP.
const (
	socks4Version   = 0x04
	socks4Granted   = 0x5a
	socks4Rejected  = 0x5b // "request rejected or failed"
	socks4NoIdentd  = 0x5c
	socks4BadUserID = 0x5d
)

// socks4aConnect returns the connect step of a socks4a dialer. userID is the
// URL's username, empty in what tor sends.
func socks4aConnect(userID string) func(ctx context.Context, c net.Conn, network, target string) error {
	return func(ctx context.Context, c net.Conn, network, target string) error {
		host, portStr, err := net.SplitHostPort(target)
		if err != nil {
			return err
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			return fmt.Errorf("bad port %q", portStr)
		}
		b := []byte{socks4Version, cmdConnect, byte(port >> 8), byte(port)}
		ip, err := netip.ParseAddr(host)
		switch {
		case err != nil && (host == "" || len(host) > 255 || strings.IndexByte(host, 0) >= 0):
			return fmt.Errorf("socks4a cannot carry host name %q", host)
		case err != nil:
			b = append(b, 0, 0, 0, 1)
			b = append(b, userID...)
			b = append(b, 0)
			b = append(b, host...)
			b = append(b, 0)
		case ip.Unmap().Is4():
			b = append(b, ip.Unmap().AsSlice()...)
			b = append(b, userID...)
			b = append(b, 0)
		default:
			return &ProxyError{Scheme: "socks4a", Reply: ReplyAddressNotSupported, Msg: "socks4a cannot reach an IPv6 address"}
		}
		return handshake(ctx, c, func() error {
			if _, err := c.Write(b); err != nil {
				return err
			}
			var r [8]byte
			if _, err := io.ReadFull(c, r[:]); err != nil {
				return fmt.Errorf("reading the reply: %w", err)
			}
			if r[0] != 0 && r[0] != socks4Version { // some servers answer 4
				return fmt.Errorf("bad reply version %d", r[0])
			}
			switch r[1] {
			case socks4Granted:
				return nil
			case socks4Rejected:
				return &ProxyError{Scheme: "socks4a", Reply: ReplyConnectionRefused, Msg: "request rejected or failed (0x5b)"}
			case socks4NoIdentd, socks4BadUserID:
				return &ProxyError{Scheme: "socks4a", Reply: ReplyConnectionNotAllowed, Msg: fmt.Sprintf("identd check failed (0x%02x)", r[1])}
			}
			return &ProxyError{Scheme: "socks4a", Reply: ReplyGeneralFailure, Msg: fmt.Sprintf("unknown reply 0x%02x", r[1])}
		})
	}
}

// maxHTTPHeader bounds the proxy's response header.
const maxHTTPHeader = 16 << 10

// httpConnect returns the connect step of an http CONNECT dialer (RFC 9110
// section 9.3.6). auth is the base64 of "user:pass", or empty. The response
// header is read one byte at a time, up to its blank line, so that the
// connection is handed back with nothing read past it.
func httpConnect(auth string) func(ctx context.Context, c net.Conn, network, target string) error {
	return func(ctx context.Context, c net.Conn, network, target string) error {
		if _, _, err := net.SplitHostPort(target); err != nil {
			return err
		}
		if strings.IndexFunc(target, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
			return fmt.Errorf("destination %q has a space or control character", target)
		}
		req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
		if auth != "" {
			req += "Proxy-Authorization: Basic " + auth + "\r\n"
		}
		req += "\r\n"
		return handshake(ctx, c, func() error {
			if _, err := io.WriteString(c, req); err != nil {
				return err
			}
			hdr, err := readHTTPHeader(c)
			if err != nil {
				return err
			}
			line, _, _ := bytes.Cut(hdr, []byte("\n"))
			code, reason, err := parseStatusLine(string(bytes.TrimSuffix(line, []byte("\r"))))
			if err != nil {
				return err
			}
			if code/100 == 2 {
				return nil
			}
			return &ProxyError{Scheme: "http", Reply: httpStatusReply(code), Msg: printable(strconv.Itoa(code) + " " + reason)}
		})
	}
}

// readHTTPHeader reads up to and including the blank line that ends an HTTP
// header, one byte at a time.
func readHTTPHeader(c net.Conn) ([]byte, error) {
	hdr := make([]byte, 0, 128)
	var b [1]byte
	for len(hdr) < maxHTTPHeader {
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return nil, fmt.Errorf("reading the response: %w", err)
		}
		hdr = append(hdr, b[0])
		if bytes.HasSuffix(hdr, []byte("\n\r\n")) || bytes.HasSuffix(hdr, []byte("\n\n")) {
			return hdr, nil
		}
	}
	return nil, fmt.Errorf("response header longer than %d bytes", maxHTTPHeader)
}

// parseStatusLine parses "HTTP/1.1 200 Connection established".
func parseStatusLine(line string) (code int, reason string, err error) {
	proto, rest, _ := strings.Cut(line, " ")
	codeStr, reason, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(proto, "HTTP/") || len(codeStr) != 3 {
		return 0, "", fmt.Errorf("bad response line %q", printable(line))
	}
	if code, err = strconv.Atoi(codeStr); err != nil || code < 100 {
		return 0, "", fmt.Errorf("bad response line %q", printable(line))
	}
	return code, reason, nil
}

// httpStatusReply maps a CONNECT failure status to a SOCKS5 reply code.
func httpStatusReply(code int) ReplyCode {
	switch code {
	case 403, 407: // Forbidden, Proxy Authentication Required
		return ReplyConnectionNotAllowed
	case 404, 502, 503: // Not Found, Bad Gateway, Service Unavailable
		return ReplyHostUnreachable
	case 504: // Gateway Timeout
		return ReplyTTLExpired
	}
	return ReplyGeneralFailure
}

// handshake runs fn, a blocking exchange over c, within ctx: under ctx's
// deadline, and cut short when ctx is canceled. c's deadline is cleared
// after.
func handshake(ctx context.Context, c net.Conn, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			return err
		}
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.SetDeadline(time.Unix(1, 0)) // unblocks fn's reads and writes
		close(interrupted)
	})
	err := fn()
	if !stop() {
		<-interrupted
		return ctx.Err()
	}
	if cerr := c.SetDeadline(time.Time{}); err == nil {
		err = cerr
	}
	return err
}

// printable returns s with every byte that is not printable ASCII replaced
// by '?', cut to 200 bytes: proxy-supplied text ends up in logs.
func printable(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	return string(b)
}
