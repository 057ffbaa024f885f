package extortest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"
)

// Protocol constants of ext-orport-spec.txt.
const (
	CookieHeader   = "! Extended ORPort Auth Cookie !\n"
	CookieFileName = "extended_orport_auth_cookie" // the name tor uses in its DataDirectory

	AuthSafeCookie = 0x01

	CmdDone      uint16 = 0x0000
	CmdUserAddr  uint16 = 0x0001
	CmdTransport uint16 = 0x0002
	CmdOkay      uint16 = 0x1000
	CmdDeny      uint16 = 0x1001

	serverHashLabel = "ExtORPort authentication server-to-client hash"
	clientHashLabel = "ExtORPort authentication client-to-server hash"
	nonceLen        = 32
	cookieLen       = 32
)

// DefaultHandshakeTimeout bounds the authentication and command exchange of
// one connection.
const DefaultHandshakeTimeout = 10 * time.Second

// Command is one ExtORPort command received from the client.
type Command struct {
	Type uint16
	Body []byte
}

// Session records one connection accepted by the Server.
type Session struct {
	ID         int       // order of listing (see Sessions), from 0
	RemoteAddr string    // the transport server's side of the connection
	Accepted   time.Time // when the connection was accepted

	AuthOK    bool      // SAFE_COOKIE authentication succeeded
	Commands  []Command // every command before DONE, in order (DONE excluded)
	UserAddr  string    // body of the last USERADDR command, "" if none
	Transport string    // body of the last TRANSPORT command, "" if none
	Denied    bool      // the server answered DENY (WithDeny)
	Err       error     // why the handshake failed; nil if it succeeded or is running
	Ready     bool      // the handshake succeeded and the data phase started
	ReadyAt   time.Time // when the OKAY was sent

	Mode     Mode  // the data mode run (after Dispatch: the mode the client chose)
	BytesIn  int64 // data bytes read from the client (live while the session runs, except Echo)
	BytesOut int64 // data bytes written to the client (same)
	Closed   bool  // the connection is finished and closed
	DataErr  error // error of the data phase (a *MismatchError for VerifySink)
}

// HandshakeDone reports whether the handshake is over, successfully or not.
func (s Session) HandshakeDone() bool { return s.Ready || s.Err != nil || s.Closed }

// Option configures a Server.
type Option func(*config)

type config struct {
	deny             bool
	handshakeTimeout time.Duration
}

// WithDeny makes the server answer DENY instead of OKAY after DONE, and close.
func WithDeny() Option { return func(c *config) { c.deny = true } }

// WithHandshakeTimeout replaces DefaultHandshakeTimeout.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.handshakeTimeout = d }
}

// Server is a fake tor ExtORPort. Its methods are safe for concurrent use.
type Server struct {
	ln         *net.TCPListener
	cookiePath string
	cfg        config
	wg         sync.WaitGroup // the accept routine and one routine per connection

	// mu guards everything below.
	mu       sync.Mutex
	cookie   []byte
	mode     Mode
	sessions []*session
	conns    map[*net.TCPConn]*session
	changed  chan struct{} // closed and replaced whenever a session changes
	closed   bool
}

type session struct {
	rec    Session // guarded by Server.mu, except the live counts below
	cnt    counters
	listed bool // in Server.sessions; guarded by Server.mu
}

// Start is New in a test: the cookie lives in t.TempDir(), a failure is
// fatal, and the server is closed by t.Cleanup.
func Start(t testing.TB, mode Mode, opts ...Option) *Server {
	t.Helper()
	s, err := New(t.TempDir(), mode, opts...)
	if err != nil {
		t.Fatalf("extortest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// New writes a fresh auth cookie file in dir, listens on 127.0.0.1:0 and
// starts serving. The caller must Close the server.
func New(dir string, mode Mode, opts ...Option) (*Server, error) {
	cfg := config{handshakeTimeout: DefaultHandshakeTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		cookiePath: filepath.Join(dir, CookieFileName),
		cfg:        cfg,
		mode:       mode,
		conns:      make(map[*net.TCPConn]*session),
		changed:    make(chan struct{}),
	}
	if err := s.RotateCookie(); err != nil {
		return nil, err
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.wg.Add(1)
	go s.routineAccept()
	return s, nil
}

// Addr returns the listening address, for TOR_PT_EXTENDED_SERVER_PORT.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// TCPAddr returns the listening address.
func (s *Server) TCPAddr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// CookiePath returns the auth cookie file, for TOR_PT_AUTH_COOKIE_FILE.
func (s *Server) CookiePath() string { return s.cookiePath }

// ServerInfo returns what goptlib's ServerSetup would produce for this
// server, ready for pt.DialOr.
func (s *Server) ServerInfo() *pt.ServerInfo {
	return &pt.ServerInfo{ExtendedOrAddr: s.TCPAddr(), AuthCookiePath: s.cookiePath}
}

// RotateCookie writes a new random cookie to the cookie file (atomically) and
// uses it for every later authentication, as tor does when it regenerates
// its cookie. A transport that read the cookie once at start-up then fails.
func (s *Server) RotateCookie() error {
	cookie := make([]byte, cookieLen)
	rand.Read(cookie)
	content := append([]byte(CookieHeader), cookie...)
	tmp := s.cookiePath + ".tmp"
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.cookiePath); err != nil {
		return err
	}
	s.mu.Lock()
	s.cookie = cookie
	s.mu.Unlock()
	return nil
}

// SetMode changes the data mode of connections listed from now on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
}

// Sessions returns a snapshot of every connection so far that has sent its
// client hash or ended, in that order, including those still in their
// handshake. A connection that has authenticated the server and waits,
// open, before its client hash is not listed yet: that is how a transport
// keeps an ExtORPort connection in reserve for its next client (ptserver
// does), and tor puts no time limit on that wait either.
func (s *Server) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

// Unlisted returns how many connections are open and not listed yet: they
// have authenticated the server and wait before their client hash.
func (s *Server) Unlisted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.conns {
		if !ss.listed {
			n++
		}
	}
	return n
}

// DropUnlisted closes the connections that Unlisted counts, as a tor that
// restarted would: their transport finds them closed when it needs them.
func (s *Server) DropUnlisted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, ss := range s.conns {
		if !ss.listed {
			c.Close()
		}
	}
}

