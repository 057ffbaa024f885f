package ptclient

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Per-bridge arguments travel from the Bridge line to the transport through
// the SOCKS5 username and password (pt-spec 3.5). tor writes each k=v pair of
// the Bridge line with ';' and '\' escaped by a backslash, joins the pairs
// with ';', and puts the first 255 bytes in the username and the rest in the
// password; when everything fits in the username the password is a single
// NUL byte. At most 510 bytes in all. With no arguments tor offers no-auth.
const (
	maxAuthField = 255              // RFC 1929: ULEN and PLEN are one byte each
	maxArgsBytes = 2 * maxAuthField // username + password
)

// Args are the per-bridge arguments: the k=v pairs of a Bridge line. A key
// appears at most once and always holds exactly one value; the slice is there
// so that Args converts to goptlib's pt.Args.
type Args map[string][]string

// Get returns the value of key and whether it is present.
func (a Args) Get(key string) (string, bool) {
	v, ok := a[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// ArgsFromAuth decodes the per-bridge arguments that tor put in a SOCKS5
// username and password: the two are concatenated, except that a password
// that is a single NUL byte is ignored, and the result is parsed by
// [ParseArgs].
func ArgsFromAuth(user, pass []byte) (Args, error) {
	s := string(user)
	if !(len(pass) == 1 && pass[0] == 0) {
		s += string(pass)
	}
	return ParseArgs(s)
}

// ParseArgs parses "k=v;k=v". A backslash escapes the byte after it, so
// "\;", "\=" and "\\" stand for ';', '=' and '\'; the first unescaped '='
// ends the key, so a value may hold unescaped '=' (tor does not escape them).
// The empty string is no arguments.
//
// Errors name the problem and the position (1-based) of the argument or its
// key, never a value: values carry secrets such as certificates.
func ParseArgs(s string) (Args, error) {
	args := Args{}
	if s == "" {
		return args, nil
	}
	var (
		n       = 1 // position of the argument being read
		buf     []byte
		key     string
		haveKey bool
	)
	finish := func() error {
		switch {
		case !haveKey:
			return fmt.Errorf("args: argument %d has no '='", n)
		case key == "":
			return fmt.Errorf("args: argument %d has an empty key", n)
		}
		if _, dup := args[key]; dup {
			return fmt.Errorf("args: duplicate key %q (argument %d)", key, n)
		}
		args[key] = []string{string(buf)}
		buf, key, haveKey = buf[:0], "", false
		n++
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
			if i == len(s) {
				return nil, fmt.Errorf("args: trailing backslash in argument %d", n)
			}
			buf = append(buf, s[i])
		case c == '=' && !haveKey:
			key, haveKey = string(buf), true
			buf = buf[:0]
		case c == ';':
			if err := finish(); err != nil {
				return nil, err
			}
		default:
			buf = append(buf, c)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return args, nil
}

// EncodeArgs encodes args the way tor does, for tests and integration
// harnesses that play tor's part: keys in sorted order (tor keeps the Bridge
// line's order; [ParseArgs] does not care), ';' and '\' escaped in keys and
// values and '=' in keys too (tor cannot write a key holding '='; escaping it
// keeps the round trip exact), pairs joined with ';'. When the result is
// longer than 255 bytes, user holds the first 255 and pass the rest;
// otherwise pass is a single NUL byte. With no arguments both are nil: offer
// SOCKS5 no-auth, as tor does.
//
// It fails on what tor cannot send: more than 510 bytes in all, an empty key,
// a NUL byte anywhere, or a key without exactly one value.
func EncodeArgs(args Args) (user, pass []byte, err error) {
	if len(args) == 0 {
		return nil, nil, nil
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var b []byte
	for i, k := range keys {
		vs := args[k]
		switch {
		case k == "":
			return nil, nil, errors.New("args: empty key")
		case len(vs) != 1:
			return nil, nil, fmt.Errorf("args: key %q has %d values, want 1", k, len(vs))
		case strings.IndexByte(k, 0) >= 0:
			return nil, nil, fmt.Errorf("args: key %q holds a NUL byte", k)
		case strings.IndexByte(vs[0], 0) >= 0:
			return nil, nil, fmt.Errorf("args: value of %q holds a NUL byte", k)
		}
		if i > 0 {
			b = append(b, ';')
		}
		b = appendEscaped(b, k, ";=\\")
		b = append(b, '=')
		b = appendEscaped(b, vs[0], ";\\")
	}
	if len(b) > maxArgsBytes {
		return nil, nil, fmt.Errorf("args: %d bytes encoded, more than the %d that fit in a SOCKS5 username and password", len(b), maxArgsBytes)
	}
	if len(b) > maxAuthField {
		return b[:maxAuthField:maxAuthField], b[maxAuthField:], nil
	}
	return b, []byte{0}, nil
}

func appendEscaped(b []byte, s, special string) []byte {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}
