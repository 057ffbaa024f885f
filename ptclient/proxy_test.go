package ptclient_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/ptclient"
	"github.com/water-pt/water-pt/ptclient/proxytest"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// checkEcho checks that c is the raw TCP connection and that it reaches an
// echo server.
func checkEcho(t *testing.T, c net.Conn) {
	t.Helper()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("dialer returned a %T, want the *net.TCPConn itself", c)
	}
	msg := []byte("through the proxy and back")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if got := readExactly(t, c, len(msg)); !bytes.Equal(got, msg) {
		t.Errorf("echo = %q, want %q", got, msg)
	}
}

func dialVia(t *testing.T, u *url.URL, target string) (net.Conn, error) {
	t.Helper()
	d, err := ptclient.ProxyDialer(u, nil)
	if err != nil {
		t.Fatalf("ProxyDialer(%s): %v", u.Redacted(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", target)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// wantProxyError checks that err is a *ProxyError with the given reply code
// and a message holding msg.
func wantProxyError(t *testing.T, err error, code ptclient.ReplyCode, msg string) {
	t.Helper()
	pe, ok := errors.AsType[*ptclient.ProxyError](err)
	if !ok {
		t.Fatalf("error %v (%T), want a *ProxyError", err, err)
	}
	if pe.Reply != code {
		t.Errorf("ProxyError.Reply = %v, want %v (error %v)", pe.Reply, code, err)
	}
	if got := ptclient.ReplyForError(err); got != code {
		t.Errorf("ReplyForError = %v, want %v", got, code)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q, want it to contain %q", err, msg)
	}
}

func TestParseProxyURL(t *testing.T) {
	const long = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" +
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" +
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" +
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" // 256 bytes
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: "socks5://127.0.0.1:1080"},
		{in: "socks5://alice:hunter2@127.0.0.1:1080"},
		{in: "socks5://[::1]:1080"},
		{in: "socks4a://192.0.2.1:1080"},
		{in: "socks4a://userid@192.0.2.1:1080"},
		{in: "http://127.0.0.1:3128"},
		{in: "http://alice:hunter2@[2001:db8::1]:8080"},

		{in: "https://127.0.0.1:443", wantErr: `unsupported proxy scheme "https": use socks5, socks4a or http`},
		{in: "socks4://127.0.0.1:1080", wantErr: `unsupported proxy scheme "socks4": use socks5, socks4a or http`},
		{in: "socks5h://127.0.0.1:1080", wantErr: `unsupported proxy scheme "socks5h"`},
		{in: "socks5://proxy.example:1080", wantErr: `host "proxy.example" is not an IP address`},
		{in: "socks5://127.0.0.1", wantErr: "has no port"},
		{in: "socks5://127.0.0.1:", wantErr: "has no port"},
		{in: "socks5://127.0.0.1:0", wantErr: `bad port "0"`},
		{in: "socks5://127.0.0.1:99999", wantErr: "bad port"},
		{in: "socks5://:1080", wantErr: "not an IP address"},
		{in: "socks5://127.0.0.1:1080/x", wantErr: "has a path"},
		{in: "http://127.0.0.1:1080/", wantErr: "has a path"},
		{in: "http://127.0.0.1:1080?q", wantErr: "has a query"},
		{in: "http://127.0.0.1:1080#f", wantErr: "has a fragment"},
		{in: "127.0.0.1:1080", wantErr: "does not parse"},
		{in: "//127.0.0.1:1080", wantErr: "is relative"},
		{in: "socks5:127.0.0.1", wantErr: "not of the form"},
		{in: "socks4a://alice:hunter2@127.0.0.1:1080", wantErr: "has a password, which socks4a cannot send"},
		{in: "socks5://alice@127.0.0.1:1080", wantErr: "0-byte password"},
		{in: "socks5://alice:@127.0.0.1:1080", wantErr: "0-byte password"},
		{in: "socks5://:hunter2@127.0.0.1:1080", wantErr: "0-byte username"},
		{in: "socks5://alice:" + long + "@127.0.0.1:1080", wantErr: "256-byte password"},
		{in: "socks5://alice:hunter2@127.0.0.1:1080:1", wantErr: `host "127.0.0.1:1080" is not an IP address`},
	}
	for _, tt := range tests {
		u, err := ptclient.ParseProxyURL(tt.in)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("ParseProxyURL(%q): %v", tt.in, err)
			} else if u.String() != tt.in {
				t.Errorf("ParseProxyURL(%q) = %s", tt.in, u)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseProxyURL(%q) = %v, %v; want error containing %q", tt.in, u, err, tt.wantErr)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), long) {
			t.Errorf("ParseProxyURL(%q): error %q shows the password", tt.in, err)
		}
		if strings.ContainsAny(err.Error(), "\r\n\x00") {
			t.Errorf("ParseProxyURL(%q): error %q cannot go on a PROXY-ERROR line", tt.in, err)
		}
	}
}

func TestProxyDialerRejects(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"https://127.0.0.1:443", `unsupported proxy scheme "https": use socks5, socks4a or http`},
		{"socks4://127.0.0.1:1080", `unsupported proxy scheme "socks4": use socks5, socks4a or http`},
		{"socks5://127.0.0.1", "proxy URL socks5://127.0.0.1 has no port"},
		{"http://:8080", "proxy URL http://:8080 has no host"},
	} {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := ptclient.ProxyDialer(u, nil); err == nil || err.Error() != tt.want {
			t.Errorf("ProxyDialer(%s) = %v, %v; want error %q", tt.url, d, err, tt.want)
		}
	}

	d, err := ptclient.ProxyDialer(&url.URL{Scheme: "http", Host: "127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DialContext(context.Background(), "udp", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), `network "udp" not supported`) {
		t.Errorf("dialing udp through an http proxy: %v", err)
	}
}

