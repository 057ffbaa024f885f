package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptserver"
	"github.com/water-pt/water-pt/watm/modules"
)

// torWait bounds every wait on a tor process.
const torWait = 90 * time.Second

// ptDied is in tor's warning when a managed proxy exits ("Managed proxy at
// '...' died in state ..."): no need to wait on. The quote keeps it from
// matching tor's "9 connections died in state connect()ing".
const ptDied = "' died in state"

// bogusDirAuthority is the DirAuthority line TestingTorNetwork requires; it
// is never reached (nothing listens on 127.0.0.1:1, and the client only
// talks to its bridge).
const bogusDirAuthority = "DirAuthority bogus orport=1 no-v2 v3ident=0000000000000000000000000000000000000001 " +
	"127.0.0.1:1 0000000000000000000000000000000000000002"

// TestTorBridgeAndClient runs Debian's tor twice on loopback, offline: a
// bridge whose ServerTransportPlugin is water-pt, and a client whose Bridge
// line is the one water-pt wrote in the bridge's state directory. The
// client's "new bridge descriptor" notice means tor's TLS handshake, its
// cells and a directory fetch crossed water-pt both ways.
func TestTorBridgeAndClient(t *testing.T) {
	torBin := findTor(t)
	// The shared compilation cache: compiling the default module under
	// -race takes tens of seconds.
	bin := strings.Join(append([]string{tortest.Build(t)}, wazeroCacheArgs(t)...), " ")
	reverse := writeEmbeddedModule(t, "reverse")
	for _, tc := range []struct {
		name       string
		options    string // ServerTransportOptions water ...
		wantModule string
	}{
		{"embedded-default", "", modules.Default},
		{"file", "watm=" + reverse, "reverse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startTorBridge(t, torBin, "water", bin, tc.options)

			// The line water-pt wrote for the operator to give out, with
			// its placeholders (if any) filled in as an operator would.
			raw := readBridgeLine(t, b)
			line := strings.ReplaceAll(raw, "<IP ADDRESS>", "127.0.0.1")
			line = strings.ReplaceAll(line, "<FINGERPRINT>", b.fingerprint)
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[0] != "Bridge" || fields[1] != "water" {
				t.Fatalf("bridge line %q: want Bridge water ADDR FINGERPRINT k=v...", raw)
			}
			if want := fmt.Sprintf("127.0.0.1:%d", b.transportPort); fields[2] != want {
				t.Fatalf("bridge line %q: address %s, want %s", raw, fields[2], want)
			}
			if fields[3] != b.fingerprint {
				t.Fatalf("bridge line %q: fingerprint %s, want %s (DataDirectory/fingerprint)", raw, fields[3], b.fingerprint)
			}
			var args []tortest.KV
			for _, w := range fields[4:] {
				k, v, ok := strings.Cut(w, "=")
				if !ok {
					t.Fatalf("bridge line %q: %q is not k=v", raw, w)
				}
				args = append(args, tortest.KV{Key: k, Value: v})
			}
			// Its args are exactly the SMETHOD ARGS tor read from water-pt.
			smethod := b.smethodArgs(t)
			if !slices.Equal(sortedKVs(args), sortedKVs(smethod)) {
				t.Fatalf("bridge line args %v, SMETHOD ARGS %v: want the same", args, smethod)
			}
			checkModuleArgs(t, args, tc.wantModule)
			if line != raw {
				t.Logf("bridge line as written: %s", raw)
			}

			torClientFetches(t, torBin, "water", bin, line, b.fingerprint)
		})
	}
}

// torClientFetches starts a client tor whose transport is cmd and whose
// bridge is line, and waits for its notice that it has the descriptor of
// the bridge with fingerprint fp: tor's TLS handshake, its cells and a
// directory fetch crossed the transport both ways.
func torClientFetches(t *testing.T, torBin, transport, cmd, line, fp string) {
	t.Helper()
	c := startTor(t, torBin, "client", []string{
		"UseBridges 1",
		"ClientTransportPlugin " + transport + " exec " + cmd,
		"SocksPort auto",
		line,
	})
	got, err := c.waitLine("new bridge descriptor", ptDied)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	if !strings.Contains(got, "new bridge descriptor") || !strings.Contains(got, "$"+fp) {
		t.Fatalf("client: %q is not the descriptor of %s", got, fp)
	}
	t.Logf("client: %s", got)
}

