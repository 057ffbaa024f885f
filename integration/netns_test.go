package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A network namespace of the test's own, joined to the host namespace by a
// veth pair, gives a non-loopback destination that only the test can reach:
// traffic to its addresses goes through the veth into the namespace and
// nowhere else. It needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2's
// ip.

// testNetns is a network namespace with one veth pair to the host namespace.
// The host end has two addresses per family: Host4/Host6, the ones the kernel
// picks as the source of a connection to the peer, and Bind4/Bind6, which it
// does not pick unless a socket is bound to them. The namespace end has
// Peer4/Peer6.
type testNetns struct {
	Name           string // for ip netns
	HostIf, PeerIf string // the veth ends

	Host4, Bind4, Peer4 netip.Addr // in a /24
	Host6, Bind6, Peer6 netip.Addr // in a /64
}

const ipCommandTimeout = 15 * time.Second

var netnsSeq atomic.Int32

// newTestNetns creates the namespace and the veth pair, with unique names
// (the pid and a counter) and a /24 and a /64 no interface of the host has,
// in 198.18.0.0/15 (benchmarking) and 2001:db8::/32 (documentation). t.Cleanup
// deletes them, whatever happened. Any failure is fatal: the test cannot be
// done without them.
//
// The source address the kernel picks is Host4 because it is the primary
// address of the /24 (Bind4 is added after it, so it is secondary: the /24's
// route has Host4 as its preferred source), and Host6 because Bind6 is
// deprecated (preferred_lft 0), which RFC 6724 source selection avoids (rule
// 3) but a socket can still bind. (Both IPv6 addresses match Peer6 in all 64
// bits of their prefix, so rule 8 would not decide, and the newer one would
// win.)
func newTestNetns(t *testing.T) *testNetns {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("netns: the ip command (iproute2) is needed to create a network namespace: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("netns: creating a network namespace needs root (euid is %d)", os.Geteuid())
	}
	seq := netnsSeq.Add(1)
	pid := os.Getpid()
	ns := &testNetns{
		Name:   fmt.Sprintf("waterpt-test-%d-%d", pid, seq),
		HostIf: fmt.Sprintf("wpt%dx%dh", pid, seq), // at most 15 bytes (IFNAMSIZ-1)
		PeerIf: fmt.Sprintf("wpt%dx%dn", pid, seq),
	}
	x := freeSubnet(t, pid+int(seq)*37)
	ns.Host4 = netip.AddrFrom4([4]byte{198, 18, x, 1})
	ns.Peer4 = netip.AddrFrom4([4]byte{198, 18, x, 2})
	ns.Bind4 = netip.AddrFrom4([4]byte{198, 18, x, 3})
	v6 := func(last uint16) netip.Addr {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, x, 14: byte(last >> 8), 15: byte(last)})
	}
	ns.Host6, ns.Peer6, ns.Bind6 = v6(1), v6(2), v6(3)

	// Registered first, so it runs last: after everything that uses the
	// namespace is stopped.
	t.Cleanup(func() { ns.delete(t) })

	ip := func(args ...string) {
		t.Helper()
		if err := runIP(args...); err != nil {
			t.Fatalf("netns: creating network namespace %s: %v", ns.Name, err)
		}
	}
	ip("netns", "add", ns.Name)
	ip("link", "add", ns.HostIf, "type", "veth", "peer", "name", ns.PeerIf)
	ip("link", "set", ns.PeerIf, "netns", ns.Name)
	enableIPv6(t, ns.HostIf)
	ip("addr", "add", ns.Host4.String()+"/24", "dev", ns.HostIf)
	ip("addr", "add", ns.Bind4.String()+"/24", "dev", ns.HostIf)
	ip("-6", "addr", "add", ns.Host6.String()+"/64", "dev", ns.HostIf, "nodad")
	ip("-6", "addr", "add", ns.Bind6.String()+"/64", "dev", ns.HostIf, "nodad", "preferred_lft", "0")
	ip("link", "set", ns.HostIf, "up")
	ip("-n", ns.Name, "link", "set", "lo", "up")
	ip("-n", ns.Name, "addr", "add", ns.Peer4.String()+"/24", "dev", ns.PeerIf)
	ip("-n", ns.Name, "-6", "addr", "add", ns.Peer6.String()+"/64", "dev", ns.PeerIf, "nodad")
	ip("-n", ns.Name, "link", "set", ns.PeerIf, "up")
	return ns
}

