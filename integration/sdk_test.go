package integration

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptserver/extortest"
)

// startFixturePair runs watm/testdata/NAME.wasm on both sides: the server
// by absolute path, the client by name from its -watm-dir.
func startFixturePair(t *testing.T, name string) *tortest.Pair {
	t.Helper()
	td := testdataDir(t)
	p := startWaterPair(t, tortest.PairConfig{
		Mode:          extortest.Echo(),
		ServerOptions: []tortest.KV{{Key: "watm", Value: filepath.Join(td, name+".wasm")}},
		ClientArgs:    []string{"-watm-dir", td},
	})
	if got, _ := lookupKV(p.ServerMethod.Args, "watm"); got != name {
		t.Fatalf("SMETHOD ARGS %v: want watm=%s", p.ServerMethod.Args, name)
	}
	return p
}

// TestSDKFixtures runs each module that behaves like a published WATER SDK
// (watm/testdata/sdk_*.wat: short writes fatal and read-only polling like
// TinyGo's, write polling and 1 KiB reads like tokio's, EPIPE at the end)
// through the built binary on both sides: 64 MiB each way on one
// connection, then 50 concurrent connections, all checked byte for byte.
func TestSDKFixtures(t *testing.T) {
	for _, name := range []string{"sdk_tinygo_v0", "sdk_tinygo_v1", "sdk_tokio_v0", "sdk_epipe_v1"} {
		t.Run(name, func(t *testing.T) {
			p := startFixturePair(t, name)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			streamEcho(ctx, t, p, 64<<20)
			concurrentEcho(ctx, t, p, 50, 1<<20)
			if _, err := p.ExtOR.WaitSessions(ctx, 51); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSDKWritePollersIdle holds 50 idle connections through each module
// that keeps a write-readiness subscription on every socket and checks
// that neither PT process uses more than 5% of a core over 2 s.
func TestSDKWritePollersIdle(t *testing.T) {
	for _, name := range []string{"sdk_tokio_v0", "sdk_epipe_v1"} {
		t.Run(name, func(t *testing.T) {
			p := startFixturePair(t, name)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for i := range 50 {
				c, err := p.Dial(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := tortest.CheckEcho(c, 1024); err != nil {
					t.Fatalf("conn %d: %v", i, err)
				}
			}
			for side, pid := range map[string]int{"server": p.Server.Pid(), "client": p.Client.Pid()} {
				idleShare(t, side, pid)
			}
		})
	}
}

// idleShare asserts that process pid is idle: under 5% of a core over a
// 2 s window. A module that busy-polls keeps a core busy in every window;
// one-off work that follows the set-up (the pool starting its instances
// again, a garbage collection, slower under -race) does not, so up to
// three consecutive windows are measured and the quietest one counts.
func idleShare(t *testing.T, side string, pid int) {
	t.Helper()
	const window = 2 * time.Second
	var shares []string
	for range 3 {
		before := cpuTicks(t, pid)
		time.Sleep(window)
		used := time.Duration(cpuTicks(t, pid)-before) * 10 * time.Millisecond
		pct := 100 * used.Seconds() / window.Seconds()
		shares = append(shares, strconv.FormatFloat(pct, 'f', 1, 64)+"%")
		if pct < 5 {
			t.Logf("%s PT: %s of a core (windows of %v)", side, strings.Join(shares, ", "), window)
			return
		}
	}
	t.Errorf("%s PT used %s of a core in three %v windows with 50 idle connections (want under 5%% in one)", side, strings.Join(shares, ", "), window)
}