func TestProxySOCKS5(t *testing.T) {
	target := watmtest.Echo(t).Address()
	_, port, _ := net.SplitHostPort(target)
	for _, tt := range []struct {
		name   string
		opts   proxytest.Options
		target string
	}{
		{"no auth", proxytest.Options{}, target},
		{"user/pass", proxytest.Options{Username: "alice", Password: "s3cr:et"}, target},
		{"domain target", proxytest.Options{}, net.JoinHostPort("localhost", port)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := proxytest.StartSOCKS5(t, tt.opts)
			c, err := dialVia(t, srv.URL(), tt.target)
			if err != nil {
				t.Fatal(err)
			}
			checkEcho(t, c)
			if srv.Connections() != 1 || srv.Tunnels() != 1 {
				t.Errorf("proxy saw %d connections, %d tunnels; want 1, 1", srv.Connections(), srv.Tunnels())
			}
		})
	}
}

func TestProxySOCKS5Refused(t *testing.T) {
	target := watmtest.Echo(t).Address()
	srv := proxytest.StartSOCKS5(t, proxytest.Options{Username: "alice", Password: "right"})

	t.Run("wrong password", func(t *testing.T) {
		u := srv.URL()
		u.User = url.UserPassword("alice", "wrong")
		_, err := dialVia(t, u, target)
		wantProxyError(t, err, ptclient.ReplyConnectionNotAllowed, "username/password authentication failed")
	})
	t.Run("no credentials", func(t *testing.T) {
		u := srv.URL()
		u.User = nil
		_, err := dialVia(t, u, target)
		wantProxyError(t, err, ptclient.ReplyConnectionNotAllowed, "no acceptable authentication methods")
	})
	if srv.Tunnels() != 0 {
		t.Errorf("proxy opened %d tunnels for bad credentials", srv.Tunnels())
	}
	if srv.Connections() != 2 {
		t.Errorf("proxy saw %d connections, want 2", srv.Connections())
	}

	t.Run("proxy not listening", func(t *testing.T) {
		_, err := dialVia(t, &url.URL{Scheme: "socks5", Host: watmtest.ClosedPort(t)}, target)
		if !errors.Is(err, syscall.ECONNREFUSED) || ptclient.ReplyForError(err) != ptclient.ReplyConnectionRefused {
			t.Errorf("error %v (reply %v), want connection refused", err, ptclient.ReplyForError(err))
		}
	})
}

