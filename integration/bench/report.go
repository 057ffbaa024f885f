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
	// Ratios are water-pt's figure over the baseline's, by JSON key of the
	// figure (setup_p50_ms, up_mbps, ...): above 1 is slower for times and
	// memory, faster for MB/s.
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
		"setups": c.Setups, "rtts": c.RTTs, "bytes": c.Bytes, "runs": c.Runs,
		"conns": c.Conns, "parallel": c.Parallel, "echo_bytes": c.EchoBytes, "verify": c.Verify,
		"server_options": kvStrings(c.ServerOptions), "pt_flags": c.PTFlags,
		"client_flags": c.ClientFlags, "server_flags": c.ServerFlags,
		"pt_env": c.PTEnv, "client_env": c.ClientEnv, "server_env": c.ServerEnv,
	}, r.Duration.Seconds()})
}

// metric is one row of the tables.
type metric struct {
	key   string // JSON key of the figure and of its ratio
	label string
	get   func(*Result) Num
	text  func(Num) string
}

var metrics = []metric{
	{"start_ms", "start (launch to METHODS DONE)", func(r *Result) Num { return r.StartMs }, fmtMs},
	{"setup_p50_ms", "setup p50 (dial to 1st echoed byte)", func(r *Result) Num { return r.SetupP50Ms }, fmtMs},
	{"setup_first_ms", "setup, first connection", func(r *Result) Num { return r.SetupFirstMs }, fmtMs},
	{"setup_max_ms", "setup max", func(r *Result) Num { return r.SetupMaxMs }, fmtMs},
	{"rtt_p50_us", "1-byte round trip p50", func(r *Result) Num { return r.RTTP50Us }, fmtUs},
	{"rtt_p99_us", "1-byte round trip p99", func(r *Result) Num { return r.RTTP99Us }, fmtUs},
	{"up_mbps", "up MB/s (median)", func(r *Result) Num { return r.UpMBps }, fmtMBps},
	{"down_mbps", "down MB/s (median)", func(r *Result) Num { return r.DownMBps }, fmtMBps},
	{"conns_ok", "concurrent conns ok", func(r *Result) Num {
		if r.ConnsTried == 0 {
			return Num{}
		}
		return num(float64(r.ConnsOK))
	}, nil},
	{"conns_held_ok", "  still echoing while held", func(r *Result) Num {
		if r.ConnsTried == 0 {
			return Num{}
		}
		return num(float64(r.ConnsHeldOK))
	}, nil},
	{"conns_s", "  time to open them", func(r *Result) Num { return r.ConnsS }, func(n Num) string { return fmtNum(n, 2) + " s" }},
	{"client_kb_per_conn", "RSS growth per conn, client", func(r *Result) Num { return r.ClientKBPerConn }, fmtKB},
	{"server_kb_per_conn", "RSS growth per conn, server", func(r *Result) Num { return r.ServerKBPerConn }, fmtKB},
	{"client_anon_kb_per_conn", "  of which private (RssAnon), client", func(r *Result) Num { return r.ClientAnonPerConn }, fmtKB},
	{"server_anon_kb_per_conn", "  of which private (RssAnon), server", func(r *Result) Num { return r.ServerAnonPerConn }, fmtKB},
	{"client_linear_kb_per_conn", "    module linear memory, client", func(r *Result) Num { return r.ClientLinearPerConn }, fmtKB},
	{"server_linear_kb_per_conn", "    module linear memory, server", func(r *Result) Num { return r.ServerLinearPerConn }, fmtKB},
	{"client_runtime_kb_per_conn", "    runtime's own (the rest), client", func(r *Result) Num { return r.ClientRuntimePerConn }, fmtKB},
	{"server_runtime_kb_per_conn", "    runtime's own (the rest), server", func(r *Result) Num { return r.ServerRuntimePerConn }, fmtKB},
	{"exit_client_ms", "exit after stdin close, client", func(r *Result) Num { return r.ExitClientMs }, fmtMs},
	{"exit_server_ms", "exit after stdin close, server", func(r *Result) Num { return r.ExitServerMs }, fmtMs},
}

func (r *Report) result(name string) *Result {
	for _, res := range r.Results {
		if res.Name == name {
			return res
		}
	}
	return nil
}

