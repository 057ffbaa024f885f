package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
)

// smallConfig is the benchmark in small, with bounds generous enough that
// only a hang or a failure trips them: the tests assert no timing.
func smallConfig(t *testing.T, systems ...System) Config {
	cfg := DefaultConfig(true)
	cfg.Systems = systems
	cfg.Rounds = 2
	cfg.Setups = 5
	cfg.Spacing = 5 * time.Millisecond
	cfg.RTTs = 50
	cfg.Bytes = 4 << 20
	cfg.Conns = 20
	cfg.Parallel = 8
	cfg.DialTimeout = time.Minute
	cfg.XferTimeout = 2 * time.Minute
	cfg.PhaseTimeout = 3 * time.Minute
	cfg.ExitTimeout = 30 * time.Second
	cfg.StartTimeout = 2 * time.Minute
	// One compilation cache for both water-pt processes: the server compiles
	// plain at its start, and the client's first connection, which asks for
	// plain (not the client's default module), loads it instead of
	// compiling it again, which under -race on a busy machine outlasted
	// DialTimeout.
	cfg.PTFlags = []string{"-watm-cache", t.TempDir()}
	cfg.Log = testLog{t}
	return cfg
}

func mustSystems(t *testing.T, list string) []System {
	t.Helper()
	ss, err := ParseSystems(list)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runSmall runs cfg and checks what every system must have measured: every
// phase of every round, every connection with its data intact, the
// processes' memory, threads and descriptors, their exit.
func runSmall(t *testing.T, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(cfg.Systems) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(cfg.Systems))
	}
	for _, r := range rep.Results {
		checkResult(t, cfg, r)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Log("\n" + text.String())
	for _, c := range rep.Comparisons {
		for _, want := range []string{c.Name, "| " + c.Of + " / " + c.Over + " |"} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("the text report lacks %q", want)
			}
		}
	}
	return rep
}

func checkResult(t *testing.T, cfg Config, r *Result) {
	t.Helper()
	for _, e := range r.Errors {
		t.Errorf("%s: %s", r.Name, e)
	}
	for _, n := range r.Notes {
		t.Logf("%s note: %s", r.Name, n)
	}
	if len(r.Rounds) != cfg.Rounds {
		t.Fatalf("%s: %d rounds, want %d", r.Name, len(r.Rounds), cfg.Rounds)
	}
	for i, x := range r.Rounds {
		for _, n := range []Num{x.SetupP50Ms, x.SetupSpacedP50Ms, x.RTTP50Us, x.RTTP99Us, x.UpMBps, x.DownMBps} {
			if !n.OK || n.V <= 0 {
				t.Errorf("%s: round %d lacks a figure: %+v", r.Name, i+1, x)
				break
			}
		}
	}
	if want := 2 * cfg.Setups * cfg.Rounds; r.SetupN != want || r.SetupOK != want || !r.SetupFirstMs.OK {
		t.Errorf("%s: %d of %d setups, want %d", r.Name, r.SetupOK, r.SetupN, want)
	}
	if r.RTTN != cfg.RTTs*cfg.Rounds {
		t.Errorf("%s: %d round trips, want %d", r.Name, r.RTTN, cfg.RTTs*cfg.Rounds)
	}
	// The headline figures are the medians of the rounds'.
	if got, want := r.UpMBps, median([]float64{r.Rounds[0].UpMBps.V, r.Rounds[1].UpMBps.V}); got != want {
		t.Errorf("%s: up %+v, want the median of the rounds %+v", r.Name, got, want)
	}
	if got, want := r.RTTP50Us, median([]float64{r.Rounds[0].RTTP50Us.V, r.Rounds[1].RTTP50Us.V}); got != want {
		t.Errorf("%s: rtt %+v, want the median of the rounds %+v", r.Name, got, want)
	}
	if r.ConnsTried != cfg.Conns || r.ConnsOK != cfg.Conns || r.ConnsHeldOK != cfg.Conns || r.ConnsOK2 != cfg.Conns {
		t.Errorf("%s: %d tried, %d ok, %d still echoing while held, %d the second time; want %d: %v",
			r.Name, r.ConnsTried, r.ConnsOK, r.ConnsHeldOK, r.ConnsOK2, cfg.Conns, r.ConnErrors)
	}
	for _, side := range []struct {
		name string
		p    Proc
	}{{"client", r.Client}, {"server", r.Server}} {
		p := side.p
		if p.PSSBeforeKB <= 0 || p.PSSHoldingKB <= 0 || p.PSSAfterKB <= 0 || p.PSSHolding2KB <= 0 ||
			!p.KBPerConn.OK || !p.RSSPerConn.OK {
			t.Errorf("%s %s: PSS figures missing: %+v", r.Name, side.name, p)
		}
		if p.ThreadsBefore <= 0 || p.ThreadsHolding <= 0 || p.ThreadsAfter <= 0 {
			t.Errorf("%s %s: thread counts missing: %+v", r.Name, side.name, p)
		}
		// Every PT process holds at least the connection's two sockets.
		if !p.FDsPerConn.OK || p.FDsPerConn.V < 2 || p.FDsHolding < p.FDsBefore+2*cfg.Conns {
			t.Errorf("%s %s: descriptors %d -> %d holding %d connections (%+v per conn)",
				r.Name, side.name, p.FDsBefore, p.FDsHolding, cfg.Conns, p.FDsPerConn)
		}
	}
	if !r.ExitClientMs.OK || !r.ExitServerMs.OK || r.ExitOpen != cfg.Conns {
		t.Errorf("%s: exit times %+v %+v with %d connections open, want %d", r.Name, r.ExitClientMs, r.ExitServerMs, r.ExitOpen, cfg.Conns)
	}
}

