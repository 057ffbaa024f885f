// Package ptlog scrubs IP addresses from log text, as pt-spec asks of a
// pluggable transport: client and bridge addresses must not reach the disk
// or tor's log unless the operator asks for them (-unsafeLogging).
//
// The scrubber does not try to recognise address syntax with a pattern:
// patterns miss forms (IPv4-mapped, NAT64, zones, brackets) and cut
// addresses in half. It looks at every maximal run of the bytes an address
// can be written with (hex digits, '.' and ':') and asks net.ParseIP about
// every piece of the run that could be an address. A run holding one is
// replaced; only a trailing port survives, and only when what survives holds
// no address itself.
package ptlog

import (
	"net"
	"strings"
)

// NotifyTor is the slog attribute key that marks a record as notable: the
// managed proxy also sends it to tor as a LOG line. ptclient, ptserver and
// the command share this one key.
const NotifyTor = "notify_tor"

// Scrubbed replaces each address.
const Scrubbed = "[scrubbed]"

// maxAddrLen is the longest text net.ParseIP accepts:
// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
const maxAddrLen = 45

// maxZoneLen bounds the "%zone" skipped inside brackets ("[fe80::1%eth0]").
const maxZoneLen = 32

// Scrub returns s with every IPv4 and IPv6 address, in any form net.ParseIP
// accepts, replaced by [scrubbed]. A port written after an IPv4 address
// ("8.8.8.8:443") or after a bracketed address ("[::1]:443") is kept.
// Anything that could hide an address (a hex run with an address inside) is
// replaced whole.
func Scrub(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is written
	for i := 0; i < len(s); {
		if !isRunByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isRunByte(s[j]) {
			j++
		}
		if keep, ok := scrubRun(s[i:j]); ok {
			start, end := i, j-len(keep)
			if keep == "" {
				start, end = bracketed(s, i, j)
			}
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:start])
			b.WriteString(Scrubbed)
			last = end
		}
		// A bracketed zone ("[::1%eth0:x]") may have taken bytes past
		// this run: they are gone already.
		i = max(j, last)
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isRunByte is a byte an address can be written with.
func isRunByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':'
}

// scrubRun decides about one maximal run: ok is true when it holds an
// address, and keep is the suffix that may stay (a port, and what follows
// it), "" when the whole run goes.
func scrubRun(run string) (keep string, ok bool) {
	if strings.Count(run, ".") < 3 && strings.Count(run, ":") < 2 {
		return "", false // no address fits: IPv4 needs 3 dots, IPv6 2 colons
	}
	if !hasAddr(run) {
		return "", false
	}
	for n := min(len(run), maxAddrLen); n >= 2; n-- {
		if net.ParseIP(run[:n]) == nil {
			continue
		}
		rest := run[n:]
		if rest == "" || strings.Contains(run[:n], ":") {
			return "", true // an IPv6 address: a port after it is not told apart
		}
		if isPortSuffix(rest) && !hasAddr(rest) {
			return rest, true
		}
		return "", true
	}
	return "", true
}

// isPortSuffix is ":PORT" followed by at most one '.' or ':'.
func isPortSuffix(s string) bool {
	if len(s) < 2 || s[0] != ':' {
		return false
	}
	d := 1
	for d < len(s) && d <= 5 && s[d] >= '0' && s[d] <= '9' {
		d++
	}
	return d > 1 && (d == len(s) || d+1 == len(s) && (s[d] == '.' || s[d] == ':'))
}

// hasAddr reports whether any piece of s parses as an address.
func hasAddr(s string) bool {
	for i := 0; i < len(s); i++ {
		for n := 2; n <= maxAddrLen && i+n <= len(s); n++ {
			if net.ParseIP(s[i:i+n]) != nil {
				return true
			}
		}
	}
	return false
}

// bracketed widens s[i:j] to take the brackets around it, and a zone, as in
// "[fe80::1%eth0]:443", so that the result is "[scrubbed]:443".
func bracketed(s string, i, j int) (int, int) {
	if i == 0 || s[i-1] != '[' {
		return i, j
	}
	k := j
	if k < len(s) && s[k] == '%' {
		for k < len(s) && k-j <= maxZoneLen && s[k] != ']' && s[k] > ' ' {
			k++
		}
	}
	if k < len(s) && s[k] == ']' {
		return i - 1, k + 1
	}
	return i, j
}