// findTor returns tor's path. tor is a declared test dependency (.ci/run
// installs Debian's package): its absence fails the test.
func findTor(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("tor"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/bin/tor", "/usr/sbin/tor"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	msg := "tor is not installed (not in PATH, /usr/bin or /usr/sbin): the TestTor tests run Debian's tor (apt-get install tor; .ci/run installs it)"
	if os.Getenv("CI") == "true" {
		msg = "CI=true: " + msg
	}
	t.Fatal(msg)
	return ""
}

type torBridge struct {
	*torProc
	transport     string
	transportPort int
	fingerprint   string
	infoLog       string // tor's info-level log file
}

// startTorBridge starts a bridge tor with bin (water-pt or obfs4proxy) as
// its server transport and waits for tor to register the transport. The transport's port is
// picked free beforehand (tor has no "auto" there); if another process
// takes it in between, it starts again on another port.
func startTorBridge(t *testing.T, torBin, transport, bin, options string) *torBridge {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freeLoopbackPort(t)
		dir := t.TempDir()
		b := &torBridge{transport: transport, transportPort: port, infoLog: filepath.Join(dir, "info.log")}
		conf := []string{
			"ORPort 127.0.0.1:auto",
			"ExtORPort auto",
			"BridgeRelay 1",
			"PublishServerDescriptor 0",
			"AssumeReachable 1",
			"ExitPolicy reject *:*",
			"SocksPort 0",
			"ServerTransportPlugin " + transport + " exec " + bin,
			fmt.Sprintf("ServerTransportListenAddr %s 127.0.0.1:%d", transport, port),
			"Log info file " + b.infoLog, // has the SMETHOD line as tor read it
		}
		if options != "" {
			conf = append(conf, "ServerTransportOptions "+transport+" "+options)
		}
		b.torProc = startTorIn(t, torBin, "bridge", dir, conf)
		got, err := b.waitLine("Registered server transport '"+transport+"'", "Server managed proxy encountered a method error", ptDied)
		if err != nil {
			t.Fatalf("bridge: %v", err)
		}
		if strings.Contains(got, "address already in use") && attempt < 3 {
			t.Logf("bridge: port %d was taken meanwhile (%s); again", port, got)
			b.stop()
			continue
		}
		if want := fmt.Sprintf("Registered server transport '%s' at '127.0.0.1:%d'", transport, port); !strings.Contains(got, want) {
			t.Fatalf("bridge: %q, want %q", got, want)
		}
		fp, err := os.ReadFile(filepath.Join(b.dataDir, "fingerprint"))
		if err != nil {
			t.Fatalf("bridge: %v", err)
		}
		if f := strings.Fields(string(fp)); len(f) == 2 && len(f[1]) == 40 {
			b.fingerprint = f[1]
		} else {
			t.Fatalf("bridge: fingerprint file %q is not \"nickname FINGERPRINT\"", fp)
		}
		return b
	}
}

// readBridgeLine waits (bounded) for water-pt's bridge-line file, which it
// writes right after SMETHODS DONE, and returns its one Bridge line.
func readBridgeLine(t *testing.T, b *torBridge) string {
	t.Helper()
	file := ptserver.BridgeLineFile
	if b.transport == ptserver.Obfs4Method {
		file = ptserver.Obfs4BridgeLineFile
	}
	path := filepath.Join(b.dataDir, "pt_state", file)
	var data []byte
	err := pollFileUntil(torWait, func() bool {
		var err error
		data, err = os.ReadFile(path)
		return err == nil
	})
	if err != nil {
		t.Fatalf("bridge: no %s: %v", path, err)
	}
	var lines []string
	for l := range strings.Lines(string(data)) {
		if strings.HasPrefix(l, "Bridge ") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%s has %d Bridge lines, want 1:\n%s", path, len(lines), data)
	}
	return lines[0]
}

// smethodArgs returns the ARGS of the SMETHOD line tor logged (at info
// level) when it read it from water-pt.
func (b *torBridge) smethodArgs(t *testing.T) []tortest.KV {
	t.Helper()
	data, err := os.ReadFile(b.infoLog)
	if err != nil {
		t.Fatal(err)
	}
	const marker = "Got a line from managed proxy '"
	for l := range strings.Lines(string(data)) {
		_, rest, ok := strings.Cut(l, marker)
		if !ok {
			continue
		}
		_, text, ok := strings.Cut(strings.TrimSpace(rest), "': (")
		if !ok || !strings.HasPrefix(text, "SMETHOD "+b.transport+" ") {
			continue
		}
		m, err := tortest.ParseMethod(tortest.ParseLine(strings.TrimSuffix(text, ")")))
		if err != nil {
			t.Fatalf("bridge: %v", err)
		}
		return m.Args
	}
	t.Fatalf("bridge: no SMETHOD line in tor's info log %s", b.infoLog)
	return nil
}

