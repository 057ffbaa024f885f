package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smallConfig is the benchmark in small, with bounds generous enough that
// only a hang or a failure trips them: the test asserts no timing.
func smallConfig(t *testing.T) Config {
	cfg := DefaultConfig(true)
	cfg.Setups = 5
	cfg.RTTs = 50
	cfg.Bytes = 4 << 20
	cfg.Runs = 1
	cfg.Conns = 20
	cfg.Parallel = 8
	cfg.DialTimeout = time.Minute
	cfg.XferTimeout = 2 * time.Minute
	cfg.PhaseTimeout = 3 * time.Minute
	cfg.ExitTimeout = 30 * time.Second
	cfg.StartTimeout = 2 * time.Minute
	cfg.Log = testLog{t}
	return cfg
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestSmoke runs the benchmark in small on both PTs and checks that every
// phase measured something, every connection succeeded with its data intact,
// and every ratio is a finite positive number.
func TestSmoke(t *testing.T) {
	cfg := smallConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2", len(rep.Results))
	}
	for _, r := range rep.Results {
		for _, e := range r.Errors {
			t.Errorf("%s: %s", r.Name, e)
		}
		for _, n := range r.Notes {
			t.Logf("%s note: %s", r.Name, n)
		}
		if r.SetupOK != cfg.Setups || !r.SetupP50Ms.OK {
			t.Errorf("%s: %d of %d setups", r.Name, r.SetupOK, cfg.Setups)
		}
		if r.RTTN != cfg.RTTs || !r.RTTP50Us.OK || !r.RTTP99Us.OK {
			t.Errorf("%s: %d of %d round trips", r.Name, r.RTTN, cfg.RTTs)
		}
		if len(r.UpRuns) != cfg.Runs || len(r.DownRuns) != cfg.Runs {
			t.Errorf("%s: %d up and %d down transfers, want %d each", r.Name, len(r.UpRuns), len(r.DownRuns), cfg.Runs)
		}
		if r.ConnsTried != cfg.Conns || r.ConnsOK != cfg.Conns || r.ConnsHeldOK != cfg.Conns {
			t.Errorf("%s: %d tried, %d ok, %d still echoing while held; want %d: %v",
				r.Name, r.ConnsTried, r.ConnsOK, r.ConnsHeldOK, cfg.Conns, r.ConnErrors)
		}
		if r.ClientRSSHoldingKB <= 0 || r.ServerRSSHoldingKB <= 0 || !r.ClientKBPerConn.OK || !r.ServerKBPerConn.OK {
			t.Errorf("%s: no RSS figures", r.Name)
		}
		if !r.ExitClientMs.OK || !r.ExitServerMs.OK {
			t.Errorf("%s: no exit times", r.Name)
		}
	}
	// Only water-pt has linear memories; each Go-module instance has
	// hundreds of kB of its own.
	if w := rep.Results[1]; !w.ClientLinearPerConn.OK || w.ClientLinearPerConn.V < 100 ||
		!w.ServerLinearPerConn.OK || w.ServerLinearPerConn.V < 100 || !w.ClientRuntimePerConn.OK {
		t.Errorf("water-pt linear memory per conn: client %+v server %+v", w.ClientLinearPerConn, w.ServerLinearPerConn)
	}
	// water-pt gives back every descriptor once the connections close, and
	// serves as many again.
	if w := rep.Results[1]; w.ClientFDsAfter != w.ClientFDsBefore || w.ServerFDsAfter != w.ServerFDsBefore ||
		w.ClientFDsHolding < w.ClientFDsBefore+2*cfg.Conns || w.ConnsOK2 != cfg.Conns {
		t.Errorf("water-pt descriptors: client %d/%d/%d, server %d/%d/%d (before/holding/after); second round %d of %d",
			w.ClientFDsBefore, w.ClientFDsHolding, w.ClientFDsAfter, w.ServerFDsBefore, w.ServerFDsHolding, w.ServerFDsAfter, w.ConnsOK2, cfg.Conns)
	}
	if b := rep.Results[0]; b.ClientLinearPerConn.OK || b.ServerLinearPerConn.OK {
		t.Errorf("baseline has linear memory figures: %+v %+v", b.ClientLinearPerConn, b.ServerLinearPerConn)
	}
	// RSS growth over 20 connections can be zero or negative (page reuse):
	// its ratio is not asserted.
	for _, key := range []string{"start_ms", "setup_p50_ms", "setup_first_ms", "rtt_p50_us", "rtt_p99_us",
		"up_mbps", "down_mbps", "conns_ok", "conns_held_ok", "exit_client_ms", "exit_server_ms"} {
		q, ok := rep.Ratios[key]
		if !ok || !q.OK || math.IsNaN(q.V) || math.IsInf(q.V, 0) || q.V <= 0 {
			t.Errorf("ratio %s = %+v, want a finite positive number", key, q)
		}
	}

	var text, js bytes.Buffer
	rep.WriteText(&text)
	t.Log("\n" + text.String())
	for _, want := range []string{"water-pt/baseline", "| system |", "| water-pt / baseline |"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q", want)
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Results []Result       `json:"results"`
		Ratios  map[string]Num `json:"ratios"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, js.String())
	}
	if len(back.Results) != 2 || back.Results[1].ConnsOK != cfg.Conns || back.Ratios["up_mbps"] != rep.Ratios["up_mbps"] {
		t.Errorf("JSON report does not round-trip:\n%s", js.String())
	}
}

// TestBrokenPT checks that a PT that does not start is reported as an error
// of its own, without figures or ratios, instead of stopping the run.
func TestBrokenPT(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "broken-pt")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho VERSION 1\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(t)
	cfg.WaterBinary = broken
	cfg.Only = []string{NameWater}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.result(NameWater)
	if r == nil || len(r.Errors) == 0 || !strings.HasPrefix(r.Errors[0], "start: ") {
		t.Fatalf("want a start error, got %+v", r)
	}
	if r.SetupP50Ms.OK || r.ConnsTried != 0 || len(rep.Ratios) != 0 {
		t.Errorf("figures for a PT that did not start: %+v, ratios %v", r, rep.Ratios)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"256MiB": 256 << 20, "4 KiB": 4 << 10, "64M": 64 << 20, "1GiB": 1 << 30,
		"1000": 1000, "2MB": 2e6, "1.5KiB": 1536, "7b": 7,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "12 parsecs", "-1"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 99: 99, 100: 100, 1: 1} {
		if got := percentile(ds, p); got != want {
			t.Errorf("percentile(1..100, %v) = %d, want %d", p, got, want)
		}
	}
	if m := median([]float64{3, 1, 2}); m.V != 2 || !m.OK {
		t.Errorf("median = %+v", m)
	}
}

func TestLinearSmaps(t *testing.T) {
	const smaps = `7f0000000000-7f0000100000 rw-p 00000000 00:01 12 /memfd:watm-image (deleted)
Rss:                1024 kB
Anonymous:           200 kB
7f0000100000-7f0000140000 rw-p 00000000 00:00 0
Anonymous:            64 kB
7f0000140000-7f0004000000 ---p 00000000 00:00 0
Anonymous:             0 kB
7f0004000000-7f0004010000 rw-p 00000000 00:00 0
Anonymous:            32 kB
7f0005000000-7f0005100000 rw-p 00000000 00:01 12 /memfd:watm-image (deleted)
Anonymous:            100 kB
7f0005100000-7f0005200000 r-xp 00000000 00:00 0
Anonymous:             8 kB
7f0005200000-7f0005300000 rw-p 00000000 00:00 0 [heap]
Anonymous:            16 kB
`
	kb, ok := linearSmaps(strings.NewReader(smaps))
	// The first reservation (200 + 64 + 0), the anonymous mapping that
	// continues it without a gap (32: counted, the rule's known excess),
	// and the second reservation (100); not the code or the heap after it.
	if !ok || kb != 200+64+0+32+100 {
		t.Errorf("linearSmaps = %d, %v", kb, ok)
	}
	if _, ok := linearSmaps(strings.NewReader("7f00-7f01 rw-p 0 00:00 0\nAnonymous: 4 kB\n")); ok {
		t.Error("no image mapping, yet ok")
	}
}
