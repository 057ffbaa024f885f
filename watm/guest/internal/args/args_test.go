package args

import (
	"maps"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		config string
		known  []string
		want   map[string]string
		err    string
	}{
		{config: "", want: map[string]string{}},
		{config: "", known: []string{"cert"}, want: map[string]string{}},
		{config: `cert=AbC\=\=;iat-mode=0`, known: []string{"cert", "iat-mode"},
			want: map[string]string{"cert": "AbC==", "iat-mode": "0"}},
		{config: `a\;b=c\\d\;e;k=`, known: []string{"a;b", "k"},
			want: map[string]string{"a;b": `c\d;e`, "k": ""}},
		{config: "cert=x;nope=1", known: []string{"cert", "iat-mode"},
			err: `unknown argument "nope"; this module takes: cert, iat-mode`},
		{config: "cert=x", err: "this module takes no arguments"},
		{config: "cert=x;cert=y", known: []string{"cert"}, err: `argument "cert" given twice`},
		{config: "cert", known: []string{"cert"},
			err: `argument "cert" has no value: args are key=value pairs separated by ";"`},
		{config: "=v", known: []string{"cert"},
			err: `an argument has an empty key: args are key=value pairs separated by ";"`},
		{config: "cert=a=b", known: []string{"cert"},
			err: `argument "cert" has an unescaped "=" in its value: escape it as \=`},
		{config: `cert=a\`, known: []string{"cert"}, err: `args end in a lone backslash: escape it as \\`},
		{config: "cert=a;", known: []string{"cert"},
			err: `an argument is empty: args are key=value pairs separated by ";"`},
	} {
		got, err := Parse([]byte(tc.config), tc.known...)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("Parse(%q, %q) error %v, want %q", tc.config, tc.known, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("Parse(%q, %q) error %v", tc.config, tc.known, err)
		case tc.err == "" && !maps.Equal(got, tc.want):
			t.Errorf("Parse(%q, %q) = %q, want %q", tc.config, tc.known, got, tc.want)
		}
	}
}
