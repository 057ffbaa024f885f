package integration

import (
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
)

// TestModuleArgsReachModule gives the client PT a bridge line whose args
// water-pt does not consume; the module (v0_config, which writes back the
// config it pulled) must receive them encoded as contract 2 says: sorted,
// ';'-joined, with '\', ';' and '=' escaped.
func TestModuleArgsReachModule(t *testing.T) {
	p := startWaterPair(t, tortest.PairConfig{})
	bridge, err := net.Listen("tcp", "127.0.0.1:0") // the module dials it and sends nothing
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := bridge.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() { bridge.Close(); <-accepted }()
	args := []tortest.KV{
		{Key: "watm", Value: filepath.Join(testdataDir(t), "v0_config.wasm")},
		{Key: "iat-mode", Value: "0"},
		{Key: "cert", Value: "AbC=="},
		{Key: "odd;key", Value: `a\b`},
	}
	ctx := ctxTimeout(t, 30*time.Second)
	c, rep, err := tortest.DialSOCKS(ctx, p.ClientMethod.Addr, bridge.Addr().String(), args)
	if err != nil {
		t.Fatalf("SOCKS reply 0x%02x: %v", rep, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `cert=AbC\=\=;iat-mode=0;odd\;key=a\\b`; string(got) != want {
		t.Errorf("the module's config is %q, want %q", got, want)
	}
	stopPair(t, p)
}
