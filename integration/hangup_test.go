package integration

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// Modules that never look at their sockets or cancel channel outlive
// nothing: for each (one spins without host calls, one calls poll_oneoff
// with no subscriptions in a loop, one waits on an hour-long clock), the
// SOCKS client closes, and within a second the bridge connection is closed
// and the client process is back to idle (under 5% of a core), while a
// plain connection beside them keeps echoing intact.
func TestStuckModuleEndsWithClient(t *testing.T) {
	bin := tortest.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stuck := []string{"spin_worker", "poll_empty_worker", "clock_worker"}
	dir := testdataDir(t)
	client := tortest.Start(t, bin, standaloneEnv(t), append([]string{"client", "-listen", "127.0.0.1:0", "-watm-dir", dir},
		wazeroCacheArgs(t)...)...)
	l, err := client.WaitLine(ctx, "water-pt client: SOCKS5 on ")
	if err != nil {
		t.Fatal(err)
	}
	socksAddr := parseListenLine(t, l.Text, "water-pt client: SOCKS5 on ", "")
	echo := watmtest.Echo(t)
	by, _, err := tortest.DialSOCKS(ctx, socksAddr, echo.Address(), []tortest.KV{{Key: "watm", Value: "plain"}})
	if err != nil {
		t.Fatal(err)
	}
	defer by.Close()
	bridge := startBridge(t)
	for _, name := range stuck {
		t.Run(name, func(t *testing.T) {
			c, _, err := tortest.DialSOCKS(ctx, socksAddr, bridge.addr(), []tortest.KV{{Key: "watm", Value: name}})
			if err != nil {
				t.Fatal(err)
			}
			var bc net.Conn
			select {
			case bc = <-bridge.conns:
			case <-ctx.Done():
				t.Fatal("the module never reached the bridge")
			}
			defer bc.Close()
			if err := tortest.CheckEchoSeed(by, 1<<20, 1); err != nil {
				t.Fatalf("the plain connection beside %s: %v", name, err)
			}
			busy := cpuShare(t, client.Pid(), 300*time.Millisecond)
			c.Close()
			left := time.Now()
			bc.SetReadDeadline(left.Add(5 * time.Second))
			if n, err := bc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("bridge read after the client left: %d, %v; want EOF", n, err)
			}
			d := time.Since(left)
			if d > time.Second {
				t.Errorf("the bridge connection closed %v after the client left, want within 1 s", d)
			}
			cpu := cpuShare(t, client.Pid(), time.Second)
			if cpu >= 0.05 {
				t.Errorf("the client process used %.0f%% of a core in the second after, want under 5%%", cpu*100)
			}
			t.Logf("%.0f%% of a core while it ran; bridge closed %v after the client left; then %.1f%% of a core",
				busy*100, d.Round(time.Millisecond), cpu*100)
			if err := tortest.CheckEchoSeed(by, 1<<20, 2); err != nil {
				t.Fatalf("the plain connection beside %s after it ended: %v", name, err)
			}
		})
	}
}

