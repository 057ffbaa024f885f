package ptclient_test

import (
	"reflect"
	"testing"

	"github.com/water-pt/water-pt/ptclient"
)

// FuzzArgsFromAuth: the SOCKS5 username and password come from whoever
// reaches the SOCKS port. Decoding must not panic, and what it accepts must
// survive EncodeArgs (tor's encoding) unchanged.
func FuzzArgsFromAuth(f *testing.F) {
	for _, s := range [][2]string{
		{"watm=plain", "\x00"},
		{`watm=reverse;watm-config=a\;b\\c`, "\x00"},
		{"k=v=w;x=", "y"},
		{`a\`, "\x00"},
		{";;", ""},
		{"=v", "\x00"},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, user, pass []byte) {
		args, err := ptclient.ArgsFromAuth(user, pass)
		if err != nil {
			return
		}
		u, p, err := ptclient.EncodeArgs(args)
		if err != nil {
			return // more than tor can send, or a NUL byte
		}
		again, err := ptclient.ArgsFromAuth(u, p)
		if err != nil {
			t.Fatalf("EncodeArgs(%q) = %q, %q, which does not parse: %v", args, u, p, err)
		}
		if !reflect.DeepEqual(args, again) && len(args) > 0 {
			t.Fatalf("round trip: %q -> %q, %q -> %q", args, u, p, again)
		}
	})
}