// checkRatios checks that comparison name exists and each ratio of keys is
// a finite positive number.
func checkRatios(t *testing.T, rep *Report, name string, keys ...string) {
	t.Helper()
	c := rep.comparison(name)
	if c == nil {
		t.Fatalf("no comparison %s among %d", name, len(rep.Comparisons))
	}
	for _, key := range keys {
		q, ok := c.Ratios[key]
		if !ok || !q.OK || math.IsNaN(q.V) || math.IsInf(q.V, 0) || q.V <= 0 {
			t.Errorf("%s ratio %s = %+v, want a finite positive number", name, key, q)
		}
	}
}

// ratioKeys are the figures every system has (memory growth over 20
// connections can be zero or negative: page reuse).
func ratioKeys() []string {
	return []string{"start_ms", "setup_p50_ms", "setup_spaced_p50_ms", "setup_first_ms", "rtt_p50_us", "rtt_p99_us",
		"up_mbps", "down_mbps", "conns_ok", "conns_held_ok", "client_threads_holding", "server_threads_holding",
		"client_fds_per_conn", "server_fds_per_conn", "exit_open", "exit_client_ms", "exit_server_ms"}
}

// TestSmoke runs the standard systems, baseline and water-pt, in small.
func TestSmoke(t *testing.T) {
	cfg := smallConfig(t, mustSystems(t, DefaultSystems)...)
	rep := runSmall(t, cfg)
	checkRatios(t, rep, "water-pt/baseline", ratioKeys()...)
	w, b := rep.result(NameWater), rep.result(NameBaseline)
	// Only water-pt has linear memories; each Go-module instance writes
	// pages of its own that no other instance shares (goroutine stacks,
	// the pages of the loop's buffers it has used: about 60 kB with plain
	// started from a snapshot), so a figure near zero means the split no
	// longer finds the linear memories.
	for _, p := range []Proc{w.Client, w.Server} {
		if !p.LinearPerConn.OK || p.LinearPerConn.V < 16 || !p.RuntimePerConn.OK {
			t.Errorf("water-pt PSS per conn %+v: linear %+v + runtime %+v", p.KBPerConn, p.LinearPerConn, p.RuntimePerConn)
		}
	}
	if b.Client.LinearPerConn.OK || b.Server.LinearPerConn.OK {
		t.Errorf("baseline has linear memory figures: %+v %+v", b.Client.LinearPerConn, b.Server.LinearPerConn)
	}
	// water-pt gives back every descriptor once the connections close.
	if w.Client.FDsAfter != w.Client.FDsBefore || w.Server.FDsAfter != w.Server.FDsBefore {
		t.Errorf("water-pt descriptors: client %+v, server %+v", w.Client, w.Server)
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Results     []Result     `json:"results"`
		Comparisons []Comparison `json:"comparisons"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, js.String())
	}
	if len(back.Results) != 2 || back.Results[1].ConnsOK != cfg.Conns || back.Results[1].Server.KBPerConn != w.Server.KBPerConn ||
		len(back.Comparisons) != 1 || back.Comparisons[0].Ratios["up_mbps"] != rep.Comparisons[0].Ratios["up_mbps"] {
		t.Errorf("JSON report does not round-trip:\n%s", js.String())
	}
}

// TestSmokeObfs4 runs Debian's obfs4proxy as tor does (the server's cert=
// and iat-mode= as the bridge args), and a second obfs4 system compared with
// it: the path the water-obfs4 system takes, with a binary that speaks obfs4
// today.
func TestSmokeObfs4(t *testing.T) {
	obfs4 := mustSystems(t, NameObfs4proxy)[0]
	if _, err := os.Stat(obfs4.Binary); err != nil {
		t.Fatalf("%v: install Debian's obfs4proxy (.ci/run does)", err)
	}
	again := System{Name: "obfs4proxy-again", Label: "obfs4proxy again", Binary: obfs4.Binary,
		Transport: "obfs4", Versus: NameObfs4proxy}
	cfg := smallConfig(t, obfs4, again)
	rep := runSmall(t, cfg)
	checkRatios(t, rep, "obfs4proxy-again/obfs4proxy", ratioKeys()...)
	for _, r := range rep.Results {
		if !strings.Contains(r.BridgeArgs, "cert=") || !strings.Contains(r.BridgeArgs, "iat-mode=0") {
			t.Errorf("%s bridge args %q: want obfs4's cert= and iat-mode=0", r.Name, r.BridgeArgs)
		}
		if r.Client.LinearPerConn.OK {
			t.Errorf("%s has linear memory figures", r.Name)
		}
	}
	var md bytes.Buffer
	rep.WriteMarkdown(&md)
	if !strings.Contains(md.String(), "| obfs4proxy (Debian) |") || !strings.Contains(md.String(), "| obfs4proxy-again / obfs4proxy |") {
		t.Errorf("markdown lacks the obfs4 rows:\n%s", md.String())
	}
}

// TestBrokenPT checks that a PT that does not start is reported as an error
// of its own, without figures or ratios, instead of stopping the run.
func TestBrokenPT(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "broken-pt")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho VERSION 1\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := mustSystems(t, NameBaseline)[0]
	base.Binary = broken
	cfg := smallConfig(t, base, System{Name: "broken", Binary: broken, Transport: "water", Versus: NameBaseline})
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if len(r.Errors) == 0 || !strings.HasPrefix(r.Errors[0], "start: ") {
			t.Fatalf("want a start error, got %+v", r)
		}
		if r.SetupP50Ms.OK || r.ConnsTried != 0 || r.Client.KBPerConn.OK {
			t.Errorf("figures for a PT that did not start: %+v", r)
		}
	}
	if c := rep.comparison("broken/baseline"); c == nil || c.Ratios["setup_p50_ms"].OK {
		t.Errorf("want a comparison without figures, got %+v", c)
	}
}

// TestOpenHeldGivesUp checks that the conns phase stops soon after a PT
// stops answering, says why, and that checking held connections that no
// longer echo takes one DialTimeout, not one per connection.
func TestOpenHeldGivesUp(t *testing.T) {
	// A SOCKS port that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	}()

	cfg := smallConfig(t)
	cfg.Parallel = 32
	cfg.DialTimeout = 100 * time.Millisecond
	b := &bench{ctx: context.Background(), cfg: cfg}
	tg := &target{res: &Result{Name: "silent"}, p: &tortest.Pair{
		ClientMethod: tortest.Method{Addr: ln.Addr().String()},
		ServerMethod: tortest.Method{Addr: "127.0.0.1:1"},
	}}
	start := time.Now()
	ok, errCount := b.openHeld(tg, 5000, 0)
	el := time.Since(start)
	if ok != 0 || errCount["not opened: gave up after N failures in a row"] == 0 {
		t.Errorf("%d opened, errors %v; want none opened and a give-up", ok, errCount)
	}
	// 128 failures in a row of 100 ms each, 32 at a time: well under the
	// 5000 connections' 16 s.
	if el > 5*time.Second {
		t.Errorf("giving up took %v", el)
	}

	// Held connections that never echo: one shared deadline.
	tg.held = nil
	for range 100 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		tg.held = append(tg.held, c)
	}
	defer b.closeHeld(tg)
	start = time.Now()
	if n := b.checkHeld(tg); n != 0 {
		t.Errorf("%d silent connections echoed", n)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("checking 100 silent connections took %v, want about one DialTimeout (%v)", el, cfg.DialTimeout)
	}
}

// TestAims checks the aims against figures made up to sit on either side of
// them.
func TestAims(t *testing.T) {
	rep := &Report{Config: Config{Systems: mustSystems(t, "baseline,water-pt")}}
	base := &Result{Name: NameBaseline, SetupP50Ms: num(1), RTTP50Us: num(100), UpMBps: num(1000)}
	water := &Result{Name: NameWater, SetupP50Ms: num(1.4), RTTP50Us: num(131), UpMBps: num(900),
		Client: Proc{KBPerConn: num(255), FDsPerConn: num(2)}, Server: Proc{KBPerConn: num(490), FDsPerConn: num(5)},
		ExitClientMs: num(1000)}
	rep.Results = []*Result{base, water}
	rep.computeRatios()
	rep.checkAims()
	met := map[string]bool{}
	for _, a := range rep.Aims {
		if a.System != NameWater {
			t.Errorf("an aim of %s, which has none", a.System)
		}
		met[a.Key] = a.Met
	}
	for key, want := range map[string]bool{
		"setup_p50_ms": true, "rtt_p50_us": false, "up_mbps": true, "down_mbps": false, // not measured
		"client_pss_kb_per_conn": true, "server_pss_kb_per_conn": false,
		"client_fds_per_conn": true, "server_fds_per_conn": false,
		"exit_client_ms": true, "exit_server_ms": false,
	} {
		if got, ok := met[key]; !ok || got != want {
			t.Errorf("aim %s met = %v (listed: %v), want %v", key, got, ok, want)
		}
	}
	var text bytes.Buffer
	rep.writeAims(&text)
	for _, want := range []string{"met    water-pt setup_p50_ms / baseline's: 1.40x (want <= 1.5)",
		"MISSED water-pt server_fds_per_conn: 5.00 (want <= 2.05)", "met    water-pt client_pss_kb_per_conn: 255.0 kB (want <= 256)", "MISSED water-pt down_mbps / baseline's: - (want >= 0.9)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("aims text lacks %q:\n%s", want, text.String())
		}
	}
}

func TestCheckFDLimit(t *testing.T) {
	cfg := DefaultConfig(false)
	if err := checkFDLimit(cfg); err != nil {
		t.Errorf("1000 connections: %v", err)
	}
	cfg.Conns = 1 << 30
	err := checkFDLimit(cfg)
	if err == nil || !strings.Contains(err.Error(), "-conns 1073741824 needs about") || !strings.Contains(err.Error(), "hard limit") {
		t.Errorf("checkFDLimit(-conns 2^30) = %v", err)
	}
}

func TestParseSystems(t *testing.T) {
	ss, err := ParseSystems("baseline, water ,obfs4proxy,water-obfs4")
	if err != nil {
		t.Fatal(err)
	}
	if got := systemNames(ss); !slices.Equal(got, []string{NameBaseline, NameWater, NameObfs4proxy, NameWaterObfs4}) {
		t.Errorf("names %v", got)
	}
	if w := ss[3]; !w.Water || w.Transport != "obfs4" || w.Package != waterPackage || w.Versus != NameObfs4proxy {
		t.Errorf("water-obfs4 = %+v", w)
	}
	if o := ss[2]; o.Binary != Obfs4proxyBinary || o.Transport != "obfs4" || o.Water {
		t.Errorf("obfs4proxy = %+v", o)
	}
	for in, want := range map[string]string{
		"baseline,nope":     `unknown system "nope"; known: baseline, water-pt, water-pt-before, obfs4proxy, water-obfs4`,
		"water,water-pt":    `system "water-pt" listed twice`,
		"baseline,,water":   `empty system name`,
		"obfs4,obfs4proxy ": `system "obfs4proxy" listed twice`,
	} {
		if _, err := ParseSystems(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSystems(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestWithBefore(t *testing.T) {
	base, err := ParseSystems(DefaultSystems)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := withBefore(base, "/tmp/old-water-pt")
	if err != nil {
		t.Fatal(err)
	}
	if got := systemNames(ss); !slices.Equal(got, []string{NameBaseline, NameWater, NameBefore}) {
		t.Errorf("names %v", got)
	}
	if b := ss[2]; !b.Water || b.Transport != "water" || b.Versus != NameBaseline || b.DefaultServerOptions[0].Value != "plain" {
		t.Errorf("water-pt-before = %+v", b)
	}
	if ss, err := withBefore(base, ""); err != nil || len(ss) != 2 {
		t.Errorf("without -before-binary: %v, %v", systemNames(ss), err)
	}
	listed, err := ParseSystems("baseline,water-pt-before")
	if err != nil {
		t.Fatal(err)
	}
	if ss, err := withBefore(listed, "/tmp/old"); err != nil || len(ss) != 2 {
		t.Errorf("listed and given: %v, %v", systemNames(ss), err)
	}
	want := "system water-pt-before needs -before-binary PATH"
	if _, err := withBefore(listed, ""); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("listed without binary: %v, want %q", err, want)
	}
}

func TestTurnOrder(t *testing.T) {
	s := []string{"a", "b", "c"}
	for round, want := range [][]string{{"a", "b", "c"}, {"c", "b", "a"}, {"a", "b", "c"}} {
		if got := turnOrder(s, round); !slices.Equal(got, want) {
			t.Errorf("round %d: %v, want %v", round, got, want)
		}
	}
	if !slices.Equal(s, []string{"a", "b", "c"}) {
		t.Errorf("turnOrder changed its argument: %v", s)
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
	rounds := []Round{{UpMBps: num(5)}, {}, {UpMBps: num(1)}, {UpMBps: num(3)}}
	if m := medianOf(rounds, func(r Round) Num { return r.UpMBps }); m != num(3) {
		t.Errorf("medianOf skips missing figures: got %+v, want 3", m)
	}
}

func TestLinearSmaps(t *testing.T) {
	const smaps = `7f0000000000-7f0000100000 rw-p 00000000 00:01 12 /memfd:watm-image (deleted)
Rss:                1024 kB
Pss:                 300 kB
Pss_Dirty:           200 kB
Anonymous:           200 kB
7f0000100000-7f0000140000 rw-p 00000000 00:00 0
Pss:                  64 kB
Anonymous:            64 kB
7f0000140000-7f0004000000 ---p 00000000 00:00 0
Pss:                   0 kB
7f0004000000-7f0004010000 rw-p 00000000 00:00 0
Pss:                  32 kB
7f0005000000-7f0005100000 rw-p 00000000 00:01 12 /memfd:watm-image (deleted)
Pss:                 100 kB
7f0005100000-7f0005200000 r-xp 00000000 00:00 0
Pss:                   8 kB
7f0005200000-7f0005300000 rw-p 00000000 00:00 0 [heap]
Pss:                  16 kB
`
	kb, ok := linearSmaps(strings.NewReader(smaps))
	// The first reservation's PSS, the image's shared pages included
	// (300 + 64 + 0), the anonymous mapping that continues it without a
	// gap (32: counted, the rule's known excess), and the second
	// reservation (100); not the code or the heap after it, and not the
	// Pss_Dirty or Anonymous lines.
	if !ok || kb != 300+64+0+32+100 {
		t.Errorf("linearSmaps = %d, %v", kb, ok)
	}
	if _, ok := linearSmaps(strings.NewReader("7f00-7f01 rw-p 0 00:00 0\nPss: 4 kB\n")); ok {
		t.Error("no image mapping, yet ok")
	}
}

func TestSnapshot(t *testing.T) {
	s, err := snapshot(os.Getpid(), true)
	if err != nil {
		t.Fatal(err)
	}
	if s.PSSKB <= 0 || s.RSSKB < s.PSSKB || s.Threads < 1 || s.FDs < 3 || s.LinearOK {
		t.Errorf("snapshot of the test process: %+v", s)
	}
}

func TestProcFill(t *testing.T) {
	before := procSnap{PSSKB: 1000, RSSKB: 2000, LinearKB: 100, LinearOK: true, Threads: 5, FDs: 10}
	holding := procSnap{PSSKB: 4000, RSSKB: 12000, LinearKB: 2100, LinearOK: true, Threads: 15, FDs: 60}
	var p Proc
	p.fill(before, holding, 10)
	if p.KBPerConn != num(300) || p.LinearPerConn != num(200) || p.RuntimePerConn != num(100) ||
		p.RSSPerConn != num(1000) || p.FDsPerConn != num(5) || p.ThreadsHolding != 15 || p.PSSBeforeKB != 1000 {
		t.Errorf("fill = %+v", p)
	}
	before.LinearOK = false // no WebAssembly: no split
	var q Proc
	q.fill(before, holding, 10)
	if q.LinearPerConn.OK || q.RuntimePerConn.OK || q.KBPerConn != num(300) {
		t.Errorf("fill without linear memories = %+v", q)
	}
	var none Proc
	none.fill(before, holding, 0)
	if none.KBPerConn.OK || none.FDsPerConn.OK || none.FDsHolding != 60 {
		t.Errorf("fill of 0 connections = %+v", none)
	}
}
