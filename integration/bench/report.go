package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Num is a figure that may be missing (its phase failed); missing figures
// print as "-" and encode as JSON null.
type Num struct {
	V  float64
	OK bool
}

func num(v float64) Num { return Num{V: v, OK: !math.IsNaN(v) && !math.IsInf(v, 0)} }

func numDur(d time.Duration, unit time.Duration) Num { return num(float64(d) / float64(unit)) }

func (n Num) MarshalJSON() ([]byte, error) {
	if !n.OK {
		return []byte("null"), nil
	}
	return json.Marshal(n.V)
}

func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num{}
		return nil
	}
	if err := json.Unmarshal(b, &n.V); err != nil {
		return err
	}
	n.OK = true
	return nil
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	Kernel     string `json:"kernel,omitempty"`
	Go         string `json:"go"`
	OSArch     string `json:"os_arch"`
}

func machineInfo() Machine {
	m := Machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         runtime.Version(),
		OSArch:     runtime.GOOS + "/" + runtime.GOARCH,
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return m
}

// Report is a whole run.
type Report struct {
	Args     []string      `json:"args"` // the command line, for the record
	Config   Config        `json:"-"`
	Machine  Machine       `json:"machine"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"-"`
	Results  []*Result     `json:"results"`
	// Comparisons are the ratios of each system with a Versus over that
	// system, when both ran.
	Comparisons []*Comparison `json:"comparisons"`
	// Aims are the project's targets, met or missed.
	Aims []Aim `json:"aims"`
}

// Comparison is one system's figures over another's, by JSON key of the
// figure (setup_p50_ms, up_mbps, ...): above 1 is slower for times, more
// for memory, threads and descriptors, faster for MB/s.
type Comparison struct {
	Name   string         `json:"name"` // "Of/Over"
	Of     string         `json:"of"`
	Over   string         `json:"over"`
	Ratios map[string]Num `json:"ratios"`
}

// MarshalJSON adds the settings and the duration in plain units.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	c := r.Config
	return json.Marshal(struct {
		*plain
		Settings map[string]any `json:"settings"`
		Seconds  float64        `json:"duration_s"`
	}{(*plain)(r), map[string]any{
		"systems": c.Systems, "rounds": c.Rounds, "setups": c.Setups, "spacing_ms": c.Spacing.Milliseconds(),
		"rtts": c.RTTs, "bytes": c.Bytes,
		"conns": c.Conns, "parallel": c.Parallel, "echo_bytes": c.EchoBytes, "verify": c.Verify,
		"server_options": kvStrings(c.ServerOptions), "pt_flags": c.PTFlags,
		"client_flags": c.ClientFlags, "server_flags": c.ServerFlags,
		"pt_env": c.PTEnv, "client_env": c.ClientEnv, "server_env": c.ServerEnv,
	}, r.Duration.Seconds()})
}

// metric is one row of the tables.
type metric struct {
	key    string // JSON key of the figure and of its ratio
	label  string
	get    func(*Result) Num
	text   func(Num) string // nil: "ok/tried"
	rounds func(Round) Num  // a per-round figure: its values are listed below it
}

func procMetrics(side string, get func(*Result) *Proc) []metric {
	return []metric{
		{side + "_pss_kb_per_conn", "PSS growth per conn, " + side, func(r *Result) Num { return get(r).KBPerConn }, fmtKB, nil},
		{side + "_linear_kb_per_conn", "  module linear memory, " + side, func(r *Result) Num { return get(r).LinearPerConn }, fmtKB, nil},
		{side + "_runtime_kb_per_conn", "  runtime's own (the rest), " + side, func(r *Result) Num { return get(r).RuntimePerConn }, fmtKB, nil},
		{side + "_rss_kb_per_conn", "VmRSS growth per conn, " + side, func(r *Result) Num { return get(r).RSSPerConn }, fmtKB, nil},
		{side + "_threads_holding", "threads holding them, " + side, func(r *Result) Num { return count(get(r).ThreadsHolding) }, fmtCount, nil},
		{side + "_fds_per_conn", "fds per conn, " + side, func(r *Result) Num { return get(r).FDsPerConn }, func(n Num) string { return fmtNum(n, 2) }, nil},
	}
}

