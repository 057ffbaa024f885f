package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptclient/proxytest"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// TOR_PT_PROXY: tor asks the client PT to reach its bridges through an
// upstream proxy. The proxies are ptclient/proxytest's, an implementation
// independent of ptclient's proxy clients.

const (
	proxyUser = "tor-user"
	proxyPass = "pw-s3cret"
)

var proxyKinds = []struct {
	name  string
	start func(testing.TB, proxytest.Options) *proxytest.Server
	// refused is the SOCKS reply tor gets when the proxy cannot reach the
	// bridge because the bridge refuses: a SOCKS5 proxy says 0x05 and it is
	// passed on; an HTTP proxy says "502 Bad Gateway", which maps to host
	// unreachable.
	refused byte
}{
	{"socks5", proxytest.StartSOCKS5, tortest.ReplyConnectionRefused},
	{"http", proxytest.StartHTTP, tortest.ReplyHostUnreachable},
}

// TestProxy carries data through a pair whose client PT reaches the bridge
// through a SOCKS5 proxy with username/password and an HTTP CONNECT proxy
// with Basic auth: PROXY DONE comes before the CMETHOD, every connection is
// a tunnel of the proxy, a refusal behind the proxy is reported with the
// right code, and the PT keeps serving after it.
func TestProxy(t *testing.T) {
	for _, kind := range proxyKinds {
		t.Run(kind.name, func(t *testing.T) {
			px := kind.start(t, proxytest.Options{Username: proxyUser, Password: proxyPass})
			p := startWaterPair(t, tortest.PairConfig{ClientEnv: []string{"TOR_PT_PROXY=" + px.URL().String()}})
			wantExactly(t, p.Client, []string{
				"VERSION 1",
				"PROXY DONE",
				"CMETHOD water socks5 " + p.ClientMethod.Addr,
				"CMETHODS DONE",
			})

			echoOnce(t, p, 4<<20)
			echoConcurrently(t, p, 20, 256<<10)
			const conns = 21
			if c, tn := px.Connections(), px.Tunnels(); c != conns || tn != conns {
				t.Errorf("the proxy accepted %d connections and opened %d tunnels, want %d and %d", c, tn, conns, conns)
			}
			sessions, err := p.ExtOR.WaitSessions(ctxTimeout(t, 10*time.Second), conns)
			if err != nil {
				t.Fatal(err)
			}
			if len(sessions) != conns {
				t.Errorf("the ExtORPort saw %d connections, want %d", len(sessions), conns)
			}
			for _, s := range sessions {
				if !s.AuthOK || s.Transport != "water" {
					t.Errorf("ExtORPort session %d: auth %v, TRANSPORT %q, err %v", s.ID, s.AuthOK, s.Transport, s.Err)
				}
			}

			// A bridge that refuses, behind the proxy.
			ctx := ctxTimeout(t, 30*time.Second)
			c, rep, err := tortest.DialSOCKS(ctx, p.ClientMethod.Addr, watmtest.ClosedPort(t), p.ServerMethod.Args)
			if c != nil {
				c.Close()
			}
			if rep != kind.refused {
				t.Errorf("closed bridge behind the proxy: reply 0x%02x (%v), want 0x%02x", rep, err, kind.refused)
			}
			if c, tn := px.Connections(), px.Tunnels(); c != conns+1 || tn != conns {
				t.Errorf("after the refused dial the proxy has %d connections and %d tunnels, want %d and %d", c, tn, conns+1, conns)
			}
			// And the PT still serves, through the proxy.
			echoOnce(t, p, 64<<10)
			if tn := px.Tunnels(); tn != conns+1 {
				t.Errorf("the proxy opened %d tunnels, want %d", tn, conns+1)
			}
			noSecret(t, p.Client, proxyPass)
			stopPair(t, p)
		})
	}
}

