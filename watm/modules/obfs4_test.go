package modules_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/modules"
	"github.com/water-pt/water-pt/watm/modules/obfs4/proto"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// ptArgs encodes args as the module's config (contract 2): key=value
// joined by ";", keys sorted, "\", ";" and "=" escaped.
func ptArgs(m map[string]string) []byte {
	esc := strings.NewReplacer(`\`, `\\`, `;`, `\;`, `=`, `\=`)
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, esc.Replace(k)+"="+esc.Replace(m[k]))
	}
	return []byte(strings.Join(parts, ";"))
}

// obfs4Setup is a runtime with the shipped obfs4 module and a server
// identity.
type obfs4Setup struct {
	m          *watm.Module
	id         *proto.ServerIdentity
	serverArgs []byte
	clientArgs []byte
}

func newObfs4(t testing.TB, rt *watm.Runtime, iat int) *obfs4Setup {
	t.Helper()
	b, ok := modules.Lookup("obfs4")
	if !ok {
		t.Fatal("obfs4 is not shipped")
	}
	m, err := rt.LoadTrusted(watmtest.CompileContext(context.Background()), b)
	if err != nil {
		t.Fatal(err)
	}
	id, err := proto.NewServerIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id.IATMode = iat
	return &obfs4Setup{m: m, id: id, serverArgs: ptArgs(id.Args()),
		clientArgs: ptArgs(map[string]string{"cert": id.Cert(), "iat-mode": fmt.Sprint(iat)})}
}

// newRuntime makes a Runtime with the tests' shared compilation cache,
// closed when the test ends.
func newRuntime(t testing.TB, opts ...watm.Option) *watm.Runtime {
	t.Helper()
	rt, err := watm.NewRuntime(context.Background(), append([]watm.Option{watm.WithCompilationCacheDir(cacheDir)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

// serve runs the obfs4 server role on every conn ln accepts; each
// accepted plaintext conn (or error) goes to the returned channel.
func (o *obfs4Setup) serve(t testing.TB, ln net.Listener) <-chan accepted {
	ch := make(chan accepted, 16)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(func() { ln.Close() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := &watm.Listener{Module: o.m, Config: watm.ConnConfig{Config: o.serverArgs}}
				c, _, err := l.AcceptConn(context.Background(), nc, nil)
				ch <- accepted{c, err}
			}()
		}
	}()
	return ch
}

type accepted struct {
	c   *watm.Conn
	err error
}

func (o *obfs4Setup) dial(addr string) (*watm.Conn, error) {
	d := &watm.Dialer{Module: o.m, Config: watm.ConnConfig{Config: o.clientArgs,
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}}}
	return d.DialContext(context.Background())
}

// pair connects an obfs4 client instance to an obfs4 server instance.
func (o *obfs4Setup) pair(t testing.TB) (c, s *watm.Conn) {
	t.Helper()
	ln := watmtest.Listen(t)
	return o.connect(t, ln.Address(), o.serve(t, ln))
}

// connect dials addr with o's client and takes the server's end from acc;
// both are closed when the test ends.
func (o *obfs4Setup) connect(t testing.TB, addr string, acc <-chan accepted) (c, s *watm.Conn) {
	t.Helper()
	c, err := o.dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a := <-acc
	if a.err != nil {
		t.Fatal(a.err)
	}
	t.Cleanup(func() { a.c.Close() })
	return c, a.c
}

// exchange sends up from c to s and down from s to c at the same time,
// reads exactly as much on each side and compares byte for byte. obfs4
// has no half-close, so nothing is closed before both have arrived.
func exchange(c, s net.Conn, up, down []byte) error {
	errs := make(chan error, 4)
	send := func(w net.Conn, b []byte) { _, err := w.Write(b); errs <- err }
	recv := func(r net.Conn, want []byte, name string) {
		got := make([]byte, len(want))
		_, err := io.ReadFull(r, got)
		if err == nil && !bytes.Equal(got, want) {
			err = fmt.Errorf("%s: bytes differ", name)
		}
		errs <- err
	}
	go send(c, up)
	go send(s, down)
	go recv(s, up, "client -> server")
	go recv(c, down, "server -> client")
	for range 4 {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// TestObfs4Pair: a watm Dialer (obfs4 client) to a watm Listener (obfs4
// server), 16 MiB each way, iat-mode 0 and 1; then both sides close and
// the sessions end without error.
func TestObfs4Pair(t *testing.T) {
	for _, iat := range []int{0, 1} {
		t.Run(fmt.Sprintf("iat-mode=%d", iat), func(t *testing.T) {
			rt := newRuntime(t)
			o := newObfs4(t, rt, iat)
			c, s := o.pair(t)
			up, down := watmtest.RandomBytes(16<<20+123, 1), watmtest.RandomBytes(16<<20+45, 2)
			for _, conn := range []*watm.Conn{c, s} {
				conn.SetDeadline(time.Now().Add(5 * time.Minute))
			}
			start := time.Now()
			if err := exchange(c, s, up, down); err != nil {
				t.Fatal(err)
			}
			t.Logf("iat-mode=%d: 16 MiB each way in %v", iat, time.Since(start))
			// The client closes: the server's plaintext side sees the end.
			c.Close()
			if n, err := s.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("server plaintext read after the client closed: %d, %v; want EOF", n, err)
			}
			s.Close()
			for name, conn := range map[string]*watm.Conn{"client": c, "server": s} {
				if err := conn.Session().Wait(); err != nil {
					t.Errorf("%s session: %v", name, err)
				}
			}
		})
	}
}

// tap forwards one connection from ln to target and records what the
// client sent before the server's first byte: the client handshake.
func tap(t testing.TB, ln net.Listener, target string) <-chan []byte {
	hello := make(chan []byte, 1)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			hello <- nil
			return
		}
		defer c.Close()
		s, err := net.Dial("tcp", target)
		if err != nil {
			hello <- nil
			return
		}
		defer s.Close()
		var (
			mu      sync.Mutex
			sent    []byte
			replied bool
		)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.(*net.TCPConn).CloseWrite()
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				mu.Lock()
				if !replied {
					sent = append(sent, buf[:n]...)
				}
				mu.Unlock()
				if _, werr := s.Write(buf[:n]); werr != nil || err != nil {
					return
				}
			}
		}()
		buf := make([]byte, 32<<10)
		for first := true; ; first = false {
			n, err := s.Read(buf)
			if first {
				mu.Lock()
				replied = true
				hello <- bytes.Clone(sent)
				mu.Unlock()
			}
			if _, werr := c.Write(buf[:n]); werr != nil || err != nil {
				c.(*net.TCPConn).CloseWrite()
				return
			}
		}
	}()
	return hello
}

// TestObfs4ReplayAcrossInstances: a client handshake seen by one server
// instance is refused by the next one (water_seen keeps the filter in the
// host): the replaying peer gets no byte back, the accept fails with the
// replay named, and the first connection still works.
func TestObfs4ReplayAcrossInstances(t *testing.T) {
	rt := newRuntime(t)
	o := newObfs4(t, rt, 0)
	ln := watmtest.Listen(t)
	acc := o.serve(t, ln)
	front := watmtest.Listen(t)
	t.Cleanup(func() { front.Close() })
	hello := tap(t, front, ln.Address())

	c, firstC := o.connect(t, front.Address(), acc)
	captured := <-hello
	if len(captured) < 32+16+16 {
		t.Fatalf("captured a %d-byte client handshake", len(captured))
	}

	raw, err := net.Dial("tcp", ln.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Write(captured); err != nil {
		t.Fatal(err)
	}
	// The peer closing its side ends the server's probe delay early.
	raw.(*net.TCPConn).CloseWrite()
	raw.SetReadDeadline(time.Now().Add(2 * time.Minute))
	if got, err := io.ReadAll(raw); len(got) != 0 || err != nil {
		t.Errorf("the replay got %d bytes back and %v; want nothing and EOF", len(got), err)
	}
	second := <-acc
	if second.err == nil {
		second.c.Close()
		t.Fatal("the server accepted a replayed handshake")
	}
	if want := "obfs4: replayed client handshake"; !strings.Contains(second.err.Error(), want) {
		t.Errorf("accept error %q, want it to name %q", second.err, want)
	}

	for _, conn := range []*watm.Conn{c, firstC} {
		conn.SetDeadline(time.Now().Add(time.Minute))
	}
	if err := exchange(c, firstC, []byte("still here"), []byte("and here")); err != nil {
		t.Errorf("first connection after the replay: %v", err)
	}
}

// BenchmarkObfs4Throughput moves 1 MiB per iteration through an obfs4
// client instance and an obfs4 server instance in this process, one way
// (client to server) or both at once; MB/s counts the bytes of one
// direction. crypto=host seals and opens frames with the host's secretbox
// service (the default), crypto=wasm on a runtime WithoutHostCrypto, in
// WebAssembly. plain-up is the same through the plain module, for scale on
// a machine whose load varies.
//
//	go test -run '^$' -bench Obfs4Throughput -benchtime 64x ./watm/modules
func BenchmarkObfs4Throughput(b *testing.B) {
	for _, name := range []string{"crypto=host/up", "crypto=host/both", "crypto=wasm/up", "crypto=wasm/both", "plain-up"} {
		b.Run(name, func(b *testing.B) {
			o := benchSetup(b, strings.HasPrefix(name, "crypto=wasm/"), name == "plain-up")
			benchmarkPair(b, o, strings.HasSuffix(name, "/both"))
		})
	}
}

// benchSetup is a benchmark case's module on a runtime of its own: obfs4
// (with a new identity), or plain when plain is set, for scale; the runtime
// lacks the host's crypto service when wasmCrypto is set.
func benchSetup(b *testing.B, wasmCrypto, plain bool) *obfs4Setup {
	b.Helper()
	var opts []watm.Option
	if wasmCrypto {
		opts = append(opts, watm.WithoutHostCrypto())
	}
	rt, err := watm.NewRuntime(context.Background(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(context.Background()) })
	if !plain {
		return newObfs4(b, rt, 0)
	}
	wasm, _ := modules.Lookup("plain")
	m, err := rt.LoadTrusted(context.Background(), wasm)
	if err != nil {
		b.Fatal(err)
	}
	return &obfs4Setup{m: m}
}

// benchmarkPair moves 1 MiB per iteration from a client instance to a
// server instance of o's module, and back at the same time if both.
func benchmarkPair(b *testing.B, o *obfs4Setup, both bool) {
	c, s := o.pair(b)
	defer c.Close()
	defer s.Close()
	chunk := watmtest.RandomBytes(1<<20, 3)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		down := []byte(nil)
		if both {
			down = chunk
		}
		if err := exchange(c, s, chunk, down); err != nil {
			b.Fatal(err)
		}
	}
}

// TestObfs4WithoutHostCrypto: the obfs4 module on a host without the
// secretbox service (a runtime made WithoutHostCrypto: no /water preopen)
// falls back to secretbox in WebAssembly and interoperates with one that
// uses the service, both ways: client with the service to server without,
// and the reverse; 1 MiB and a bit each way, byte for byte.
func TestObfs4WithoutHostCrypto(t *testing.T) {
	with, without := newRuntime(t), newRuntime(t, watm.WithoutHostCrypto())
	for _, tc := range []struct {
		name               string
		clientRT, serverRT *watm.Runtime
	}{
		{"client with, server without", with, without},
		{"client without, server with", without, with},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server := newObfs4(t, tc.serverRT, 0)
			client := *newObfs4(t, tc.clientRT, 0)
			client.id, client.serverArgs, client.clientArgs = server.id, server.serverArgs, server.clientArgs
			ln := watmtest.Listen(t)
			acc := server.serve(t, ln)
			c, s := client.connect(t, ln.Address(), acc)
			for _, conn := range []*watm.Conn{c, s} {
				conn.SetDeadline(time.Now().Add(2 * time.Minute))
			}
			if err := exchange(c, s, watmtest.RandomBytes(1<<20+77, 5), watmtest.RandomBytes(1<<20+33, 6)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// BenchmarkObfs4Setup sets up one obfs4 connection per iteration, a client
// instance to a server instance in this process (dial, both handshakes,
// one byte each way), with and without the host's crypto service; plain
// is the same through the plain module, the cost of instances alone.
//
//	go test -run '^$' -bench Obfs4Setup -benchtime 20x ./watm/modules
func BenchmarkObfs4Setup(b *testing.B) {
	for _, name := range []string{"crypto=host", "crypto=wasm", "plain"} {
		b.Run(name, func(b *testing.B) {
			o := benchSetup(b, name == "crypto=wasm", name == "plain")
			ln := watmtest.Listen(b)
			acc := o.serve(b, ln)
			b.ResetTimer()
			for range b.N {
				c, err := o.dial(ln.Address())
				if err != nil {
					b.Fatal(err)
				}
				a := <-acc
				if a.err != nil {
					b.Fatal(a.err)
				}
				err = exchange(c, a.c, []byte{1}, []byte{2})
				c.Close()
				a.c.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
