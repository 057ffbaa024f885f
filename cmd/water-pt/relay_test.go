package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Bad relay command lines exit 2 with a message naming the problem, before
// anything listens.
func TestRelayUsage(t *testing.T) {
	noRelay, err := filepath.Abs(filepath.Join("..", "..", "watm", "testdata", "spin_worker.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"relay", "-watm-cache", "off", "-listen", "127.0.0.1:0"}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"help", []string{"relay", "-h"}, 0, "Usage: water-pt relay -listen"},
		{"no listen", []string{"relay", "-to", "127.0.0.1:1"}, 2, "water-pt relay: -listen is required (see water-pt relay -h)"},
		{"no to", base, 2, "water-pt relay: -to is required"},
		{"bad args", append(base, "-to", "127.0.0.1:1", "-args", "watm"), 2, "-args: args: argument 1 has no '='"},
		{"unknown key", append(base, "-to", "127.0.0.1:1", "-args", "watm=plain;cert=x"), 2,
			`-args: unknown key "cert": the relay takes watm=, watm-sha256= and watm-config=`},
		{"bad pin", append(base, "-to", "127.0.0.1:1", "-args", "watm=plain;watm-sha256=00"), 2, "watm-sha256=\"00\" is not 64 hex digits"},
		{"no such module", append(base, "-to", "127.0.0.1:1", "-args", "watm=nosuch"), 2, `no module named "nosuch"`},
		{"no relay entry", append(base, "-to", "127.0.0.1:1", "-args", "watm="+noRelay), 2,
			"has no relay entry: it must export _water_associate (v0) or watm_associate_v1 (v1)"},
		{"bad listen", []string{"relay", "-watm-cache", "off", "-listen", "127.0.0.1:99999", "-to", "127.0.0.1:1"}, 1, "invalid port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("water-pt %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.wantErr)
			}
			if strings.Contains(stdout, "listening on") {
				t.Errorf("it listened: %q", stdout)
			}
		})
	}
}
