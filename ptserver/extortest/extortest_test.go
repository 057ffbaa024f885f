package extortest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/ptserver/extortest"
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCookieFile(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo())
	b, err := os.ReadFile(srv.CookiePath())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 64 || string(b[:32]) != extortest.CookieHeader {
		t.Fatalf("cookie file %q: want the 32-byte header and 32 bytes", b)
	}
	fi, err := os.Stat(srv.CookiePath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cookie file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := extortest.ReadCookie(srv.CookiePath()); err != nil {
		t.Error(err)
	}
}

// TestDialOr checks the server against goptlib's client side.
func TestDialOr(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo())
	for _, tc := range []struct{ addr, transport string }{
		{"192.0.2.7:4321", "water"},
		{"[2001:db8::1]:443", "obfs4"},
		{"", ""}, // goptlib then sends neither command
	} {
		c, err := pt.DialOr(srv.ServerInfo(), tc.addr, tc.transport)
		if err != nil {
			t.Fatalf("DialOr(%q, %q): %v", tc.addr, tc.transport, err)
		}
		msg := []byte("hello through the ExtORPort")
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if !bytes.Equal(got, msg) {
			t.Errorf("echo: got %q, want %q", got, msg)
		}
	}
	ss, err := srv.WaitClosed(testContext(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		addr, transport string
		ncmd            int
	}{{"192.0.2.7:4321", "water", 2}, {"[2001:db8::1]:443", "obfs4", 2}, {"", "", 0}} {
		s := ss[i]
		if !s.AuthOK || !s.Ready || s.Err != nil || s.DataErr != nil {
			t.Errorf("session %d: AuthOK=%v Ready=%v Err=%v DataErr=%v", i, s.AuthOK, s.Ready, s.Err, s.DataErr)
		}
		if s.UserAddr != want.addr || s.Transport != want.transport || len(s.Commands) != want.ncmd {
			t.Errorf("session %d: UserAddr=%q Transport=%q commands=%d, want %q %q %d",
				i, s.UserAddr, s.Transport, len(s.Commands), want.addr, want.transport, want.ncmd)
		}
		if s.BytesIn != 27 || s.BytesOut != 27 {
			t.Errorf("session %d: bytes in/out %d/%d, want 27/27", i, s.BytesIn, s.BytesOut)
		}
		if s.Mode.Kind != extortest.KindEcho {
			t.Errorf("session %d: mode %v", i, s.Mode)
		}
	}
}

func TestWrongCookie(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo())
	wrong := filepath.Join(t.TempDir(), "cookie")
	content := append([]byte(extortest.CookieHeader), bytes.Repeat([]byte{7}, 32)...)
	if err := os.WriteFile(wrong, content, 0o600); err != nil {
		t.Fatal(err)
	}
	info := srv.ServerInfo()
	info.AuthCookiePath = wrong
	if c, err := pt.DialOr(info, "192.0.2.7:1", "water"); err == nil {
		c.Close()
		t.Fatal("DialOr with the wrong cookie succeeded")
	} else if !strings.Contains(err.Error(), "mismatch in server hash") {
		// Our server hash is computed with the real cookie, so goptlib
		// notices first, exactly as with tor.
		t.Logf("DialOr error: %v", err)
	}
	ss, err := srv.WaitClosed(testContext(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ss[0].AuthOK || ss[0].Ready || ss[0].Err == nil {
		t.Errorf("session: AuthOK=%v Ready=%v Err=%v, want a failed authentication", ss[0].AuthOK, ss[0].Ready, ss[0].Err)
	}
}

// TestWrongClientHash drives the protocol by hand: a client that sends a bad
// hash gets the failure byte 0, and the session records it.
func TestWrongClientHash(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo())
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	types := make([]byte, 2)
	if _, err := io.ReadFull(c, types); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(types, []byte{1, 0}) {
		t.Fatalf("auth types %x, want 0100", types)
	}
	c.Write(append([]byte{1}, make([]byte, 32)...))
	reply := make([]byte, 64)
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatal(err)
	}
	c.Write(make([]byte, 32))
	status, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(status, []byte{0}) {
		t.Fatalf("status after a bad hash: %x, want 00 then close", status)
	}
	ss, _ := srv.WaitClosed(testContext(t), 1)
	if ss[0].AuthOK || !strings.Contains(ss[0].Err.Error(), "mismatch") {
		t.Errorf("session: AuthOK=%v Err=%v", ss[0].AuthOK, ss[0].Err)
	}
}

func TestWrongAuthType(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo())
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{2})
	io.ReadAll(c) // the auth types, then EOF
	ss, _ := srv.WaitClosed(testContext(t), 1)
	if ss[0].Err == nil || !strings.Contains(ss[0].Err.Error(), "auth type 2") {
		t.Errorf("Err = %v, want a complaint about auth type 2", ss[0].Err)
	}
}

