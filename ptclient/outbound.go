package ptclient

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// TOR_PT_OUTBOUND_BIND_ADDRESS_V4 and _V6 give the source address of the
// PT's outgoing connections, one per family; tor writes the IPv6 one in
// brackets ("[2001:db8::4]"). pt-spec asks that they be ignored for loopback
// destinations (a source address cannot reach 127.0.0.1 from another
// interface). goptlib does not read them.

// OutboundBind holds the source addresses of outgoing connections. The zero
// value binds nothing.
type OutboundBind struct {
	V4 netip.Addr // from TOR_PT_OUTBOUND_BIND_ADDRESS_V4; invalid when unset
	V6 netip.Addr // from TOR_PT_OUTBOUND_BIND_ADDRESS_V6; invalid when unset
}

// ParseOutboundBind parses the values of TOR_PT_OUTBOUND_BIND_ADDRESS_V4 and
// _V6. Each may be empty (unset). v4 must be an IPv4 address; v6 an IPv6
// address, bracketed or not, and not an IPv4-mapped one. The error names the
// variable at fault, for an ENV-ERROR line.
func ParseOutboundBind(v4, v6 string) (OutboundBind, error) {
	var b OutboundBind
	if v4 != "" {
		a, err := netip.ParseAddr(v4)
		if err != nil || !a.Is4() {
			return OutboundBind{}, fmt.Errorf("TOR_PT_OUTBOUND_BIND_ADDRESS_V4=%q is not an IPv4 address", v4)
		}
		b.V4 = a
	}
	if v6 != "" {
		s := v6
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			s = s[1 : len(s)-1]
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Is4In6() {
			return OutboundBind{}, fmt.Errorf("TOR_PT_OUTBOUND_BIND_ADDRESS_V6=%q is not an IPv6 address", v6)
		}
		b.V6 = a
	}
	return b, nil
}

// LocalAddrFor returns the source address (port 0) of a TCP connection to
// dst: the V4 or V6 address by dst's family, or nil when that one is unset,
// when dst is a loopback address, or when dst is invalid. An IPv4-mapped
// IPv6 dst counts as IPv4.
func (b OutboundBind) LocalAddrFor(dst netip.Addr) net.Addr {
	ap := b.localAddrPort(dst)
	if !ap.IsValid() {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

func (b OutboundBind) localAddrPort(dst netip.Addr) netip.AddrPort {
	dst = dst.Unmap()
	var src netip.Addr
	switch {
	case !dst.IsValid() || dst.IsLoopback():
	case dst.Is4():
		src = b.V4
	default:
		src = b.V6
	}
	if !src.IsValid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(src, 0)
}

// Dialer returns a dialer that dials like base (a zero *net.Dialer when nil)
// from the source address LocalAddrFor gives, by setting a copy's
// LocalAddr. With the zero OutboundBind it is base itself.
//
// A destination given as an IP address is decided by that address. A host
// name is resolved first, with base's Resolver, and its addresses are dialed
// one after another in the resolver's order, each from its own family's
// source address (and none for loopback), sharing the context's deadline as
// net.Dialer shares it; unlike net.Dialer, the two families are not raced
// (no Happy Eyeballs).
func (b OutboundBind) Dialer(base *net.Dialer) ContextDialer {
	if base == nil {
		base = &net.Dialer{}
	}
	if !b.V4.IsValid() && !b.V6.IsValid() {
		return base
	}
	return &boundDialer{bind: b, base: base}
}

type boundDialer struct {
	bind OutboundBind
	base *net.Dialer
}

func (d *boundDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return d.dialIP(ctx, network, ip, port)
	}
	family := "ip"
	switch {
	case strings.HasSuffix(network, "4"):
		family = "ip4"
	case strings.HasSuffix(network, "6"):
		family = "ip6"
	}
	resolver := d.base.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	ips, err := resolver.LookupNetIP(ctx, family, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if len(ips) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}}
	}
	var first error
	for i, ip := range ips {
		actx, cancel := attemptContext(ctx, len(ips)-i)
		c, err := d.dialIP(actx, network, ip, port)
		cancel() // the dial is over: the connection does not depend on actx
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

func (d *boundDialer) dialIP(ctx context.Context, network string, ip netip.Addr, port string) (net.Conn, error) {
	nd := *d.base
	if ap := d.bind.localAddrPort(ip); ap.IsValid() {
		if strings.HasPrefix(network, "udp") {
			nd.LocalAddr = net.UDPAddrFromAddrPort(ap)
		} else {
			nd.LocalAddr = net.TCPAddrFromAddrPort(ap)
		}
	}
	return nd.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
}

// attemptContext gives one of the remaining addresses its share of ctx's
// deadline: at least 2 s, as net.Dialer does, and never past ctx's.
func attemptContext(ctx context.Context, remaining int) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok || remaining <= 1 {
		return context.WithCancel(ctx)
	}
	share := max(time.Until(dl)/time.Duration(remaining), 2*time.Second)
	return context.WithDeadline(ctx, time.Now().Add(share)) // a later one than ctx's has no effect
}