// metrics returns the rows of the tables.
func metrics() []metric {
	ms := []metric{
		{"start_ms", "start (launch to METHODS DONE)", func(r *Result) Num { return r.StartMs }, fmtMs, nil},
		{"setup_p50_ms", "setup p50, back to back", func(r *Result) Num { return r.SetupP50Ms }, fmtMs,
			func(x Round) Num { return x.SetupP50Ms }},
		{"setup_spaced_p50_ms", "setup p50, spaced", func(r *Result) Num { return r.SetupSpacedP50Ms }, fmtMs,
			func(x Round) Num { return x.SetupSpacedP50Ms }},
		{"setup_first_ms", "setup, first connection", func(r *Result) Num { return r.SetupFirstMs }, fmtMs, nil},
		{"setup_max_ms", "setup max, back to back", func(r *Result) Num { return r.SetupMaxMs }, fmtMs, nil},
		{"rtt_p50_us", "1-byte round trip p50", func(r *Result) Num { return r.RTTP50Us }, fmtUs,
			func(x Round) Num { return x.RTTP50Us }},
		{"rtt_p99_us", "1-byte round trip p99", func(r *Result) Num { return r.RTTP99Us }, fmtUs,
			func(x Round) Num { return x.RTTP99Us }},
		{"up_mbps", "up MB/s", func(r *Result) Num { return r.UpMBps }, fmtMBps,
			func(x Round) Num { return x.UpMBps }},
		{"down_mbps", "down MB/s", func(r *Result) Num { return r.DownMBps }, fmtMBps,
			func(x Round) Num { return x.DownMBps }},
		{"conns_ok", "concurrent conns ok", func(r *Result) Num { return connCount(r, r.ConnsOK) }, nil, nil},
		{"conns_held_ok", "  still echoing while held", func(r *Result) Num { return connCount(r, r.ConnsHeldOK) }, nil, nil},
		{"conns_s", "  time to open them", func(r *Result) Num { return r.ConnsS }, func(n Num) string { return fmtNum(n, 2) + " s" }, nil},
	}
	ms = append(ms, procMetrics("client", func(r *Result) *Proc { return &r.Client })...)
	ms = append(ms, procMetrics("server", func(r *Result) *Proc { return &r.Server })...)
	return append(ms,
		metric{"exit_open", "conns open at exit", func(r *Result) Num { return count(r.ExitOpen) }, fmtCount, nil},
		metric{"exit_client_ms", "exit after stdin close, client", func(r *Result) Num { return r.ExitClientMs }, fmtMs, nil},
		metric{"exit_server_ms", "exit after stdin close, server", func(r *Result) Num { return r.ExitServerMs }, fmtMs, nil},
	)
}

func connCount(r *Result, n int) Num {
	if r.ConnsTried == 0 {
		return Num{}
	}
	return num(float64(n))
}

// count is a count read from /proc: 0 means not read.
func count(n int) Num {
	if n <= 0 {
		return Num{}
	}
	return num(float64(n))
}

func (r *Report) result(name string) *Result {
	for _, res := range r.Results {
		if res.Name == name {
			return res
		}
	}
	return nil
}

func (r *Report) system(name string) System {
	for _, s := range r.Config.Systems {
		if s.Name == name {
			return s
		}
	}
	return System{Name: name, Label: name}
}

// computeRatios fills Comparisons: for each system with a Versus that ran
// too, its figures over that system's where both have one and the other's
// is positive.
func (r *Report) computeRatios() {
	r.Comparisons = nil
	for _, of := range r.Results {
		over := r.result(r.system(of.Name).Versus)
		if over == nil {
			continue
		}
		c := &Comparison{Name: of.Name + "/" + over.Name, Of: of.Name, Over: over.Name, Ratios: map[string]Num{}}
		for _, m := range metrics() {
			a, b := m.get(of), m.get(over)
			if a.OK && b.OK && b.V > 0 {
				c.Ratios[m.key] = num(a.V / b.V)
			} else {
				c.Ratios[m.key] = Num{}
			}
		}
		r.Comparisons = append(r.Comparisons, c)
	}
}