// The proxy's reply code comes back as the ProxyError's: each code survives
// golang.org/x/net/proxy, which reports them as bare strings.
func TestProxySOCKS5ReplyCodes(t *testing.T) {
	for _, tt := range []struct {
		dialErr error
		want    ptclient.ReplyCode
	}{
		{opErr(syscall.ECONNREFUSED), ptclient.ReplyConnectionRefused},
		{opErr(syscall.ENETUNREACH), ptclient.ReplyNetworkUnreachable},
		{opErr(syscall.EHOSTUNREACH), ptclient.ReplyHostUnreachable},
		{opErr(syscall.ETIMEDOUT), ptclient.ReplyTTLExpired},
		{opErr(syscall.EAFNOSUPPORT), ptclient.ReplyAddressNotSupported},
		{errors.New("policy"), ptclient.ReplyGeneralFailure},
	} {
		t.Run(tt.want.String(), func(t *testing.T) {
			srv := proxytest.StartSOCKS5(t, proxytest.Options{
				Dial: func(context.Context, string, string) (net.Conn, error) { return nil, tt.dialErr },
			})
			_, err := dialVia(t, srv.URL(), "192.0.2.1:443")
			wantProxyError(t, err, tt.want, "socks5 proxy refused: "+tt.want.String())
		})
	}
	t.Run("real refusal", func(t *testing.T) {
		srv := proxytest.StartSOCKS5(t, proxytest.Options{})
		_, err := dialVia(t, srv.URL(), watmtest.ClosedPort(t))
		wantProxyError(t, err, ptclient.ReplyConnectionRefused, "connection refused")
	})
}

func TestProxyHTTP(t *testing.T) {
	target := watmtest.Echo(t).Address()
	for _, tt := range []struct {
		name string
		opts proxytest.Options
	}{
		{"no auth", proxytest.Options{}},
		{"basic auth", proxytest.Options{Username: "alice", Password: "s3cr:et"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := proxytest.StartHTTP(t, tt.opts)
			c, err := dialVia(t, srv.URL(), target)
			if err != nil {
				t.Fatal(err)
			}
			checkEcho(t, c)
			if srv.Connections() != 1 || srv.Tunnels() != 1 {
				t.Errorf("proxy saw %d connections, %d tunnels; want 1, 1", srv.Connections(), srv.Tunnels())
			}
		})
	}

	srv := proxytest.StartHTTP(t, proxytest.Options{Username: "alice", Password: "right"})
	t.Run("wrong password", func(t *testing.T) {
		u := srv.URL()
		u.User = url.UserPassword("alice", "wrong")
		_, err := dialVia(t, u, target)
		wantProxyError(t, err, ptclient.ReplyConnectionNotAllowed, "http proxy refused: 407 Proxy Authentication Required")
	})
	t.Run("no credentials", func(t *testing.T) {
		u := srv.URL()
		u.User = nil
		_, err := dialVia(t, u, target)
		wantProxyError(t, err, ptclient.ReplyConnectionNotAllowed, "407")
	})
	if srv.Tunnels() != 0 {
		t.Errorf("proxy opened %d tunnels for bad credentials", srv.Tunnels())
	}
	t.Run("target refuses", func(t *testing.T) {
		srv := proxytest.StartHTTP(t, proxytest.Options{})
		_, err := dialVia(t, srv.URL(), watmtest.ClosedPort(t))
		wantProxyError(t, err, ptclient.ReplyHostUnreachable, "502 Bad Gateway")
	})
}

