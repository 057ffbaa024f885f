package tortest

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Kind classifies a line a PT printed on stdout (pt-spec section 3.3).
type Kind int

// Line kinds.
const (
	KindUnknown      Kind = iota // anything else; tor logs and ignores it
	KindVersion                  // VERSION 1
	KindVersionError             // VERSION-ERROR msg
	KindEnvError                 // ENV-ERROR msg
	KindProxyDone                // PROXY DONE
	KindProxyError               // PROXY-ERROR msg
	KindCMethod                  // CMETHOD name socks5 addr:port
	KindCMethodError             // CMETHOD-ERROR name msg
	KindCMethodsDone             // CMETHODS DONE
	KindSMethod                  // SMETHOD name addr:port [ARGS:k=v,...]
	KindSMethodError             // SMETHOD-ERROR name msg
	KindSMethodsDone             // SMETHODS DONE
	KindLog                      // LOG SEVERITY=... MESSAGE="..."
	KindStatus                   // STATUS TRANSPORT=... k=v ...
)

var kindNames = [...]string{
	KindUnknown:      "unknown",
	KindVersion:      "VERSION",
	KindVersionError: "VERSION-ERROR",
	KindEnvError:     "ENV-ERROR",
	KindProxyDone:    "PROXY DONE",
	KindProxyError:   "PROXY-ERROR",
	KindCMethod:      "CMETHOD",
	KindCMethodError: "CMETHOD-ERROR",
	KindCMethodsDone: "CMETHODS DONE",
	KindSMethod:      "SMETHOD",
	KindSMethodError: "SMETHOD-ERROR",
	KindSMethodsDone: "SMETHODS DONE",
	KindLog:          "LOG",
	KindStatus:       "STATUS",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// KV is one key=value pair, in order of appearance.
type KV struct {
	Key, Value string
}

// Line is one line a PT printed on stdout.
type Line struct {
	Index int       // position among the PT's lines, from 0
	At    time.Time // when the harness read it
	Text  string    // the line without its newline
	Kind  Kind
	// Fields are the space-separated words after the keyword ("VERSION",
	// "CMETHOD", "PROXY DONE", ...), as tor splits them.
	Fields []string
	// KVs are the parsed pairs of a LOG or STATUS line, with quoted values
	// unescaped (tor's kvline format: key=value or key="C string").
	KVs []KV
	// Err is set when a LOG or STATUS line does not parse.
	Err error
}

// Get returns the value of the first pair named key in l.KVs.
func (l Line) Get(key string) (string, bool) {
	for _, kv := range l.KVs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// ParseLine classifies text (one stdout line without its newline) the way tor
// does: by its leading keyword.
func ParseLine(text string) Line {
	l := Line{Text: text}
	words := strings.Fields(text)
	if len(words) == 0 {
		return l
	}
	rest := words[1:]
	two := func(second string) bool { return len(words) >= 2 && words[1] == second }
	switch words[0] {
	case "VERSION":
		l.Kind = KindVersion
	case "VERSION-ERROR":
		l.Kind = KindVersionError
	case "ENV-ERROR":
		l.Kind = KindEnvError
	case "PROXY":
		if two("DONE") {
			l.Kind, rest = KindProxyDone, words[2:]
		}
	case "PROXY-ERROR":
		l.Kind = KindProxyError
	case "CMETHOD":
		l.Kind = KindCMethod
	case "CMETHOD-ERROR":
		l.Kind = KindCMethodError
	case "CMETHODS":
		if two("DONE") {
			l.Kind, rest = KindCMethodsDone, words[2:]
		}
	case "SMETHOD":
		l.Kind = KindSMethod
	case "SMETHOD-ERROR":
		l.Kind = KindSMethodError
	case "SMETHODS":
		if two("DONE") {
			l.Kind, rest = KindSMethodsDone, words[2:]
		}
	case "LOG", "STATUS":
		l.Kind = KindLog
		if words[0] == "STATUS" {
			l.Kind = KindStatus
		}
		l.KVs, l.Err = ParseKVLine(strings.TrimLeft(strings.TrimPrefix(text, words[0]), " "))
	}
	if l.Kind != KindUnknown {
		l.Fields = rest
	}
	return l
}

// Method is a CMETHOD or SMETHOD line.
type Method struct {
	Name  string
	Proto string // CMETHOD: "socks5" or "socks4"; "" for SMETHOD
	Addr  string // host:port: the SOCKS listener (CMETHOD) or the bridge (SMETHOD)
	// Args are the SMETHOD ARGS: pairs, unescaped, in order: what goes into
	// the bridge line and from there into the client's SOCKS arguments.
	Args []KV
	// Options are any other SMETHOD options, verbatim.
	Options []string
	Line    Line
}

// ParseMethod parses a CMETHOD or SMETHOD line and checks it as tor does
// (name a C identifier, address an IP literal with a non-zero port) and a
// little more (a well-formed ARGS: list).
func ParseMethod(l Line) (Method, error) {
	m := Method{Line: l}
	switch l.Kind {
	case KindCMethod:
		if len(l.Fields) < 3 {
			return m, fmt.Errorf("CMETHOD line %q: too few fields", l.Text)
		}
		m.Name, m.Proto, m.Addr = l.Fields[0], l.Fields[1], l.Fields[2]
		if m.Proto != "socks5" && m.Proto != "socks4" {
			return m, fmt.Errorf("CMETHOD line %q: unknown proxy protocol %q", l.Text, m.Proto)
		}
	case KindSMethod:
		if len(l.Fields) < 2 {
			return m, fmt.Errorf("SMETHOD line %q: too few fields", l.Text)
		}
		m.Name, m.Addr = l.Fields[0], l.Fields[1]
		for _, opt := range l.Fields[2:] {
			if s, ok := strings.CutPrefix(opt, "ARGS:"); ok {
				args, err := ParseSMethodArgs(s)
				if err != nil {
					return m, fmt.Errorf("SMETHOD line %q: %v", l.Text, err)
				}
				m.Args = append(m.Args, args...)
			} else {
				m.Options = append(m.Options, opt)
			}
		}
	default:
		return m, fmt.Errorf("line %q is not a CMETHOD or SMETHOD", l.Text)
	}
	if !isCIdentifier(m.Name) {
		return m, fmt.Errorf("%v line %q: transport name %q is not a C identifier", l.Kind, l.Text, m.Name)
	}
	ap, err := netip.ParseAddrPort(m.Addr)
	if err != nil || ap.Port() == 0 {
		return m, fmt.Errorf("%v line %q: address %q is not ip:port with a non-zero port", l.Kind, l.Text, m.Addr)
	}
	return m, nil
}

// ParseSMethodArgs parses the value of an SMETHOD ARGS: option: k=v pairs
// separated by commas, where a backslash escapes the next character (goptlib
// escapes ',', '=' and '\'). The split is on the first unescaped '=' of each
// pair.
func ParseSMethodArgs(s string) ([]KV, error) {
	var out []KV
	if s == "" {
		return nil, nil
	}
	for {
		key, sep, rest, err := scanEscaped(s, ",=")
		if err != nil {
			return nil, err
		}
		if sep != '=' {
			return nil, fmt.Errorf("ARGS pair %q has no '='", s[:len(s)-len(rest)])
		}
		if key == "" {
			return nil, errors.New("ARGS pair with an empty key")
		}
		value, sep, rest, err := scanEscaped(rest, ",")
		if err != nil {
			return nil, err
		}
		out = append(out, KV{key, value})
		if sep == 0 {
			return out, nil
		}
		s = rest
	}
}

// scanEscaped reads s up to the first unescaped byte of stops, unescaping
// backslash sequences. It returns the text, the stop byte found (0 at the end
// of s) and what follows it.
func scanEscaped(s, stops string) (text string, stop byte, rest string, err error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(stops, c) >= 0 {
			return b.String(), c, s[i+1:], nil
		}
		if c == '\\' {
			i++
			if i == len(s) {
				return "", 0, "", fmt.Errorf("%q ends with a lone backslash", s)
			}
			c = s[i]
		}
		b.WriteByte(c)
	}
	return b.String(), 0, "", nil
}

// ParseKVLine parses the arguments of a LOG or STATUS line: space-separated
// key=value pairs whose value is either a bare word or a double-quoted C
// string (escapes \n \t \r \" \\ \' and octal \NNN), as tor's kvline_parse
// with KV_QUOTED.
func ParseKVLine(s string) ([]KV, error) {
	var out []KV
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return out, nil
		}
		eq := strings.IndexAny(s, "= ")
		if eq <= 0 || s[eq] != '=' {
			return out, fmt.Errorf("kvline: %q is not key=value", s)
		}
		key := s[:eq]
		s = s[eq+1:]
		if strings.HasPrefix(s, `"`) {
			v, n, err := unquoteC(s)
			if err != nil {
				return out, fmt.Errorf("kvline: value of %s: %v", key, err)
			}
			out = append(out, KV{key, v})
			s = s[n:]
			if s != "" && s[0] != ' ' {
				return out, fmt.Errorf("kvline: garbage after the quoted value of %s", key)
			}
			continue
		}
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			end = len(s)
		}
		out = append(out, KV{key, s[:end]})
		s = s[end:]
	}
}

// unquoteC decodes the C string at the start of s and returns it and the
// number of bytes of s it used.
func unquoteC(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			i++
			if i == len(s) {
				return "", 0, errors.New("unterminated escape")
			}
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '"', '\\', '\'':
				b.WriteByte(e)
			default:
				if i+2 < len(s) && isOctal(e) && isOctal(s[i+1]) && isOctal(s[i+2]) {
					v := (e-'0')<<6 | (s[i+1]-'0')<<3 | (s[i+2] - '0')
					b.WriteByte(v)
					i += 2
				} else {
					return "", 0, fmt.Errorf("bad escape \\%c", e)
				}
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("unterminated quoted string")
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

func isCIdentifier(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