// comparison returns the comparison named "of/over", or nil.
func (r *Report) comparison(name string) *Comparison {
	for _, c := range r.Comparisons {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the table, the errors and notes, and the markdown table.
func (r *Report) WriteText(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nwater-pt benchmark, %s: %d CPUs (%s), linux %s, %s; run took %.1f s\n",
		r.Started.Format("2006-01-02 15:04"), m.CPUs, m.CPUModel, m.Kernel, m.Go, r.Duration.Seconds())
	fmt.Fprintf(w, "%s\n", r.settingsLine())
	if opts := r.waterLabel(); opts != "" {
		fmt.Fprintf(w, "water-pt run with: %s\n", opts)
	}
	fmt.Fprintln(w)
	r.writeTable(w)
	for _, res := range r.Results {
		if res.BridgeArgs != "" {
			fmt.Fprintf(w, "\n%s bridge args: %s", res.Name, res.BridgeArgs)
		}
	}
	fmt.Fprintln(w)
	for _, res := range r.Results {
		for _, e := range res.Errors {
			fmt.Fprintf(w, "\n%s ERROR: %s", res.Name, e)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(w, "\n%s note: %s", res.Name, n)
		}
		for _, p := range res.Profiles {
			fmt.Fprintf(w, "\n%s CPU profile: %s (go tool pprof -top %s)", res.Name, p, p)
		}
	}
	fmt.Fprintln(w)
	r.writeAims(w)
	fmt.Fprintf(w, "\nMarkdown:\n\n")
	r.WriteMarkdown(w)
}

// writeTable writes one column per system and one per comparison.
func (r *Report) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	defer tw.Flush()
	const labelWidth = 40 // labels padded: the tabwriter aligns every column right
	label := func(s string) string { return fmt.Sprintf("%-*s", labelWidth, s) }
	fmt.Fprint(tw, label("")+"\t")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t", res.Name)
	}
	for _, c := range r.Comparisons {
		fmt.Fprintf(tw, "%s\t", c.Name)
	}
	fmt.Fprintln(tw)
	for _, mt := range metrics() {
		fmt.Fprintf(tw, "%s\t", label(mt.label))
		for _, res := range r.Results {
			v := mt.get(res)
			switch {
			case mt.text != nil:
				fmt.Fprintf(tw, "%s\t", mt.text(v))
			case v.OK:
				fmt.Fprintf(tw, "%d/%d\t", int(v.V), res.ConnsTried)
			default:
				fmt.Fprint(tw, "-\t")
			}
		}
		for _, c := range r.Comparisons {
			fmt.Fprintf(tw, "%s\t", fmtRatio(c.Ratios[mt.key]))
		}
		fmt.Fprintln(tw)
		if mt.rounds != nil && r.Config.Rounds > 1 {
			fmt.Fprintf(tw, "%s\t", label("  rounds"))
			for _, res := range r.Results {
				var s []string
				for _, x := range res.Rounds {
					s = append(s, roundText(mt.rounds(x)))
				}
				fmt.Fprintf(tw, "%s\t", strings.Join(s, " "))
			}
			fmt.Fprintln(tw, strings.Repeat("\t", len(r.Comparisons)))
		}
	}
	row := func(name string, cell func(*Result) string) {
		fmt.Fprint(tw, label(name)+"\t")
		for _, res := range r.Results {
			fmt.Fprint(tw, cell(res)+"\t")
		}
		fmt.Fprintln(tw, strings.Repeat("\t", len(r.Comparisons)))
	}
	for _, side := range []struct {
		name string
		get  func(*Result) *Proc
	}{{"client", func(r *Result) *Proc { return &r.Client }}, {"server", func(r *Result) *Proc { return &r.Server }}} {
		row("PSS before / holding / after / again, "+side.name, func(r *Result) string {
			p := side.get(r)
			return fmt.Sprintf("%s / %s / %s / %s MB", fmtMB(p.PSSBeforeKB), fmtMB(p.PSSHoldingKB), fmtMB(p.PSSAfterKB), fmtMB(p.PSSHolding2KB))
		})
		row("threads before / holding / after, "+side.name, func(r *Result) string {
			p := side.get(r)
			return fmt.Sprintf("%d / %d / %d", p.ThreadsBefore, p.ThreadsHolding, p.ThreadsAfter)
		})
		row("fds before / holding / after, "+side.name, func(r *Result) string {
			p := side.get(r)
			return fmt.Sprintf("%d / %d / %d", p.FDsBefore, p.FDsHolding, p.FDsAfter)
		})
	}
}

