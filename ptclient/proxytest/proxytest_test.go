package proxytest_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/water-pt/water-pt/ptclient/proxytest"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// openTunnel opens a tunnel through srv to target with raw protocol bytes
// (no ptclient code involved) and checks that it echoes.
func openTunnel(t *testing.T, srv *proxytest.Server, target string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	switch srv.URL().Scheme {
	case "socks5":
		ap, err := netip.ParseAddrPort(target)
		if err != nil {
			t.Fatal(err)
		}
		// Greeting (no-auth), then CONNECT to an IPv4 address.
		req := append([]byte{5, 1, 0, 5, 1, 0, 1}, ap.Addr().AsSlice()...)
		req = append(req, byte(ap.Port()>>8), byte(ap.Port()))
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		reply := make([]byte, 2+10)
		if _, err := io.ReadFull(c, reply); err != nil {
			t.Fatal(err)
		}
		if string(reply[:4]) != "\x05\x00\x05\x00" {
			t.Fatalf("socks5 replies % x, want 05 00 then 05 00 ...", reply)
		}
	case "http":
		if _, err := io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("CONNECT: %s", resp.Status)
		}
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
		t.Fatalf("echo: %q, %v", b, err)
	}
	return c
}

func TestCloseEndsTunnels(t *testing.T) {
	target := watmtest.Echo(t).Address()
	for name, start := range map[string]func(testing.TB, proxytest.Options) *proxytest.Server{
		"socks5": proxytest.StartSOCKS5,
		"http":   proxytest.StartHTTP,
	} {
		t.Run(name, func(t *testing.T) {
			srv := start(t, proxytest.Options{})
			c := openTunnel(t, srv, target)
			if srv.Connections() != 1 || srv.Tunnels() != 1 {
				t.Errorf("%d connections, %d tunnels; want 1, 1", srv.Connections(), srv.Tunnels())
			}

			// Close returns, with the tunnel still open on the client's
			// side, and the client sees its end.
			closed := make(chan struct{})
			go func() {
				srv.Close()
				close(closed)
			}()
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not return with a tunnel open")
			}
			srv.Close() // again: a no-op
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := c.Read(make([]byte, 1)); err == nil {
				t.Errorf("read %d bytes from a closed proxy", n)
			}
			if _, err := net.Dial("tcp", srv.Addr()); err == nil {
				t.Error("the proxy still accepts after Close")
			}
		})
	}
}
