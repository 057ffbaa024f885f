package main

import (
	"bytes"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// small are sizes that keep a check run short in unit tests; the
// integration test runs the defaults.
var small = []string{"-mib", "2", "-conns", "8", "-setups", "3", "-hold", "4", "-timeout", "20s"}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func checkArgs(file string, extra ...string) []string {
	return append(append([]string{"check", file}, small...), extra...)
}

func TestCheckUsage(t *testing.T) {
	plain := filepath.Join("..", "..", "watm", "modules", "plain.wasm")
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"help", []string{"check", "-h"}, 0, "Usage: water-pt check FILE.wasm"},
		{"no file", []string{"check"}, 2, "name the module file"},
		{"missing file", []string{"check", "/nonexistent/x.wasm"}, 2, "no such file"},
		{"two files", []string{"check", plain, "other.wasm"}, 2, `unexpected argument "other.wasm"`},
		{"bad config", []string{"check", plain, "-config", "!!"}, 2, "-config: \"!!\" is not base64"},
		{"zero mib", []string{"check", plain, "-mib", "0"}, 2, "-mib 0: must be at least 1"},
		{"zero conns", []string{"check", "-conns", "0", plain}, 2, "-conns 0: must be at least 1"},
		{"bad timeout", []string{"check", plain, "-timeout", "0s"}, 2, "-timeout 0s: must be positive"},
		{"bad level", []string{"check", plain, "-logLevel", "LOUD"}, 2, `-logLevel "LOUD"`},
		{"bad flag", []string{"check", plain, "-nosuch"}, 2, "flag provided but not defined: -nosuch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("water-pt %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.wantErr)
			}
			if tc.code == 2 && stdout != "" {
				t.Errorf("a usage error printed results: %q", stdout)
			}
		})
	}
}

// The lines a module that passes everything prints, in order.
var passLines = []string{"load", "roles", "set-up", "stream", "connections", "memory", "stop", "endings",
	"short writes", "write polling", "stdio", "cancel"}

// The shipped modules, v0 and v1, and the well-behaved fixtures pass every
// check, with figures. The fixtures that behave like the published SDKs
// pass too, with a warning for each thing other hosts would not tolerate.
//
// Whether the kernel ever takes only part of a write depends on how full the
// socket buffers get, which the machine's load decides: the short-writes
// line may be PASS or WARN for any module (the SDK fixtures are shown to
// need whole writes by interop's own tests).
func TestCheckPasses(t *testing.T) {
	const (
		polling = "write polling "
		epipe   = "endings       "
		stdio   = "stdio "
	)
	for _, tc := range []struct {
		file  string
		warns []string // the WARN lines' starts
	}{
		{"modules/plain.wasm", nil},
		{"modules/reverse.wasm", nil},
		{"modules/plain_v1.wasm", nil},
		{"testdata/ok_plain.wasm", nil},
		{"testdata/global_marker.wasm", nil},
		{"testdata/start_exit0.wasm", nil},
		{"testdata/sdk_tinygo_v0.wasm", []string{stdio}},
		{"testdata/sdk_tinygo_v1.wasm", []string{stdio}},
		{"testdata/sdk_tokio_v0.wasm", []string{polling}},
		{"testdata/sdk_epipe_v1.wasm", []string{epipe, polling}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, checkArgs(filepath.Join("..", "..", "watm", tc.file))...)
			if code != 0 {
				t.Fatalf("exit %d, want 0\n%s%s", code, stdout, stderr)
			}
			checkPassLines(t, stdout, tc.warns)
		})
	}
}

// checkPassLines checks a passing run's output: a header, each check in
// order (WARN where warns says, PASS or WARN for short writes, else PASS),
// the figures, and the summary.
func checkPassLines(t *testing.T, stdout string, warns []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != len(passLines)+2 {
		t.Fatalf("got %d lines, want a header, %d checks and a summary:\n%s", len(lines), len(passLines), stdout)
	}
	nwarn := 0
	for i, name := range passLines {
		l := lines[i+1]
		want := "PASS"
		for _, w := range warns {
			if strings.HasPrefix(l[5:], w) {
				want = "WARN"
			}
		}
		if name == "short writes" && strings.HasPrefix(l, "WARN short writes  the kernel took only part of ") {
			want = "WARN"
		}
		if f := strings.Fields(l); f[0] != want || !strings.HasPrefix(l[5:], name+" ") {
			t.Errorf("line %d is %q; want %s %s", i+2, l, want, name)
		}
		if want == "WARN" {
			nwarn++
		}
	}
	for _, re := range []string{`set-up +p50 \d`, `stream +2 MiB each way at once, intact: dialer->listener \d+ MB/s, listener->dialer \d+ MB/s`,
		`connections +8 at once, 64 KiB each way each, intact`, `memory +\d+ KiB PSS per instance`, `stop +through the cancel channel .* dialer in .*, listener in `} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("output does not match %q:\n%s", re, stdout)
		}
	}
	if last, want := lines[len(lines)-1], "PASS: every check passed, "+count(nwarn, "warning"); last != want {
		t.Errorf("summary %q, want %q", last, want)
	}
}

