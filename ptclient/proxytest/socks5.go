package proxytest

import (
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/water-pt/water-pt/ptclient"
)

// serveSOCKS5 serves one SOCKS5 CONNECT request (RFC 1928, RFC 1929).
func (s *Server) serveSOCKS5(c net.Conn) {
	// Method negotiation: VER NMETHODS METHODS -> VER METHOD.
	ver, ok := readN(c, 1)
	if !ok || ver[0] != 5 {
		return
	}
	methods, ok := readString(c)
	if !ok {
		return
	}
	method := byte(0xff)
	switch {
	case s.opts.Username != "":
		if slices.Contains(methods, 0x02) {
			method = 0x02
		}
	case slices.Contains(methods, 0x00):
		method = 0x00
	case slices.Contains(methods, 0x02):
		method = 0x02
	}
	if _, err := c.Write([]byte{5, method}); err != nil || method == 0xff {
		return
	}

	// RFC 1929: VER=1 ULEN UNAME PLEN PASSWD -> VER=1 STATUS.
	if method == 0x02 {
		ver, ok := readN(c, 1)
		if !ok {
			return
		}
		user, ok := readString(c)
		if !ok {
			return
		}
		pass, ok := readString(c)
		if !ok {
			return
		}
		if ver[0] != 1 || s.opts.Username != "" && !s.checkCredentials(string(user), string(pass)) {
			_, _ = c.Write([]byte{1, 1})
			return
		}
		if _, err := c.Write([]byte{1, 0}); err != nil {
			return
		}
	}

	// Request: VER CMD RSV ATYP DST.ADDR DST.PORT.
	req, ok := readN(c, 4)
	if !ok {
		return
	}
	if req[0] != 5 || req[1] != 1 {
		writeSOCKS5Reply(c, ptclient.ReplyCommandNotSupported, nil)
		return
	}
	var host string
	switch req[3] {
	case 1, 4:
		n := 4
		if req[3] == 4 {
			n = 16
		}
		a, ok := readN(c, n)
		if !ok {
			return
		}
		ip, _ := netip.AddrFromSlice(a)
		host = ip.String()
	case 3:
		name, ok := readString(c)
		if !ok {
			return
		}
		host = string(name)
	default:
		writeSOCKS5Reply(c, ptclient.ReplyAddressNotSupported, nil)
		return
	}
	port, ok := readN(c, 2)
	if !ok {
		return
	}
	t, err := s.dial(net.JoinHostPort(host, strconv.Itoa(int(port[0])<<8|int(port[1]))))
	if err != nil {
		writeSOCKS5Reply(c, ptclient.ReplyForError(err), nil)
		return
	}
	defer s.untrack(t)
	if !writeSOCKS5Reply(c, ptclient.ReplySucceeded, t.LocalAddr()) {
		return
	}
	s.tunnels.Add(1)
	relay(c, c, t)
}

func readN(c net.Conn, n int) ([]byte, bool) {
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	return b, err == nil
}

// readString reads a length byte and that many bytes.
func readString(c net.Conn) ([]byte, bool) {
	n, ok := readN(c, 1)
	if !ok {
		return nil, false
	}
	return readN(c, int(n[0]))
}

func writeSOCKS5Reply(c net.Conn, code ptclient.ReplyCode, bound net.Addr) bool {
	ap := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if ta, ok := bound.(*net.TCPAddr); ok {
		ap = ta.AddrPort()
	}
	b := []byte{5, byte(code), 0, 1}
	if a := ap.Addr().Unmap(); a.Is4() {
		b = append(b, a.AsSlice()...)
	} else {
		b[3] = 4
		b = append(b, a.AsSlice()...)
	}
	b = append(b, byte(ap.Port()>>8), byte(ap.Port()))
	_, err := c.Write(b)
	return err == nil
}