// TestProxyWrongCredentials gives the client PT a proxy password the proxy
// does not take: the PT cannot know before it connects, so it says PROXY
// DONE; each connection is then refused with 0x02 (connection not allowed),
// the bridge is never reached, and the PT goes on answering.
func TestProxyWrongCredentials(t *testing.T) {
	for _, kind := range proxyKinds {
		t.Run(kind.name, func(t *testing.T) {
			px := kind.start(t, proxytest.Options{Username: proxyUser, Password: proxyPass})
			u := px.URL()
			u.User = nil
			proxyURL := u.Scheme + "://" + proxyUser + ":wrong-" + proxyPass + "@" + u.Host
			p := startWaterPair(t, tortest.PairConfig{ClientEnv: []string{"TOR_PT_PROXY=" + proxyURL}})
			if _, err := p.Client.WaitLine(ctxTimeout(t, time.Second), "PROXY DONE"); err != nil {
				t.Fatal(err)
			}
			ctx := ctxTimeout(t, 30*time.Second)
			for i := 1; i <= 3; i++ {
				c, rep, err := tortest.DialSOCKS(ctx, p.ClientMethod.Addr, p.ServerMethod.Addr, p.ServerMethod.Args)
				if c != nil {
					c.Close()
				}
				if rep != tortest.ReplyNotAllowed {
					t.Errorf("dial %d: reply 0x%02x (%v), want 0x%02x", i, rep, err, tortest.ReplyNotAllowed)
				}
				if c, tn := px.Connections(), px.Tunnels(); c != i || tn != 0 {
					t.Errorf("dial %d: the proxy has %d connections and %d tunnels, want %d and 0", i, c, tn, i)
				}
			}
			if n := len(p.ExtOR.Sessions()); n != 0 {
				t.Errorf("the ExtORPort saw %d connections, want none", n)
			}
			noSecret(t, p.Client, proxyPass)
			stopPair(t, p)
		})
	}
}

// TestProxyBadURL gives TOR_PT_PROXY values the PT must refuse: it says
// PROXY-ERROR with the reason (and no password), prints no CMETHOD, and
// exits 1.
func TestProxyBadURL(t *testing.T) {
	bin := tortest.Build(t)
	cases := []struct {
		url, want string
	}{
		{"https://127.0.0.1:1234", `unsupported proxy scheme "https": use socks5, socks4a or http`},
		{"socks5://localhost:1080", `proxy URL socks5://localhost:1080: host "localhost" is not an IP address`},
		{"socks4a://u:" + proxyPass + "@127.0.0.1:1080", "proxy URL socks4a://u:xxxxx@127.0.0.1:1080 has a password, which socks4a cannot send"},
		{"socks5://u@127.0.0.1:1080", "proxy URL socks5://u@127.0.0.1:1080 has a 0-byte password, socks5 takes 1 to 255"},
		{"http://127.0.0.1:8080/path", "proxy URL http://127.0.0.1:8080/path has a path"},
		// goptlib refuses these itself, without a PROXY-ERROR line.
		{"socks5://127.0.0.1", "proxy URL socks5://127.0.0.1 has no port"},
		{"socks5://u:" + proxyPass + "@[::1", `proxy URL does not parse: missing ']' in host`},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.url, "/", "_"), func(t *testing.T) {
			t.Parallel()
			env := tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, tc.url)
			pt := tortest.Start(t, bin, env, wazeroCacheArgs(t)...)
			code := waitExit(t, pt, 20*time.Second)
			wantExactly(t, pt, []string{"VERSION 1", "PROXY-ERROR " + tc.want})
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			noSecret(t, pt, proxyPass)
			noStderr(t, pt)
		})
	}
}

// noSecret fails if any stdout line shows secret.
func noSecret(t testing.TB, pt *tortest.PT, secret string) {
	t.Helper()
	for _, l := range pt.Lines() {
		if strings.Contains(l.Text, secret) {
			t.Errorf("stdout line %q shows the proxy password", l.Text)
		}
	}
}
