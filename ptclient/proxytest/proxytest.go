// Package proxytest provides upstream proxies for tests of TOR_PT_PROXY
// support: a SOCKS5 proxy (RFC 1928, with optional RFC 1929 username and
// password) and an HTTP CONNECT proxy (with optional Basic auth). Both take
// CONNECT only, listen on 127.0.0.1 on a port of their own, count the
// connections they accept and the tunnels they open, and relay bytes both
// ways until either end closes.
//
// Their handshakes are written here independently of package ptclient, so
// that ptclient's proxy clients are tested against a second implementation.
// Failed dials are answered with ptclient.ReplyForError's code (SOCKS5) or
// 502/504 (HTTP).
//
// Server.Close, which the test's Cleanup also calls, closes the listener and
// every connection and waits for every goroutine the server started.
package proxytest

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options configures a proxy.
type Options struct {
	// Username and Password, when Username is not empty, are the
	// credentials clients must present; otherwise the proxy asks for none
	// (a SOCKS5 client that insists on username/password is let in with
	// any).
	Username, Password string
	// Dial reaches the targets; a zero net.Dialer's DialContext when nil.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Server is a running proxy.
type Server struct {
	scheme string
	opts   Options
	ln     net.Listener
	serve  func(s *Server, c net.Conn)

	ctx    context.Context // canceled by Close: ends pending target dials
	cancel context.CancelFunc

	accepted atomic.Int64
	tunnels  atomic.Int64

	// routines counts the accept loop and the connection handlers.
	routines  sync.WaitGroup
	closeOnce sync.Once

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
}

// StartSOCKS5 starts a SOCKS5 proxy that tb's Cleanup closes.
func StartSOCKS5(tb testing.TB, opts Options) *Server {
	tb.Helper()
	return start(tb, "socks5", opts, (*Server).serveSOCKS5)
}

// StartHTTP starts an HTTP CONNECT proxy that tb's Cleanup closes.
func StartHTTP(tb testing.TB, opts Options) *Server {
	tb.Helper()
	return start(tb, "http", opts, (*Server).serveHTTP)
}

func start(tb testing.TB, scheme string, opts Options, serve func(*Server, net.Conn)) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxytest: listening: %v", err)
	}
	if opts.Dial == nil {
		opts.Dial = (&net.Dialer{}).DialContext
	}
	s := &Server{scheme: scheme, opts: opts, ln: ln, serve: serve, conns: map[net.Conn]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routines.Go(s.routineAccept)
	tb.Cleanup(s.Close)
	return s
}

// Addr returns the proxy's address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the proxy's URL as TOR_PT_PROXY would give it, with the
// credentials of Options.
func (s *Server) URL() *url.URL {
	u := &url.URL{Scheme: s.scheme, Host: s.Addr()}
	if s.opts.Username != "" {
		u.User = url.UserPassword(s.opts.Username, s.opts.Password)
	}
	return u
}

// Connections returns how many connections the proxy has accepted.
func (s *Server) Connections() int { return int(s.accepted.Load()) }

// Tunnels returns how many CONNECT requests the proxy has granted.
func (s *Server) Tunnels() int { return int(s.tunnels.Load()) }

// Close stops the proxy: it closes the listener and every connection, and
// returns when every goroutine of the server has. It may be called more than
// once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		_ = s.ln.Close()
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.routines.Wait()
	})
}

func (s *Server) routineAccept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.accepted.Add(1)
		if !s.track(c) {
			return
		}
		s.routines.Go(func() {
			defer s.untrack(c)
			s.serve(s, c)
		})
	}
}

// track registers c so that Close closes it; it closes c and reports false
// when the server is already closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

// dial reaches the target and registers the connection for Close.
func (s *Server) dial(addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	t, err := s.opts.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if !s.track(t) {
		return nil, net.ErrClosed
	}
	return t, nil
}

// relay copies from client (read through r, which may hold bytes already
// buffered) to target and back, passing on half-closes, until both
// directions end.
func relay(client net.Conn, r io.Reader, target net.Conn) {
	var copies sync.WaitGroup
	copies.Go(func() {
		_, _ = io.Copy(target, r)
		closeWrite(target)
	})
	_, _ = io.Copy(client, target)
	closeWrite(client)
	copies.Wait()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

func (s *Server) checkCredentials(user, pass string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.Password))
	return u&p == 1
}

// serveHTTP serves one HTTP CONNECT request.
func (s *Server) serveHTTP(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if s.opts.Username != "" && !s.basicAuthOK(req.Header.Get("Proxy-Authorization")) {
		_, _ = io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"proxytest\"\r\nContent-Length: 0\r\n\r\n")
		return
	}
	t, err := s.dial(req.URL.Host) // CONNECT's request target, host:port
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			_, _ = io.WriteString(c, "HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n")
		} else {
			_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		}
		return
	}
	defer s.untrack(t)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	s.tunnels.Add(1)
	relay(c, br, t)
}

func (s *Server) basicAuthOK(h string) bool {
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(dec), ":")
	return ok && s.checkCredentials(user, pass)
}
