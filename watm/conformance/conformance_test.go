package conformance

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm/watmtest"
)

func smallOptions() Options {
	return Options{StreamBytes: 1 << 20, Conns: 4, ConnBytes: 16 << 10, Setups: 2, Hold: 2, Timeout: 10 * time.Second}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Run leaves nothing behind, whether the module passes or has to be
// stopped by force, and its verdict follows the results it reported.
func TestRunLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		fixture  string
		pass     bool
		wantFail string // a failed check's name
	}{
		{"ok_plain", true, ""},
		{"spin_worker", false, "stop"},
		{"trap_init", false, "set-up"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			watmtest.LeakCheck(t)
			var results []Result
			ok := Run(context.Background(), fixture(t, tc.fixture), smallOptions(), func(r Result) { results = append(results, r) })
			failed := map[string]bool{}
			for _, r := range results {
				if r.Status == Fail {
					failed[r.Name] = true
				}
			}
			if ok != tc.pass || ok != (len(failed) == 0) {
				t.Fatalf("Run = %v with failures %v; want %v", ok, failed, tc.pass)
			}
			if tc.wantFail != "" && !failed[tc.wantFail] {
				t.Errorf("no %s failure in %+v", tc.wantFail, results)
			}
		})
	}
}

// A listener whose set-up never returns fails the set-up step within the
// step's time limit, and the check still ends with nothing left behind.
func TestRunSetupHangs(t *testing.T) {
	watmtest.LeakCheck(t)
	b, err := os.ReadFile(filepath.Join("testdata", "spin_accept.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	opts := smallOptions()
	opts.Timeout = 2 * time.Second
	var results []Result
	start := time.Now()
	if Run(context.Background(), b, opts, func(r Result) { results = append(results, r) }) {
		t.Fatal("passed")
	}
	if d := time.Since(start); d > 4*opts.Timeout {
		t.Errorf("took %v with a %v time limit", d, opts.Timeout)
	}
	want := Result{"set-up", Fail, "connection 1: the dialer's set-up returned, but the listener's set-up (or the dialer's connection to it) did not finish within the time limit (context deadline exceeded)"}
	if len(results) < 3 || results[2] != want {
		t.Fatalf("results %+v; want the third to be %+v", results, want)
	}
}

// A canceled context ends the check promptly, failed.
func TestRunCanceled(t *testing.T) {
	watmtest.LeakCheck(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	ok := Run(ctx, fixture(t, "ok_plain"), smallOptions(), func(Result) {})
	if ok {
		t.Error("a canceled check passed")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a canceled check took %v", d)
	}
}

// The data check finds one corrupted byte and says where.
func TestExchangeFindsCorruption(t *testing.T) {
	a, b := net.Pipe()
	const n = 3 << 20
	const bad = 2<<20 + 17
	var wg sync.WaitGroup
	defer wg.Wait()
	defer b.Close()
	defer a.Close()
	// The peer sends the right stream with one byte flipped, and drains
	// what it is sent.
	buf := make([]byte, n)
	next(keystream(seedDown), buf)
	buf[bad] ^= 0x40
	wg.Add(2)
	go func() { defer wg.Done(); b.Write(buf) }()
	go func() { defer wg.Done(); receive(b, n, seedUp) }()
	_, err := exchange(a, n, seedUp, seedDown)
	var mm *mismatchError
	if !errors.As(err, &mm) || mm.offset != bad {
		t.Fatalf("exchange: %v; want a mismatch at byte %d", err, bad)
	}
	if !strings.Contains(err.Error(), "byte 2097169 differs from what was sent") {
		t.Errorf("error %q does not name the byte", err)
	}
}

func TestReadPSS(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		text string
		want int64
		err  string
	}{
		{"Rss:   100 kB\nPss:    4321 kB\nPss_Anon: 1 kB\n", 4321, ""},
		{"Rss:   100 kB\n", 0, "has no Pss line"},
		{"Pss: lots kB\n", 0, "bad Pss line"},
	} {
		p := filepath.Join(dir, "rollup")
		if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readPSS(p)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("readPSS(%q) = %d, %v; want %d, %q", tc.text, got, err, tc.want, tc.err)
		}
	}
}

// A well-behaved module passes every check but the load-dependent short
// writes; in particular the endings check does not count the peer of the
// session the stop check cut mid-stream, whose write may meet the stopped
// side's reset (it failed so on the merged tree).
func TestRunCleanModulePasses(t *testing.T) {
	watmtest.LeakCheck(t)
	var results []Result
	if !Run(context.Background(), fixture(t, "ok_plain"), smallOptions(), func(r Result) { results = append(results, r) }) {
		t.Fatalf("failed: %+v", results)
	}
	for _, r := range results {
		if r.Status != Pass && r.Name != "short writes" {
			t.Errorf("%s %s %s, want PASS", r.Status, r.Name, r.Detail)
		}
	}
}
