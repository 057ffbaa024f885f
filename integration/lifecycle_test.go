package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
)

// How tor stops a PT, with 50 connections open through the pair: half of
// them have echoed data and are idle, half never sent anything (each holds
// a module instance in the client; the server takes none before a first
// byte), and two more are streaming data as fast as they can when the PT is
// asked to stop.

const (
	heldConns      = 50
	streamingConns = 2
	// exitWithin is how fast tor wants a PT gone once it asks (it sends
	// SIGKILL soon after).
	exitWithin = time.Second
)

// sigintMessage is the notice the PT sends tor on the first SIGINT.
const sigintMessage = "SIGINT: no longer accepting connections; open ones may finish; SIGINT again to exit"

// TestLifecycle checks every way tor asks a PT to stop.
func TestLifecycle(t *testing.T) {
	t.Run("stdin-close", func(t *testing.T) {
		p := startLeanPair(t, tortest.PairConfig{})
		held := openHeld(t, p, heldConns)
		marks := []time.Time{p.Client.CloseStdin(), p.Server.CloseStdin()}
		requireExit(t, p, marks)
		held.requireClosed(t)
	})

	t.Run("sigterm", func(t *testing.T) {
		// Without TOR_PT_EXIT_ON_STDIN_CLOSE=1 a closed stdin means nothing:
		// the PT must keep serving until the SIGTERM.
		noStdin := []string{"TOR_PT_EXIT_ON_STDIN_CLOSE=0"}
		p := startLeanPair(t, tortest.PairConfig{ClientEnv: noStdin, ServerEnv: noStdin})
		held := openHeld(t, p, heldConns)
		p.Client.CloseStdin()
		p.Server.CloseStdin()
		echoOnce(t, p, 64<<10)
		held.echoAll(t)
		if p.Client.Exited() || p.Server.Exited() {
			t.Fatal("a PT exited on stdin close without TOR_PT_EXIT_ON_STDIN_CLOSE=1")
		}
		marks := []time.Time{sendSignal(t, p.Client, syscall.SIGTERM), sendSignal(t, p.Server, syscall.SIGTERM)}
		requireExit(t, p, marks)
		held.requireClosed(t)
	})

	t.Run("sigint-twice", func(t *testing.T) {
		p := startLeanPair(t, tortest.PairConfig{})
		held := openHeld(t, p, heldConns)
		firstSIGINT(t, p)
		// The open connections still carry data, both ways, end to end.
		held.echoAll(t)
		marks := []time.Time{sendSignal(t, p.Client, os.Interrupt), sendSignal(t, p.Server, os.Interrupt)}
		requireExit(t, p, marks)
		held.requireClosed(t)
	})

	// After the first SIGINT, the PTs exit by themselves once their last
	// connection has ended. This depends on how the module passes on the
	// end of a connection, so it runs with the shipped module too (with
	// fewer connections: instantiating it is slow under -race).
	drain := func(t *testing.T, p *tortest.Pair, n int) {
		held := openHeld(t, p, n)
		firstSIGINT(t, p)
		held.echoAll(t)
		if p.Client.Exited() || p.Server.Exited() {
			t.Fatal("a PT exited with connections still open")
		}
		mark := p.Client.Mark()
		p.Server.Mark()
		held.closeAll()
		requireExit(t, p, []time.Time{mark, mark})
	}
	t.Run("sigint-drain", func(t *testing.T) {
		drain(t, startLeanPair(t, tortest.PairConfig{}), heldConns)
	})
	t.Run("sigint-drain-shipped-module", func(t *testing.T) {
		drain(t, startWaterPair(t, tortest.PairConfig{}), 6)
	})
}