// WaitSessions waits until at least n connections have finished their
// handshake (successfully or not) and returns a snapshot of all sessions.
func (s *Server) WaitSessions(ctx context.Context, n int) ([]Session, error) {
	return s.waitFor(ctx, n, "finished handshakes", Session.HandshakeDone)
}

// WaitClosed waits until at least n connections are finished and closed, so
// their byte counts and DataErr are final, and returns a snapshot of all
// sessions.
func (s *Server) WaitClosed(ctx context.Context, n int) ([]Session, error) {
	return s.waitFor(ctx, n, "closed sessions", func(r Session) bool { return r.Closed })
}

func (s *Server) waitFor(ctx context.Context, n int, what string, pred func(Session) bool) ([]Session, error) {
	for {
		s.mu.Lock()
		snap := s.snapshotLocked()
		changed := s.changed
		s.mu.Unlock()
		count := 0
		for _, r := range snap {
			if pred(r) {
				count++
			}
		}
		if count >= n {
			return snap, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return snap, fmt.Errorf("extortest: waiting for %d %s, have %d: %w", n, what, count, ctx.Err())
		}
	}
}

func (s *Server) snapshotLocked() []Session {
	out := make([]Session, len(s.sessions))
	for i, ss := range s.sessions {
		r := ss.rec
		r.Commands = append([]Command(nil), r.Commands...)
		if !r.Closed {
			r.BytesIn, r.BytesOut = ss.cnt.in.Load(), ss.cnt.out.Load()
		}
		out[i] = r
	}
	return out
}

// list makes ss a listed session, once, with the data mode of the moment.
func (s *Server) list(ss *session) {
	s.mu.Lock()
	if !ss.listed {
		ss.listed = true
		ss.rec.ID = len(s.sessions)
		ss.rec.Mode = s.mode
		s.sessions = append(s.sessions, ss)
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
}

// update applies f to the session record and wakes the waiters.
func (s *Server) update(ss *session, f func(r *Session)) {
	s.mu.Lock()
	f(&ss.rec)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Close stops listening, closes every connection and waits for all of the
// server's goroutines. It is idempotent. The cookie file is left in place.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.ln.Close()
		for c := range s.conns {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) routineAccept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. EMFILE: keep serving
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		ss := &session{rec: Session{
			RemoteAddr: c.RemoteAddr().String(),
			Accepted:   time.Now(),
		}}
		s.conns[c] = ss
		s.wg.Add(1)
		s.mu.Unlock()
		go s.routineConn(c, ss)
	}
}

// routineConn owns c: handshake, data phase, close.
func (s *Server) routineConn(c *net.TCPConn, ss *session) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.list(ss)
		s.update(ss, func(r *Session) {
			r.Closed = true
			r.BytesIn, r.BytesOut = ss.cnt.in.Load(), ss.cnt.out.Load()
		})
	}()

	if err := s.handshake(c, ss); err != nil {
		s.list(ss)
		s.update(ss, func(r *Session) { r.Err = err })
		return
	}
	s.mu.Lock()
	mode := ss.rec.Mode
	s.mu.Unlock()
	mode, err := runData(c, mode, &ss.cnt)
	s.update(ss, func(r *Session) {
		r.Mode = mode
		r.DataErr = err
	})
}

