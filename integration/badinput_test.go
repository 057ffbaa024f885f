package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/watm/modules"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// Bad input: what tor (or an operator, or a censor probing the bridge) can
// get wrong, and the exact line or SOCKS reply water-pt answers with. After
// every bad request the PT must still serve a good connection.

// TestBadEnvironment starts the PT with environments tor would never give
// (or an operator might): each must make it print exactly the error line
// tor logs, and nothing else on stdout or stderr, and exit with status 1.
func TestBadEnvironment(t *testing.T) {
	bin := tortest.Build(t)
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	state := func(name string) string { return filepath.Join(dir, name, "pt_state") }
	client := func(name string) []string { return tortest.ClientEnv(state(name), []string{"water"}, "") }
	server := func(name string) []string {
		// No ExtORPort is needed: every case fails before dialing one.
		return tortest.ServerEnv(state(name), []string{"water"}, nil, "", "", "127.0.0.1:9", filepath.Join(dir, "cookie"))
	}
	cases := []struct {
		name string
		env  []string
		want []string // every stdout line
	}{{
		name: "client-no-version",
		env:  withoutEnv(client("a"), "TOR_PT_MANAGED_TRANSPORT_VER"),
		want: []string{"ENV-ERROR no TOR_PT_MANAGED_TRANSPORT_VER environment variable"},
	}, {
		name: "server-no-version",
		env:  withoutEnv(server("b"), "TOR_PT_MANAGED_TRANSPORT_VER"),
		want: []string{"ENV-ERROR no TOR_PT_MANAGED_TRANSPORT_VER environment variable"},
	}, {
		name: "client-version-2",
		env:  append(client("c"), "TOR_PT_MANAGED_TRANSPORT_VER=2"),
		want: []string{"VERSION-ERROR no-version"},
	}, {
		name: "no-transports",
		env:  withoutEnv(client("d"), "TOR_PT_CLIENT_TRANSPORTS"),
		want: []string{`ENV-ERROR neither TOR_PT_CLIENT_TRANSPORTS nor TOR_PT_SERVER_TRANSPORTS is set: ` +
			`water-pt is started by tor (ClientTransportPlugin or ServerTransportPlugin); ` +
			`without tor, run "water-pt client" or "water-pt server"`},
	}, {
		name: "client-no-state-location",
		env:  withoutEnv(client("e"), "TOR_PT_STATE_LOCATION"),
		want: []string{"ENV-ERROR no TOR_PT_STATE_LOCATION environment variable"},
	}, {
		name: "server-no-state-location",
		env:  withoutEnv(server("f"), "TOR_PT_STATE_LOCATION"),
		want: []string{"ENV-ERROR no TOR_PT_STATE_LOCATION environment variable"},
	}, {
		// goptlib's MakeStateDir prints nothing when MkdirAll fails.
		name: "state-location-not-creatable",
		env:  append(client("g"), "TOR_PT_STATE_LOCATION="+filepath.Join(notADir, "pt_state")),
		want: []string{"ENV-ERROR cannot create the state directory: mkdir " + filepath.Join(notADir) + ": not a directory"},
	}, {
		name: "server-no-bindaddr",
		env:  withoutEnv(server("h"), "TOR_PT_SERVER_BINDADDR"),
		want: []string{"VERSION 1", "ENV-ERROR no TOR_PT_SERVER_BINDADDR environment variable"},
	}, {
		name: "server-no-orport",
		env:  append(server("i"), "TOR_PT_EXTENDED_SERVER_PORT="),
		want: []string{"VERSION 1", "ENV-ERROR need TOR_PT_ORPORT or TOR_PT_EXTENDED_SERVER_PORT environment variable"},
	}, {
		name: "server-no-cookie",
		env:  withoutEnv(server("j"), "TOR_PT_AUTH_COOKIE_FILE"),
		want: []string{"VERSION 1", "ENV-ERROR need TOR_PT_AUTH_COOKIE_FILE environment variable with TOR_PT_EXTENDED_SERVER_PORT"},
	}, {
		name: "server-bad-options",
		env:  append(server("k"), "TOR_PT_SERVER_TRANSPORT_OPTIONS=water:watm"),
		want: []string{"VERSION 1", `ENV-ERROR TOR_PT_SERVER_TRANSPORT_OPTIONS: "water:watm": no equals sign in "water:watm"`},
	}, {
		name: "server-bindaddr-no-port",
		env:  append(server("l"), "TOR_PT_SERVER_BINDADDR=water-nonsense"),
		want: []string{"VERSION 1", `ENV-ERROR TOR_PT_SERVER_BINDADDR: "water-nonsense": address nonsense: missing port in address`},
	}, {
		name: "server-bindaddr-no-dash",
		env:  append(server("m"), "TOR_PT_SERVER_BINDADDR=water127.0.0.1:0"),
		want: []string{"VERSION 1", `ENV-ERROR TOR_PT_SERVER_BINDADDR: "water127.0.0.1:0": doesn't contain "-"`},
	}, {
		name: "server-bindaddr-other-method",
		env:  append(server("n"), "TOR_PT_SERVER_BINDADDR=other-127.0.0.1:0"),
		want: []string{"VERSION 1",
			"SMETHOD-ERROR water no bind address for it in TOR_PT_SERVER_BINDADDR: tor passes one for every transport it asks for (ServerTransportListenAddr, or 0.0.0.0:0)",
			"SMETHODS DONE"},
	}, {
		name: "server-bad-extorport",
		env:  append(server("o"), "TOR_PT_EXTENDED_SERVER_PORT=nope"),
		want: []string{"VERSION 1", `ENV-ERROR cannot resolve TOR_PT_EXTENDED_SERVER_PORT "nope": address nope: missing port in address`},
	}, {
		name: "server-bad-orport",
		env:  append(server("p"), "TOR_PT_EXTENDED_SERVER_PORT=", "TOR_PT_ORPORT=bad"),
		want: []string{"VERSION 1", `ENV-ERROR cannot resolve TOR_PT_ORPORT "bad": address bad: missing port in address`},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pt := tortest.Start(t, bin, tc.env)
			code := waitExit(t, pt, 20*time.Second)
			if got := lineTexts(pt); !equalLines(got, tc.want) {
				t.Errorf("stdout:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			noStderr(t, pt)
		})
	}
}

// TestUnknownMethod asks both sides for "water,bogus": bogus gets a
// *METHOD-ERROR line naming it, water still comes up and carries data.
func TestUnknownMethod(t *testing.T) {
	p := startWaterPair(t, tortest.PairConfig{
		ClientEnv: []string{"TOR_PT_CLIENT_TRANSPORTS=water,bogus"},
		ServerEnv: []string{
			"TOR_PT_SERVER_TRANSPORTS=water,bogus",
			"TOR_PT_SERVER_BINDADDR=water-127.0.0.1:0,bogus-127.0.0.1:0",
		},
	})
	const why = `no such transport: water-pt provides water, obfs4`
	wantExactly(t, p.Client, []string{
		"VERSION 1",
		"CMETHOD water socks5 " + p.ClientMethod.Addr,
		"CMETHOD-ERROR bogus " + why,
		"CMETHODS DONE",
	})
	wantExactly(t, p.Server, []string{
		"VERSION 1",
		"SMETHOD-ERROR bogus " + why,
		p.ServerMethod.Line.Text,
		"SMETHODS DONE",
	}, tortest.KindLog)
	if err := waitLog(ctxTimeout(t, 10*time.Second), p.Server, "error", "method not started method=bogus err="+why); err != nil {
		t.Error(err)
	}
	if !strings.HasPrefix(p.ServerMethod.Line.Text, "SMETHOD water 127.0.0.1:") {
		t.Errorf("SMETHOD line %q", p.ServerMethod.Line.Text)
	}
	echoOnce(t, p, 256<<10)
	stopPair(t, p)
}

// TestServerModuleErrors gives the server PT modules it cannot serve: each
// gives an SMETHOD-ERROR with the reason, and (water being its only method)
// the PT exits 1 after SMETHODS DONE.
func TestServerModuleErrors(t *testing.T) {
	bin := tortest.Build(t)
	td := testdataDir(t)
	embeddedDefault := embeddedSHA256(t, modules.Default)
	zeros := strings.Repeat("0", 64)
	okPlain := filepath.Join(td, "ok_plain.wasm")
	okPlainSum := fileSHA256(t, okPlain)
	cases := []struct {
		name string
		opts []tortest.KV
		want string // the SMETHOD-ERROR message
	}{{
		name: "nonexistent-file",
		opts: []tortest.KV{{Key: "watm", Value: "/nonexistent.wasm"}},
		want: "watm: module file: stat /nonexistent.wasm: no such file or directory",
	}, {
		name: "missing-worker",
		opts: []tortest.KV{{Key: "watm", Value: filepath.Join(td, "missing_worker.wasm")}},
		want: "watm: invalid v0 module: _water_worker missing (from " + filepath.Join(td, "missing_worker.wasm") + ")",
	}, {
		name: "wrong-signatures",
		opts: []tortest.KV{{Key: "watm", Value: filepath.Join(td, "wrong_sig.wasm")}},
		want: "watm: invalid v0 module: _water_init has type ()->i64, want ()->i32; " +
			"_water_dial has type (i64)->i32, want (i32)->i32 (from " + filepath.Join(td, "wrong_sig.wasm") + ")",
	}, {
		name: "sha256-mismatch-embedded",
		opts: []tortest.KV{{Key: "watm-sha256", Value: zeros}},
		want: `watm: module "` + modules.Default + `" (embedded) has sha256 ` + embeddedDefault + ", but watm-sha256 pins " + zeros,
	}, {
		name: "sha256-mismatch-file",
		opts: []tortest.KV{{Key: "watm", Value: okPlain}, {Key: "watm-sha256", Value: zeros}},
		want: `watm: module "` + okPlain + `" (` + okPlain + `) has sha256 ` + okPlainSum + ", but watm-sha256 pins " + zeros,
	}, {
		name: "sha256-not-hex",
		opts: []tortest.KV{{Key: "watm-sha256", Value: "xyz"}},
		want: `ServerTransportOptions: watm-sha256="xyz" is not 64 hex digits`,
	}, {
		name: "no-such-name",
		opts: []tortest.KV{{Key: "watm", Value: "nosuch"}},
		want: `watm: no module named "nosuch": looked in {STATE}/watm and the embedded modules (obfs4, plain, plain_v1, reverse); ` +
			"put nosuch.wasm in a WATM directory (-watm-dir) or give an absolute path",
	}, {
		name: "unknown-option",
		opts: []tortest.KV{{Key: "watm", Value: "reverse"}, {Key: "bogus", Value: "1"}},
		want: `ServerTransportOptions: unknown argument "bogus": water-pt takes watm, watm-sha256, watm-config, watm-client-config; ` +
			`module "reverse" takes no arguments`,
	}, {
		name: "config-and-module-options",
		opts: []tortest.KV{{Key: "watm-config", Value: "aGk"}, {Key: "key", Value: "v"}},
		want: "ServerTransportOptions: both watm-config= and module arguments (key) are given: a module gets one config, " +
			"either watm-config= or its own k=v arguments; drop one",
	}, {
		name: "bad-client-config",
		opts: []tortest.KV{{Key: "watm-client-config", Value: "!!!"}},
		want: `ServerTransportOptions: watm-client-config: "!!!" is not base64`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			state := filepath.Join(t.TempDir(), "pt_state")
			env := tortest.ServerEnv(state, []string{"water"}, nil, tortest.ServerTransportOptions("water", tc.opts),
				"", "127.0.0.1:9", filepath.Join(t.TempDir(), "cookie"))
			pt := tortest.Start(t, bin, env, wazeroCacheArgs(t)...)
			code := waitExit(t, pt, 2*time.Minute) // a cold cache means compiling plain
			want := strings.ReplaceAll(tc.want, "{STATE}", state)
			wantExactly(t, pt, []string{"VERSION 1", "SMETHOD-ERROR water " + want, "SMETHODS DONE"}, tortest.KindLog)
			// tor logs this one too: the operator sees why.
			if err := waitLog(ctxTimeout(t, time.Second), pt, "error", "method not started method=water err="+want); err != nil {
				t.Error(err)
			}
			if code != 1 {
				t.Errorf("exit status %d, want 1 (no method left to serve)", code)
			}
			noStderr(t, pt)
		})
	}
}

