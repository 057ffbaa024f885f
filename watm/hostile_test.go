package watm_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// TestLoadRejects checks that a module that is wrong gets one error naming
// each problem.
func TestLoadRejects(t *testing.T) {
	rt := newRuntime(t)
	cases := []struct {
		fixture string
		want    []string
	}{
		{"missing_worker", []string{"watm: invalid v0 module: _water_worker missing"}},
		{"wrong_sig", []string{
			"_water_init has type ()->i64, want ()->i32",
			"_water_dial has type (i64)->i32, want (i32)->i32"}},
		{"no_marker", []string{"module has no WATER version marker: export _water_v0 (v0) or watm_init_v1, watm_ctrlpipe_v1, watm_start_v1 (v1); it exports: "}},
		{"both_markers", []string{"module declares two ABI versions: v0 marker _water_v0 and v1 exports watm_ctrlpipe_v1, watm_init_v1, watm_start_v1"}},
		{"bad_import", []string{"import env.host_dial has type (i32)->i32, want ()->i32"}},
		{"unknown_import", []string{"imports unknown function env.no_such_function"}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			_, err := fixture(t, rt, c.fixture)
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
	if _, err := rt.Load(context.Background(), []byte("not wasm at all")); err == nil ||
		!strings.Contains(err.Error(), "not a WebAssembly module") {
		t.Errorf("garbage bytes: %v", err)
	}
}

// TestFixturesThatWork runs modules written in WAT (a lean passthrough, one
// whose v0 marker is a global as Rust builds have, one whose _start calls
// proc_exit(0) as TinyGo's does) against the shipped plain listener.
func TestFixturesThatWork(t *testing.T) {
	rt := newRuntime(t)
	plain := shipped(t, rt, "plain")
	for _, name := range []string{"ok_plain", "global_marker", "start_exit0"} {
		t.Run(name, func(t *testing.T) {
			m, err := fixture(t, rt, name)
			if err != nil {
				t.Fatal(err)
			}
			for _, pair := range [][2]*watm.Module{{m, plain}, {plain, m}} {
				c, s := wrappedPair(t, pair[0], pair[1])
				if err := watmtest.SendAndCheck(c, s, watmtest.RandomBytes(1<<20, 5)); err != nil {
					t.Fatal(err)
				}
				if err := watmtest.SendAndCheck(s, c, watmtest.RandomBytes(1<<20, 6)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// bystander is a plain connection that keeps echoing while a hostile
// module runs beside it.
type bystander struct {
	c *watm.Conn
}

func newBystander(t *testing.T, rt *watm.Runtime) *bystander {
	m := shipped(t, rt, "plain")
	srv := echoServer(t, m)
	c, err := (&watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: srv.Dial}}).DialContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &bystander{c: c}
}

func (b *bystander) check(t *testing.T) {
	t.Helper()
	msg := watmtest.RandomBytes(64<<10, 11)
	b.c.SetDeadline(time.Now().Add(10 * time.Second))
	go b.c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(b.c, got); err != nil {
		t.Fatalf("the plain connection beside the hostile module broke: %v", err)
	}
}

// TestHostileModules runs each hostile fixture as a dialer and checks the
// error that ends its connection, the time it takes, and that a plain
// connection beside it is unharmed.
func TestHostileModules(t *testing.T) {
	rt := newRuntime(t, watm.WithMemoryLimitPages(256), watm.WithGrace(200*time.Millisecond))
	by := newBystander(t, rt)
	srv := watmtest.Echo(t)
	cases := []struct {
		fixture string
		close   bool   // the worker never ends: the test closes the session
		want    string // in the error of Prepare, Close or Wait
		as      any    // the error's type
	}{
		{"trap_init", false, "watm: _water_init trapped: wasm error: unreachable", new(*watm.TrapError)},
		{"spin_worker", true, "watm: _water_worker stopped by force", new(*watm.StopError)},
		{"grow_forever", false, "watm: _water_worker trapped: wasm error: unreachable", new(*watm.TrapError)},
		{"bad_pointers", false, "watm: _water_worker returned errno 21 (EFAULT)", nil},
		{"foreign_fd", false, "watm: _water_worker returned errno 8 (EBADF)", nil},
		{"exit_in_worker", false, "watm: module called proc_exit(3) during _water_worker", new(*watm.ExitError)},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			m, err := fixture(t, rt, c.fixture)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := watmtest.Pair(t)
			start := time.Now()
			s, err := m.Prepare(context.Background(), watm.RoleDialer, a, watm.ConnConfig{Dial: srv.Dial})
			if err == nil {
				s.Start()
				if c.close {
					err = s.Close()
				} else {
					select {
					case <-s.Done():
						err = s.Wait()
					case <-time.After(10 * time.Second):
						t.Fatal("the hostile module's connection did not end within 10 s")
					}
				}
			}
			elapsed := time.Since(start)
			if s != nil && s.Behaviour().CancelIgnored != c.close {
				t.Errorf("Behaviour().CancelIgnored = %v, want %v", s.Behaviour().CancelIgnored, c.close)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if c.as != nil && !errors.As(err, c.as) {
				t.Errorf("error %T is not %T", err, c.as)
			}
			if elapsed > 5*time.Second {
				t.Errorf("took %v to end", elapsed)
			}
			by.check(t)
		})
	}
}

// TestDialLimit checks that a module that calls host_dial again and again
// gets a negative errno past the bound, and the host dials only that often.
func TestDialLimit(t *testing.T) {
	rt := newRuntime(t)
	m, err := fixture(t, rt, "dial_flood")
	if err != nil {
		t.Fatal(err)
	}
	srv := watmtest.Echo(t)
	var dials atomic.Int32
	dial := func(ctx context.Context) (net.Conn, error) {
		dials.Add(1)
		return srv.Dial(ctx)
	}
	a, _ := watmtest.Pair(t)
	s, err := m.Prepare(context.Background(), watm.RoleDialer, a, watm.ConnConfig{Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if n := dials.Load(); n != watm.DefaultMaxDials {
		t.Errorf("host dialed %d times, want the limit %d", n, watm.DefaultMaxDials)
	}
}

// startDialer prepares and starts a dialer session of m on one end of a
// loopback TCP connection, reaching an echo server.
func startDialer(t *testing.T, m *watm.Module) *watm.Session {
	t.Helper()
	srv := watmtest.Echo(t)
	a, _ := watmtest.Pair(t)
	s, err := m.Prepare(context.Background(), watm.RoleDialer, a, watm.ConnConfig{Dial: srv.Dial})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	return s
}

// TestCloseKeepsWorkerError checks that a worker that fails while it
// answers the cancel channel (cancel_trap traps instead of returning) is
// reported by Close and Wait, not taken for the cancellation Close asked
// for, and that the shipped plain module's answer (ECANCELED) is a clean
// end.
func TestCloseKeepsWorkerError(t *testing.T) {
	rt := newRuntime(t)
	m, err := fixture(t, rt, "cancel_trap")
	if err != nil {
		t.Fatal(err)
	}
	s := startDialer(t, m)
	const want = "watm: _water_worker trapped: wasm error: unreachable"
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Close: %v, want %q", err, want)
	}
	if err := s.Wait(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Wait: %v, want %q", err, want)
	}

	s = startDialer(t, shipped(t, rt, "plain"))
	if err := s.Close(); err != nil {
		t.Errorf("plain: Close: %v, want nil", err)
	}
	if err := s.Wait(); err != nil {
		t.Errorf("plain: Wait: %v, want nil", err)
	}
}
