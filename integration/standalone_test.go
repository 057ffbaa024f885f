package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/watm/modules"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// Standalone mode, no tor: "water-pt server" in front of a plain TCP echo
// server, "water-pt client" given the server's address and the client args
// the server printed, and a SOCKS5 client that sends no args at all.
func TestStandalone(t *testing.T) {
	bin := tortest.Build(t)
	reverse := writeEmbeddedModule(t, "reverse")
	for _, tc := range []struct {
		name       string
		options    string // -options of the server
		wantModule string
	}{
		{"embedded-default", "", modules.Default},
		{"file", "watm=" + reverse, "reverse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			echo := watmtest.Echo(t)

			sargs := append([]string{"server", "-listen", "127.0.0.1:0", "-forward", echo.Address()}, wazeroCacheArgs(t)...)
			if tc.options != "" {
				sargs = append(sargs, "-options", tc.options)
			}
			server := tortest.Start(t, bin, standaloneEnv(t), sargs...)
			l, err := server.WaitLine(ctx, "water-pt server: listening on ")
			if err != nil {
				t.Fatal(err)
			}
			serverAddr := parseListenLine(t, l.Text, "water-pt server: listening on ", ", forwarding to "+echo.Address())
			l, err = server.WaitLine(ctx, "water-pt server: client args: ")
			if err != nil {
				t.Fatal(err)
			}
			clientArgs := strings.TrimPrefix(l.Text, "water-pt server: client args: ")
			var got []tortest.KV
			for _, kv := range strings.Split(clientArgs, ";") {
				k, v, _ := strings.Cut(kv, "=")
				got = append(got, tortest.KV{Key: k, Value: v})
			}
			checkModuleArgs(t, got, tc.wantModule)

			client := tortest.Start(t, bin, standaloneEnv(t),
				append([]string{"client", "-listen", "127.0.0.1:0", "-bridge", serverAddr, "-args", clientArgs}, wazeroCacheArgs(t)...)...)
			l, err = client.WaitLine(ctx, "water-pt client: SOCKS5 on ")
			if err != nil {
				t.Fatal(err)
			}
			socksAddr := parseListenLine(t, l.Text, "water-pt client: SOCKS5 on ", "")

			// A plain SOCKS5 client: no username/password, so the -args apply.
			c, _, err := tortest.DialSOCKS(ctx, socksAddr, serverAddr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := tortest.CheckEcho(c, 32<<20); err != nil {
				t.Fatal(err)
			}
			// The bytes went through the server PT: it is the echo
			// server's only peer.
			if n := echo.Accepted(); n != 1 {
				t.Errorf("the echo server accepted %d connections, want 1 (from the server PT)", n)
			}
		})
	}
}

// Every flag of each standalone mode is in its -h text, with a
// description, and -h exits 0.
func TestStandaloneHelp(t *testing.T) {
	bin := tortest.Build(t)
	common := []string{"listen", "state", "enableLogging", "logLevel", "unsafeLogging", "watm-dir", "watm-cache", "watm-pool", "watm-setup-timeout"}
	for mode, flags := range map[string][]string{
		"client": append([]string{"bridge", "args"}, common...),
		"server": append([]string{"forward", "options"}, common...),
		"relay":  append([]string{"to", "args"}, common...),
	} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(bin, mode, "-h")
			cmd.Env = standaloneEnv(t)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("water-pt %s -h: %v\n%s", mode, err, out)
			}
			text := string(out)
			if !strings.Contains(text, "Usage: water-pt "+mode) {
				t.Errorf("water-pt %s -h has no usage line:\n%s", mode, text)
			}
			lines := strings.Split(text, "\n")
			for _, f := range flags {
				if !flagDocumented(lines, f) {
					t.Errorf("water-pt %s -h does not document -%s:\n%s", mode, f, text)
				}
			}
		})
	}
}

// documented reports whether flag.PrintDefaults output documents -name: a
// "  -name [type]" line followed by a non-empty description.
func flagDocumented(lines []string, name string) bool {
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "-"+name || !strings.HasPrefix(l, "  -") {
			continue
		}
		if len(f) > 2 { // a short usage on the same line
			return true
		}
		return i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != ""
	}
	return false
}

// standaloneEnv is a minimal environment: no TOR_PT_ variables. GORACE
// keeps a -race build (see tortest.Build) from sleeping 1 s at exit.
func standaloneEnv(t *testing.T) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GORACE=atexit_sleep_ms=0"}
}

// parseListenLine takes the address out of "<prefix>ADDR<suffix>" and
// checks that it is ip:port with a real port.
func parseListenLine(t *testing.T, line, prefix, suffix string) string {
	t.Helper()
	s, ok := strings.CutPrefix(line, prefix)
	if ok {
		s, ok = strings.CutSuffix(s, suffix)
	}
	if !ok {
		t.Fatalf("line %q: want %q ADDR %q", line, prefix, suffix)
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		t.Fatalf("line %q: address %q is not ip:port with a non-zero port", line, s)
	}
	return s
}

func writeEmbeddedModule(t *testing.T, name string) string {
	t.Helper()
	b, ok := modules.Lookup(name)
	if !ok {
		t.Fatalf("no embedded module %q", name)
	}
	path := filepath.Join(t.TempDir(), name+".wasm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func moduleSHA256(t *testing.T, name string) string {
	t.Helper()
	b, ok := modules.Lookup(name)
	if !ok {
		t.Fatalf("no embedded module %q", name)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
