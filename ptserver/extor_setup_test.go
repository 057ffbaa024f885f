package ptserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/ptserver/extortest"
)

// TestDialORWithFakeTor: the handshake against extortest, which plays
// tor's side: authenticated, USERADDR and TRANSPORT recorded in order,
// and the connection carries data afterwards.
func TestDialORWithFakeTor(t *testing.T) {
	ext := extortest.Start(t, extortest.Echo())
	c, err := dialOR(context.Background(), &net.Dialer{}, ext.ServerInfo(), "127.0.0.5:4444", "water")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	ss := ext.Sessions()
	if len(ss) != 1 {
		t.Fatalf("%d sessions, want 1", len(ss))
	}
	s := ss[0]
	if !s.AuthOK || !s.Ready || s.UserAddr != "127.0.0.5:4444" || s.Transport != "water" {
		t.Fatalf("session %+v: want authenticated, ready, USERADDR 127.0.0.5:4444, TRANSPORT water", s)
	}
	if len(s.Commands) != 2 || s.Commands[0].Type != extORCmdUserAddr || s.Commands[1].Type != extORCmdTransport {
		t.Fatalf("commands %+v: want USERADDR then TRANSPORT", s.Commands)
	}
}

func TestDialORDenied(t *testing.T) {
	ext := extortest.Start(t, extortest.Echo(), extortest.WithDeny())
	c, err := dialOR(context.Background(), &net.Dialer{}, ext.ServerInfo(), "127.0.0.5:4444", "water")
	if err == nil {
		c.Close()
		t.Fatal("dialOR succeeded against a server that answers DENY")
	}
	if !strings.Contains(err.Error(), "denied the connection (DENY)") {
		t.Fatalf("error %q does not say DENY", err)
	}
}

// TestDialORWrongCookie: a cookie file that is not the server's fails on
// the server hash, before the client hash or USERADDR is sent.
func TestDialORWrongCookie(t *testing.T) {
	ext := extortest.Start(t, extortest.Echo())
	info := *ext.ServerInfo()
	info.AuthCookiePath = filepath.Join(t.TempDir(), "cookie")
	other := append([]byte(authCookieHeader), make([]byte, 32)...)
	if err := os.WriteFile(info.AuthCookiePath, other, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := dialOR(context.Background(), &net.Dialer{}, &info, "127.0.0.5:4444", "water")
	if err == nil || !strings.Contains(err.Error(), "server hash does not match") {
		t.Fatalf("error %v, want the server hash mismatch", err)
	}
	ss, werr := ext.WaitClosed(context.Background(), 1)
	if werr != nil {
		t.Fatal(werr)
	}
	if ss[0].AuthOK || len(ss[0].Commands) != 0 {
		t.Fatalf("session %+v: the server got a client hash or commands", ss[0])
	}
}

// TestDialORBadCookieFile: a cookie file that is not one (short, a byte
// too long, not there, a directory) is refused with an error naming it.
func TestDialORBadCookieFile(t *testing.T) {
	ext := extortest.Start(t, extortest.Echo())
	dir := t.TempDir()
	valid := append([]byte(authCookieHeader), bytes.Repeat([]byte{7}, 32)...)
	for _, c := range []struct {
		name, want string
		content    []byte // nil: no file
	}{
		{"short", "is not an auth cookie file", []byte("not a cookie")},
		{"long", "is not an auth cookie file", append(valid, '\n')},
		{"missing", "reading TOR_PT_AUTH_COOKIE_FILE: open " + filepath.Join(dir, "missing") + ": no such file or directory", nil},
		{"directory", "reading TOR_PT_AUTH_COOKIE_FILE: read " + dir + ": is a directory", nil},
	} {
		info := *ext.ServerInfo()
		info.AuthCookiePath = filepath.Join(dir, c.name)
		if c.name == "directory" {
			info.AuthCookiePath = dir
		}
		if c.content != nil {
			if err := os.WriteFile(info.AuthCookiePath, c.content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := dialOR(context.Background(), &net.Dialer{}, &info, "127.0.0.5:4444", "water")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestDialORWithoutExtORPort: no ExtORPort, the ORPort is dialed plainly.
func TestDialORWithoutExtORPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	info := &pt.ServerInfo{OrAddr: ln.Addr().(*net.TCPAddr)}
	c, err := dialOR(context.Background(), &net.Dialer{}, info, "127.0.0.5:4444", "water")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	sc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := io.ReadFull(sc, b[:]); err != nil || b[0] != 'x' {
		t.Fatalf("ORPort got %q, %v: want the first byte, no handshake", b, err)
	}
}

// TestDialORPipelined: the handshake is two round trips, not five. The
// server here writes nothing until it has the client's auth type and
// nonce, and nothing after its hash until it has the client's hash and
// every command up to DONE: a client that waits for the auth types or
// for the auth result before sending on (goptlib's DialOr) never finishes.
// Each extra round trip is set-up time every connection pays, since the
// ExtORPort is dialed after the client's first byte.
func TestDialORPipelined(t *testing.T) {
	cookie := make([]byte, 32)
	rand.Read(cookie)
	path := filepath.Join(t.TempDir(), "cookie")
	if err := os.WriteFile(path, append([]byte(authCookieHeader), cookie...), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() { served <- strictExtOR(ln, cookie, "127.0.0.5:4444", "water") }()

	info := &pt.ServerInfo{ExtendedOrAddr: ln.Addr().(*net.TCPAddr), AuthCookiePath: path}
	c, err := dialOR(context.Background(), &net.Dialer{}, info, "127.0.0.5:4444", "water")
	if serr := <-served; serr != nil {
		t.Fatalf("server: %v", serr)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// strictExtOR accepts one connection and plays tor's side in two round
// trips, reading each whole flight before it answers. A client that
// waits for an answer in the middle of a flight leaves it blocked until
// its deadline, and it fails.
func strictExtOR(ln net.Listener, cookie []byte, addr, method string) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	first := make([]byte, 1+32)
	if _, err := io.ReadFull(c, first); err != nil {
		return errors.New("the client did not send its auth type and nonce before reading the auth types: " + err.Error())
	}
	if first[0] != extORAuthSafeCookie {
		return errors.New("the client did not choose SAFE_COOKIE")
	}
	clientNonce, serverNonce := first[1:], make([]byte, 32)
	rand.Read(serverNonce)
	reply := append([]byte{extORAuthSafeCookie, 0}, extORHash(cookie, extORServerLabel, clientNonce, serverNonce)...)
	if _, err := c.Write(append(reply, serverNonce...)); err != nil {
		return err
	}
	want := extORHash(cookie, extORClientLabel, clientNonce, serverNonce)
	want = extORCommand(want, extORCmdUserAddr, addr)
	want = extORCommand(want, extORCmdTransport, method)
	want = extORCommand(want, extORCmdDone, "")
	second := make([]byte, len(want))
	if _, err := io.ReadFull(c, second); err != nil {
		return errors.New("the client did not send its hash and commands up to DONE before reading the auth result: " + err.Error())
	}
	if !bytes.Equal(second, want) {
		return errors.New("the client's hash and commands are not the expected bytes")
	}
	_, err = c.Write(binary.BigEndian.AppendUint32([]byte{1}, extORCmdOkay<<16))
	return err
}