// delete removes the veth pair (both ends go with either) and the namespace;
// what does not exist is skipped, what remains is an error.
//
// First it waits for the host's TCP connections to the namespace to be over
// (TIME-WAIT aside: that state sends nothing unless a segment comes in): once
// the veth is gone the subnets' routes are gone too, and the host would send
// a retransmitted FIN to a Peer address by its default route.
func (ns *testNetns) delete(t *testing.T) {
	t.Helper()
	prefixes := []netip.Prefix{netip.PrefixFrom(ns.Peer4, 24).Masked(), netip.PrefixFrom(ns.Peer6, 64).Masked()}
	deadline := time.Now().Add(netnsDrainTimeout)
	for {
		open, err := openTCPTo(prefixes)
		if err != nil {
			t.Errorf("netns: cleanup: %v", err)
			break
		}
		if len(open) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("netns: cleanup: after %v the host still has connections to the namespace (deleting it anyway):\n%s",
				netnsDrainTimeout, strings.Join(open, "\n"))
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := net.InterfaceByName(ns.HostIf); err == nil {
		if err := runIP("link", "del", ns.HostIf); err != nil {
			t.Errorf("netns: cleanup: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join("/run/netns", ns.Name)); err == nil {
		if err := runIP("netns", "del", ns.Name); err != nil {
			t.Errorf("netns: cleanup: %v", err)
		}
	}
}

const netnsDrainTimeout = 10 * time.Second

// openTCPTo lists the host namespace's TCP sockets whose remote address is
// in one of prefixes, except those in TIME-WAIT, from /proc/net/tcp and
// /proc/net/tcp6.
func openTCPTo(prefixes []netip.Prefix) ([]string, error) {
	const timeWait = 0x06 // include/net/tcp_states.h
	var open []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for _, line := range lines[1:] { // a header first
			f := strings.Fields(line)
			if len(f) < 4 {
				return nil, fmt.Errorf("%s: line %q", file, line)
			}
			remote, err := parseProcNetAddr(f[2])
			if err != nil {
				return nil, fmt.Errorf("%s: line %q: %v", file, line, err)
			}
			state, err := strconv.ParseUint(f[3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("%s: line %q: %v", file, line, err)
			}
			if state == timeWait {
				continue
			}
			for _, p := range prefixes {
				if p.Contains(remote.Addr().Unmap()) {
					local, _ := parseProcNetAddr(f[1])
					open = append(open, fmt.Sprintf("%v -> %v state 0x%02x", local, remote, state))
				}
			}
		}
	}
	return open, nil
}

// parseProcNetAddr parses an address of /proc/net/tcp{,6}: the address as
// 32-bit words in hex, each in the host's byte order, then ':' and the port
// in hex.
func parseProcNetAddr(s string) (netip.AddrPort, error) {
	h, portHex, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(portHex, 16, 16)
	if !ok || err != nil || (len(h) != 8 && len(h) != 32) {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	b := make([]byte, 0, 16)
	for i := 0; i < len(h); i += 8 {
		w, err := strconv.ParseUint(h[i:i+8], 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q", s)
		}
		b = binary.NativeEndian.AppendUint32(b, uint32(w))
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a, uint16(port)), nil
}

func runIP(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ipCommandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// freeSubnet returns an x, starting from start, such that no interface of
// the host has an address in 198.18.x.0/24 or 2001:db8:1:x::/64, so that
// concurrent test processes do not route into each other's namespaces.
func freeSubnet(t *testing.T, start int) byte {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("netns: listing the host's addresses: %v", err)
	}
	used := map[byte]bool{}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		b := p.Addr().As16()
		switch ip := p.Addr(); {
		case ip.Is4() && netip.MustParsePrefix("198.18.0.0/16").Contains(ip):
			used[ip.As4()[2]] = true
		case ip.Is6() && netip.MustParsePrefix("2001:db8:1::/56").Contains(ip):
			used[b[7]] = true
		}
	}
	for i := range 254 {
		x := byte((start+i)%254 + 1)
		if !used[x] {
			return x
		}
	}
	t.Fatalf("netns: every subnet 198.18.1-254.0/24 is in use on this host")
	return 0
}

// enableIPv6 makes sure the interface has IPv6, which containers often
// disable by default (net.ipv6.conf.default.disable_ipv6=1).
func enableIPv6(t *testing.T, ifname string) {
	t.Helper()
	path := filepath.Join("/proc/sys/net/ipv6/conf", ifname, "disable_ipv6")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("netns: IPv6 is not available (%v): the test needs it on %s", err, ifname)
	}
	if strings.TrimSpace(string(b)) == "0" {
		return
	}
	if err := os.WriteFile(path, []byte("0\n"), 0o644); err != nil {
		t.Fatalf("netns: enabling IPv6 on %s: %v", ifname, err)
	}
}

// The listener in the namespace is this test binary, run again under
// "ip netns exec" with netnsListenerEnv set to the addresses to listen on
// (comma-separated): TestHelperNetnsListener then listens on each, writes
// "netns-listener: LISTEN addr" for each, and "netns-listener: FROM local
// remote" for each connection it accepts, echoes what the connection sends,
// and exits when its stdin is closed. A separate process, because only a
// process (or a locked thread) can be in another network namespace.
const (
	netnsListenerEnv    = "WATERPT_TEST_NETNS_LISTENER"
	netnsListenerPrefix = "netns-listener: "
	netnsListenerStart  = 30 * time.Second // bound on the helper starting to listen
	netnsListenerStop   = 15 * time.Second // bound on it exiting after stdin is closed
)

// TestHelperNetnsListener is not a test: it is the process startNetnsListener
// runs in the namespace, and does nothing without netnsListenerEnv.
func TestHelperNetnsListener(t *testing.T) {
	spec := os.Getenv(netnsListenerEnv)
	if spec == "" {
		return
	}
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, netnsListenerPrefix+format+"\n", a...)
	}
	var servers []*echoServer
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	for _, a := range strings.Split(spec, ",") {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			say("ERROR %v", err)
			t.Fatal(err)
		}
		servers = append(servers, newEchoServer(ln, func(local, remote netip.AddrPort) {
			say("FROM %s %s", local, remote)
		}))
		say("LISTEN %s", ln.Addr())
	}
	io.Copy(io.Discard, os.Stdin) // until the test closes it, or exits
}