// A scripted HTTP proxy checks what the client sends and answers each way a
// proxy may.
func TestProxyHTTPResponses(t *testing.T) {
	const target = "192.0.2.7:443"
	for _, tt := range []struct {
		name     string
		response string
		auth     *url.Userinfo
		wantErr  string
		want     ptclient.ReplyCode
	}{
		{name: "200 with early data", response: "HTTP/1.1 200 Connection established\r\n\r\nHELLO"},
		{name: "200 with headers", response: "HTTP/1.0 200 OK\r\nProxy-Agent: test\r\nVia: 1.1 x\r\n\r\nHELLO", auth: url.UserPassword("a", "b")},
		{name: "bare LF", response: "HTTP/1.1 200 OK\nProxy-Agent: test\n\nHELLO"},
		{name: "403", response: "HTTP/1.1 403 Forbidden\r\n\r\n", wantErr: "http proxy refused: 403 Forbidden", want: ptclient.ReplyConnectionNotAllowed},
		{name: "503", response: "HTTP/1.1 503 Service Unavailable\r\n\r\n", wantErr: "503", want: ptclient.ReplyHostUnreachable},
		{name: "504", response: "HTTP/1.1 504 Gateway Timeout\r\n\r\n", wantErr: "504", want: ptclient.ReplyTTLExpired},
		{name: "405", response: "HTTP/1.1 405 Method Not Allowed\r\n\r\n", wantErr: "405", want: ptclient.ReplyGeneralFailure},
		{name: "control bytes in reason", response: "HTTP/1.1 400 Bad\x1b[31m\xff\r\n\r\n", wantErr: "400 Bad?[31m?", want: ptclient.ReplyGeneralFailure},
		{name: "not HTTP", response: "SSH-2.0-OpenSSH_9.6\r\n\r\n", wantErr: `bad response line "SSH-2.0-OpenSSH_9.6"`},
		{name: "header too long", response: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", wantErr: "response header longer than 16384 bytes"},
		{name: "closed mid-header", response: "HTTP/1.1 200 OK\r\n", wantErr: "reading the response: EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan *http.Request, 1)
			addr := watmtest.Serve(t, func(c net.Conn) {
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					t.Errorf("proxy: reading the request: %v", err)
					return
				}
				got <- req
				io.WriteString(c, tt.response)
				if tt.wantErr != "" {
					return
				}
				io.Copy(io.Discard, c)
			}).Address()
			u := &url.URL{Scheme: "http", Host: addr, User: tt.auth}
			c, err := dialVia(t, u, target)

			req := <-got
			if req.Method != "CONNECT" || req.RequestURI != target || req.Host != target || req.Proto != "HTTP/1.1" {
				t.Errorf("proxy got %s %s %s, Host %q; want CONNECT %s HTTP/1.1, Host %[4]q", req.Method, req.RequestURI, req.Proto, req.Host, target)
			}
			wantAuth := ""
			if tt.auth != nil {
				wantAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(tt.auth.String()))
			}
			if a := req.Header.Get("Proxy-Authorization"); a != wantAuth {
				t.Errorf("Proxy-Authorization %q, want %q", a, wantAuth)
			}

			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("dial: %v, want error containing %q", err, tt.wantErr)
				}
				if tt.want != 0 {
					wantProxyError(t, err, tt.want, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := c.(*net.TCPConn); !ok {
				t.Errorf("dialer returned a %T, want the *net.TCPConn itself", c)
			}
			// The bytes the proxy sent right after its header were not
			// swallowed by the header reader.
			if got := readExactly(t, c, 5); string(got) != "HELLO" {
				t.Errorf("first bytes after the header = %q, want HELLO", got)
			}
		})
	}
}

// socks4aRequest is what a socks4a proxy received.
type socks4aRequest struct {
	port   uint16
	ip     net.IP
	userID string
	host   string
}

// socks4aServer is a scripted socks4a proxy: it records the request, replies
// code and, when it grants, echoes.
func socks4aServer(t *testing.T, code byte) (addr string, reqs <-chan socks4aRequest) {
	ch := make(chan socks4aRequest, 1)
	addr = watmtest.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		var hdr [8]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		if hdr[0] != 4 || hdr[1] != 1 {
			t.Errorf("socks4a proxy: got VN %d CD %d, want 4 1", hdr[0], hdr[1])
			return
		}
		r := socks4aRequest{port: uint16(hdr[2])<<8 | uint16(hdr[3]), ip: net.IP(hdr[4:8])}
		user, err := br.ReadString(0)
		if err != nil {
			return
		}
		r.userID = strings.TrimSuffix(user, "\x00")
		if hdr[4] == 0 && hdr[5] == 0 && hdr[6] == 0 && hdr[7] != 0 {
			host, err := br.ReadString(0)
			if err != nil {
				return
			}
			r.host = strings.TrimSuffix(host, "\x00")
		}
		ch <- r
		c.Write([]byte{0, code, 0, 0, 0, 0, 0, 0})
		if code == 0x5a {
			io.Copy(c, br)
		}
	}).Address()
	return addr, ch
}

