package integration

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptserver"
	"github.com/water-pt/water-pt/ptserver/extortest"
	"github.com/water-pt/water-pt/watm/modules/obfs4/proto"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// obfs4Side is one end of an obfs4 pair: water-pt or Debian's obfs4proxy.
type obfs4Side struct {
	name   string
	binary string
	args   []string
}

func waterSide(t *testing.T) obfs4Side {
	return obfs4Side{"water-pt", tortest.Build(t), wazeroCacheArgs(t)}
}

func obfs4proxySide(t *testing.T) obfs4Side {
	return obfs4Side{"obfs4proxy", findObfs4proxy(t), nil}
}

// findObfs4proxy returns Debian's obfs4proxy, a declared test dependency
// (.ci/run installs it): its absence fails the test.
func findObfs4proxy(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("obfs4proxy")
	if err != nil {
		t.Fatal("obfs4proxy is not installed: the obfs4 interoperability tests run Debian's obfs4proxy (apt-get install obfs4proxy; .ci/run installs it)")
	}
	return p
}

// startObfs4Pair starts client and server PTs for transport obfs4 with an
// echoing ExtORPort; the client gets the server's SMETHOD ARGS.
func startObfs4Pair(t *testing.T, client, server obfs4Side, opts []tortest.KV) *tortest.Pair {
	t.Helper()
	return tortest.StartPair(t, tortest.PairConfig{
		Binary:        client.binary,
		ClientArgs:    client.args,
		ServerBinary:  server.binary,
		ServerArgs:    server.args,
		Transport:     ptserver.Obfs4Method,
		ServerOptions: opts,
		SetupWithin:   2 * time.Minute,
	})
}

// TestObfs4Interop carries data through obfs4 between water-pt and
// obfs4proxy, each way round and water-pt on both ends, in iat-mode 0 and
// 1: 64 MiB each way byte for byte, and 50 concurrent connections. In
// iat-mode 1 every frame waits a random few milliseconds, so there the
// 64 MiB is spread over the 50 connections.
func TestObfs4Interop(t *testing.T) {
	water, obfs4proxy := waterSide(t), obfs4proxySide(t)
	for _, pair := range []struct{ client, server obfs4Side }{
		{water, obfs4proxy},
		{obfs4proxy, water},
		{water, water},
	} {
		for _, iat := range []int{0, 1} {
			name := fmt.Sprintf("%s-to-%s/iat-mode=%d", pair.client.name, pair.server.name, iat)
			t.Run(name, func(t *testing.T) {
				p := startObfs4Pair(t, pair.client, pair.server, []tortest.KV{{Key: "iat-mode", Value: strconv.Itoa(iat)}})
				checkObfs4Args(t, p.ServerMethod.Args, iat)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				const total, conns = 64 << 20, 50
				n := conns
				if iat == 0 {
					streamEcho(ctx, t, p, total)
					concurrentEcho(ctx, t, p, conns, 256<<10)
					n++
				} else {
					concurrentEcho(ctx, t, p, conns, (total+conns-1)/conns)
				}
				sessions, err := p.ExtOR.WaitSessions(ctx, n)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range sessions {
					if !s.AuthOK || s.Transport != ptserver.Obfs4Method {
						t.Fatalf("ExtORPort session: auth %v, TRANSPORT %q, err %v", s.AuthOK, s.Transport, s.Err)
					}
				}
				if d, err := p.Stop(5 * time.Second); err != nil {
					t.Errorf("stopping the pair (%v): %v", d, err)
				}
				noStderr(t, p.Client)
				noStderr(t, p.Server)
			})
		}
	}
}

// checkModuleArgs requires the ARGS a water method advertises for module:
// watm= and its watm-sha256=, and for obfs4 (the default) also cert= and
// iat-mode=0; nothing else.
func checkModuleArgs(t *testing.T, args []tortest.KV, module string) {
	t.Helper()
	got := map[string]string{}
	for _, kv := range args {
		got[kv.Key] = kv.Value
	}
	n := 2
	if module == ptserver.Obfs4Module {
		n = 4
		if len(got["cert"]) != 70 || got["iat-mode"] != "0" {
			t.Fatalf("ARGS %v: want cert= (70 characters) and iat-mode=0 for module obfs4", args)
		}
	}
	if len(got) != n || got["watm"] != module || got["watm-sha256"] != moduleSHA256(t, module) {
		t.Fatalf("ARGS %v: want watm=%s and watm-sha256=%s", args, module, moduleSHA256(t, module))
	}
}

