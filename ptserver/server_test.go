package ptserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/ptserver/extortest"
	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/catalog"
	"github.com/water-pt/water-pt/watm/modules"
)

// newCatalog is the embedded modules on a runtime that lasts for the test.
func newCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	ctx := context.Background()
	rt, err := watm.NewRuntime(ctx, watm.WithCompilationCacheDir(cacheDir), watm.WithPoolSize(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	return catalog.New(rt, catalog.WithEmbedded(modules.Lookup, modules.Names(), modules.Default))
}

// newServer is a Server for the water method on a loopback port, with
// cat's modules and tor's side played by ext.
func newServer(cat *catalog.Catalog, ext *extortest.Server, opts map[string]string) *Server {
	args := pt.Args{}
	for k, v := range opts {
		args.Add(k, v)
	}
	info := *ext.ServerInfo()
	info.Bindaddrs = []pt.Bindaddr{{MethodName: MethodName, Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, Options: args}}
	return &Server{Info: info, Catalog: cat, Logger: slog.New(slog.DiscardHandler)}
}

// serve runs s until the test ends.
func serve(t *testing.T, s *Server) []*Method {
	t.Helper()
	methods, errs := s.Setup(context.Background())
	if len(errs) != 0 || len(methods) != 1 {
		t.Fatalf("Setup: %d methods, errors %v", len(methods), errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return methods
}

// TestSetupErrors: a bind address whose options are wrong becomes a
// MethodError (an SMETHOD-ERROR line) naming the method and the cause.
func TestSetupErrors(t *testing.T) {
	ext := extortest.Start(t, extortest.Echo())
	cat := newCatalog(t)
	for _, tc := range []struct {
		name, method string
		opts         map[string]string
		want         string
	}{
		{"unknown method", "bogus", nil, "bogus: no such transport: water-pt provides water"},
		{"no such module", MethodName, map[string]string{"watm": "nosuch"},
			`water: watm: no module named "nosuch": looked in the embedded modules (obfs4, plain, plain_v1, reverse); ` +
				`put nosuch.wasm in a WATM directory (-watm-dir) or give an absolute path`},
		{"bad pin", MethodName, map[string]string{"watm": "plain", "watm-sha256": "00"},
			`water: ServerTransportOptions: watm-sha256="00" is not 64 hex digits`},
		{"bad client config", MethodName, map[string]string{"watm": "plain", "watm-client-config": "!!"},
			`water: ServerTransportOptions: watm-client-config: "!!" is not base64`},
		{"argument the module refuses", MethodName, map[string]string{"watm": "plain", "bogus": "1"},
			`water: ServerTransportOptions: module "plain" refused its config: watm: _water_init returned errno 28 (EINVAL): ` +
				`module stderr: watm: init: this module takes no arguments`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(cat, ext, tc.opts)
			s.Info.Bindaddrs[0].MethodName = tc.method
			methods, errs := s.Setup(context.Background())
			if len(methods) != 0 || len(errs) != 1 {
				t.Fatalf("%d methods, errors %v; want one error", len(methods), errs)
			}
			if got := errs[0].Error(); got != tc.want {
				t.Errorf("error %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSMETHODArgs: a method set up on port 0 advertises the port it bound
// and the ARGS a client needs (the module and its pin, the client config),
// and the bridge line carries them byte for byte (the config unpadded,
// as EncodeConfig writes it).
func TestSMETHODArgs(t *testing.T) {
	ext := extortest.Start(t, extortest.Echo())
	s := newServer(newCatalog(t), ext, map[string]string{"watm": "plain", "watm-client-config": "AQI="})
	m := serve(t, s)[0]
	bound := m.Addr().(*net.TCPAddr)
	if got := m.AdvertisedAddr(); !got.IP.Equal(net.IPv4(127, 0, 0, 1)) || got.Port != bound.Port || bound.Port == 0 {
		t.Errorf("AdvertisedAddr %v, bound %v", got, bound)
	}
	sum, err := s.Catalog.Load(context.Background(), catalog.Spec{Name: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	want := "Bridge water 127.0.0.1:" + strconv.Itoa(bound.Port) + " <FINGERPRINT> watm=plain watm-config=AQI watm-sha256=" + sum.Module.SHA256() + "\n"
	lines := bridgeLines(MethodName, "<FINGERPRINT>", []*Method{m})
	if got := lines[strings.LastIndex(strings.TrimSuffix(lines, "\n"), "\n")+1:]; got != want {
		t.Errorf("bridge line %q, want %q", got, want)
	}
}

// TestIdleTimeout: a connection that sends nothing is closed after
// IdleTimeout without reaching tor; one that sends reaches tor and is
// carried (the echo comes back through the module).
func TestIdleTimeout(t *testing.T) {
	ext := extortest.Start(t, extortest.Echo())
	s := newServer(newCatalog(t), ext, map[string]string{"watm": "plain"})
	const idle = 300 * time.Millisecond
	s.IdleTimeout = idle
	addr := serve(t, s)[0].Addr().String()

	start := time.Now() // before the dial: the server's deadline starts at accept
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("silent conn: read %d, %v; want EOF", n, err)
	}
	if took := time.Since(start); took < idle {
		t.Errorf("silent conn closed after %v, before the idle timeout %v", took, idle)
	}
	if n := len(ext.Sessions()); n != 0 {
		t.Errorf("%d ExtORPort sessions for a silent conn, want 0", n)
	}

	talker, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer talker.Close()
	msg := []byte("hello through the plain module")
	if _, err := talker.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	talker.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(talker, got); err != nil || string(got) != string(msg) {
		t.Fatalf("echo %q, %v; want %q", got, err, msg)
	}
}

// TestMaxConns: past MaxConns open connections a new one is closed at
// once, while the open one stays up.
func TestMaxConns(t *testing.T) {
	ext := extortest.Start(t, extortest.Echo())
	s := newServer(newCatalog(t), ext, map[string]string{"watm": "plain"})
	s.IdleTimeout = time.Minute
	s.MaxConns = 1
	addr := serve(t, s)[0].Addr().String()
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// The first is admitted once the server tracks it; until then a second
	// could take its place, so wait for it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first conn was not admitted within 10s")
		}
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := second.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("conn past MaxConns: read %d, %v; want EOF", n, err)
	}
	first.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := first.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the admitted conn: read %v, want it open (deadline exceeded)", err)
	}
}