// netnsListener is the helper process of TestHelperNetnsListener.
type netnsListener struct {
	Addrs []netip.AddrPort // where it listens, in the order asked

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	listen chan netip.AddrPort
	from   chan [2]netip.AddrPort // local, remote
	errs   chan string
	exited chan struct{}
	out    *lineWriter
	stderr *lineWriter
}

// startNetnsListener starts the listener in ns on each of addrs (port 0 for
// any) and waits until it listens. t.Cleanup stops it.
func startNetnsListener(t *testing.T, ns *testNetns, addrs ...netip.AddrPort) *netnsListener {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("netns listener: %v", err)
	}
	specs := make([]string, len(addrs))
	for i, a := range addrs {
		specs[i] = a.String()
	}
	l := &netnsListener{
		listen: make(chan netip.AddrPort, len(addrs)),
		from:   make(chan [2]netip.AddrPort, 256),
		errs:   make(chan string, 16),
		exited: make(chan struct{}),
	}
	l.out = &lineWriter{line: l.parse}
	l.stderr = &lineWriter{}
	l.cmd = exec.Command("ip", "netns", "exec", ns.Name, exe,
		"-test.run=^TestHelperNetnsListener$", "-test.count=1", "-test.timeout=10m")
	l.cmd.Env = append(os.Environ(), netnsListenerEnv+"="+strings.Join(specs, ","))
	if _, ok := os.LookupEnv("GORACE"); !ok {
		l.cmd.Env = append(l.cmd.Env, "GORACE=atexit_sleep_ms=0") // no 1 s sleep at exit under -race
	}
	l.cmd.Stdout, l.cmd.Stderr = l.out, l.stderr
	if l.stdin, err = l.cmd.StdinPipe(); err != nil {
		t.Fatalf("netns listener: %v", err)
	}
	if err := l.cmd.Start(); err != nil {
		t.Fatalf("netns listener: starting %v: %v", l.cmd.Args, err)
	}
	var waitErr error
	go func() {
		waitErr = l.cmd.Wait()
		close(l.exited)
	}()
	t.Cleanup(func() {
		l.stdin.Close()
		select {
		case <-l.exited:
		case <-time.After(netnsListenerStop):
			t.Errorf("netns listener: still running %v after its stdin was closed: killed", netnsListenerStop)
			l.cmd.Process.Kill()
			<-l.exited
		}
		if waitErr != nil && !t.Failed() {
			t.Errorf("netns listener: %v\n%s", waitErr, l.output())
		}
		if t.Failed() {
			t.Logf("netns listener output:\n%s", l.output())
		}
	})

	timeout := time.NewTimer(netnsListenerStart)
	defer timeout.Stop()
	for range addrs {
		select {
		case a := <-l.listen:
			l.Addrs = append(l.Addrs, a)
		case e := <-l.errs:
			t.Fatalf("netns listener: %s", e)
		case <-l.exited:
			t.Fatalf("netns listener exited before listening: %v\n%s", waitErr, l.output())
		case <-timeout.C:
			t.Fatalf("netns listener: not listening after %v\n%s", netnsListenerStart, l.output())
		}
	}
	return l
}