// handshake does tor's side of authentication and the command exchange.
func (s *Server) handshake(c *net.TCPConn, ss *session) error {
	c.SetDeadline(time.Now().Add(s.cfg.handshakeTimeout))
	defer c.SetDeadline(time.Time{})

	// Authentication types we support, terminated by 0x00.
	if _, err := c.Write([]byte{AuthSafeCookie, 0x00}); err != nil {
		return fmt.Errorf("sending auth types: %w", err)
	}
	// The client's choice, then its nonce.
	buf := make([]byte, 1+nonceLen)
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		return fmt.Errorf("reading auth type: %w", err)
	}
	if buf[0] != AuthSafeCookie {
		return fmt.Errorf("client chose auth type %d, want %d", buf[0], AuthSafeCookie)
	}
	clientNonce := buf[1:]
	if _, err := io.ReadFull(c, clientNonce); err != nil {
		return fmt.Errorf("reading client nonce: %w", err)
	}
	// Our hash and nonce.
	serverNonce := make([]byte, nonceLen)
	rand.Read(serverNonce)
	s.mu.Lock()
	cookie := s.cookie
	s.mu.Unlock()
	msg := append(authHash(cookie, serverHashLabel, clientNonce, serverNonce), serverNonce...)
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("sending server hash: %w", err)
	}
	// The client's hash, then our verdict. Tor waits for it without a time
	// limit (a connection in reserve waits here); the session is listed
	// when it starts to arrive.
	clientHash := make([]byte, sha256.Size)
	c.SetReadDeadline(time.Time{})
	if _, err := io.ReadFull(c, clientHash[:1]); err != nil {
		return fmt.Errorf("reading client hash: %w", err)
	}
	s.list(ss)
	c.SetDeadline(time.Now().Add(s.cfg.handshakeTimeout))
	if _, err := io.ReadFull(c, clientHash[1:]); err != nil {
		return fmt.Errorf("reading client hash: %w", err)
	}
	if !hmac.Equal(clientHash, authHash(cookie, clientHashLabel, clientNonce, serverNonce)) {
		c.Write([]byte{0})
		return errors.New("client hash mismatch: wrong cookie")
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return fmt.Errorf("sending auth result: %w", err)
	}
	s.update(ss, func(r *Session) { r.AuthOK = true })

	// Commands until DONE.
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return fmt.Errorf("reading command: %w", err)
		}
		cmd := Command{Type: binary.BigEndian.Uint16(hdr[:2])}
		cmd.Body = make([]byte, binary.BigEndian.Uint16(hdr[2:]))
		if _, err := io.ReadFull(c, cmd.Body); err != nil {
			return fmt.Errorf("reading body of command 0x%04x: %w", cmd.Type, err)
		}
		if cmd.Type == CmdDone {
			break
		}
		if err := checkCommand(cmd); err != nil {
			return err
		}
		s.update(ss, func(r *Session) {
			r.Commands = append(r.Commands, cmd)
			switch cmd.Type {
			case CmdUserAddr:
				r.UserAddr = string(cmd.Body)
			case CmdTransport:
				r.Transport = string(cmd.Body)
			}
		})
	}
	reply := CmdOkay
	if s.cfg.deny {
		reply = CmdDeny
	}
	if _, err := c.Write(binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, reply), 0)); err != nil {
		return fmt.Errorf("sending reply: %w", err)
	}
	if s.cfg.deny {
		s.update(ss, func(r *Session) { r.Denied = true })
		return errors.New("denied (WithDeny)")
	}
	s.update(ss, func(r *Session) {
		r.Ready = true
		r.ReadyAt = time.Now()
	})
	return nil
}

// checkCommand validates the commands tor understands, more strictly than tor
// (which only logs a bad USERADDR), so that a transport's mistakes fail tests.
func checkCommand(cmd Command) error {
	switch cmd.Type {
	case CmdUserAddr:
		if _, err := netip.ParseAddrPort(string(cmd.Body)); err != nil {
			return fmt.Errorf("bad USERADDR %q: want ip:port or [ipv6]:port", cmd.Body)
		}
	case CmdTransport:
		if !isCIdentifier(cmd.Body) {
			return fmt.Errorf("bad TRANSPORT %q: not a C identifier", cmd.Body)
		}
	}
	return nil
}

func isCIdentifier(b []byte) bool {
	if len(b) == 0 || ('0' <= b[0] && b[0] <= '9') {
		return false
	}
	for _, c := range b {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func authHash(cookie []byte, label string, clientNonce, serverNonce []byte) []byte {
	h := hmac.New(sha256.New, cookie)
	h.Write([]byte(label))
	h.Write(clientNonce)
	h.Write(serverNonce)
	return h.Sum(nil)
}

// ReadCookie reads a cookie file and returns its 32 secret bytes, checking
// the header and length as tor and goptlib do.
func ReadCookie(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != len(CookieHeader)+cookieLen || !bytes.HasPrefix(b, []byte(CookieHeader)) {
		return nil, fmt.Errorf("%s: not an ExtORPort auth cookie file", path)
	}
	return b[len(CookieHeader):], nil
}