// roundText prints one round's figure compactly.
func roundText(n Num) string {
	switch {
	case !n.OK:
		return "-"
	case n.V < 10:
		return fmtNum(n, 2)
	case n.V < 100:
		return fmtNum(n, 1)
	}
	return fmtNum(n, 0)
}

func (r *Report) settingsLine() string {
	c := r.Config
	verify := "checked"
	if !c.Verify {
		verify = "not checked"
	}
	rounds := "no rounds"
	if c.Rounds > 0 {
		rounds = fmt.Sprintf("%d rounds, medians, systems in alternating order; each round: setup %d sequential conns back to back and %d %v apart, "+
			"rtt %d round trips, bulk %s each way (bytes %s)", c.Rounds, c.Setups, c.Setups, c.Spacing, c.RTTs, fmtBytes(c.Bytes), verify)
	}
	return fmt.Sprintf("%s; then conns: %d, %d at a time, %s echoed each and held", rounds, c.Conns, c.Parallel, fmtBytes(int64(c.EchoBytes)))
}

// waterLabel describes the non-default settings of the water-pt processes.
func (r *Report) waterLabel() string {
	c := r.Config
	var parts []string
	if len(c.ServerOptions) > 0 {
		parts = append(parts, "ServerTransportOptions "+strings.Join(kvStrings(c.ServerOptions), " "))
	}
	for _, l := range []struct {
		name string
		v    []string
	}{{"flags", c.PTFlags}, {"client flags", c.ClientFlags}, {"server flags", c.ServerFlags},
		{"env", c.PTEnv}, {"client env", c.ClientEnv}, {"server env", c.ServerEnv}} {
		if len(l.v) > 0 {
			parts = append(parts, l.name+" "+strings.Join(l.v, " "))
		}
	}
	return strings.Join(parts, "; ")
}

// label is the markdown table's name of a system.
func (r *Report) label(name string) string {
	s := r.system(name)
	if !s.Water {
		return s.Label
	}
	switch l := r.waterLabel(); {
	case l != "":
		return s.Label + " (" + l + ")"
	case s.Transport == "water":
		return s.Label + " (default WATM)"
	}
	return s.Label
}