// computeRatios fills Ratios where both PTs have a figure and the
// baseline's is positive.
func (r *Report) computeRatios() {
	r.Ratios = map[string]Num{}
	w, b := r.result(NameWater), r.result(NameBaseline)
	if w == nil || b == nil {
		return
	}
	for _, m := range metrics {
		wv, bv := m.get(w), m.get(b)
		if wv.OK && bv.OK && bv.V > 0 {
			r.Ratios[m.key] = num(wv.V / bv.V)
		} else {
			r.Ratios[m.key] = Num{}
		}
	}
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

	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	const labelWidth = 38 // labels padded: the tabwriter aligns every column right
	label := func(s string) string { return fmt.Sprintf("%-*s", labelWidth, s) }
	fmt.Fprint(tw, label("")+"\t")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t", res.Name)
	}
	if len(r.Ratios) > 0 {
		fmt.Fprint(tw, "water-pt/baseline\t")
	}
	fmt.Fprintln(tw)
	for _, mt := range metrics {
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
		if len(r.Ratios) > 0 {
			fmt.Fprintf(tw, "%s\t", fmtRatio(r.Ratios[mt.key]))
		}
		fmt.Fprintln(tw)
		if mt.key == "up_mbps" || mt.key == "down_mbps" {
			fmt.Fprintf(tw, "%s\t", label("  runs"))
			for _, res := range r.Results {
				runs := res.UpRuns
				if mt.key == "down_mbps" {
					runs = res.DownRuns
				}
				var s []string
				for _, v := range runs {
					s = append(s, strconv.FormatFloat(v, 'f', 0, 64))
				}
				fmt.Fprintf(tw, "%s\t", orDash(strings.Join(s, " ")))
			}
			if len(r.Ratios) > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprintln(tw)
		}
	}
	row := func(name string, cell func(*Result) string) {
		fmt.Fprint(tw, label(name)+"\t")
		for _, res := range r.Results {
			fmt.Fprint(tw, cell(res)+"\t")
		}
		fmt.Fprintln(tw)
	}
	mb := func(a, b int64) string { return fmtMB(a) + " / " + fmtMB(b) + " MB" }
	fds := func(a, b, c int) string { return fmt.Sprintf("%d / %d / %d", a, b, c) }
	row("VmRSS before / holding, client", func(r *Result) string { return mb(r.ClientRSSBeforeKB, r.ClientRSSHoldingKB) })
	row("VmRSS before / holding, server", func(r *Result) string { return mb(r.ServerRSSBeforeKB, r.ServerRSSHoldingKB) })
	row("VmRSS after closing / holding again, client", func(r *Result) string { return mb(r.ClientRSSAfterKB, r.ClientRSSHolding2KB) })
	row("open fds before / holding / after, client", func(r *Result) string {
		return fds(r.ClientFDsBefore, r.ClientFDsHolding, r.ClientFDsAfter)
	})
	row("VmRSS after closing / holding again, server", func(r *Result) string { return mb(r.ServerRSSAfterKB, r.ServerRSSHolding2KB) })
	row("open fds before / holding / after, server", func(r *Result) string {
		return fds(r.ServerFDsBefore, r.ServerFDsHolding, r.ServerFDsAfter)
	})
	tw.Flush()

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
	fmt.Fprintf(w, "\n\nMarkdown:\n\n")
	r.WriteMarkdown(w)
}

func (r *Report) settingsLine() string {
	c := r.Config
	verify := "checked"
	if !c.Verify {
		verify = "not checked"
	}
	return fmt.Sprintf("Setup: %d sequential conns; rtt: %d round trips; bulk: %s each way x%d, median, bytes %s; conns: %d, %d at a time, %s echoed each and held",
		c.Setups, c.RTTs, fmtBytes(c.Bytes), c.Runs, verify, c.Conns, c.Parallel, fmtBytes(int64(c.EchoBytes)))
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

// WriteMarkdown writes the figures as a markdown table to paste into a note.
func (r *Report) WriteMarkdown(w io.Writer) {
	m := r.Machine
	cmd := strings.TrimSpace("go run ./integration/bench " + strings.Join(r.Args, " "))
	fmt.Fprintf(w, "Measured %s, %d CPUs (%s), loopback, `%s`. %s.\n\n",
		r.Started.Format("2006-01-02"), m.CPUs, m.CPUModel, cmd, r.settingsLine())
	fmt.Fprintln(w, "| system | setup p50 | rtt p50 / p99 | up MB/s | down MB/s | conns ok | kB/conn client / server | exit client / server |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, res := range r.Results {
		name := "water-pt"
		if res.Name == NameBaseline {
			name = "baseline PT: goptlib + plain io.Copy, no WASM"
		} else if l := r.waterLabel(); l != "" {
			name += " (" + l + ")"
		} else {
			name += " (default WATM)"
		}
		conns := "-"
		if res.ConnsTried > 0 {
			conns = fmt.Sprintf("%d/%d", res.ConnsOK, res.ConnsTried)
		}
		fmt.Fprintf(w, "| %s | %s | %s / %s us | %s | %s | %s | %s / %s | %s / %s ms |\n",
			mdEscape(name), fmtMs(res.SetupP50Ms), fmtNum(res.RTTP50Us, 0), fmtNum(res.RTTP99Us, 0),
			fmtMBps(res.UpMBps), fmtMBps(res.DownMBps), conns,
			fmtShort(res.ClientKBPerConn), fmtShort(res.ServerKBPerConn),
			fmtShort(res.ExitClientMs), fmtShort(res.ExitServerMs))
	}
	if len(r.Ratios) > 0 {
		q := r.Ratios
		fmt.Fprintf(w, "| water-pt / baseline | %s | %s / %s | %s | %s | %s | %s / %s | %s / %s |\n",
			fmtRatio(q["setup_p50_ms"]), fmtRatio(q["rtt_p50_us"]), fmtRatio(q["rtt_p99_us"]),
			fmtRatio(q["up_mbps"]), fmtRatio(q["down_mbps"]), fmtRatio(q["conns_ok"]),
			fmtRatio(q["client_kb_per_conn"]), fmtRatio(q["server_kb_per_conn"]),
			fmtRatio(q["exit_client_ms"]), fmtRatio(q["exit_server_ms"]))
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