// Each broken fixture fails, exit 1, with a line that names its problem.
func TestCheckFails(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    []string // lines that must appear
	}{
		{"missing_worker", []string{"FAIL load          watm: invalid v0 module: _water_worker missing"}},
		{"wrong_sig", []string{"FAIL load", "_water_init has type ()->i64, want ()->i32", "_water_dial has type (i64)->i32, want (i32)->i32"}},
		{"bad_import", []string{"FAIL load", "import env.host_dial has type (i32)->i32, want ()->i32"}},
		{"unknown_import", []string{"FAIL load", "imports unknown function env.no_such_function"}},
		{"no_marker", []string{"FAIL load", "no WATER version marker"}},
		{"both_markers", []string{"FAIL load", "declares two ABI versions"}},
		{"v1_missing_start", []string{"FAIL load", "watm_start_v1 missing", "watm_accept_v1 has type (i32,i32)->i32"}},
		{"v1_minimal", []string{"FAIL load", "no role entry point"}},
		{"trap_init", []string{"FAIL roles", "_water_accept entry missing", "FAIL set-up        connection 1: dialer set-up: watm: _water_init trapped: wasm error: unreachable"}},
		{"spin_worker", []string{"FAIL stop          the dialer ignored its cancel channel (_water_cancel_with): stopped by force after the 500ms grace period",
			"FAIL cancel"}},
		{"grow_forever", []string{"FAIL stop          the dialer ended by itself before the stop, with the connection open: watm: _water_worker trapped: wasm error: unreachable"}},
		{"exit_in_worker", []string{"FAIL stop", "proc_exit(3) during _water_worker"}},
		{"bad_pointers", []string{"FAIL stop", "_water_worker returned errno 21 (EFAULT)"}},
		{"foreign_fd", []string{"FAIL stop", "_water_worker returned errno 8 (EBADF)"}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, checkArgs(filepath.Join("..", "..", "watm", "testdata", tc.fixture+".wasm"), "-timeout", "5s")...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
			if !regexp.MustCompile(`(?m)^FAIL: \d+ checks? failed, \d+ warnings?$`).MatchString(stdout) {
				t.Errorf("no failure summary:\n%s", stdout)
			}
		})
	}
}

// The flags reach the options: configs decoded per role, sizes scaled.
func TestCheckOptions(t *testing.T) {
	f := checkFlags{config: "ZGlhbA", listenerConfig: "bGlzdGVu", trusted: true, mib: 3, conns: 5, setups: 6, hold: 7, timeout: time.Second, logLevel: "debug"}
	o, err := f.options(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if string(o.Config) != "dial" || string(o.ListenerConfig) != "listen" || !o.Trusted || o.StreamBytes != 3<<20 ||
		o.Conns != 5 || o.Setups != 6 || o.Hold != 7 || o.Timeout != time.Second || o.Logger == nil {
		t.Fatalf("options %+v", o)
	}
	f.listenerConfig = ""
	if o, err = f.options(io.Discard); err != nil || o.ListenerConfig != nil {
		t.Fatalf("without -listener-config: %v, listener config %q; want nil (the dialer's)", err, o.ListenerConfig)
	}
	f.listenerConfig = "%%"
	if _, err = f.options(io.Discard); err == nil || !strings.Contains(err.Error(), "-listener-config: ") {
		t.Fatalf("bad -listener-config: %v", err)
	}
}

// check -h documents every flag.
func TestCheckHelp(t *testing.T) {
	code, _, stderr := runCmd(t, "check", "-h")
	if code != 0 {
		t.Fatalf("check -h: exit %d", code)
	}
	for _, f := range []string{"config", "listener-config", "trusted", "mib", "conns", "setups", "hold", "timeout", "logLevel"} {
		if !regexp.MustCompile(`(?m)^  -` + f + `\b.*\n\s+\S`).MatchString(stderr) {
			t.Errorf("check -h does not document -%s:\n%s", f, stderr)
		}
	}
}

// -trusted loads the module without loop checks, and says so.
func TestCheckTrusted(t *testing.T) {
	code, stdout, stderr := runCmd(t, checkArgs(filepath.Join("..", "..", "watm", "testdata", "ok_plain.wasm"), "-trusted")...)
	if code != 0 || !regexp.MustCompile(`(?m)^PASS load .*\(trusted: no loop checks\)$`).MatchString(stdout) {
		t.Fatalf("exit %d; want 0 and a load line saying trusted\n%s%s", code, stdout, stderr)
	}
}