// WriteMarkdown writes the figures as a markdown table to paste into a note.
func (r *Report) WriteMarkdown(w io.Writer) {
	m := r.Machine
	cmd := strings.TrimSpace("go run ./integration/bench " + strings.Join(r.Args, " "))
	fmt.Fprintf(w, "Measured %s, %d CPUs (%s), loopback, `%s`. %s.\n\n",
		r.Started.Format("2006-01-02"), m.CPUs, m.CPUModel, cmd, r.settingsLine())
	fmt.Fprintln(w, "| system | setup p50 back to back / spaced | rtt p50 / p99 | up MB/s | down MB/s | conns ok | PSS kB/conn client / server | of which runtime's | threads holding | fds/conn | exit client / server |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	pair := func(a, b string) string { return a + " / " + b }
	for _, res := range r.Results {
		conns := "-"
		if res.ConnsTried > 0 {
			conns = fmt.Sprintf("%d/%d", res.ConnsOK, res.ConnsTried)
		}
		fmt.Fprintf(w, "| %s | %s | %s us | %s | %s | %s | %s | %s | %s | %s | %s ms |\n",
			mdEscape(r.label(res.Name)), pair(fmtMs(res.SetupP50Ms), fmtMs(res.SetupSpacedP50Ms)),
			pair(fmtNum(res.RTTP50Us, 0), fmtNum(res.RTTP99Us, 0)),
			fmtMBps(res.UpMBps), fmtMBps(res.DownMBps), conns,
			pair(fmtShort(res.Client.KBPerConn), fmtShort(res.Server.KBPerConn)),
			pair(fmtShort(res.Client.RuntimePerConn), fmtShort(res.Server.RuntimePerConn)),
			pair(fmtCount(count(res.Client.ThreadsHolding)), fmtCount(count(res.Server.ThreadsHolding))),
			pair(fmtNum(res.Client.FDsPerConn, 2), fmtNum(res.Server.FDsPerConn, 2)),
			pair(fmtShort(res.ExitClientMs), fmtShort(res.ExitServerMs)))
	}
	for _, c := range r.Comparisons {
		q := func(k string) string { return fmtRatio(c.Ratios[k]) }
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			mdEscape(c.Of+" / "+c.Over), pair(q("setup_p50_ms"), q("setup_spaced_p50_ms")),
			pair(q("rtt_p50_us"), q("rtt_p99_us")), q("up_mbps"), q("down_mbps"), q("conns_ok"),
			pair(q("client_pss_kb_per_conn"), q("server_pss_kb_per_conn")),
			pair(q("client_runtime_kb_per_conn"), q("server_runtime_kb_per_conn")),
			pair(q("client_threads_holding"), q("server_threads_holding")),
			pair(q("client_fds_per_conn"), q("server_fds_per_conn")),
			pair(q("exit_client_ms"), q("exit_server_ms")))
	}
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func kvStrings(kvs []KV) []string {
	var s []string
	for _, kv := range kvs {
		s = append(s, kv.Key+"="+kv.Value)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtNum(n Num, prec int) string {
	if !n.OK {
		return "-"
	}
	return strconv.FormatFloat(n.V, 'f', prec, 64)
}

// fmtShort prints n with one decimal below 10, none above.
func fmtShort(n Num) string {
	if n.OK && math.Abs(n.V) < 10 {
		return fmtNum(n, 1)
	}
	return fmtNum(n, 0)
}

func fmtMs(n Num) string {
	if !n.OK {
		return "-"
	}
	switch {
	case n.V < 10:
		return fmtNum(n, 2) + " ms"
	case n.V < 100:
		return fmtNum(n, 1) + " ms"
	}
	return fmtNum(n, 0) + " ms"
}

func fmtUs(n Num) string {
	if !n.OK {
		return "-"
	}
	return fmtNum(n, 0) + " us"
}

func fmtMBps(n Num) string { return fmtNum(n, 0) }

func fmtCount(n Num) string { return fmtNum(n, 0) }

func fmtKB(n Num) string {
	if !n.OK {
		return "-"
	}
	return fmtNum(n, 1) + " kB"
}

func fmtMB(kb int64) string {
	if kb == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(kb)/1024, 'f', 1, 64)
}

func fmtRatio(n Num) string {
	if !n.OK {
		return "-"
	}
	if n.V < 10 {
		return fmtNum(n, 2) + "x"
	}
	return fmtNum(n, 1) + "x"
}

// fmtBytes prints n in the largest binary unit that divides it, or in bytes.
func fmtBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// parseSize parses "256MiB", "4 KiB", "1GB", "64M", "1000": binary units
// for KiB/MiB/GiB and K/M/G, decimal for kB/KB/MB/GB.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && !(t[i-1] >= '0' && t[i-1] <= '9' || t[i-1] == '.') {
		i--
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t[:i]), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30,
		"kb": 1e3, "mb": 1e6, "gb": 1e9,
	}[strings.ToLower(strings.TrimSpace(t[i:]))]
	if mult == 0 {
		return 0, fmt.Errorf("bad size unit in %q", s)
	}
	return int64(v * mult), nil
}

