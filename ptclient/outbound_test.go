package ptclient_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/water-pt/water-pt/ptclient"
	"github.com/water-pt/water-pt/watm/watmtest"
)

func TestParseOutboundBind(t *testing.T) {
	tests := []struct {
		v4, v6  string
		want    ptclient.OutboundBind
		wantErr string
	}{
		{},
		{v4: "203.0.113.4", want: ptclient.OutboundBind{V4: netip.MustParseAddr("203.0.113.4")}},
		{v6: "[2001:db8::4]", want: ptclient.OutboundBind{V6: netip.MustParseAddr("2001:db8::4")}},
		{v6: "2001:db8::4", want: ptclient.OutboundBind{V6: netip.MustParseAddr("2001:db8::4")}},
		{v4: "203.0.113.4", v6: "[2001:db8::4]", want: ptclient.OutboundBind{V4: netip.MustParseAddr("203.0.113.4"), V6: netip.MustParseAddr("2001:db8::4")}},

		{v4: "2001:db8::4", wantErr: `TOR_PT_OUTBOUND_BIND_ADDRESS_V4="2001:db8::4" is not an IPv4 address`},
		{v4: "203.0.113.4:80", wantErr: "TOR_PT_OUTBOUND_BIND_ADDRESS_V4="},
		{v4: "bridge.example", wantErr: "TOR_PT_OUTBOUND_BIND_ADDRESS_V4="},
		{v4: "::ffff:203.0.113.4", wantErr: "TOR_PT_OUTBOUND_BIND_ADDRESS_V4="},
		{v6: "203.0.113.4", wantErr: `TOR_PT_OUTBOUND_BIND_ADDRESS_V6="203.0.113.4" is not an IPv6 address`},
		{v6: "[::ffff:203.0.113.4]", wantErr: "TOR_PT_OUTBOUND_BIND_ADDRESS_V6="},
		{v6: "[2001:db8::4]:80", wantErr: "TOR_PT_OUTBOUND_BIND_ADDRESS_V6="},
		{v6: "[2001:db8::4", wantErr: "TOR_PT_OUTBOUND_BIND_ADDRESS_V6="},
		{v4: "203.0.113.4", v6: "junk", wantErr: "TOR_PT_OUTBOUND_BIND_ADDRESS_V6="},
	}
	for _, tt := range tests {
		got, err := ptclient.ParseOutboundBind(tt.v4, tt.v6)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseOutboundBind(%q, %q) = %v, %v; want error containing %q", tt.v4, tt.v6, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseOutboundBind(%q, %q) = %v, %v; want %v", tt.v4, tt.v6, got, err, tt.want)
		}
	}
}

func TestLocalAddrFor(t *testing.T) {
	both := ptclient.OutboundBind{V4: netip.MustParseAddr("203.0.113.4"), V6: netip.MustParseAddr("2001:db8::4")}
	onlyV4 := ptclient.OutboundBind{V4: netip.MustParseAddr("203.0.113.4")}
	tests := []struct {
		bind ptclient.OutboundBind
		dst  string
		want string // "" for nil
	}{
		{both, "192.0.2.1", "203.0.113.4:0"},
		{both, "2001:db8::99", "[2001:db8::4]:0"},
		{both, "::ffff:192.0.2.1", "203.0.113.4:0"},
		{both, "127.0.0.1", ""},
		{both, "127.1.2.3", ""},
		{both, "::1", ""},
		{both, "::ffff:127.0.0.1", ""},
		{onlyV4, "2001:db8::99", ""},
		{onlyV4, "192.0.2.1", "203.0.113.4:0"},
		{ptclient.OutboundBind{}, "192.0.2.1", ""},
	}
	for _, tt := range tests {
		got := tt.bind.LocalAddrFor(netip.MustParseAddr(tt.dst))
		if s := addrString(got); s != tt.want {
			t.Errorf("%v.LocalAddrFor(%s) = %s, want %q", tt.bind, tt.dst, s, tt.want)
		}
		if got != nil {
			if _, ok := got.(*net.TCPAddr); !ok {
				t.Errorf("LocalAddrFor returned a %T, want a *net.TCPAddr", got)
			}
		}
	}
	if got := both.LocalAddrFor(netip.Addr{}); got != nil {
		t.Errorf("LocalAddrFor(invalid) = %v, want nil", got)
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// notLocal is a TEST-NET-2 address this host does not have: binding to it
// fails with EADDRNOTAVAIL before any packet is sent, which shows whether a
// dial bound its socket.
func notLocal(t *testing.T) netip.Addr {
	a := netip.MustParseAddr("198.51.100.254")
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ia := range addrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil && p.Addr() == a {
			t.Skipf("this host has %s", a)
		}
	}
	return a
}

// fakeResolver answers A queries from names and nothing else, over
// in-memory streams; the test's cleanup waits for its goroutines.
func fakeResolver(t *testing.T, names map[string]netip.Addr) *net.Resolver {
	var routines sync.WaitGroup
	t.Cleanup(routines.Wait)
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		client, server := net.Pipe()
		routines.Go(func() {
			defer server.Close()
			serveDNS(t, server, names)
		})
		return client, nil
	}}
}

