package ptlog_test

import (
	"net"
	"strings"
	"testing"

	"github.com/water-pt/water-pt/internal/ptlog"
)

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"ipv4", "from 203.0.113.5 now", "from [scrubbed] now"},
		{"ipv4 port", "dial tcp 127.0.0.1:1: connect: connection refused", "dial tcp [scrubbed]:1: connect: connection refused"},
		{"ipv4 port colon", "8.8.8.8:443:", "[scrubbed]:443:"},
		{"ipv4 port period", "to 8.8.8.8:443.", "to [scrubbed]:443."},
		{"ipv4 sentence", "to 8.8.8.8.", "to [scrubbed]"},
		{"ipv6", "from 2001:db8::1 now", "from [scrubbed] now"},
		{"ipv6 full", "2001:0db8:0000:0000:0000:0000:0000:0001", "[scrubbed]"},
		{"ipv6 bracketed port", "[2001:db8::1]:443", "[scrubbed]:443"},
		{"ipv6 zone bracketed", "[fe80::1%eth0]:443", "[scrubbed]:443"},
		{"ipv6 zone", "fe80::1%eth0", "[scrubbed]%eth0"},
		{"loopback v6", "[::1]:9000", "[scrubbed]:9000"},
		{"unspecified v6", "listening on [::]:443", "listening on [scrubbed]:443"},
		{"v4-mapped", "::ffff:203.0.113.5", "[scrubbed]"},
		{"v4-mapped in text", "client ::ffff:203.0.113.5 left", "client [scrubbed] left"},
		{"v4-mapped bracketed", "[::ffff:1.2.3.4]:443", "[scrubbed]:443"},
		{"nat64", "64:ff9b::198.51.100.7", "[scrubbed]"},
		{"nat64 bracketed", "remote=[64:ff9b::198.51.100.7]:80", "remote=[scrubbed]:80"},
		{"hex glued", "deadbeef1.2.3.4", "[scrubbed]"},
		{"two addresses", "1.2.3.4:5->6.7.8.9:10", "[scrubbed]:5->[scrubbed]:10"},
		{"port then address", "1.2.3.4:1::", "[scrubbed]"},
		{"zone holding a run", "[::%::]", "[scrubbed]"},
		{"zone holding an address", "a [fe80::1%1.2.3.4]:80 b", "a [scrubbed]:80 b"},
		{"idempotent", "[scrubbed]:443", "[scrubbed]:443"},
		{"no address", "sha256 9f86d081884c7d65 at 23:00:01.5 v1.2.3", "sha256 9f86d081884c7d65 at 23:00:01.5 v1.2.3"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ptlog.Scrub(tc.in); got != tc.want {
				t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzScrub checks that no address survives: the output is cut the way an
// attacker reading the log would, into maximal runs of hex digits, '.' and
// ':', and every piece of every run is given to net.ParseIP.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{
		"8.8.8.8:443:", "::ffff:203.0.113.5", "64:ff9b::1.2.3.4", "[::ffff:1.2.3.4]:443",
		"[fe80::1%eth0]:443", "dial tcp 127.0.0.1:1: connect: refused", "1.2.3.4:1::",
		"a1:b2:c3:d4:e5:f6:a7:b8:9", "1.1.1.1.1.1.1.1", "::", "x::1y", "[scrubbed]:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := ptlog.Scrub(in)
		if addr, ok := findAddr(out); ok {
			t.Fatalf("Scrub(%q) = %q: address %q survives", in, out, addr)
		}
		if again := ptlog.Scrub(out); again != out {
			t.Fatalf("Scrub not idempotent: %q -> %q -> %q", in, out, again)
		}
		if !strings.Contains(in, ".") && !strings.Contains(in, ":") && out != in {
			t.Fatalf("Scrub(%q) = %q changed text that holds no address", in, out)
		}
	})
}

func findAddr(s string) (string, bool) {
	isRun := func(c byte) bool {
		return strings.IndexByte("0123456789abcdefABCDEF.:", c) >= 0
	}
	for i := 0; i < len(s); i++ {
		// net.ParseIP takes at most 45 bytes; 64 leaves room, and keeps
		// this check linear on a long hex run (quadratic, it took 11 s on
		// a 3 kB one and the fuzzer called that a hang).
		for j := i + 1; j <= len(s) && j-i <= 64 && isRun(s[j-1]); j++ {
			if net.ParseIP(s[i:j]) != nil {
				return s[i:j], true
			}
		}
	}
	return "", false
}