// Aim is a target of the project's notes (anchors.md) for one system's
// figure, or for its ratio over the system it is compared with.
type Aim struct {
	System string  `json:"system"`
	Key    string  `json:"key"`   // the figure's JSON key
	Ratio  bool    `json:"ratio"` // the figure is the ratio over the system's Versus
	Max    bool    `json:"max"`   // at most Limit; else at least
	Limit  float64 `json:"limit"`
	Value  Num     `json:"value"` // null when not measured
	Met    bool    `json:"met"`
}

// aims are the targets: water-pt against the baseline (issue 13), with the
// identity module, and water-pt's obfs4 against obfs4proxy (issue 11).
func aims() []Aim {
	var as []Aim
	add := func(sys string, ratio, max bool, limit float64, keys ...string) {
		for _, k := range keys {
			as = append(as, Aim{System: sys, Key: k, Ratio: ratio, Max: max, Limit: limit})
		}
	}
	add(NameWater, true, true, 1.5, "setup_p50_ms", "setup_spaced_p50_ms")
	add(NameWater, true, true, 1.3, "rtt_p50_us")
	add(NameWater, true, false, 0.9, "up_mbps", "down_mbps")
	add(NameWater, false, true, 256, "client_pss_kb_per_conn", "server_pss_kb_per_conn")
	add(NameWater, false, true, 64, "client_runtime_kb_per_conn", "server_runtime_kb_per_conn")
	add(NameWater, false, true, 100, "client_threads_holding", "server_threads_holding")
	add(NameWater, false, true, 2.05, "client_fds_per_conn", "server_fds_per_conn") // 2 plus a constant
	add(NameWater, false, true, 1000, "exit_client_ms", "exit_server_ms")
	add(NameWaterObfs4, true, true, 1.5, "setup_p50_ms")
	add(NameWaterObfs4, true, false, 0.5, "up_mbps", "down_mbps")
	return as
}

// checkAims evaluates the aims of the systems that ran.
func (r *Report) checkAims() {
	r.Aims = nil
	get := map[string]func(*Result) Num{}
	for _, m := range metrics() {
		get[m.key] = m.get
	}
	for _, a := range aims() {
		res := r.result(a.System)
		if res == nil {
			continue
		}
		if a.Ratio {
			if c := r.comparison(a.System + "/" + r.system(a.System).Versus); c != nil {
				a.Value = c.Ratios[a.Key]
			}
		} else {
			a.Value = get[a.Key](res)
		}
		a.Met = a.Value.OK && (a.Max && a.Value.V <= a.Limit || !a.Max && a.Value.V >= a.Limit)
		r.Aims = append(r.Aims, a)
	}
}

// writeAims lists each aim, met or missed.
func (r *Report) writeAims(w io.Writer) {
	if len(r.Aims) == 0 {
		return
	}
	text := map[string]func(Num) string{}
	for _, m := range metrics() {
		text[m.key] = m.text
	}
	fmt.Fprintf(w, "\nAims (anchors.md):")
	for _, a := range r.Aims {
		fig, val := a.Key, fmtNum(a.Value, 2)
		if f := text[a.Key]; f != nil {
			val = f(a.Value)
		}
		if a.Ratio {
			fig = a.Key + " / " + r.system(a.System).Versus + "'s"
			val = fmtRatio(a.Value)
		}
		op, state := ">=", "MISSED"
		if a.Max {
			op = "<="
		}
		if a.Met {
			state = "met"
		}
		fmt.Fprintf(w, "\n  %-6s %s %s: %s (want %s %s)", state, a.System, fig, val, op, strconv.FormatFloat(a.Limit, 'f', -1, 64))
	}
	fmt.Fprintln(w)
}