func TestProxySOCKS4a(t *testing.T) {
	for _, tt := range []struct {
		name    string
		user    *url.Userinfo
		target  string
		code    byte
		want    socks4aRequest
		wantErr ptclient.ReplyCode
	}{
		{name: "IPv4", target: "192.0.2.1:443", code: 0x5a, want: socks4aRequest{port: 443, ip: net.IPv4(192, 0, 2, 1).To4()}},
		{name: "domain", target: "bridge.example:9001", code: 0x5a, want: socks4aRequest{port: 9001, ip: net.IP{0, 0, 0, 1}, host: "bridge.example"}},
		{name: "user id", user: url.User("tor"), target: "192.0.2.1:1", code: 0x5a, want: socks4aRequest{port: 1, ip: net.IPv4(192, 0, 2, 1).To4(), userID: "tor"}},
		{name: "rejected", target: "192.0.2.1:443", code: 0x5b, want: socks4aRequest{port: 443, ip: net.IPv4(192, 0, 2, 1).To4()}, wantErr: ptclient.ReplyConnectionRefused},
		{name: "identd", target: "192.0.2.1:443", code: 0x5c, want: socks4aRequest{port: 443, ip: net.IPv4(192, 0, 2, 1).To4()}, wantErr: ptclient.ReplyConnectionNotAllowed},
		{name: "odd code", target: "192.0.2.1:443", code: 0x42, want: socks4aRequest{port: 443, ip: net.IPv4(192, 0, 2, 1).To4()}, wantErr: ptclient.ReplyGeneralFailure},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, reqs := socks4aServer(t, tt.code)
			c, err := dialVia(t, &url.URL{Scheme: "socks4a", Host: addr, User: tt.user}, tt.target)
			if got := <-reqs; fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("proxy got %+v, want %+v", got, tt.want)
			}
			if tt.wantErr != 0 {
				wantProxyError(t, err, tt.wantErr, "socks4a proxy refused")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkEcho(t, c)
		})
	}

	t.Run("IPv6 target", func(t *testing.T) {
		addr, _ := socks4aServer(t, 0x5a)
		_, err := dialVia(t, &url.URL{Scheme: "socks4a", Host: addr}, "[2001:db8::1]:443")
		wantProxyError(t, err, ptclient.ReplyAddressNotSupported, "socks4a cannot reach an IPv6 address")
	})
}

// A proxy that never answers: the dial ends with the context, by deadline or
// by cancellation, for each scheme.
func TestProxyDialContext(t *testing.T) {
	for _, scheme := range []string{"socks5", "socks4a", "http"} {
		t.Run(scheme, func(t *testing.T) {
			heard := make(chan struct{}, 2)
			addr := watmtest.Serve(t, func(c net.Conn) {
				var b [1]byte
				if _, err := c.Read(b[:]); err != nil {
					return
				}
				heard <- struct{}{}
				io.Copy(io.Discard, c) // and never a word back
			}).Address()
			d, err := ptclient.ProxyDialer(&url.URL{Scheme: scheme, Host: addr}, nil)
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err = d.DialContext(ctx, "tcp", "192.0.2.1:443")
			if err == nil || ptclient.ReplyForError(err) != ptclient.ReplyTTLExpired {
				t.Errorf("deadline: error %v, reply %v; want a timeout, TTL expired", err, ptclient.ReplyForError(err))
			}
			<-heard

			ctx, cancel = context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := d.DialContext(ctx, "tcp", "192.0.2.1:443")
				done <- err
			}()
			<-heard // the handshake has begun
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("cancel: error %v, want context.Canceled", err)
			}
		})
	}
}

// recordingDialer is a forward dialer that records what it is asked.
type recordingDialer struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	r.calls = append(r.calls, network+" "+addr)
	r.mu.Unlock()
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

func TestProxyDialerUsesForward(t *testing.T) {
	target := watmtest.Echo(t).Address()
	srv := proxytest.StartHTTP(t, proxytest.Options{})
	fwd := &recordingDialer{}
	d, err := ptclient.ProxyDialer(srv.URL(), fwd)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkEcho(t, c)
	if want := []string{"tcp " + srv.Addr()}; fmt.Sprint(fwd.calls) != fmt.Sprint(want) {
		t.Errorf("forward dialer calls %q, want %q", fwd.calls, want)
	}
}
