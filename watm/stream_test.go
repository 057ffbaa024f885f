package watm_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// buildGuest builds the Go WATM at ./testdata/gomod/PKG for wasip1 into a
// temporary directory, as watm/modules/gen.sh builds the shipped ones;
// flags are more go build flags.
func buildGuest(t testing.TB, pkg string, flags ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "m.wasm")
	args := append([]string{"build", "-buildmode=c-shared", "-trimpath", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, "./testdata/gomod/"+pkg)...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStreamSDK runs the connection-level test module (testdata/gomod/
// greeter, on watm/guest/stream) through the runtime, built for v0 and v1.
func TestStreamSDK(t *testing.T) {
	for _, abi := range []string{"v0", "v1"} {
		t.Run(abi, func(t *testing.T) {
			// Per ABI, not per case: the runtime's pool of ready
			// instances holds descriptors until the runtime closes.
			watmtest.LeakCheck(t)
			rt := newRuntime(t)
			m, err := rt.Load(watmtest.CompileContext(context.Background()), buildGuest(t, "greeter/"+abi))
			if err != nil {
				t.Fatal(err)
			}
			t.Run("ServerWritesFirst", func(t *testing.T) { testServerWritesFirst(t, m) })
			t.Run("HandshakeDeadline", func(t *testing.T) { testHandshakeDeadline(t, m) })
			t.Run("TimerAndRole", func(t *testing.T) { testTimerAndRole(t, m) })
			t.Run("ErrorReachesHost", func(t *testing.T) { testErrorReachesHost(t, m) })
			t.Run("UnknownArg", func(t *testing.T) { testUnknownArg(t, m) })
			t.Run("Pair", func(t *testing.T) { testStreamPair(t, m) })
			t.Run("Cancel", func(t *testing.T) { testStreamCancel(t, m) })
		})
	}
}

// acceptAsync runs a Listener on the next conn of ln.
func acceptAsync(t *testing.T, m *watm.Module, ln net.Listener, config string) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			ch <- acceptResult{err: err}
			return
		}
		l := &watm.Listener{Module: m, Config: watm.ConnConfig{Config: []byte(config)}}
		c, _, err := l.AcceptConn(context.Background(), nc, nil)
		ch <- acceptResult{c, err}
	}()
	return ch
}

type acceptResult struct {
	c   *watm.Conn
	err error
}

// The listener's greeting reaches a raw client before it sends a byte; its
// args arrive decoded (an escaped ";").
func testServerWritesFirst(t *testing.T, m *watm.Module) {
	tp := watmtest.Listen(t)
	res := acceptAsync(t, m, tp.Listener, `greeting=hi\;there`)
	raw, err := net.Dial("tcp", tp.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(raw)
	line, err := r.ReadString('\n')
	if err != nil || line != "HELLO listener hi;there\n" {
		t.Fatalf("greeting %q, %v; want %q", line, err, "HELLO listener hi;there\n")
	}
	if _, err := io.WriteString(raw, "CLIENT raw\n"+xorString("ping")); err != nil {
		t.Fatal(err)
	}
	a := <-res
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.c.Close()
	a.c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(a.c, got); err != nil || string(got) != "ping" {
		t.Fatalf("plaintext side read %q, %v; want ping", got, err)
	}
	if _, err := io.WriteString(a.c, "pong"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, got); err != nil || string(got) != xorString("pong") {
		t.Fatalf("network side read %q, %v; want pong XOR 0x5a", got, err)
	}
}

// A client that never says hello: the listener's read deadline fails the
// accept, after the deadline and well before the module's default.
func testHandshakeDeadline(t *testing.T, m *watm.Module) {
	tp := watmtest.Listen(t)
	res := acceptAsync(t, m, tp.Listener, "deadline-ms=300")
	start := time.Now() // before the module can have set its deadline
	raw, err := net.Dial("tcp", tp.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	a := <-res
	took := time.Since(start)
	if a.err == nil {
		a.c.Close()
		t.Fatal("accepted a client that sent no hello")
	}
	want := "module stderr: watm: listener: no client hello within 300ms: read tcp"
	if !strings.Contains(a.err.Error(), want) || !strings.Contains(a.err.Error(), "i/o timeout") {
		t.Errorf("error %q, want it to contain %q and i/o timeout", a.err, want)
	}
	if took < 300*time.Millisecond || took > 4*time.Second {
		t.Errorf("failed after %v, want 300ms (the deadline), before the 5s default", took)
	}
}

// The dialer sleeps delay-ms before its hello; its role reaches the peer.
func testTimerAndRole(t *testing.T, m *watm.Module) {
	tp := watmtest.Listen(t)
	type hello struct {
		line string
		at   time.Time
		err  error
	}
	ch := make(chan hello, 1)
	go func() {
		c, err := tp.Accept()
		if err != nil {
			ch <- hello{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "HELLO listener raw\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		ch <- hello{line, time.Now(), err}
	}()
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: tp.Dial, Config: []byte("delay-ms=400")}}
	start := time.Now()
	c, err := d.DialContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := <-ch
	if h.err != nil || h.line != "CLIENT dialer\n" {
		t.Fatalf("client hello %q, %v; want %q", h.line, h.err, "CLIENT dialer\n")
	}
	if wait := h.at.Sub(start); wait < 400*time.Millisecond {
		t.Errorf("client hello %v after the dial began; the module sleeps 400ms first", wait)
	}
}

// WrapConn's error fails the dial; its text is in the host's error.
func testErrorReachesHost(t *testing.T, m *watm.Module) {
	tp := watmtest.Listen(t)
	go func() {
		if c, err := tp.Accept(); err == nil {
			c.Close()
		}
	}()
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: tp.Dial, Config: []byte("fail=boom")}}
	c, err := d.DialContext(context.Background())
	if err == nil {
		c.Close()
		t.Fatal("dial succeeded; the module refuses every handshake")
	}
	want := "returned errno 65 (EPROTO): module stderr: watm: dialer: handshake refused: boom"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
}

