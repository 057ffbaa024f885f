package watm_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// TestV1Pairs runs v1 on both sides, and v0 against v1 (the same wire
// protocol), with byte checks both ways.
func TestV1Pairs(t *testing.T) {
	watmtest.LeakCheck(t)
	rt := newRuntime(t)
	v0, v1 := shipped(t, rt, "plain"), shipped(t, rt, "plain_v1")
	if v1.Version() != 1 || v0.Version() != 0 {
		t.Fatalf("versions: plain %d, plain_v1 %d", v0.Version(), v1.Version())
	}
	for name, pair := range map[string][2]*watm.Module{"v1-v1": {v1, v1}, "v0-v1": {v0, v1}, "v1-v0": {v1, v0}} {
		t.Run(name, func(t *testing.T) {
			c, s := wrappedPair(t, pair[0], pair[1])
			if err := watmtest.Exchange(c, s, watmtest.RandomBytes(8<<20, 1), watmtest.RandomBytes(8<<20, 2)); err != nil {
				t.Fatal(err)
			}
			closeClean(t, c, s)
		})
	}
}

func TestV1Relay(t *testing.T) {
	rt := newRuntime(t)
	m := shipped(t, rt, "plain_v1")
	dst, front := watmtest.Listen(t), watmtest.Listen(t)
	stop := serveRelay(t, &watm.Relay{Module: m, Config: watm.ConnConfig{Dial: dst.Dial}}, front.Listener)
	a, err := net.Dial("tcp", front.Address())
	if err != nil {
		t.Fatal(err)
	}
	b, err := dst.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if err := watmtest.SendAndCheck(a, b, watmtest.RandomBytes(4<<20, 3)); err != nil {
		t.Fatal(err)
	}
	if err := watmtest.SendAndCheck(b, a, watmtest.RandomBytes(4<<20, 4)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	wantClean(t, stop(1))
}

// TestV1CtrlpipeStop checks that Close asks a v1 module to stop through its
// control pipe and the module stops by itself, well within the grace.
func TestV1CtrlpipeStop(t *testing.T) {
	rt := newRuntime(t, watm.WithGrace(5*time.Second))
	m := shipped(t, rt, "plain_v1")
	c, s := wrappedPair(t, m, m)
	start := time.Now()
	if err := c.Session().Close(); err != nil {
		t.Fatalf("Close: %v (the module should have stopped by itself)", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("stopping took %v: the module did not answer its control pipe", d)
	}
	if err := c.Session().Wait(); err != nil {
		t.Errorf("Wait after a requested stop: %v", err)
	}
	s.Close()
}

// readPlain prepares a dialer on a TCP pair and returns what the module
// wrote to the plaintext side.
func readPlain(t *testing.T, m *watm.Module, cc watm.ConnConfig) (string, error) {
	a, b := watmtest.Pair(t)
	s, err := m.Prepare(context.Background(), watm.RoleDialer, a, cc)
	if err != nil {
		return "", err
	}
	s.Start()
	if err := s.Wait(); err != nil {
		return "", err
	}
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(b)
	return string(got), err
}

// hangUp is a watmtest.Serve handler that closes each connection at once.
func hangUp(net.Conn) {}

func TestConfigDelivery(t *testing.T) {
	rt := newRuntime(t)
	srv := watmtest.Serve(t, hangUp)
	addr := srv.Address()
	v0, err := fixture(t, rt, "v0_config")
	if err != nil {
		t.Fatal(err)
	}
	v1, err := fixture(t, rt, "v1_config_dial")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		m    *watm.Module
		cfg  []byte
		want string
	}{
		{"v0 pull_config", v0, []byte("config for v0"), "config for v0"},
		{"v0 no config", v0, nil, "none"},
		{"v1 /conf/watm.cfg", v1, []byte(addr), addr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readPlain(t, c.m, watm.ConnConfig{Config: c.cfg, Dial: srv.Dial, Destination: addr})
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("module saw config %q, want %q", got, c.want)
			}
		})
	}
}