// checkObfs4Args requires SMETHOD ARGS of exactly cert= (a node ID and a
// public key: 52 bytes, 70 base64 characters) and iat-mode=.
func checkObfs4Args(t *testing.T, args []tortest.KV, iat int) {
	t.Helper()
	cert, ok := lookupKV(args, "cert")
	if iatv, _ := lookupKV(args, "iat-mode"); !ok || len(cert) != 70 || iatv != strconv.Itoa(iat) || len(args) != 2 {
		t.Fatalf("SMETHOD ARGS %v: want cert= (70 characters) and iat-mode=%d, nothing else", args, iat)
	}
}

// obfs4Server runs a server PT for transport obfs4 alone, with state dir
// state and the given ServerTransportOptions, and returns its SMETHOD
// line; the PT is stopped when the test ends (or by stop).
func obfs4Server(t *testing.T, side obfs4Side, state string, opts []tortest.KV) (tortest.Method, *tortest.PT) {
	t.Helper()
	ext := extortest.Start(t, extortest.Echo())
	var optStr string
	if len(opts) > 0 {
		optStr = tortest.ServerTransportOptions(ptserver.Obfs4Method, opts)
	}
	env := tortest.ServerEnv(state, []string{ptserver.Obfs4Method}, nil, optStr, "", ext.Addr(), ext.CookiePath())
	pt := tortest.Start(t, side.binary, env, side.args...)
	methods, err := pt.WaitDone(ctxTimeout(t, 2*time.Minute))
	if err != nil {
		t.Fatalf("%s: %v", side.name, err)
	}
	if len(methods) != 1 || methods[0].Name != ptserver.Obfs4Method {
		t.Fatalf("%s: methods %v, want one obfs4", side.name, methods)
	}
	return methods[0], pt
}

func stopPT(t *testing.T, pt *tortest.PT) {
	t.Helper()
	pt.CloseStdin()
	if _, _, err := pt.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestObfs4ServerIdentity: the identity water-pt creates on first start is
// kept in obfs4_state.json (0600) and advertised again after a restart; an
// identity obfs4proxy wrote is read and advertised unchanged; and
// node-id=, private-key=, drbg-seed=, iat-mode= options set it as they do
// for obfs4proxy, without a state file.
func TestObfs4ServerIdentity(t *testing.T) {
	water := waterSide(t)
	t.Run("restart", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "pt_state")
		first, pt := obfs4Server(t, water, state, nil)
		checkObfs4Args(t, first.Args, 0)
		stopPT(t, pt)
		path := filepath.Join(state, ptserver.Obfs4StateFile)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		id, err := proto.ParseStateJSON(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		cert, _ := lookupKV(first.Args, "cert")
		if id.Cert() != cert {
			t.Errorf("advertised cert %s, but %s holds the identity of cert %s", cert, path, id.Cert())
		}
		line, err := os.ReadFile(filepath.Join(state, ptserver.Obfs4BridgeLineFile))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("\nBridge obfs4 %s <FINGERPRINT> cert=%s iat-mode=0\n", first.Addr, cert)
		if !strings.Contains(string(line), want) {
			t.Errorf("%s:\n%s\nwant the line %q", ptserver.Obfs4BridgeLineFile, line, want)
		}

		again, pt := obfs4Server(t, water, state, nil)
		stopPT(t, pt)
		if !slices.Equal(again.Args, first.Args) {
			t.Errorf("after a restart: SMETHOD ARGS %v, want %v as before", again.Args, first.Args)
		}
		if b2, _ := os.ReadFile(path); string(b2) != string(b) {
			t.Errorf("%s changed on restart", path)
		}
	})
	t.Run("obfs4proxy-state", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "pt_state")
		theirs, pt := obfs4Server(t, obfs4proxySide(t), state, nil)
		stopPT(t, pt)
		path := filepath.Join(state, ptserver.Obfs4StateFile)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("obfs4proxy wrote no state: %v", err)
		}
		ours, pt := obfs4Server(t, water, state, nil)
		stopPT(t, pt)
		if !slices.Equal(sortedKVs(ours.Args), sortedKVs(theirs.Args)) {
			t.Errorf("water-pt on obfs4proxy's state advertises %v, obfs4proxy advertised %v", ours.Args, theirs.Args)
		}
		if b2, _ := os.ReadFile(path); string(b2) != string(b) {
			t.Errorf("water-pt rewrote obfs4proxy's %s", path)
		}

		// The same identity given as options, with iat-mode=1.
		var js map[string]any
		if err := json.Unmarshal(b, &js); err != nil {
			t.Fatal(err)
		}
		var opts []tortest.KV
		for _, k := range []string{"node-id", "private-key", "drbg-seed"} {
			v, _ := js[k].(string)
			opts = append(opts, tortest.KV{Key: k, Value: v})
		}
		opts = append(opts, tortest.KV{Key: "iat-mode", Value: "1"})
		fresh := filepath.Join(t.TempDir(), "pt_state")
		fromOpts, pt := obfs4Server(t, water, fresh, opts)
		stopPT(t, pt)
		checkObfs4Args(t, fromOpts.Args, 1)
		wantCert, _ := lookupKV(theirs.Args, "cert")
		if cert, _ := lookupKV(fromOpts.Args, "cert"); cert != wantCert {
			t.Errorf("identity from options: cert %s, want obfs4proxy's %s", cert, wantCert)
		}
		if _, err := os.Stat(filepath.Join(fresh, ptserver.Obfs4StateFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("identity from options: %s written (%v), want none", ptserver.Obfs4StateFile, err)
		}
	})
}