// TestConcurrentFirstConnections starts client PTs that find their module
// already in the compilation cache (as on every start of tor but the first)
// and gives each 50 connections at once before any other: each must carry
// its data and the PT must survive. This is how tor starts up with several
// bridges that use the same module.
func TestConcurrentFirstConnections(t *testing.T) {
	p := startLeanPair(t, tortest.PairConfig{})
	echoOnce(t, p, 1024) // the module is now in the compilation cache
	bin := tortest.Build(t)
	args := append(wazeroCacheArgs(t), "-watm-dir", testdataDir(t))
	for round := range 10 {
		env := tortest.ClientEnv(filepath.Join(t.TempDir(), "pt_state"), []string{"water"}, "")
		client := tortest.Start(t, bin, env, args...)
		ms, err := client.WaitDone(ctxTimeout(t, 30*time.Second))
		if err != nil || len(ms) != 1 {
			t.Fatalf("round %d: %v %v", round, ms, err)
		}
		fresh := &tortest.Pair{Client: client, Server: p.Server, ExtOR: p.ExtOR, ServerMethod: p.ServerMethod, ClientMethod: ms[0]}
		echoConcurrently(t, fresh, heldConns, 4<<10)
		client.CloseStdin()
		if code := waitExit(t, client, 5*time.Second); code != 0 {
			t.Errorf("round %d: exit status %d", round, code)
		}
		noStderr(t, client)
		if t.Failed() {
			t.FailNow()
		}
	}
	stopPair(t, p)
}

// held are the connections open through a pair while it is stopped.
type held struct {
	conns     []net.Conn
	streams   []net.Conn
	streaming sync.WaitGroup
	streamErr chan error
}