// TestBadSOCKSRequests sends the client PT requests it must refuse, each
// with the reply code that says why, and checks after each one that a good
// connection still goes through. None of the refused requests may reach the
// bridge, except the one to a closed port, which never connects.
func TestBadSOCKSRequests(t *testing.T) {
	p := startWaterPair(t, tortest.PairConfig{})
	td := testdataDir(t)
	closed := watmtest.ClosedPort(t)
	good := p.ServerMethod.Args
	zeros := strings.Repeat("0", 64)
	plainSum := embeddedSHA256(t, "plain")
	kv := func(k, v string) []tortest.KV { return []tortest.KV{{Key: k, Value: v}} }

	type request struct {
		name   string
		args   []tortest.KV // sent as tor would (ignored when raw is set)
		raw    string       // the exact RFC 1929 username, password a NUL
		target string       // default: the bridge
		reply  byte
		log    string // the LOG line the client sends tor, if any
	}
	reqs := []request{{
		name:  "nonexistent-module-file",
		args:  kv("watm", "/nonexistent.wasm"),
		reply: tortest.ReplyNotAllowed,
		log:   "module rejected err=watm: module file: stat /nonexistent.wasm: no such file or directory",
	}, {
		name:  "module-missing-worker",
		args:  kv("watm", filepath.Join(td, "missing_worker.wasm")),
		reply: tortest.ReplyNotAllowed,
		log:   "module rejected err=watm: invalid v0 module: _water_worker missing (from " + filepath.Join(td, "missing_worker.wasm") + ")",
	}, {
		name:  "module-wrong-signatures",
		args:  kv("watm", filepath.Join(td, "wrong_sig.wasm")),
		reply: tortest.ReplyNotAllowed,
		log: "module rejected err=watm: invalid v0 module: _water_init has type ()->i64, want ()->i32; " +
			"_water_dial has type (i64)->i32, want (i32)->i32 (from " + filepath.Join(td, "wrong_sig.wasm") + ")",
	}, {
		name:  "sha256-mismatch",
		args:  []tortest.KV{{Key: "watm", Value: "plain"}, {Key: "watm-sha256", Value: zeros}},
		reply: tortest.ReplyNotAllowed,
		log:   `module rejected err=watm: module "plain" (embedded) has sha256 ` + plainSum + ", but watm-sha256 pins " + zeros,
	}, {
		name:  "no-such-module-name",
		args:  kv("watm", "nosuch"),
		reply: tortest.ReplyNotAllowed,
	}, {
		name:  "module-name-with-slash",
		args:  kv("watm", "../plain"),
		reply: tortest.ReplyNotAllowed,
		log:   `module rejected err=watm: watm="../plain": a name may use letters, digits, '-' and '_', or be an absolute path to a .wasm file`,
	}, {
		name:  "unknown-key",
		args:  kv("wtam", "reverse"),
		reply: tortest.ReplyGeneralFailure,
		log: `bridge args refused err=bridge args: unknown argument "wtam": water-pt takes watm, watm-sha256, watm-config; ` +
			`module "obfs4" takes: cert, iat-mode, node-id, public-key`,
	}, {
		name:  "config-and-module-args",
		args:  []tortest.KV{{Key: "watm-config", Value: "aGk"}, {Key: "key", Value: "v"}},
		reply: tortest.ReplyGeneralFailure,
		log: "bridge args refused err=bridge args: both watm-config= and module arguments (key) are given: a module gets one config, " +
			"either watm-config= or its own k=v arguments; drop one",
	}, {
		name:  "sha256-not-hex",
		args:  kv("watm-sha256", "xyz"),
		reply: tortest.ReplyGeneralFailure,
	}, {
		name:  "config-not-base64",
		args:  kv("watm-config", "!!!"),
		reply: tortest.ReplyGeneralFailure,
	}, {
		name:  "empty-module-name",
		args:  kv("watm", ""),
		reply: tortest.ReplyGeneralFailure,
	}, {
		name:  "arg-without-equals",
		raw:   "watm",
		reply: tortest.ReplyGeneralFailure,
	}, {
		name:  "arg-empty-key",
		raw:   "=plain",
		reply: tortest.ReplyGeneralFailure,
	}, {
		name:  "duplicate-key",
		raw:   "watm=plain;watm=plain",
		reply: tortest.ReplyGeneralFailure,
	}, {
		name:  "trailing-backslash",
		raw:   `watm=plain\`,
		reply: tortest.ReplyGeneralFailure,
	}, {
		name:   "bridge-refuses",
		args:   good,
		target: closed,
		reply:  tortest.ReplyConnectionRefused,
	}}

	ctx := ctxTimeout(t, time.Minute)
	goodConns := 0
	for _, r := range reqs {
		target := r.target
		if target == "" {
			target = p.ServerMethod.Addr
		}
		var (
			rep byte
			err error
		)
		if r.raw != "" {
			rep, err = socksRaw(ctx, p.ClientMethod.Addr, []byte(r.raw), []byte{0}, target)
		} else {
			var c net.Conn
			c, rep, err = tortest.DialSOCKS(ctx, p.ClientMethod.Addr, target, r.args)
			if c != nil {
				c.Close()
			}
		}
		if rep != r.reply {
			t.Errorf("%s: reply 0x%02x (%v), want 0x%02x", r.name, rep, err, r.reply)
		}
		if r.log != "" {
			if err := waitLog(ctxTimeout(t, 10*time.Second), p.Client, "warning", r.log); err != nil {
				t.Errorf("%s: %v", r.name, err)
			}
		}
		// The PT still serves.
		echoOnce(t, p, 64<<10)
		goodConns++
	}
	// Only the good connections reached the bridge.
	if n := len(p.ExtOR.Sessions()); n != goodConns {
		t.Errorf("the ExtORPort saw %d connections, want %d (one per good connection)", n, goodConns)
	}
	stopPair(t, p)
}

// TestGarbageOnServerPort connects to the bridge port the way a prober
// would: send random bytes, or nothing, and close (or reset). The ExtORPort
// sees at most the bytes sent (the plain module passes them through), with
// the prober's address as USERADDR; a prober that sends nothing never
// reaches it (the server waits for a first byte). The next real client gets
// through.
func TestGarbageOnServerPort(t *testing.T) {
	p := startWaterPair(t, tortest.PairConfig{})
	ctx := ctxTimeout(t, time.Minute)
	probes := []struct {
		name  string
		n     int  // random bytes to send
		reset bool // close with RST instead of FIN
	}{
		{"random-4KiB", 4096, false},
		{"random-64KiB-reset", 64 << 10, true},
		{"nothing", 0, false},
		{"nothing-reset", 0, true},
		{"one-byte", 1, false},
	}
	sessions := 0
	for _, pr := range probes {
		c, err := net.Dial("tcp", p.ServerMethod.Addr)
		if err != nil {
			t.Fatalf("%s: %v", pr.name, err)
		}
		junk := make([]byte, pr.n)
		rand.Read(junk)
		if _, err := c.Write(junk); err != nil {
			t.Fatalf("%s: writing: %v", pr.name, err)
		}
		local := c.LocalAddr().String()
		if pr.reset {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		} else {
			c.(*net.TCPConn).CloseWrite()
			// Read whatever comes back (plain echoes it through the
			// ExtORPort) until the PT closes.
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err := io.Copy(io.Discard, c)
			c.Close()
			if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				t.Errorf("%s: the PT did not close the connection: %v", pr.name, err)
			}
		}
		if pr.n == 0 {
			// Nothing sent: the probe never reaches the ExtORPort.
			echoOnce(t, p, 64<<10)
			sessions++
			if n := len(p.ExtOR.Sessions()); n != sessions {
				t.Errorf("%s: the ExtORPort saw %d sessions, want %d (none for the probe)", pr.name, n, sessions)
			}
			continue
		}
		sessions++
		all, err := p.ExtOR.WaitClosed(ctx, sessions)
		if err != nil {
			t.Fatalf("%s: %v", pr.name, err)
		}
		s := all[sessions-1]
		if !s.AuthOK || s.UserAddr != local || s.Transport != "water" {
			t.Errorf("%s: ExtORPort session: auth %v, USERADDR %q (want %q), TRANSPORT %q, err %v",
				pr.name, s.AuthOK, s.UserAddr, local, s.Transport, s.Err)
		}
		if s.BytesIn > int64(pr.n) {
			t.Errorf("%s: the ExtORPort received %d bytes, more than the %d sent", pr.name, s.BytesIn, pr.n)
		}
		if !pr.reset && s.BytesIn != int64(pr.n) {
			// plain is a passthrough: what was sent and then half-closed
			// arrives whole.
			t.Errorf("%s: the ExtORPort received %d bytes, want %d", pr.name, s.BytesIn, pr.n)
		}
		// A real client still gets through.
		echoOnce(t, p, 64<<10)
		sessions++
	}
	stopPair(t, p)
}

// ---- helpers shared by the proxy, badinput, lifecycle and logging tests ----

// wazeroCacheArgs returns the flags that point a PT at a compilation cache
// shared by every PT these tests start (and kept between runs, like the go
// build cache): compiling the embedded modules takes seconds under -race,
// and every PT would otherwise do it in its fresh state directory.
func wazeroCacheArgs(t testing.TB) []string {
	t.Helper()
	cacheOnce.Do(func() {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "water-pt-integration", "wazero")
		cacheErr = os.MkdirAll(cacheDir, 0o700)
	})
	if cacheErr != nil {
		t.Fatalf("compilation cache: %v", cacheErr)
	}
	return []string{"-watm-cache", cacheDir}
}

var (
	cacheOnce sync.Once
	cacheDir  string
	cacheErr  error
)

// startWaterPair is tortest.StartPair for transport "water" with the shared
// compilation cache; cfg's other fields are passed on. Without
// ServerOptions the server runs watm=plain, the identity module: these
// tests are about water-pt's plumbing (the default module, obfs4, has its
// own tests), and a prober's bytes pass through plain unchanged.
func startWaterPair(t *testing.T, cfg tortest.PairConfig) *tortest.Pair {
	t.Helper()
	cfg.Binary = tortest.Build(t)
	cfg.Transport = "water"
	if cfg.ServerOptions == nil {
		cfg.ServerOptions = []tortest.KV{{Key: "watm", Value: "plain"}}
	}
	cache := wazeroCacheArgs(t)
	cfg.ServerArgs = append(append([]string{}, cache...), cfg.ServerArgs...)
	cfg.ClientArgs = append(append([]string{}, cache...), cfg.ClientArgs...)
	if cfg.SetupWithin == 0 {
		// With a cold cache the first PT compiles the module: seconds, or
		// tens of seconds under -race on a busy machine.
		cfg.SetupWithin = 2 * time.Minute
	}
	return tortest.StartPair(t, cfg)
}

// stopPair stops both PTs as tor does and requires a clean, prompt exit and
// an empty stderr.
func stopPair(t *testing.T, p *tortest.Pair) {
	t.Helper()
	// The 1 s exit bound is TestLifecycle's; here a stop only has to be
	// clean and prompt (the race detector on a loaded machine is slow).
	d, err := p.Stop(5 * time.Second)
	if err != nil {
		t.Errorf("stopping the pair: %v", err)
	} else if d > 3*time.Second {
		t.Errorf("stopping the pair took %v, want at most 3s", d)
	}
	noStderr(t, p.Client)
	noStderr(t, p.Server)
}

// echoOnce sends n bytes through a new connection of the pair and checks
// that they come back.
func echoOnce(t *testing.T, p *tortest.Pair, n int) {
	t.Helper()
	ctx := ctxTimeout(t, 30*time.Second)
	c, err := p.Dial(ctx)
	if err != nil {
		t.Fatalf("dialing through the pair: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tortest.CheckEcho(c, n); err != nil {
		t.Fatalf("echo through the pair: %v", err)
	}
}

// echoConcurrently opens conns connections through the pair at once and
// echoes n bytes on each.
func echoConcurrently(t *testing.T, p *tortest.Pair, conns, n int) {
	t.Helper()
	ctx := ctxTimeout(t, time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			c, err := p.Dial(ctx)
			if err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			if err := tortest.CheckEcho(c, n); err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitExit waits for the PT to exit and returns its exit status.
func waitExit(t testing.TB, pt *tortest.PT, timeout time.Duration) int {
	t.Helper()
	code, _, err := pt.Wait(timeout)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func noStderr(t testing.TB, pt *tortest.PT) {
	t.Helper()
	if s := pt.Stderr(); s != "" {
		t.Errorf("the PT wrote on stderr in managed mode:\n%s", s)
	}
}

func lineTexts(pt *tortest.PT) []string {
	var out []string
	for _, l := range pt.Lines() {
		out = append(out, l.Text)
	}
	return out
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wantExactly requires the PT's stdout so far, without the lines of the
// kinds in skip, to be want, line for line.
func wantExactly(t testing.TB, pt *tortest.PT, want []string, skip ...tortest.Kind) {
	t.Helper()
	var got []string
	for _, l := range pt.Lines() {
		if !slices.Contains(skip, l.Kind) {
			got = append(got, l.Text)
		}
	}
	if !equalLines(got, want) {
		t.Errorf("stdout:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// withoutEnv returns env without any entry for key.
func withoutEnv(env []string, key string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, key+"=") {
			out = append(out, e)
		}
	}
	return out
}

// waitLog waits for a LOG line of the given severity whose MESSAGE, once
// unquoted, is exactly msg.
func waitLog(ctx context.Context, pt *tortest.PT, severity, msg string) error {
	for from := 0; ; {
		l, err := pt.WaitLineFrom(ctx, from, "LOG ")
		if err != nil {
			return fmt.Errorf("no LOG SEVERITY=%s with MESSAGE %q: %w", severity, msg, err)
		}
		sev, _ := l.Get("SEVERITY")
		m, _ := l.Get("MESSAGE")
		if sev == severity && m == msg {
			return nil
		}
		from = l.Index + 1
	}
}

func testdataDir(t testing.TB) string {
	t.Helper()
	td, err := filepath.Abs(filepath.Join("..", "watm", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	return td
}

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func embeddedSHA256(t testing.TB, name string) string {
	t.Helper()
	b, ok := modules.Lookup(name)
	if !ok {
		t.Fatalf("no embedded module %q", name)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(err.Error(), "reset")
}

// socksRaw is tor's SOCKS5 handshake with an arbitrary RFC 1929 username and
// password (to send arguments tor never would) and a CONNECT to target. It
// returns the reply code, tortest.ReplyNone if there was none.
func socksRaw(ctx context.Context, socksAddr string, user, pass []byte, target string) (byte, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", socksAddr)
	if err != nil {
		return tortest.ReplyNone, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	ap, err := netip.ParseAddrPort(target)
	if err != nil || !ap.Addr().Is4() {
		return tortest.ReplyNone, fmt.Errorf("target %q: want an IPv4 address and port", target)
	}
	msg := []byte{5, 1, 2, 1, byte(len(user))}
	msg = append(msg, user...)
	msg = append(msg, byte(len(pass)))
	msg = append(msg, pass...)
	msg = append(msg, 5, 1, 0, 1)
	msg = append(msg, ap.Addr().AsSlice()...)
	msg = binary.BigEndian.AppendUint16(msg, ap.Port())
	if _, err := c.Write(msg); err != nil {
		return tortest.ReplyNone, err
	}
	var resp [2 + 2 + 4]byte // method choice, auth status, reply header
	if _, err := io.ReadFull(c, resp[:4]); err != nil {
		return tortest.ReplyNone, fmt.Errorf("reading method choice and auth status: %w", err)
	}
	if resp[1] != 2 || resp[3] != 0 {
		return tortest.ReplyNone, fmt.Errorf("method 0x%02x, auth status 0x%02x", resp[1], resp[3])
	}
	if _, err := io.ReadFull(c, resp[4:]); err != nil {
		return tortest.ReplyNone, fmt.Errorf("reading the reply: %w", err)
	}
	return resp[5], nil
}

// portOf returns the port of host:port.
func portOf(t testing.TB, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	return port
}

// TestBadFlags: flags tor passes on the transport plugin line that are
// wrong reach tor as an ENV-ERROR (tor reads stdout), exit status 2.
func TestBadFlags(t *testing.T) {
	bin := tortest.Build(t)
	env := tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, "")
	cases := map[string]struct {
		args []string
		want string
	}{
		"level":    {[]string{"-logLevel", "bogus"}, `ENV-ERROR bad flags on the transport plugin line: -logLevel "bogus": use ERROR, WARN, INFO or DEBUG`},
		"argument": {[]string{"stray"}, `ENV-ERROR bad flags on the transport plugin line: unexpected argument "stray" (see water-pt -h)`},
		"unknown":  {[]string{"-nosuchflag"}, "ENV-ERROR bad flags on the transport plugin line: flag provided but not defined: -nosuchflag"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pt := tortest.Start(t, bin, env, tc.args...)
			if code := waitExit(t, pt, 20*time.Second); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if got := lineTexts(pt); !equalLines(got, []string{tc.want}) {
				t.Errorf("stdout:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), tc.want)
			}
		})
	}
}
