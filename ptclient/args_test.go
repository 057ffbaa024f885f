package ptclient_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/water-pt/water-pt/ptclient"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		in      string
		want    ptclient.Args
		wantErr string
	}{
		{in: "", want: ptclient.Args{}},
		{in: "a=b", want: ptclient.Args{"a": {"b"}}},
		{in: "a=b;c=d", want: ptclient.Args{"a": {"b"}, "c": {"d"}}},
		{in: "a=", want: ptclient.Args{"a": {""}}},
		{in: "cert=AbC+/==;iat-mode=0", want: ptclient.Args{"cert": {"AbC+/=="}, "iat-mode": {"0"}}},
		{in: `k\;\=\\=v\;\=\\`, want: ptclient.Args{`k;=\`: {`v;=\`}}},
		{in: `a=\x\y`, want: ptclient.Args{"a": {"xy"}}},
		{in: "a=b=c", want: ptclient.Args{"a": {"b=c"}}},
		{in: "url=https://x.example/?q=1", want: ptclient.Args{"url": {"https://x.example/?q=1"}}},

		{in: "a", wantErr: "args: argument 1 has no '='"},
		{in: "a=b;c", wantErr: "args: argument 2 has no '='"},
		{in: "a=b;", wantErr: "args: argument 2 has no '='"},
		{in: ";a=b", wantErr: "args: argument 1 has no '='"},
		{in: `a\=b`, wantErr: "args: argument 1 has no '='"},
		{in: "=b", wantErr: "args: argument 1 has an empty key"},
		{in: "a=1;=2", wantErr: "args: argument 2 has an empty key"},
		{in: "a=1;b=2;a=3", wantErr: `args: duplicate key "a" (argument 3)`},
		{in: `a=b\`, wantErr: "args: trailing backslash in argument 1"},
		{in: `a=b;c\`, wantErr: "args: trailing backslash in argument 2"},
	}
	for _, tt := range tests {
		got, err := ptclient.ParseArgs(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseArgs(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseArgs(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// Errors name keys and positions, never values: values hold secrets.
func TestParseArgsErrorsHideValues(t *testing.T) {
	for _, in := range []string{"cert=SECRET;cert=SECRET2", "cert=SECRET;SECRET3", `cert=SECRET\`} {
		_, err := ptclient.ParseArgs(in)
		if err == nil {
			t.Fatalf("ParseArgs(%q) succeeded", in)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("ParseArgs(%q): error %q shows a value", in, err)
		}
	}
}

func TestArgsGet(t *testing.T) {
	a := ptclient.Args{"k": {"v"}, "empty": {}}
	if v, ok := a.Get("k"); !ok || v != "v" {
		t.Errorf(`Get("k") = %q, %v`, v, ok)
	}
	if v, ok := a.Get("missing"); ok || v != "" {
		t.Errorf(`Get("missing") = %q, %v`, v, ok)
	}
	if _, ok := a.Get("empty"); ok {
		t.Errorf(`Get("empty") found a value`)
	}
}

func TestArgsFromAuth(t *testing.T) {
	tests := []struct {
		user, pass string
		want       ptclient.Args
	}{
		{"a=b", "\x00", ptclient.Args{"a": {"b"}}},
		{"a=b;c", "=d", ptclient.Args{"a": {"b"}, "c": {"d"}}},
		{"a=b", "c", ptclient.Args{"a": {"bc"}}},
		{"a=", "\x00\x00", ptclient.Args{"a": {"\x00\x00"}}}, // only a lone NUL is tor's filler
		{`a=x\`, ";", ptclient.Args{"a": {"x;"}}},            // an escape split across the two
	}
	for _, tt := range tests {
		got, err := ptclient.ArgsFromAuth([]byte(tt.user), []byte(tt.pass))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ArgsFromAuth(%q, %q) = %q, %v; want %q", tt.user, tt.pass, got, err, tt.want)
		}
	}
}

func TestEncodeArgs(t *testing.T) {
	tests := []struct {
		name                     string
		args                     ptclient.Args
		wantUser, wantPass       string
		wantErr                  string
		wantUserLen, wantPassLen int // when the strings are too long to spell out
	}{
		{name: "none", args: nil},
		{name: "empty", args: ptclient.Args{}},
		{name: "one", args: ptclient.Args{"a": {"b"}}, wantUser: "a=b", wantPass: "\x00"},
		{name: "sorted", args: ptclient.Args{"z": {"1"}, "a": {"2"}}, wantUser: "a=2;z=1", wantPass: "\x00"},
		{name: "escapes as tor", args: ptclient.Args{`k;=\`: {`v;=\`}}, wantUser: `k\;\=\\=v\;=\\`, wantPass: "\x00"},
		{name: "base64 padding unescaped", args: ptclient.Args{"cert": {"AA=="}}, wantUser: "cert=AA==", wantPass: "\x00"},
		{name: "exactly 255", args: ptclient.Args{"k": {strings.Repeat("v", 253)}}, wantUserLen: 255, wantPassLen: 1, wantPass: "\x00"},
		{name: "256 spills one byte", args: ptclient.Args{"k": {strings.Repeat("v", 254)}}, wantUserLen: 255, wantPassLen: 1, wantPass: "v"},
		{name: "510 fits", args: ptclient.Args{"k": {strings.Repeat("v", 508)}}, wantUserLen: 255, wantPassLen: 255},
		{name: "511 does not", args: ptclient.Args{"k": {strings.Repeat("v", 509)}}, wantErr: "args: 511 bytes encoded, more than the 510"},
		{name: "escapes count", args: ptclient.Args{"k": {strings.Repeat(";", 255)}}, wantErr: "args: 512 bytes encoded"},
		{name: "empty key", args: ptclient.Args{"": {"v"}}, wantErr: "args: empty key"},
		{name: "two values", args: ptclient.Args{"k": {"1", "2"}}, wantErr: `args: key "k" has 2 values, want 1`},
		{name: "no value", args: ptclient.Args{"k": {}}, wantErr: `args: key "k" has 0 values, want 1`},
		{name: "NUL in key", args: ptclient.Args{"k\x00": {"v"}}, wantErr: "NUL byte"},
		{name: "NUL in value", args: ptclient.Args{"k": {"v\x00"}}, wantErr: "NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := ptclient.EncodeArgs(tt.args)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EncodeArgs = %q, %q, %v; want error %q", user, pass, err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tt.wantUserLen > 0:
				if len(user) != tt.wantUserLen || len(pass) != tt.wantPassLen {
					t.Errorf("lengths %d+%d, want %d+%d", len(user), len(pass), tt.wantUserLen, tt.wantPassLen)
				}
				if tt.wantPass != "" && string(pass) != tt.wantPass {
					t.Errorf("password %q, want %q", pass, tt.wantPass)
				}
			case string(user) != tt.wantUser || string(pass) != tt.wantPass:
				t.Errorf("EncodeArgs = %q, %q; want %q, %q", user, pass, tt.wantUser, tt.wantPass)
			}
			got, err := ptclient.ArgsFromAuth(user, pass)
			if err != nil {
				t.Fatalf("decoding what EncodeArgs wrote: %v", err)
			}
			want := tt.args
			if want == nil {
				want = ptclient.Args{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip = %q, want %q", got, want)
			}
		})
	}
}

func TestArgsRoundTrip(t *testing.T) {
	for i, args := range []ptclient.Args{
		{"a": {"b"}},
		{`\`: {`\`}, ";": {";"}, "=": {"="}, `\;=`: {`=;\`}},
		{"cert": {strings.Repeat("x", 300)}, "iat-mode": {"2"}},
		{"odd": {strings.Repeat(`;\`, 120)}, "k": {"v"}},     // escapes across the 255 split
		{"k": {strings.Repeat("é", 100)}, "ü": {"\xff\x01"}}, // any non-NUL byte
	} {
		user, pass, err := ptclient.EncodeArgs(args)
		if err != nil {
			t.Fatalf("%d: EncodeArgs: %v", i, err)
		}
		got, err := ptclient.ArgsFromAuth(user, pass)
		if err != nil {
			t.Fatalf("%d: ArgsFromAuth(%q, %q): %v", i, user, pass, err)
		}
		if !reflect.DeepEqual(got, args) {
			t.Errorf("%d: round trip = %q, want %q", i, got, args)
		}
	}
}

func ExampleEncodeArgs() {
	user, pass, err := ptclient.EncodeArgs(ptclient.Args{"cert": {"AA=="}, "iat-mode": {"0"}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q %q\n", user, pass)
	// Output: "cert=AA==;iat-mode=0" "\x00"
}