// A module whose init waits 60 s, under -watm-setup-timeout 500ms: the
// client refuses the SOCKS request with TTL expired and the server closes
// the connection, both at the deadline and with a log line naming the
// timeout and the flag.
func TestSetupTimeoutFlag(t *testing.T) {
	bin := tortest.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := testdataDir(t)
	const wantLog = "module set-up timed out"
	const wantFlag = "raise -watm-setup-timeout"
	const wantTimeout = "timeout=500ms func=_water_init"
	const wantErr = `err="watm: module set-up did not finish within the set-up timeout of 500ms (in _water_init): instance stopped"`

	t.Run("client", func(t *testing.T) {
		client := tortest.Start(t, bin, standaloneEnv(t), append([]string{"client", "-listen", "127.0.0.1:0",
			"-watm-dir", dir, "-watm-setup-timeout", "500ms"}, wazeroCacheArgs(t)...)...)
		l, err := client.WaitLine(ctx, "water-pt client: SOCKS5 on ")
		if err != nil {
			t.Fatal(err)
		}
		socksAddr := parseListenLine(t, l.Text, "water-pt client: SOCKS5 on ", "")
		bridge := startBridge(t)
		start := time.Now()
		c, rep, err := tortest.DialSOCKS(ctx, socksAddr, bridge.addr(), []tortest.KV{{Key: "watm", Value: "slow_init"}})
		elapsed := time.Since(start)
		if err == nil {
			c.Close()
			t.Fatal("the SOCKS request was granted")
		}
		if rep != tortest.ReplyTTLExpired {
			t.Errorf("SOCKS reply %#x (%v), want TTL expired (0x06)", rep, err)
		}
		if elapsed < 500*time.Millisecond || elapsed > 2*time.Second {
			t.Errorf("the reply came after %v, want just past 500ms", elapsed)
		}
		if len(bridge.conns) != 0 {
			t.Error("the module reached the bridge")
		}
		waitStderr(t, client, wantLog, wantFlag, wantTimeout, wantErr)
	})

	t.Run("server", func(t *testing.T) {
		echo := watmtest.Echo(t)
		server := tortest.Start(t, bin, standaloneEnv(t), append([]string{"server", "-listen", "127.0.0.1:0", "-forward", echo.Address(),
			"-options", "watm=" + filepath.Join(dir, "slow_init.wasm"), "-watm-setup-timeout", "500ms"}, wazeroCacheArgs(t)...)...)
		l, err := server.WaitLine(ctx, "water-pt server: listening on ")
		if err != nil {
			t.Fatal(err)
		}
		addr := parseListenLine(t, l.Text, "water-pt server: listening on ", ", forwarding to "+echo.Address())
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The server takes an instance only once the first byte is in
		// (-server-idle-timeout): send one.
		if _, err := c.Write([]byte{0}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c.SetReadDeadline(start.Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || (err != io.EOF && !errors.Is(err, os.ErrDeadlineExceeded) && !isReset(err)) {
			t.Fatalf("read: %d, %v", n, err)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the server kept the connection open 5 s")
		}
		if elapsed := time.Since(start); elapsed < 500*time.Millisecond || elapsed > 2*time.Second {
			t.Errorf("the connection closed after %v, want just past 500ms", elapsed)
		}
		waitStderr(t, server, wantLog, wantFlag, wantTimeout, wantErr)
	})
}

// waitStderr waits until the PT's stderr (standalone logs there) holds one
// line with every one of wants.
func waitStderr(t *testing.T, p *tortest.PT, wants ...string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(p.Stderr(), "\n") {
			if containsAll(line, wants) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", wants, p.Stderr())
		}
	}
}

// bridgeStandIn is a TCP listener standing in for a bridge: it hands the
// test every connection it accepts.
type bridgeStandIn struct {
	ln    net.Listener
	conns chan net.Conn
}

func startBridge(t *testing.T) *bridgeStandIn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &bridgeStandIn{ln: ln, conns: make(chan net.Conn, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(b.conns)
		for c := range b.conns {
			c.Close()
		}
	})
	return b
}

func (b *bridgeStandIn) addr() string { return b.ln.Addr().String() }

// cpuShare measures the CPU time (user and system) process pid uses over
// window, as a fraction of one core.
func cpuShare(t *testing.T, pid int, window time.Duration) float64 {
	t.Helper()
	t0, c0 := time.Now(), cpuTicks(t, pid)
	time.Sleep(window)
	c1, t1 := cpuTicks(t, pid), time.Now()
	const ticksPerSecond = 100 // USER_HZ, fixed at 100 on Linux
	return float64(c1-c0) / ticksPerSecond / t1.Sub(t0).Seconds()
}

// cpuTicks is utime+stime of pid, in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	n, err := tortest.CPUTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