// An arg the module does not take fails init with the contract's text.
func testUnknownArg(t *testing.T, m *watm.Module) {
	tp := watmtest.Listen(t)
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: tp.Dial, Config: []byte("greeting=x;nope=1")}}
	c, err := d.DialContext(context.Background())
	if err == nil {
		c.Close()
		t.Fatal("dial succeeded with an unknown arg")
	}
	want := `returned errno 28 (EINVAL): module stderr: watm: init: unknown argument "nope"; this module takes: greeting, fail, delay-ms, deadline-ms`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
}

// Dialer to listener, both the module: bytes both ways, half-closes
// passed through, the sessions end cleanly.
func testStreamPair(t *testing.T, m *watm.Module) {
	c, s := wrappedPair(t, m, m)
	up, down := watmtest.RandomBytes(3<<20+17, 1), watmtest.RandomBytes(2<<20+5, 2)
	if err := watmtest.Exchange(c, s, up, down); err != nil {
		t.Fatal(err)
	}
	closeClean(t, c, s)
}

// Close on an idle connection: the worker honours the cancel channel.
func testStreamCancel(t *testing.T, m *watm.Module) {
	c, s := wrappedPair(t, m, m)
	for _, conn := range []*watm.Conn{c, s} {
		start := time.Now()
		if err := conn.Session().Close(); err != nil {
			t.Errorf("Close: %v (the module ignored its cancel channel)", err)
		}
		if err := conn.Session().Wait(); err != nil {
			t.Errorf("session ended with %v, want nil after Close", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %v", d)
		}
	}
	// The peer's plaintext side sees the connection end.
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := s.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes after both sessions closed", n)
	}
}

// A byte-transform module without Init refuses args.
func TestByteTransformRefusesArgs(t *testing.T) {
	rt := newRuntime(t)
	for _, name := range []string{"plain", "plain_v1"} {
		m := shipped(t, rt, name)
		tp := watmtest.Listen(t)
		d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: tp.Dial, Config: []byte("cert=x")}}
		c, err := d.DialContext(context.Background())
		if err == nil {
			c.Close()
			t.Fatalf("%s: dial succeeded with args", name)
		}
		if want := "returned errno 28 (EINVAL): module stderr: watm: init: this module takes no arguments"; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q, want it to contain %q", name, err, want)
		}
	}
}

func xorString(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] ^= 0x5a
	}
	return string(bytes.Clone(b))
}
