package ptclient_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/ptclient"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// Client messages.

func greeting(methods ...byte) []byte {
	return cat([]byte{5, byte(len(methods))}, methods)
}

func userPass(user, pass []byte) []byte {
	return cat([]byte{1, byte(len(user))}, user, []byte{byte(len(pass))}, pass)
}

func connectIPv4(a, b, c, d byte, port uint16) []byte {
	return []byte{5, 1, 0, 1, a, b, c, d, byte(port >> 8), byte(port)}
}

func connectDomain(name string, port uint16) []byte {
	return cat([]byte{5, 1, 0, 3, byte(len(name))}, []byte(name), []byte{byte(port >> 8), byte(port)})
}

func connectIPv6(ip net.IP, port uint16) []byte {
	return cat([]byte{5, 1, 0, 4}, ip.To16(), []byte{byte(port >> 8), byte(port)})
}

// Server messages.

func methodReply(m byte) []byte { return []byte{5, m} }

var (
	authOK   = []byte{1, 0}
	authFail = []byte{1, 1}
)

// replyV4 is a reply with BND 0.0.0.0:0 unless given.
func replyV4(code byte, bnd ...byte) []byte {
	if len(bnd) == 0 {
		bnd = []byte{0, 0, 0, 0, 0, 0}
	}
	return cat([]byte{5, code, 0, 1}, bnd)
}

// handshake writes in to the client end at once, closes the client's write
// side when closeWrite is set, and runs ReadRequest on the server end.
func handshake(t *testing.T, in []byte, closeWrite bool) (client, server *net.TCPConn, req *ptclient.Request, err error) {
	t.Helper()
	client, server = watmtest.Pair(t)
	if _, err := client.Write(in); err != nil {
		t.Fatal(err)
	}
	if closeWrite {
		if err := client.CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	req, err = ptclient.ReadRequest(server, time.Now().Add(10*time.Second))
	return client, server, req, err
}

// readExactly reads n bytes from c, failing the test after 10 s.
func readExactly(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v (got % x)", n, err, b)
	}
	return b
}