func TestRotateCookie(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo())
	before, _ := extortest.ReadCookie(srv.CookiePath())
	if err := srv.RotateCookie(); err != nil {
		t.Fatal(err)
	}
	after, _ := extortest.ReadCookie(srv.CookiePath())
	if bytes.Equal(before, after) {
		t.Fatal("cookie unchanged")
	}
	c, err := pt.DialOr(srv.ServerInfo(), "192.0.2.1:1", "water") // goptlib re-reads the file
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestBadCommands(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo())
	for _, tc := range []struct{ addr, transport, errPart string }{
		{"not-an-addr", "water", "bad USERADDR"},
		{"192.0.2.1:1", "not-a-c-identifier", "bad TRANSPORT"},
	} {
		if c, err := pt.DialOr(srv.ServerInfo(), tc.addr, tc.transport); err == nil {
			c.Close()
			t.Errorf("DialOr(%q, %q) succeeded", tc.addr, tc.transport)
		}
	}
	ss, _ := srv.WaitClosed(testContext(t), 2)
	for i, want := range []string{"bad USERADDR", "bad TRANSPORT"} {
		if !ss[i].AuthOK || ss[i].Err == nil || !strings.Contains(ss[i].Err.Error(), want) {
			t.Errorf("session %d: AuthOK=%v Err=%v, want %q", i, ss[i].AuthOK, ss[i].Err, want)
		}
	}
}

func TestDeny(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo(), extortest.WithDeny())
	if c, err := pt.DialOr(srv.ServerInfo(), "192.0.2.1:1", "water"); err == nil {
		c.Close()
		t.Fatal("DialOr succeeded against a denying server")
	} else if !strings.Contains(err.Error(), "DENY") {
		t.Errorf("error %v, want DENY", err)
	}
	ss, _ := srv.WaitClosed(testContext(t), 1)
	if !ss[0].Denied || ss[0].Ready {
		t.Errorf("session: Denied=%v Ready=%v", ss[0].Denied, ss[0].Ready)
	}
}

func TestSinkVerify(t *testing.T) {
	srv := extortest.Start(t, extortest.VerifySink())
	const n = 3<<20 + 17
	c, err := pt.DialOr(srv.ServerInfo(), "192.0.2.1:1", "water")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := extortest.NewStream(extortest.DefaultSeed).WriteN(c, n); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	io.ReadAll(c)
	c.Close()

	// The same with one corrupted byte.
	c, err = pt.DialOr(srv.ServerInfo(), "192.0.2.1:1", "water")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 100000)
	extortest.NewStream(extortest.DefaultSeed).Read(data)
	data[76543] ^= 0x40
	c.Write(data)
	c.CloseWrite()
	io.ReadAll(c)
	c.Close()

	ss, err := srv.WaitClosed(testContext(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if ss[0].DataErr != nil || ss[0].BytesIn != n {
		t.Errorf("good stream: DataErr=%v BytesIn=%d, want nil %d", ss[0].DataErr, ss[0].BytesIn, n)
	}
	var mm *extortest.MismatchError
	if !errors.As(ss[1].DataErr, &mm) || mm.Offset != 76543 {
		t.Errorf("corrupted stream: DataErr=%v, want a mismatch at 76543", ss[1].DataErr)
	}
	if ss[1].BytesIn != 76543 {
		t.Errorf("corrupted stream: BytesIn=%d, want 76543", ss[1].BytesIn)
	}
}

func TestSource(t *testing.T) {
	const n = 5<<20 + 3
	srv := extortest.Start(t, extortest.Source(n).WithSeed(42))
	c, err := pt.DialOr(srv.ServerInfo(), "192.0.2.1:1", "water")
	if err != nil {
		t.Fatal(err)
	}
	got, err := extortest.NewChecker(42).ReadFrom(c)
	if err != nil || got != n {
		t.Fatalf("read %d bytes, err %v; want %d", got, err, n)
	}
	c.Close()
	ss, _ := srv.WaitClosed(testContext(t), 1)
	if ss[0].BytesOut != n || ss[0].DataErr != nil {
		t.Errorf("BytesOut=%d DataErr=%v", ss[0].BytesOut, ss[0].DataErr)
	}
}

func TestDispatch(t *testing.T) {
	srv := extortest.Start(t, extortest.Dispatch())
	info := srv.ServerInfo()

	c, _ := pt.DialOr(info, "192.0.2.1:1", "water")
	c.Write(extortest.Source(1000).WithSeed(9).Header())
	if n, err := extortest.NewChecker(9).ReadFrom(c); n != 1000 || err != nil {
		t.Errorf("dispatched source: %d bytes, %v", n, err)
	}
	c.Close()

	c, _ = pt.DialOr(info, "192.0.2.1:1", "water")
	c.Write(append(extortest.Echo().Header(), "ping"...))
	c.CloseWrite()
	if b, _ := io.ReadAll(c); string(b) != "ping" {
		t.Errorf("dispatched echo: %q", b)
	}
	c.Close()

	c, _ = pt.DialOr(info, "192.0.2.1:1", "water")
	c.Write([]byte("this is not a header at all"))
	io.ReadAll(c)
	c.Close()

	ss, _ := srv.WaitClosed(testContext(t), 3)
	if ss[0].Mode.Kind != extortest.KindSource || ss[1].Mode.Kind != extortest.KindEcho {
		t.Errorf("modes %v %v", ss[0].Mode, ss[1].Mode)
	}
	if ss[2].DataErr == nil {
		t.Error("a bad header was accepted")
	}
}

func TestSetMode(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo())
	srv.SetMode(extortest.Sink())
	c, _ := pt.DialOr(srv.ServerInfo(), "192.0.2.1:1", "water")
	c.Write([]byte("swallowed"))
	c.CloseWrite()
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Errorf("sink answered %q", b)
	}
	c.Close()
	ss, _ := srv.WaitClosed(testContext(t), 1)
	if ss[0].Mode.Kind != extortest.KindSink || ss[0].BytesIn != 9 {
		t.Errorf("mode %v BytesIn %d", ss[0].Mode, ss[0].BytesIn)
	}
}

