package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// -enableLogging writes water-pt.log in the state directory, as lyrebird
// does. pt-spec asks PTs not to write client addresses to disk: unless
// -unsafeLogging is given, every address is scrubbed to [scrubbed]:port, in
// the log file and in the LOG lines tor gets.

const logFile = "water-pt.log"

// ipv4 matches a dotted-quad IPv4 address anywhere.
var ipv4 = regexp.MustCompile(`(^|[^0-9.])(\d{1,3}\.){3}\d{1,3}([^0-9.]|$)`)

func TestLogging(t *testing.T) {
	for _, unsafe := range []bool{false, true} {
		name := "scrubbed"
		args := []string{"-enableLogging", "-logLevel", "DEBUG"}
		if unsafe {
			name = "unsafe"
			args = append(args, "-unsafeLogging")
		}
		t.Run(name, func(t *testing.T) {
			p := startWaterPair(t, tortest.PairConfig{ClientArgs: args, ServerArgs: args})
			clientLog := filepath.Join(p.ClientStateDir, logFile)
			serverLog := filepath.Join(p.ServerStateDir, logFile)
			ctx := ctxTimeout(t, 30*time.Second)

			// Traffic.
			const conns = 3
			for range conns {
				echoOnce(t, p, 64<<10)
			}
			// A bridge that refuses.
			closed := watmtest.ClosedPort(t)
			c, rep, err := tortest.DialSOCKS(ctx, p.ClientMethod.Addr, closed, p.ServerMethod.Args)
			if c != nil {
				c.Close()
			}
			if rep != tortest.ReplyConnectionRefused {
				t.Fatalf("dial to a closed port: reply 0x%02x (%v), want 0x05", rep, err)
			}
			sessions, err := p.ExtOR.WaitClosed(ctx, conns)
			if err != nil {
				t.Fatal(err)
			}

			// What each side must have logged about those, with or
			// without addresses.
			show := func(addr string) string {
				if unsafe {
					return addr
				}
				return "[scrubbed]:" + portOf(t, addr)
			}
			waitFileContains(t, ctx, clientLog, "SOCKS connection failed", "bridge="+show(closed))
			for _, s := range sessions {
				waitFileContains(t, ctx, serverLog, "connection ended", "client="+show(s.UserAddr))
			}
			stopPair(t, p)

			for _, path := range []string{clientLog, serverLog} {
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode() != 0o600 {
					t.Errorf("%s: mode %v, want -rw-------", path, st.Mode())
				}
				if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
					t.Errorf("state directory %s: mode %v (%v), want 0700", filepath.Dir(path), st.Mode(), err)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(b, []byte("level=DEBUG")) {
					t.Errorf("%s: no DEBUG records with -logLevel DEBUG:\n%s", path, b)
				}
				if unsafe {
					if !bytes.Contains(b, []byte("127.0.0.1:")) {
						t.Errorf("%s: no address with -unsafeLogging:\n%s", path, b)
					}
					continue
				}
				if m := ipv4.Find(b); m != nil || bytes.Contains(b, []byte("::1")) {
					t.Errorf("%s shows an address (%q):\n%s", path, m, b)
				}
				if !bytes.Contains(b, []byte("[scrubbed]:")) {
					t.Errorf("%s: nothing scrubbed? want [scrubbed]:port:\n%s", path, b)
				}
			}
			if !unsafe {
				// tor writes LOG lines to its own log: scrubbed too.
				for _, pt := range []*tortest.PT{p.Client, p.Server} {
					for _, l := range pt.Lines() {
						if l.Kind == tortest.KindLog && ipv4.MatchString(l.Text) {
							t.Errorf("LOG line shows an address: %q", l.Text)
						}
					}
				}
			}
		})
	}
}

// TestLoggingOffByDefault: without -enableLogging there is no log file, and
// -logLevel DEBUG alone does not make one; nothing goes to stderr either.
func TestLoggingOffByDefault(t *testing.T) {
	p := startWaterPair(t, tortest.PairConfig{ClientArgs: []string{"-logLevel", "DEBUG"}, ServerArgs: []string{"-logLevel", "DEBUG"}})
	echoOnce(t, p, 64<<10)
	ctx := ctxTimeout(t, 10*time.Second)
	if _, rep, _ := tortest.DialSOCKS(ctx, p.ClientMethod.Addr, watmtest.ClosedPort(t), p.ServerMethod.Args); rep != tortest.ReplyConnectionRefused {
		t.Errorf("dial to a closed port: reply 0x%02x, want 0x05", rep)
	}
	stopPair(t, p)
	for _, dir := range []string{p.ClientStateDir, p.ServerStateDir} {
		if _, err := os.Stat(filepath.Join(dir, logFile)); !os.IsNotExist(err) {
			t.Errorf("%s: want no log file without -enableLogging, stat says %v", dir, err)
		}
	}
}

// waitFileContains waits until a line of the file at path holds every one
// of subs (the PT writes the record a moment after it answers the SOCKS
// client or closes the connection).
func waitFileContains(t *testing.T, ctx context.Context, path string, subs ...string) {
	t.Helper()
	for {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			if containsAll(line, subs) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: no line with %q:\n%s", path, subs, b)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
