package main

import (
	"strings"
	"testing"
)

const managedUsage = "Usage: water-pt [flags]            (managed mode: run by tor)\n"

// TestManagedFlags runs the managed-mode command line (no PT environment,
// so nothing reaches tor's stdout) and checks the exit code and stderr
// byte for byte: bad values exit 2 before anything starts.
func TestManagedFlags(t *testing.T) {
	t.Setenv("TOR_PT_MANAGED_TRANSPORT_VER", "")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string // whole stderr, or its start when prefix
		prefix bool
	}{
		{"version", []string{"-version"}, 0, versionString() + "\n", "", false},
		{"help", []string{"-h"}, 0, "", managedUsage, true},
		{"unknown flag", []string{"-nosuchflag"}, 2, "", "flag provided but not defined: -nosuchflag\n" + managedUsage, true},
		{"bad int", []string{"-watm-pool", "x"}, 2, "", "invalid value \"x\" for flag -watm-pool: parse error\n" + managedUsage, true},
		{"bad size", []string{"-watm-max-size", "0"}, 2, "",
			"invalid value \"0\" for flag -watm-max-size: want a positive size such as 33554432 or 32MiB\n" + managedUsage, true},
		{"argument", []string{"stray"}, 2, "", "water-pt: unexpected argument \"stray\" (see water-pt -h)\n", false},
		{"log level", []string{"-logLevel", "bogus"}, 2, "", "water-pt: -logLevel \"bogus\": use ERROR, WARN, INFO or DEBUG\n", false},
		{"idle timeout", []string{"-server-idle-timeout", "-1s"}, 2, "", "water-pt: -server-idle-timeout -1s: want 0 (no deadline) or more\n", false},
		{"max conns", []string{"-max-conns", "-3"}, 2, "", "water-pt: -max-conns -3: want 0 (no cap) or more\n", false},
		{"setup timeout", []string{"-watm-setup-timeout", "-1s"}, 2, "", "water-pt: -watm-setup-timeout -1s: must be positive (e.g. 30s)\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if stdout != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout, tc.stdout)
			}
			if got := stderr; tc.prefix && !strings.HasPrefix(got, tc.stderr) || !tc.prefix && got != tc.stderr {
				t.Errorf("stderr %q, want %q (prefix: %v)", got, tc.stderr, tc.prefix)
			}
		})
	}
}

func TestVersionString(t *testing.T) {
	if v := versionString(); v != "water-pt (devel)" && !strings.HasPrefix(v, "water-pt v") {
		t.Errorf("versionString() = %q, want water-pt (devel) or water-pt vX.Y.Z", v)
	}
}

// TestStandaloneFlags checks the client and server command lines: a bad
// value exits 2 with one line naming the flag, as the last line of stderr
// (earlier lines, if any, are the start-up log), and nothing listens.
func TestStandaloneFlags(t *testing.T) {
	server := []string{"server", "-watm-cache", "off", "-listen", "127.0.0.1:0"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"client no listen", []string{"client"}, "water-pt client: -listen is required (see water-pt client -h)"},
		{"server no listen", []string{"server"}, "water-pt server: -listen is required (see water-pt server -h)"},
		{"client log level", []string{"client", "-listen", "127.0.0.1:0", "-logLevel", "x"},
			`water-pt client: -logLevel "x": use ERROR, WARN, INFO or DEBUG (see water-pt client -h)`},
		{"client setup timeout", []string{"client", "-listen", "127.0.0.1:0", "-watm-setup-timeout", "-1s"},
			"water-pt client: -watm-setup-timeout -1s: must be positive (e.g. 30s) (see water-pt client -h)"},
		{"server max conns", append(server, "-forward", "127.0.0.1:1", "-max-conns", "-1"),
			"water-pt server: -max-conns -1: want 0 (no cap) or more (see water-pt server -h)"},
		{"server logging without state", append(server, "-forward", "127.0.0.1:1", "-enableLogging"),
			"water-pt server: -enableLogging needs -state (the log is written there) (see water-pt server -h)"},
		{"client bad args", []string{"client", "-watm-cache", "off", "-listen", "127.0.0.1:0", "-args", "watm"},
			"water-pt client: -args: args: argument 1 has no '='"},
		{"server bad forward", append(server, "-forward", "nope"), "water-pt server: -forward: address nope: missing port in address"},
		{"server bad options", append(server, "-forward", "127.0.0.1:1", "-options", "watm"), "water-pt server: -options: args: argument 1 has no '='"},
		{"server bad listen", []string{"server", "-watm-cache", "off", "-listen", "nope", "-forward", "127.0.0.1:1"},
			"water-pt server: -listen: address nope: missing port in address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if code != 2 || lines[len(lines)-1] != tc.want {
				t.Errorf("water-pt %v: exit %d, stderr %q; want exit 2, last line %q", tc.args, code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want none", stdout)
			}
		})
	}
}
