package main

import (
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
)

// A server's default set-up timeout outlasts an obfs4 server's longest
// probe-resistance delay (89 s); a client's is the runtime's default; the
// flag wins over both; a negative value is refused.
func TestSetupTimeoutFor(t *testing.T) {
	for _, tc := range []struct {
		flag   time.Duration
		serves bool
		want   time.Duration
		err    string
	}{
		{0, false, watm.DefaultSetupTimeout, ""},
		{0, true, 2 * time.Minute, ""},
		{5 * time.Second, true, 5 * time.Second, ""},
		{-time.Second, false, 0, "-watm-setup-timeout -1s: must be positive (e.g. 30s)"},
	} {
		o := options{setupTimeout: tc.flag, serves: tc.serves}
		got, err := o.setupTimeoutFor()
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%+v: error %v, want %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %v, %v; want %v", tc, got, err, tc.want)
		}
	}
	if serverSetupTimeout <= 89*time.Second {
		t.Errorf("serverSetupTimeout %v does not outlast obfs4's 89 s probe delay", serverSetupTimeout)
	}
}