// TestCloseWithOpenConnections checks that Close ends connections in every
// phase and returns (its goroutines are waited for).
func TestCloseWithOpenConnections(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, err := extortest.New(t.TempDir(), extortest.Echo())
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 5 {
		c, err := pt.DialOr(srv.ServerInfo(), "192.0.2.1:1", "water")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	raw, _ := net.Dial("tcp", srv.Addr()) // stuck in the handshake
	conns = append(conns, raw)
	if _, err := srv.WaitSessions(testContext(t), 5); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	srv.Close() // idempotent
	for _, c := range conns {
		c.Close()
	}
	for _, s := range srv.Sessions() {
		if !s.Closed {
			t.Errorf("session %d not closed after Close", s.ID)
		}
	}
	// The goroutine that called Close may still be on its way out: wait
	// (bounded) for the count to come back.
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); n > before && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if n > before {
		t.Errorf("%d goroutines after Close, %d before New", n, before)
	}
}

func TestWaitTimeout(t *testing.T) {
	srv := extortest.Start(t, extortest.Echo())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := srv.WaitSessions(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
}

func TestStreamSplitIndependent(t *testing.T) {
	whole := make([]byte, 1<<20)
	extortest.NewStream(5).Read(whole)
	s := extortest.NewStream(5)
	var parts []byte
	for i := 1; len(parts) < len(whole); i = (i*3 + 1) % 70001 {
		p := make([]byte, min(i, len(whole)-len(parts)))
		s.Read(p)
		parts = append(parts, p...)
	}
	if !bytes.Equal(whole, parts) {
		t.Fatal("stream depends on how reads are split")
	}
	other := make([]byte, 64)
	extortest.NewStream(6).Read(other)
	if bytes.Equal(other, whole[:64]) {
		t.Fatal("seeds 5 and 6 give the same stream")
	}
	c := extortest.NewChecker(5)
	if n, err := c.Write(whole[:12345]); n != 12345 || err != nil {
		t.Fatal(n, err)
	}
	bad := bytes.Clone(whole[12345:20000])
	bad[10] ^= 1
	if _, err := c.Write(bad); err == nil || err.(*extortest.MismatchError).Offset != 12355 {
		t.Fatalf("mismatch error %v, want offset 12355", err)
	}
}

func benchmarkMode(b *testing.B, mode extortest.Mode, run func(c *net.TCPConn, n int64) error) {
	srv := extortest.Start(b, mode)
	const n = 256 << 20
	b.SetBytes(n)
	for b.Loop() {
		c, err := pt.DialOr(srv.ServerInfo(), "192.0.2.1:1", "water")
		if err != nil {
			b.Fatal(err)
		}
		if err := run(c, n); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func BenchmarkSink(b *testing.B) {
	benchmarkMode(b, extortest.Sink(), func(c *net.TCPConn, n int64) error {
		buf := make([]byte, 256<<10)
		for sent := int64(0); sent < n; sent += int64(len(buf)) {
			if _, err := c.Write(buf); err != nil {
				return err
			}
		}
		c.CloseWrite()
		_, err := io.Copy(io.Discard, c)
		return err
	})
}

func BenchmarkVerifySink(b *testing.B) {
	benchmarkMode(b, extortest.VerifySink(), func(c *net.TCPConn, n int64) error {
		if _, err := extortest.NewStream(extortest.DefaultSeed).WriteN(c, n); err != nil {
			return err
		}
		c.CloseWrite()
		_, err := io.Copy(io.Discard, c)
		return err
	})
}

func BenchmarkSource(b *testing.B) {
	benchmarkMode(b, extortest.Source(256<<20), func(c *net.TCPConn, n int64) error {
		buf := make([]byte, 256<<10)
		for {
			_, err := c.Read(buf)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}

func BenchmarkEcho(b *testing.B) {
	benchmarkMode(b, extortest.Echo(), func(c *net.TCPConn, n int64) error {
		errc := make(chan error, 1)
		go func() {
			buf := make([]byte, 256<<10)
			for sent := int64(0); sent < n; sent += int64(len(buf)) {
				if _, err := c.Write(buf); err != nil {
					errc <- err
					return
				}
			}
			errc <- c.CloseWrite()
		}()
		_, err := drain(c)
		if werr := <-errc; werr != nil {
			return werr
		}
		return err
	})
}

// drain reads c until EOF with a large buffer (io.Discard's is 8 KiB).
func drain(c io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, err := c.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