// recordingProxy relays one connection to target and records what the
// client sent before the server's first byte: an obfs4 client's handshake.
type recordingProxy struct {
	ln     net.Listener
	target string
	flight chan []byte
	wg     sync.WaitGroup
}

func startRecordingProxy(t *testing.T, target string) *recordingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{ln: ln, target: target, flight: make(chan []byte, 1)}
	p.wg.Add(1)
	go p.routineServe()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *recordingProxy) routineServe() {
	defer p.wg.Done()
	c, err := p.ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	var (
		mu       sync.Mutex
		recorded []byte
		answered bool
		relays   sync.WaitGroup
	)
	relays.Add(2)
	go func() { // client -> server, recording until the server answers
		defer relays.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			mu.Lock()
			if !answered {
				recorded = append(recorded, buf[:n]...)
			}
			mu.Unlock()
			if n > 0 {
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				s.(*net.TCPConn).CloseWrite()
				return
			}
		}
	}()
	go func() { // server -> client
		defer relays.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				mu.Lock()
				if !answered {
					answered = true
					p.flight <- slices.Clone(recorded)
				}
				mu.Unlock()
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				c.(*net.TCPConn).CloseWrite()
				return
			}
		}
	}()
	relays.Wait()
}

// TestObfs4Probes plays a prober against water-pt's obfs4 server: random
// bytes, a real client's handshake replayed, and that handshake with its
// mark broken. The server must send nothing, must not close early (the
// spec's delay: 30 s plus a per-bridge 0-60 s), and must close once the
// prober has sent the byte budget (the 8 KiB handshake maximum plus a
// per-bridge 0-8 KiB). One probe also waits for the close by time.
//
// The server's identity is fixed (probeIdentity), one whose close delay
// is 0 s: the probe that waits for the close takes 30 s, where a new
// identity's takes 30 to 90 s, and it checks that delay exactly.
func TestObfs4Probes(t *testing.T) {
	water := waterSide(t)
	p := startObfs4Pair(t, water, water, append([]tortest.KV{{Key: "iat-mode", Value: "0"}}, probeIdentity...))
	rec := startRecordingProxy(t, p.ServerMethod.Addr)
	ctx := ctxTimeout(t, time.Minute)
	c, rep, err := tortest.DialSOCKS(ctx, p.ClientMethod.Addr, rec.ln.Addr().String(), p.ServerMethod.Args)
	if err != nil {
		t.Fatalf("SOCKS reply 0x%02x: %v", rep, err)
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	if err := tortest.CheckEcho(c, 64<<10); err != nil {
		t.Fatal(err)
	}
	c.Close()
	var flight []byte
	select {
	case flight = <-rec.flight:
	case <-ctx.Done():
		t.Fatal("the recording proxy saw no answer from the server")
	}
	// A client handshake: a 32-byte representative, padding, the 16-byte
	// mark and the 16-byte MAC, at most 8 KiB; and nothing after it.
	if len(flight) < 64 || len(flight) > 8192 {
		t.Fatalf("the client's first flight is %d bytes, not an obfs4 handshake", len(flight))
	}
	badMark := slices.Clone(flight)
	badMark[len(badMark)-32] ^= 0x01

	random := make([]byte, 1000)
	rand.Read(random)
	probes := []struct {
		name  string
		first []byte
	}{
		{"random-bytes", random},
		{"replayed-handshake", flight},
		{"bad-mark", badMark},
	}
	for _, pr := range probes {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", p.ServerMethod.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(pr.first); err != nil {
				t.Fatal(err)
			}
			// Not closed early, nothing sent.
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			n, err := conn.Read(make([]byte, 1))
			if n != 0 || !isTimeout(err) {
				t.Fatalf("within 3 s: read %d bytes, %v; want nothing and the connection still open", n, err)
			}
			// The byte budget: at most 16 KiB more and the server closes.
			junk := make([]byte, 64<<10)
			rand.Read(junk)
			conn.Write(junk) // may fail part way: the server stops reading
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			got, err := io.ReadAll(conn)
			if len(got) != 0 || (err != nil && !isReset(err)) {
				t.Fatalf("after the byte budget: read %d bytes, %v; want nothing, then the close", len(got), err)
			}
		})
	}
	t.Run("closed-after-delay", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		conn, err := net.Dial("tcp", p.ServerMethod.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(random)
		conn.SetReadDeadline(start.Add(100 * time.Second))
		got, err := io.ReadAll(conn)
		took := time.Since(start)
		if len(got) != 0 || (err != nil && !isReset(err)) {
			t.Fatalf("read %d bytes, %v; want nothing, then the close", len(got), err)
		}
		if took < 30*time.Second || took > 35*time.Second {
			t.Fatalf("closed after %v, want 30 s (the handshake timeout plus probeIdentity's close delay, 0 s) and at most 5 s late", took)
		}
	})
}