func (l *netnsListener) parse(line string) {
	rest, ok := strings.CutPrefix(line, netnsListenerPrefix)
	if !ok {
		return // the testing package's own lines
	}
	verb, rest, _ := strings.Cut(rest, " ")
	switch verb {
	case "LISTEN":
		if a, err := netip.ParseAddrPort(rest); err == nil {
			select {
			case l.listen <- a:
			default:
				l.report("one LISTEN line too many")
			}
			return
		}
	case "FROM":
		local, remote, _ := strings.Cut(rest, " ")
		la, err1 := netip.ParseAddrPort(local)
		ra, err2 := netip.ParseAddrPort(remote)
		if err1 == nil && err2 == nil {
			select {
			case l.from <- [2]netip.AddrPort{la, ra}:
			default:
				l.report("too many connections unread")
			}
			return
		}
	case "ERROR":
		l.report(rest)
		return
	}
	l.report("bad line " + line)
}

func (l *netnsListener) report(msg string) {
	select {
	case l.errs <- msg:
	default:
	}
}

// NextFrom waits up to timeout for the next connection the listener
// accepted and returns its source address; it must have reached local.
func (l *netnsListener) NextFrom(t *testing.T, local netip.AddrPort, timeout time.Duration) netip.AddrPort {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case f := <-l.from:
		if f[0] != local {
			t.Fatalf("netns listener: a connection to %v, want one to %v", f[0], local)
		}
		return f[1]
	case e := <-l.errs:
		t.Fatalf("netns listener: %s", e)
	case <-l.exited:
		t.Fatalf("netns listener exited:\n%s", l.output())
	case <-timer.C:
		t.Fatalf("netns listener: no connection to %v within %v", local, timeout)
	}
	return netip.AddrPort{}
}

func (l *netnsListener) output() string {
	return "stdout:\n" + l.out.String() + "stderr:\n" + l.stderr.String()
}

// lineWriter keeps what is written and calls line (if set) on each
// complete line.
type lineWriter struct {
	line func(string)

	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		s := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if w.line != nil {
			w.line(s)
		}
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// echoServer accepts connections on ln, reports each one's addresses and
// echoes what it sends until EOF.
type echoServer struct {
	ln     net.Listener
	report func(local, remote netip.AddrPort)
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

func newEchoServer(ln net.Listener, report func(local, remote netip.AddrPort)) *echoServer {
	s := &echoServer{ln: ln, report: report, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.routineAccept()
	return s
}

func (s *echoServer) routineAccept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed; a connection it failed to accept is never reported
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.report(addrPort(c.LocalAddr()), addrPort(c.RemoteAddr()))
		s.wg.Add(1)
		go s.routineEcho(c)
	}
}

func (s *echoServer) routineEcho(c net.Conn) {
	defer s.wg.Done()
	io.Copy(c, c)
	c.(*net.TCPConn).CloseWrite()
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Close stops accepting, closes the open connections and waits for them.
func (s *echoServer) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func addrPort(a net.Addr) netip.AddrPort {
	ap := a.(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