func TestReadRequest(t *testing.T) {
	long := ptclient.Args{
		"cert": {strings.Repeat("A", 200) + "=="},
		"iat":  {"0"},
		"odd":  {`semi;colon=eq\back` + strings.Repeat("x", 100)},
	}
	longUser, longPass, err := ptclient.EncodeArgs(long)
	if err != nil {
		t.Fatal(err)
	}
	if len(longPass) < 2 {
		t.Fatalf("want arguments longer than 255 bytes, got %d+%d", len(longUser), len(longPass))
	}

	tests := []struct {
		name       string
		in         []byte
		wantServer []byte // what the server writes before Grant
		wantTarget string
		wantArgs   ptclient.Args
	}{
		{
			name:       "no-auth IPv4",
			in:         cat(greeting(0), connectIPv4(192, 0, 2, 1, 443)),
			wantServer: methodReply(0),
			wantTarget: "192.0.2.1:443",
			wantArgs:   ptclient.Args{},
		},
		{
			name:       "no-auth IPv6",
			in:         cat(greeting(0), connectIPv6(net.ParseIP("2001:db8::1"), 80)),
			wantServer: methodReply(0),
			wantTarget: "[2001:db8::1]:80",
			wantArgs:   ptclient.Args{},
		},
		{
			name:       "no-auth domain",
			in:         cat(greeting(0), connectDomain("bridge.example", 9001)),
			wantServer: methodReply(0),
			wantTarget: "bridge.example:9001",
			wantArgs:   ptclient.Args{},
		},
		{
			name:       "user/pass with NUL password",
			in:         cat(greeting(2), userPass([]byte("a=b;c=d"), []byte{0}), connectIPv4(127, 0, 0, 1, 1)),
			wantServer: cat(methodReply(2), authOK),
			wantTarget: "127.0.0.1:1",
			wantArgs:   ptclient.Args{"a": {"b"}, "c": {"d"}},
		},
		{
			name:       "user/pass preferred when both offered",
			in:         cat(greeting(0, 2), userPass([]byte("k=v"), []byte{0}), connectIPv4(10, 0, 0, 1, 65535)),
			wantServer: cat(methodReply(2), authOK),
			wantTarget: "10.0.0.1:65535",
			wantArgs:   ptclient.Args{"k": {"v"}},
		},
		{
			name:       "user/pass preferred, other order, unknown methods ignored",
			in:         cat(greeting(1, 2, 0, 0x80), userPass([]byte("k=v"), []byte{0}), connectIPv4(10, 0, 0, 1, 1)),
			wantServer: cat(methodReply(2), authOK),
			wantTarget: "10.0.0.1:1",
			wantArgs:   ptclient.Args{"k": {"v"}},
		},
		{
			name:       "arguments split over username and password",
			in:         cat(greeting(0, 2), userPass(longUser, longPass), connectIPv4(10, 0, 0, 1, 1)),
			wantServer: cat(methodReply(2), authOK),
			wantTarget: "10.0.0.1:1",
			wantArgs:   long,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server, req, err := handshake(t, tt.in, false)
			if err != nil {
				t.Fatalf("ReadRequest: %v", err)
			}
			if req.Conn != net.Conn(server) {
				t.Errorf("Request.Conn = %T %p, want the conn given, %p", req.Conn, req.Conn, server)
			}
			if req.Target != tt.wantTarget {
				t.Errorf("Target = %q, want %q", req.Target, tt.wantTarget)
			}
			if !reflect.DeepEqual(req.Args, tt.wantArgs) {
				t.Errorf("Args = %q, want %q", req.Args, tt.wantArgs)
			}
			if got := readExactly(t, client, len(tt.wantServer)); !bytes.Equal(got, tt.wantServer) {
				t.Errorf("server wrote % x, want % x", got, tt.wantServer)
			}
			if err := req.Grant(&net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 0x1234}); err != nil {
				t.Fatal(err)
			}
			want := replyV4(0, 198, 51, 100, 7, 0x12, 0x34)
			if got := readExactly(t, client, len(want)); !bytes.Equal(got, want) {
				t.Errorf("grant = % x, want % x", got, want)
			}
		})
	}
}