// probeIdentity is an obfs4 server identity (ServerTransportOptions) whose
// probe close delay, drawn from its drbg-seed as lyrebird draws it, is 0 s
// (and its extra byte budget 392 bytes). Made for TestObfs4Probes by
// proto.NewServerIdentity, then kept for its delay.
var probeIdentity = []tortest.KV{
	{Key: "node-id", Value: "45083ad79d42bb571f6e7ebde42dd9f443d3e186"},
	{Key: "private-key", Value: "a0a92e19acf9e2aa597c3f8468c4a69d6b6d75bfaaa5d9c119a525865f5c0a52"},
	{Key: "drbg-seed", Value: "02264cc6eb31b86145532e6c3490345892a23e9dc870fc7c"},
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestTorObfs4 runs Debian's tor with transport obfs4 offline: a bridge and
// a client both using water-pt (the bridge line is the one water-pt wrote
// in obfs4_bridgeline.txt), and a bridge running obfs4proxy reached by a
// client through water-pt. The client's "new bridge descriptor" notice
// means tor's TLS, cells and a directory fetch crossed obfs4 both ways.
func TestTorObfs4(t *testing.T) {
	torBin := findTor(t)
	water := strings.Join(append([]string{tortest.Build(t)}, wazeroCacheArgs(t)...), " ")
	for _, tc := range []struct{ name, bridgePT string }{
		{"water-pt-bridge", water},
		{"obfs4proxy-bridge", findObfs4proxy(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startTorBridge(t, torBin, ptserver.Obfs4Method, tc.bridgePT, "")
			args := b.smethodArgs(t)
			checkObfs4Args(t, args, 0)
			var words []string
			for _, kv := range sortedKVs(args) {
				words = append(words, kv.Key+"="+kv.Value)
			}
			line := fmt.Sprintf("Bridge obfs4 127.0.0.1:%d %s %s", b.transportPort, b.fingerprint, strings.Join(words, " "))
			if tc.bridgePT == water {
				raw := readBridgeLine(t, b)
				filled := strings.ReplaceAll(strings.ReplaceAll(raw, "<IP ADDRESS>", "127.0.0.1"), "<FINGERPRINT>", b.fingerprint)
				if filled != line {
					t.Fatalf("%s has %q, want %q (SMETHOD ARGS as tor read them)", ptserver.Obfs4BridgeLineFile, raw, line)
				}
			}
			torClientFetches(t, torBin, ptserver.Obfs4Method, water, line, b.fingerprint)
		})
	}
}

// TestObfs4TransportArgs: one PT serves water and obfs4; on obfs4 the
// module is fixed (watm= refused) and its keys are known (a typo refused
// up front, with the known keys); a copy of the obfs4 module loaded from a
// file under water checks its own keys, and its error text reaches tor.
func TestObfs4TransportArgs(t *testing.T) {
	bin := tortest.Build(t)
	both := []string{"water", ptserver.Obfs4Method}

	cpt := tortest.Start(t, bin, tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), both, ""), wazeroCacheArgs(t)...)
	cms, err := cpt.WaitDone(ctxTimeout(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(cms) != 2 || cms[0].Name != "water" || cms[1].Name != ptserver.Obfs4Method {
		t.Fatalf("CMETHOD lines %v, want water and obfs4", cms)
	}
	bridge := watmtest.ClosedPort(t) // none of these may get as far as dialing
	obfs4File := writeEmbeddedModule(t, "obfs4")
	for _, tc := range []struct {
		name   string
		method tortest.Method
		args   []tortest.KV
		log    string // the LOG line's MESSAGE contains it
	}{{
		name:   "watm-on-obfs4",
		method: cms[1],
		args:   []tortest.KV{{Key: "watm", Value: "plain"}},
		log: "argument watm= is not taken by transport obfs4, which always runs the embedded obfs4 module; " +
			"to choose a module, use transport water (e.g. Bridge water ... watm=obfs4)",
	}, {
		name:   "typo-on-obfs4",
		method: cms[1],
		args:   []tortest.KV{{Key: "crt", Value: "x"}, {Key: "iat-mode", Value: "0"}},
		log:    `unknown argument "crt": transport obfs4 runs module "obfs4", which takes: cert, iat-mode, node-id, public-key`,
	}, {
		name:   "typo-on-water-obfs4",
		method: cms[0],
		args:   []tortest.KV{{Key: "watm", Value: "obfs4"}, {Key: "iat-mod", Value: "0"}},
		log: `unknown argument "iat-mod": water-pt takes watm, watm-sha256, watm-config; ` +
			`module "obfs4" takes: cert, iat-mode, node-id, public-key`,
	}, {
		name:   "module-checks-its-own",
		method: cms[0],
		args:   []tortest.KV{{Key: "watm", Value: obfs4File}, {Key: "bogus", Value: "1"}},
		log:    `unknown argument "bogus"; this module takes: cert, node-id, public-key, private-key, drbg-seed, iat-mode`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxTimeout(t, time.Minute)
			from := len(cpt.Lines())
			c, rep, _ := tortest.DialSOCKS(ctx, tc.method.Addr, bridge, tc.args)
			if c != nil {
				c.Close()
			}
			if rep != tortest.ReplyGeneralFailure {
				t.Errorf("SOCKS reply 0x%02x, want 0x%02x (general failure)", rep, tortest.ReplyGeneralFailure)
			}
			l, err := waitLogContaining(ctx, cpt, from, tc.log)
			if err != nil {
				t.Errorf("no LOG line containing %q: %v", tc.log, err)
			} else if sev, _ := l.Get("SEVERITY"); sev != "warning" {
				t.Errorf("LOG %q has severity %s, want warning", l.Text, sev)
			}
		})
	}

	// The server: obfs4 knows its keys at once; a file module refuses in
	// its init, which water-pt runs once at start-up.
	ext := extortest.Start(t, extortest.Echo())
	opts := tortest.ServerTransportOptions(ptserver.Obfs4Method, []tortest.KV{{Key: "bogus", Value: "1"}}) + ";" +
		tortest.ServerTransportOptions("water", []tortest.KV{{Key: "watm", Value: obfs4File}, {Key: "bogus", Value: "1"}})
	env := tortest.ServerEnv(filepath.Join(t.TempDir(), "pt_state"), both, nil, opts, "", ext.Addr(), ext.CookiePath())
	spt := tortest.Start(t, bin, env, wazeroCacheArgs(t)...)
	sms, err := spt.WaitDone(ctxTimeout(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(sms) != 0 {
		t.Errorf("SMETHOD lines %v, want none", sms)
	}
	for _, why := range []string{
		`SMETHOD-ERROR obfs4 ServerTransportOptions: unknown argument "bogus": transport obfs4 runs module "obfs4", ` +
			"which takes: drbg-seed, iat-mode, node-id, private-key",
		`SMETHOD-ERROR water ServerTransportOptions: module "obfs4" refused its config: `,
	} {
		if !slices.ContainsFunc(spt.Lines(), func(l tortest.Line) bool { return strings.HasPrefix(l.Text, why) }) {
			t.Errorf("no %q among the server's lines", why)
		}
	}
	const own = `unknown argument "bogus"; this module takes: cert, node-id, public-key, private-key, drbg-seed, iat-mode`
	if !slices.ContainsFunc(spt.Lines(), func(l tortest.Line) bool {
		return strings.HasPrefix(l.Text, "SMETHOD-ERROR water ") && strings.Contains(l.Text, own)
	}) {
		t.Errorf("the water method's SMETHOD-ERROR does not quote the module's own %q", own)
	}
}