// openHeld opens n connections through the pair (every other one
// echoes 16 KiB first, the rest stay silent) and streamingConns that keep
// writing and reading until the PT goes away, and waits until the ExtORPort
// has all of them.
func openHeld(t *testing.T, p *tortest.Pair, n int) *held {
	t.Helper()
	ctx := ctxTimeout(t, time.Minute)
	h := &held{conns: make([]net.Conn, n), streamErr: make(chan error, streamingConns)}
	// One connection first, so that the client loads its module before the
	// rush (concurrent first loads are TestConcurrentFirstConnections').
	echoOnce(t, p, 1024)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range h.conns {
		wg.Go(func() {
			c, err := p.Dial(ctx)
			if err != nil {
				errs <- fmt.Errorf("held conn %d: %w", i, err)
				return
			}
			h.conns[i] = c
			if i%2 == 0 {
				if err := tortest.CheckEcho(c, 16<<10); err != nil {
					errs <- fmt.Errorf("held conn %d: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	t.Cleanup(func() { h.closeAll(); h.streaming.Wait() })
	for err := range errs {
		t.Fatal(err)
	}
	for i := range streamingConns {
		c, err := p.Dial(ctx)
		if err != nil {
			t.Fatalf("streaming conn %d: %v", i, err)
		}
		h.streams = append(h.streams, c)
		// Reading starts at once, so the echo never stalls on us.
		h.streaming.Go(func() { io.Copy(io.Discard, c) })
		h.streaming.Go(func() {
			_, err := io.Copy(c, tortest.NewStream(uint64(i)))
			h.streamErr <- err
		})
	}
	// Those that never sent anything are waiting for their first byte in
	// the server and have no ExtORPort connection (-server-idle-timeout).
	if _, err := p.ExtOR.WaitSessions(ctx, 1+(n+1)/2+streamingConns); err != nil {
		t.Fatal(err)
	}
	return h
}

// echoAll checks that every held connection still echoes.
func (h *held) echoAll(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(h.conns))
	for i, c := range h.conns {
		wg.Go(func() {
			c.SetDeadline(time.Now().Add(30 * time.Second))
			defer c.SetDeadline(time.Time{})
			if err := tortest.CheckEcho(c, 4<<10); err != nil {
				errs <- fmt.Errorf("held conn %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// requireClosed checks, once the PTs are gone, that every held connection
// is closed (not just silent) and that the streams ended with an error.
func (h *held) requireClosed(t *testing.T) {
	t.Helper()
	for i, c := range h.conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Errorf("held conn %d is still open after the PT exited", i)
		}
	}
	for range streamingConns {
		select {
		case err := <-h.streamErr:
			if err == nil {
				t.Error("a stream's writer ended without an error")
			}
		case <-time.After(5 * time.Second):
			t.Error("a stream still writes after the PT exited")
		}
	}
	h.streaming.Wait()
}

func (h *held) closeAll() {
	for _, c := range append(h.conns, h.streams...) {
		if c != nil {
			c.Close()
		}
	}
}

func sendSignal(t *testing.T, pt *tortest.PT, sig os.Signal) time.Time {
	t.Helper()
	mark, err := pt.Signal(sig)
	if err != nil {
		t.Fatalf("sending %v: %v", sig, err)
	}
	return mark
}

// requireExit waits for both PTs to exit (client first in marks) and
// requires status 0 within exitWithin of their mark, and an empty stderr.
func requireExit(t *testing.T, p *tortest.Pair, marks []time.Time) {
	t.Helper()
	for i, side := range []struct {
		name string
		pt   *tortest.PT
	}{{"client", p.Client}, {"server", p.Server}} {
		code, _, err := side.pt.Wait(10 * time.Second)
		if err != nil {
			t.Fatalf("%s: %v", side.name, err)
		}
		if d := side.pt.ExitTime().Sub(marks[i]); d > exitWithin {
			t.Errorf("%s exited %v after being asked, want at most %v", side.name, d, exitWithin)
		}
		if code != 0 {
			t.Errorf("%s exited with status %d, want 0", side.name, code)
		}
		noStderr(t, side.pt)
	}
}

// firstSIGINT sends both PTs SIGINT and waits until they say so to tor and
// no longer accept: the client's SOCKS port and the bridge port refuse
// connections.
func firstSIGINT(t *testing.T, p *tortest.Pair) {
	t.Helper()
	sendSignal(t, p.Client, os.Interrupt)
	sendSignal(t, p.Server, os.Interrupt)
	ctx := ctxTimeout(t, 10*time.Second)
	for _, pt := range []*tortest.PT{p.Client, p.Server} {
		if err := waitLog(ctx, pt, "notice", sigintMessage); err != nil {
			t.Fatal(err)
		}
	}
	waitRefused(t, ctx, p.ClientMethod.Addr)
	waitRefused(t, ctx, p.ServerMethod.Addr)
	// tor's SOCKS dial fails too.
	if _, rep, err := tortest.DialSOCKS(ctx, p.ClientMethod.Addr, p.ServerMethod.Addr, p.ServerMethod.Args); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("SOCKS dial after SIGINT: reply 0x%02x, err %v; want connection refused", rep, err)
	}
	if p.Client.Exited() || p.Server.Exited() {
		t.Fatal("a PT exited on the first SIGINT with connections open")
	}
}

// waitRefused waits until addr refuses TCP connections: the listener is
// closed a moment after the PT announces it.
func waitRefused(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if errors.Is(err, syscall.ECONNRESET) {
			// Caught in the backlog as the listener closed: try again.
			continue
		}
		if err != nil {
			t.Fatalf("%s: want connection refused after SIGINT, got %v", addr, err)
		}
		c.Close()
		select {
		case <-ctx.Done():
			t.Fatalf("%s still accepts connections after SIGINT", addr)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// startLeanPair is startWaterPair with watm/testdata/ok_plain.wasm, a
// hand-written passthrough of 1.4 KB, on both sides (the client finds it by
// name in its -watm-dir): instantiating the shipped modules, built with Go,
// costs far more under -race, and what is tested here is the PT, not the
// module.
func startLeanPair(t *testing.T, cfg tortest.PairConfig) *tortest.Pair {
	t.Helper()
	td := testdataDir(t)
	cfg.ServerOptions = append(cfg.ServerOptions, tortest.KV{Key: "watm", Value: filepath.Join(td, "ok_plain.wasm")})
	cfg.ClientArgs = append(cfg.ClientArgs, "-watm-dir", td)
	p := startWaterPair(t, cfg)
	if got, _ := lookupKV(p.ServerMethod.Args, "watm"); got != "ok_plain" {
		t.Fatalf("SMETHOD ARGS %v: want watm=ok_plain", p.ServerMethod.Args)
	}
	return p
}

func lookupKV(kvs []tortest.KV, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}
