package integration

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
)

// TOR_PT_OUTBOUND_BIND_ADDRESS_V4 / _V6 through the binary, in managed
// mode. The unit tests of the dialer are in ptclient/outbound_test.go
// (TestParseOutboundBind, TestLocalAddrFor, TestOutboundDialer,
// TestOutboundDialerBindsSource); these show that water-pt uses it for
// the bridge connections tor asks for.

// A malformed bind address is an ENV-ERROR naming the variable, and exit.
func TestOutboundBindEnvError(t *testing.T) {
	bin := tortest.Build(t)
	for _, tc := range []struct{ key, value string }{
		{"TOR_PT_OUTBOUND_BIND_ADDRESS_V4", "not-an-ip"},
		{"TOR_PT_OUTBOUND_BIND_ADDRESS_V4", "2001:db8::4"},
		{"TOR_PT_OUTBOUND_BIND_ADDRESS_V4", "203.0.113.4:80"},
		{"TOR_PT_OUTBOUND_BIND_ADDRESS_V6", "203.0.113.4"},
		{"TOR_PT_OUTBOUND_BIND_ADDRESS_V6", "[not-an-ip]"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			env := append(tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, ""), tc.key+"="+tc.value)
			p := tortest.Start(t, bin, env)
			code, _, err := p.Wait(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if code == 0 {
				t.Errorf("exit code 0, want non-zero")
			}
			var envErr string
			for _, l := range p.Lines() {
				switch l.Kind {
				case tortest.KindEnvError:
					envErr = l.Text
				case tortest.KindCMethod, tortest.KindCMethodsDone:
					t.Errorf("line %q: want no methods after a bad %s", l.Text, tc.key)
				}
			}
			if !strings.Contains(envErr, tc.key) {
				t.Errorf("ENV-ERROR line %q, want one naming %s", envErr, tc.key)
			}
		})
	}
}

// The bind is made for non-loopback bridges and only for them. The bridges
// are a listener in a network namespace of the test's own (newTestNetns),
// reached through a veth pair whose host end has two addresses per family:
// Host4/Host6, the source the kernel picks, and Bind4/Bind6. With
// TOR_PT_OUTBOUND_BIND_ADDRESS_V4=Bind4 and _V6=[Bind6], the listener sees
// the client PT come from Bind4 and Bind6; bridges on 127.0.0.1 and [::1]
// see 127.0.0.1 and ::1, as loopback destinations are dialed without the
// bind. The listener only echoes (it is no water-pt server): with the plain
// module the bytes pass unchanged, so the echo comes back through the PT.
//
// Traffic goes only to loopback and into the test's namespace.
func TestOutboundBindSource(t *testing.T) {
	ns := newTestNetns(t)
	nl := startNetnsListener(t, ns,
		netip.AddrPortFrom(ns.Peer4, 0), netip.AddrPortFrom(ns.Peer6, 0))
	lo4 := startSourceListener(t, "127.0.0.1:0")
	lo6 := startSourceListener(t, "[::1]:0")
	const (
		wait = 15 * time.Second // bound on a direct dial, an echo, a report
		// Bound on a dial through the PT: the first one loads and compiles
		// the module, which takes seconds (some 10 s under -race on 2 CPUs).
		socksWait = 2 * time.Minute
	)

	// Without the bind the kernel picks Host4 and Host6: else the test
	// below would show nothing.
	for i, want := range []netip.Addr{ns.Host4, ns.Host6} {
		dst := nl.Addrs[i]
		c, err := net.DialTimeout("tcp", dst.String(), wait)
		if err != nil {
			t.Fatalf("direct dial to %v: %v", dst, err)
		}
		got := nl.NextFrom(t, dst, wait)
		c.Close()
		if got.Addr() != want {
			t.Fatalf("direct dial to %v came from %v, want %v: the host picks another source, the test proves nothing", dst, got.Addr(), want)
		}
	}

	bin := tortest.Build(t)
	env := append(tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, ""),
		"TOR_PT_OUTBOUND_BIND_ADDRESS_V4="+ns.Bind4.String(),
		"TOR_PT_OUTBOUND_BIND_ADDRESS_V6=["+ns.Bind6.String()+"]", // bracketed, as tor writes it
	)
	p := tortest.Start(t, bin, env, wazeroCacheArgs(t)...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	methods, err := p.WaitDone(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if len(methods) != 1 || methods[0].Name != "water" {
		t.Fatalf("methods %+v, want one CMETHOD water", methods)
	}
	socks := methods[0].Addr
	args := []tortest.KV{{Key: "watm", Value: "plain"}}

	for _, tc := range []struct {
		name   string
		bridge netip.AddrPort
		from   func(*testing.T) netip.AddrPort // the next source the bridge saw
		want   netip.Addr
	}{
		{"v4", nl.Addrs[0], func(t *testing.T) netip.AddrPort { return nl.NextFrom(t, nl.Addrs[0], wait) }, ns.Bind4},
		{"v6", nl.Addrs[1], func(t *testing.T) netip.AddrPort { return nl.NextFrom(t, nl.Addrs[1], wait) }, ns.Bind6},
		{"loopback4", lo4.Addr, func(t *testing.T) netip.AddrPort { return lo4.NextFrom(t, wait) }, netip.MustParseAddr("127.0.0.1")},
		{"loopback6", lo6.Addr, func(t *testing.T) netip.AddrPort { return lo6.NextFrom(t, wait) }, netip.IPv6Loopback()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), socksWait)
			defer cancel()
			c, rep, err := tortest.DialSOCKS(ctx, socks, tc.bridge.String(), args)
			if err != nil {
				t.Fatalf("bridge %v: %v (reply 0x%02x), want reply 0x%02x", tc.bridge, err, rep, tortest.ReplySucceeded)
			}
			defer c.Close()
			if got := tc.from(t); got.Addr() != tc.want {
				t.Errorf("bridge %v saw the client PT come from %v, want %v", tc.bridge, got, tc.want)
			}
			c.SetDeadline(time.Now().Add(wait))
			if err := tortest.CheckEcho(c, 64<<10); err != nil {
				t.Errorf("bridge %v: %v", tc.bridge, err)
			}
		})
	}
}

// sourceListener is an echo listener in the host namespace (the test's) that
// reports the source address of each connection.
type sourceListener struct {
	Addr netip.AddrPort
	from chan netip.AddrPort
}

func startSourceListener(t *testing.T, addr string) *sourceListener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	l := &sourceListener{Addr: addrPort(ln.Addr()), from: make(chan netip.AddrPort, 64)}
	s := newEchoServer(ln, func(_, remote netip.AddrPort) {
		select {
		case l.from <- remote:
		default: // more connections than the test makes: NextFrom sees the first ones
		}
	})
	t.Cleanup(s.Close)
	return l
}

// NextFrom waits up to timeout for the next connection and returns its
// source address.
func (l *sourceListener) NextFrom(t *testing.T, timeout time.Duration) netip.AddrPort {
	t.Helper()
	select {
	case a := <-l.from:
		return a
	case <-time.After(timeout):
		t.Fatalf("listener %v: no connection within %v", l.Addr, timeout)
		return netip.AddrPort{}
	}
}