func TestReadRequestMalformed(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    []byte // everything the server writes
		wantErr string
	}{
		{"SOCKS4 client", []byte{4, 1, 0, 80, 127, 0, 0, 1, 0}, nil, "socks5: bad version 4"},
		{"HTTP client", []byte("GET / HTTP/1.1\r\n\r\n"), nil, "socks5: bad version 71"},
		{"no acceptable methods", greeting(1, 3), methodReply(0xff), "socks5: no acceptable authentication method among 01 03"},
		{"zero methods", greeting(), methodReply(0xff), "no acceptable authentication method"},
		{"bad RFC 1929 version", cat(greeting(2), []byte{5, 1, 'a', 1, 0}), cat(methodReply(2), authFail), "socks5: bad username/password version 5"},
		{"empty username", cat(greeting(2), []byte{1, 0}), cat(methodReply(2), authFail), "socks5: empty username"},
		{"empty password", cat(greeting(2), []byte{1, 3, 'a', '=', 'b', 0}), cat(methodReply(2), authFail), "socks5: empty password"},
		{
			"args without '='",
			cat(greeting(2), userPass([]byte("a=b;secret"), []byte{0}), connectIPv4(1, 2, 3, 4, 5)),
			cat(methodReply(2), authOK, replyV4(1)),
			"socks5: bad per-bridge arguments in the username/password: args: argument 2 has no '='",
		},
		{
			"args with duplicate key",
			cat(greeting(2), userPass([]byte("cert=AAA;cert=BBB"), []byte{0}), connectIPv4(1, 2, 3, 4, 5)),
			cat(methodReply(2), authOK, replyV4(1)),
			`args: duplicate key "cert" (argument 2)`,
		},
		{
			"args with empty key",
			cat(greeting(2), userPass([]byte("=v"), []byte{0}), connectIPv4(1, 2, 3, 4, 5)),
			cat(methodReply(2), authOK, replyV4(1)),
			"args: argument 1 has an empty key",
		},
		{
			"args with trailing backslash",
			cat(greeting(2), userPass([]byte("a=b"), []byte(`\`)), connectIPv4(1, 2, 3, 4, 5)),
			cat(methodReply(2), authOK, replyV4(1)),
			"args: trailing backslash in argument 1",
		},
		{"BIND", cat(greeting(0), []byte{5, 2, 0, 1, 1, 2, 3, 4, 0, 5}), cat(methodReply(0), replyV4(7)), "socks5: unsupported command 0x02"},
		{"UDP ASSOCIATE", cat(greeting(0), []byte{5, 3, 0, 1, 1, 2, 3, 4, 0, 5}), cat(methodReply(0), replyV4(7)), "socks5: unsupported command 0x03"},
		{"bad ATYP", cat(greeting(0), []byte{5, 1, 0, 5, 1, 2, 3, 4, 0, 5}), cat(methodReply(0), replyV4(8)), "socks5: unsupported address type 0x05"},
		{"bad request version", cat(greeting(0), []byte{4, 1, 0, 1, 1, 2, 3, 4, 0, 5}), cat(methodReply(0), replyV4(1)), "socks5: bad version 4 in request"},
		{"reserved byte set", cat(greeting(0), []byte{5, 1, 1, 1, 1, 2, 3, 4, 0, 5}), cat(methodReply(0), replyV4(1)), "socks5: reserved byte is 0x01, want 0x00"},
		{"empty domain", cat(greeting(0), []byte{5, 1, 0, 3, 0, 0, 5}), cat(methodReply(0), replyV4(1)), "socks5: empty domain name"},

		// Truncated input: the client closes its side mid-message.
		{"nothing", nil, nil, "socks5: reading version: EOF"},
		{"no method count", []byte{5}, nil, "socks5: reading method count: EOF"},
		{"methods cut", []byte{5, 2, 0}, nil, "socks5: reading methods: unexpected EOF"},
		{"username cut", cat(greeting(2), []byte{1, 5, 'a', '='}), methodReply(2), "socks5: reading username: unexpected EOF"},
		{"no password", cat(greeting(2), []byte{1, 1, 'a'}), methodReply(2), "socks5: reading password length: EOF"},
		{"password cut", cat(greeting(2), []byte{1, 1, 'a', 3, 'b'}), methodReply(2), "socks5: reading password: unexpected EOF"},
		{"no request", greeting(0), methodReply(0), "socks5: reading request: EOF"},
		{"request header cut", cat(greeting(0), []byte{5, 1}), methodReply(0), "socks5: reading request: unexpected EOF"},
		{"IPv4 cut", cat(greeting(0), []byte{5, 1, 0, 1, 1, 2}), methodReply(0), "socks5: reading IPv4 address: unexpected EOF"},
		{"IPv6 cut", cat(greeting(0), []byte{5, 1, 0, 4, 1, 2}), methodReply(0), "socks5: reading IPv6 address: unexpected EOF"},
		{"domain length missing", cat(greeting(0), []byte{5, 1, 0, 3}), methodReply(0), "socks5: reading domain name length: EOF"},
		{"domain cut", cat(greeting(0), []byte{5, 1, 0, 3, 9, 'a'}), methodReply(0), "socks5: reading domain name: unexpected EOF"},
		{"port cut", cat(greeting(0), []byte{5, 1, 0, 1, 1, 2, 3, 4, 0}), methodReply(0), "socks5: reading port: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server, req, err := handshake(t, tt.in, true)
			if err == nil {
				t.Fatalf("ReadRequest = %+v, want error %q", req, tt.wantErr)
			}
			if req != nil {
				t.Errorf("ReadRequest returned a request with its error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "AAA") {
				t.Errorf("error %q shows argument text", err)
			}
			// CloseWrite, not Close: closing a socket with unread bytes
			// (the rest of a SOCKS4 request...) resets the connection.
			server.CloseWrite()
			client.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, rerr := io.ReadAll(client)
			if rerr != nil {
				t.Fatalf("reading what the server wrote: %v", rerr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("server wrote % x, want % x", got, tt.want)
			}
		})
	}
}

// The bytes a client sends right after its CONNECT request, even in the same
// segment, are the transport's: ReadRequest must leave them in the socket.
func TestReadRequestLeavesFollowingBytes(t *testing.T) {
	payload := bytes.Repeat([]byte("tor cell \x00\x01\x02 "), 200)
	for _, tt := range []struct {
		name string
		hs   []byte
		out  int // bytes the server writes during the handshake
	}{
		{"no-auth", cat(greeting(0), connectDomain("example.com", 443)), 2},
		{"user/pass", cat(greeting(0, 2), userPass([]byte("a=b"), []byte{0}), connectIPv4(1, 2, 3, 4, 5)), 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client, server, req, err := handshake(t, cat(tt.hs, payload), false)
			if err != nil {
				t.Fatal(err)
			}
			readExactly(t, client, tt.out)
			if err := req.Grant(nil); err != nil {
				t.Fatal(err)
			}
			if got, want := readExactly(t, client, 10), replyV4(0); !bytes.Equal(got, want) {
				t.Errorf("grant = % x, want % x", got, want)
			}
			if got := readExactly(t, server, len(payload)); !bytes.Equal(got, payload) {
				t.Errorf("bytes after the request were not left intact: got %d bytes starting % x", len(got), got[:16])
			}
			// And the stream goes on.
			if _, err := client.Write([]byte("more")); err != nil {
				t.Fatal(err)
			}
			if got := readExactly(t, server, 4); string(got) != "more" {
				t.Errorf("got %q after the payload", got)
			}
		})
	}
}

// A slow client runs into its own deadline and holds up nobody else: each
// handshake runs on its own goroutine with its own deadline.
func TestReadRequestSlowClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type result struct {
		req *ptclient.Request
		err error
	}
	const slowDeadline = 2 * time.Second

	// The slow client sends half a greeting and stalls.
	slow, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Write([]byte{5, 1}); err != nil {
		t.Fatal(err)
	}
	slowServer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer slowServer.Close()
	slowStart := time.Now()
	slowDone := make(chan result, 1)
	go func() {
		req, err := ptclient.ReadRequest(slowServer, slowStart.Add(slowDeadline))
		slowDone <- result{req, err}
	}()

	// The fast client goes all the way while the slow one is pending.
	fast, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	fastServer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer fastServer.Close()
	fastDone := make(chan result, 1)
	go func() {
		req, err := ptclient.ReadRequest(fastServer, time.Now().Add(time.Minute))
		if err == nil {
			err = req.Grant(nil)
		}
		fastDone <- result{req, err}
	}()
	if _, err := fast.Write(cat(greeting(0), connectIPv4(1, 2, 3, 4, 5))); err != nil {
		t.Fatal(err)
	}
	want := cat(methodReply(0), replyV4(0))
	if got := readExactly(t, fast, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("fast client got % x, want % x", got, want)
	}
	if r := <-fastDone; r.err != nil {
		t.Fatalf("fast client: %v", r.err)
	}
	select {
	case r := <-slowDone:
		t.Fatalf("slow handshake ended (%v) before the fast one was served", r.err)
	default:
	}

	// The slow one hits its deadline.
	r := <-slowDone
	if !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("slow client: err = %v, want a deadline error", r.err)
	}
	if elapsed := time.Since(slowStart); elapsed < slowDeadline {
		t.Errorf("slow handshake gave up after %v, before its deadline %v", elapsed, slowDeadline)
	}
	// The deadline is cleared once ReadRequest returns: the connection
	// reads again (the byte is sent first, so the read cannot block).
	if _, err := slow.Write([]byte{7}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(slowServer, b); err != nil || b[0] != 7 {
		t.Errorf("read %x, %v after the handshake", b, err)
	}
}

// The handshake deadline does not outlive a successful handshake.
func TestReadRequestClearsDeadline(t *testing.T) {
	client, server := watmtest.Pair(t)
	deadline := time.Now().Add(300 * time.Millisecond)
	if _, err := client.Write(cat(greeting(0), connectIPv4(1, 2, 3, 4, 5))); err != nil {
		t.Fatal(err)
	}
	req, err := ptclient.ReadRequest(server, deadline)
	if err != nil {
		t.Fatal(err)
	}
	<-time.After(time.Until(deadline) + 50*time.Millisecond) // the deadline has passed
	if err := req.Grant(nil); err != nil {
		t.Fatalf("Grant after the handshake deadline: %v", err)
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := server.Read(b); err != nil {
		t.Fatalf("Read after the handshake deadline: %v", err)
	}
}

func TestGrantReject(t *testing.T) {
	request := cat(greeting(0), connectIPv4(1, 2, 3, 4, 5))
	tests := []struct {
		name   string
		answer func(*ptclient.Request) error
		want   []byte
	}{
		{"grant nil", func(r *ptclient.Request) error { return r.Grant(nil) }, replyV4(0)},
		{"grant IPv4", func(r *ptclient.Request) error {
			return r.Grant(&net.TCPAddr{IP: net.ParseIP("192.0.2.9"), Port: 443})
		}, replyV4(0, 192, 0, 2, 9, 1, 187)},
		{"grant IPv6", func(r *ptclient.Request) error {
			return r.Grant(&net.TCPAddr{IP: net.ParseIP("2001:db8::2"), Port: 1})
		}, cat([]byte{5, 0, 0, 4}, net.ParseIP("2001:db8::2"), []byte{0, 1})},
		{"grant non-IP address", func(r *ptclient.Request) error {
			return r.Grant(&net.UnixAddr{Name: "/tmp/x", Net: "unix"})
		}, replyV4(0)},
		{"reject refused", func(r *ptclient.Request) error { return r.Reject(ptclient.ReplyConnectionRefused) }, replyV4(5)},
		{"reject TTL", func(r *ptclient.Request) error { return r.Reject(ptclient.ReplyTTLExpired) }, replyV4(6)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server, req, err := handshake(t, request, false)
			if err != nil {
				t.Fatal(err)
			}
			readExactly(t, client, 2)
			if err := tt.answer(req); err != nil {
				t.Fatal(err)
			}
			if err := req.Reject(ptclient.ReplyGeneralFailure); err == nil {
				t.Error("a second answer succeeded")
			}
			server.Close()
			client.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(client)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("server wrote % x, want % x", got, tt.want)
			}
		})
	}

	t.Run("reject with success code", func(t *testing.T) {
		client, _, req, err := handshake(t, request, false)
		if err != nil {
			t.Fatal(err)
		}
		readExactly(t, client, 2)
		if err := req.Reject(ptclient.ReplySucceeded); err == nil {
			t.Fatal("Reject(ReplySucceeded) succeeded")
		}
		if err := req.Reject(ptclient.ReplyHostUnreachable); err != nil {
			t.Fatalf("Reject after a refused Reject: %v", err)
		}
		if got, want := readExactly(t, client, 10), replyV4(4); !bytes.Equal(got, want) {
			t.Errorf("server wrote % x, want % x", got, want)
		}
	})
}

func TestReplyCodeString(t *testing.T) {
	for code, want := range map[ptclient.ReplyCode]string{
		ptclient.ReplySucceeded:            "succeeded",
		ptclient.ReplyGeneralFailure:       "general SOCKS server failure",
		ptclient.ReplyConnectionNotAllowed: "connection not allowed by ruleset",
		ptclient.ReplyNetworkUnreachable:   "network unreachable",
		ptclient.ReplyHostUnreachable:      "host unreachable",
		ptclient.ReplyConnectionRefused:    "connection refused",
		ptclient.ReplyTTLExpired:           "TTL expired",
		ptclient.ReplyCommandNotSupported:  "command not supported",
		ptclient.ReplyAddressNotSupported:  "address type not supported",
		0x42:                               "reply 0x42",
	} {
		if got := code.String(); got != want {
			t.Errorf("ReplyCode(0x%02x).String() = %q, want %q", byte(code), got, want)
		}
	}
}