func sortedKVs(kvs []tortest.KV) []tortest.KV {
	s := slices.Clone(kvs)
	slices.SortFunc(s, func(a, b tortest.KV) int { return strings.Compare(a.Key+"="+a.Value, b.Key+"="+b.Value) })
	return s
}

// torProc is a running tor. Its notice log (stdout and stderr) is kept in
// memory; t.Cleanup stops tor and, if the test failed, logs the tail.
type torProc struct {
	t       *testing.T
	name    string
	dataDir string
	cmd     *exec.Cmd
	exited  chan struct{}
	readers sync.WaitGroup

	mu      sync.Mutex
	lines   []string
	eof     bool
	changed chan struct{} // closed and replaced on every new line and at EOF
}

func startTor(t *testing.T, torBin, name string, conf []string) *torProc {
	t.Helper()
	return startTorIn(t, torBin, name, t.TempDir(), conf)
}

// startTorIn runs tor with conf plus what every tor here has: offline
// TestingTorNetwork, a DataDirectory under dir, a notice log on stdout, and
// no defaults file. __OwningControllerProcess makes tor exit if this test
// process dies without its cleanup.
func startTorIn(t *testing.T, torBin, name, dir string, conf []string) *torProc {
	t.Helper()
	p := &torProc{t: t, name: name, dataDir: filepath.Join(dir, "data"), exited: make(chan struct{}), changed: make(chan struct{})}
	conf = append([]string{
		"TestingTorNetwork 1",
		bogusDirAuthority,
		"DataDirectory " + p.dataDir,
		"Log notice stdout",
		"__OwningControllerProcess " + strconv.Itoa(os.Getpid()),
	}, conf...)
	for _, l := range conf {
		if strings.ContainsAny(l, "\r\n\"") {
			t.Fatalf("%s: torrc line %q would not parse as meant", name, l)
		}
	}
	torrc := filepath.Join(dir, "torrc")
	defaults := filepath.Join(dir, "torrc-defaults")
	if err := os.WriteFile(torrc, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(defaults, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(torBin, "-f", torrc, "--defaults-torrc", defaults)
	p.cmd.Dir = dir
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("%s: starting tor: %v", name, err)
	}
	p.readers.Add(1)
	go p.routineRead(r)
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			p.logTail(60)
		}
	})
	return p
}

func (p *torProc) routineRead(r *os.File) {
	defer p.readers.Done()
	defer r.Close()
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, s.Text())
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.eof = true
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// waitLine waits up to torWait for a log line containing any of subs.
func (p *torProc) waitLine(subs ...string) (string, error) {
	timer := time.NewTimer(torWait)
	defer timer.Stop()
	for i := 0; ; {
		p.mu.Lock()
		lines, eof, changed := p.lines, p.eof, p.changed
		p.mu.Unlock()
		for ; i < len(lines); i++ {
			for _, s := range subs {
				if strings.Contains(lines[i], s) {
					return lines[i], nil
				}
			}
		}
		if eof {
			return "", fmt.Errorf("tor exited (%v) before logging %q", p.cmd.ProcessState, subs)
		}
		select {
		case <-changed:
		case <-timer.C:
			return "", fmt.Errorf("no %q in tor's log after %v", subs, torWait)
		}
	}
}

// stop asks tor to exit (SIGTERM: at once, closing its PTs' stdin), kills
// it if it is still there after 10 s, and waits for its output to end.
func (p *torProc) stop() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.t.Logf("%s: tor still running 10 s after SIGTERM: killing it", p.name)
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.readers.Wait()
}

func (p *torProc) logTail(n int) {
	p.mu.Lock()
	lines := p.lines[max(0, len(p.lines)-n):]
	p.mu.Unlock()
	p.t.Logf("%s: last %d lines of tor's log:\n%s", p.name, len(lines), strings.Join(lines, "\n"))
}

// freeLoopbackPort returns a TCP port free on 127.0.0.1 a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// pollFileUntil calls cond every 10 ms until it is true or timeout passes.
func pollFileUntil(timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return errors.New("timed out")
		}
	}
	return nil
}