// TestDialPolicy uses a v1 module that dials the address in its config
// itself (water_dial): the default policy allows only the host's
// destination; a caller's policy can allow more.
func TestDialPolicy(t *testing.T) {
	rt := newRuntime(t)
	m, err := fixture(t, rt, "v1_config_dial")
	if err != nil {
		t.Fatal(err)
	}
	allowed, other := watmtest.Serve(t, hangUp), watmtest.Serve(t, hangUp)
	dest, otherAddr := allowed.Address(), other.Address()
	base := watm.ConnConfig{Dial: allowed.Dial, Destination: dest}

	t.Run("default allows the destination", func(t *testing.T) {
		cc := base
		cc.Config = []byte(dest)
		if _, err := readPlain(t, m, cc); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("default denies anything else", func(t *testing.T) {
		cc := base
		cc.Config = []byte(otherAddr)
		_, err := readPlain(t, m, cc)
		var pe *watm.PolicyError
		if !errors.As(err, &pe) || pe.Address != otherAddr ||
			!strings.Contains(err.Error(), "denied by the default dial policy: a module may dial only the host's destination") {
			t.Fatalf("error %v, want a PolicyError for %s", err, otherAddr)
		}
	})
	t.Run("custom policy allows another address", func(t *testing.T) {
		cc := base
		cc.Config = []byte(otherAddr)
		cc.Policy = func(network, address string) bool { return network == "tcp" && address == otherAddr }
		if _, err := readPlain(t, m, cc); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("custom policy denies", func(t *testing.T) {
		cc := base
		cc.Config = []byte(dest)
		cc.Policy = func(string, string) bool { return false }
		_, err := readPlain(t, m, cc)
		if err == nil || !strings.Contains(err.Error(), "watm: watm_dial_fixed_v1: dial tcp "+dest+" denied by the dial policy") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestV1DialEntry checks the v1 entry table as upstream uses it: a module
// exporting both dial entries is entered through watm_dial_v1 when the host
// knows the destination (the module's watm_dial_fixed_v1 would dial its own
// hard-coded address).
func TestV1DialEntry(t *testing.T) {
	rt := newRuntime(t)
	m, err := fixture(t, rt, "v1_dial_entries")
	if err != nil {
		t.Fatal(err)
	}
	srv := watmtest.Serve(t, hangUp)
	got, err := readPlain(t, m, watm.ConnConfig{Dial: srv.Dial, Destination: srv.Address()})
	if err != nil {
		t.Fatal(err)
	}
	if got != "watm_dial_v1" {
		t.Errorf("host called %q, want watm_dial_v1", got)
	}
}

func TestV1Validation(t *testing.T) {
	rt := newRuntime(t)
	_, err := fixture(t, rt, "v1_missing_start")
	want := []string{"watm: invalid v1 module: watm_start_v1 missing", "watm_accept_v1 has type (i32,i32)->i32, want (i32)->i32"}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not contain %q", err, w)
		}
	}
	_, err = fixture(t, rt, "v1_minimal")
	if w := "watm: invalid v1 module: no role entry point: export watm_dial_v1, watm_dial_fixed_v1, watm_accept_v1 or watm_associate_v1"; err == nil || err.Error() != w {
		t.Errorf("v1_minimal: %v\nwant %s", err, w)
	}
}

// TestTrustedAndChecked loads the same bytes both ways: two modules, each
// carrying data, each stopping through its cancel channel when closed.
func TestTrustedAndChecked(t *testing.T) {
	rt := newRuntime(t)
	b, _ := os.ReadFile("testdata/ok_plain.wasm")
	checked, err := rt.Load(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := rt.LoadTrusted(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if checked == trusted || checked.Trusted() || !trusted.Trusted() || checked.SHA256() != trusted.SHA256() {
		t.Fatalf("Load and LoadTrusted: same module %v, trusted %v/%v", checked == trusted, checked.Trusted(), trusted.Trusted())
	}
	for _, m := range []*watm.Module{checked, trusted} {
		c, s := wrappedPair(t, m, m)
		if err := watmtest.SendAndCheck(c, s, watmtest.RandomBytes(1<<20, 8)); err != nil {
			t.Fatal(err)
		}
		if err := c.Session().Close(); err != nil {
			t.Errorf("trusted=%v: Close: %v", m.Trusted(), err)
		}
	}
}