// serveDNS answers DNS-over-stream queries (RFC 1035 4.2.2) until the
// resolver closes the stream.
func serveDNS(t *testing.T, c net.Conn, names map[string]netip.Addr) {
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(msg)
		if err != nil {
			t.Errorf("fake DNS: %v", err)
			return
		}
		q, err := p.Question()
		if err != nil {
			t.Errorf("fake DNS: %v", err)
			return
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		if a, ok := names[q.Name.String()]; ok && q.Type == dnsmessage.TypeA {
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: a.As4()})
		}
		resp, err := b.Finish()
		if err != nil {
			t.Errorf("fake DNS: %v", err)
			return
		}
		if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(resp)))); err != nil {
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

func TestOutboundDialer(t *testing.T) {
	base := &net.Dialer{}
	if d := (ptclient.OutboundBind{}).Dialer(base); d != ptclient.ContextDialer(base) {
		t.Errorf("the zero OutboundBind's dialer is %v, want base itself", d)
	}

	echoAddr := watmtest.Echo(t).Address()
	_, echoPort, _ := net.SplitHostPort(echoAddr)
	bind := ptclient.OutboundBind{V4: notLocal(t), V6: netip.MustParseAddr("2001:db8::254")}
	d := bind.Dialer(&net.Dialer{Resolver: fakeResolver(t, map[string]netip.Addr{
		"bridge.test.":   netip.MustParseAddr("203.0.113.9"),
		"loopback.test.": netip.MustParseAddr("127.0.0.1"),
	})})

	for _, tt := range []struct {
		name, addr string
		bound      bool // the dial must have tried to bind: it fails with "address not supported"
	}{
		{"IPv4 destination", "203.0.113.9:9", true},
		{"IPv6 destination", "[2001:db8::9]:9", true},
		{"name of a remote address", "bridge.test:9", true},
		{"loopback", echoAddr, false},
		{"name of a loopback address", net.JoinHostPort("loopback.test", echoPort), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := d.DialContext(context.Background(), "tcp", tt.addr)
			if tt.bound {
				if err == nil {
					c.Close()
					t.Fatalf("dial from %v succeeded", bind)
				}
				// EADDRNOTAVAIL, or EAFNOSUPPORT on a host without IPv6.
				if got := ptclient.ReplyForError(err); got != ptclient.ReplyAddressNotSupported {
					t.Errorf("error %v (%v), want the bind to fail with address not supported", err, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("loopback dial: %v", err)
			}
			defer c.Close()
			if ip := c.LocalAddr().(*net.TCPAddr).IP; !ip.IsLoopback() {
				t.Errorf("local address %v, want loopback", ip)
			}
			checkEcho(t, c)
		})
	}
}

// Binding to an address the host has works, and shows as the local address.
func TestOutboundDialerBindsSource(t *testing.T) {
	var src netip.Addr
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ia := range addrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			src = p.Addr()
			break
		}
	}
	if !src.IsValid() {
		t.Skip("no non-loopback IPv4 address on this host")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(src.String(), "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", src, err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		defer close(accepted)
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	defer func() {
		ln.Close()
		if c, ok := <-accepted; ok { // and the accept goroutine has ended
			c.Close()
		}
	}()

	// The destination is the source address itself, the one non-loopback
	// destination a test can reach: this shows that a bound dial works,
	// TestOutboundDialer that the bind is made.
	c, err := ptclient.OutboundBind{V4: src}.Dialer(nil).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); got != src {
		t.Errorf("local address %v, want %v", got, src)
	}
}
