package catalog

import (
	"strings"
	"testing"
)

func TestEncodeArgs(t *testing.T) {
	for _, tc := range []struct {
		args map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"iat-mode": "0", "cert": "AbC=="}, `cert=AbC\=\=;iat-mode=0`},
		{map[string]string{`k;\=`: `v;\=`}, `k\;\\\==v\;\\\=`},
		{map[string]string{"b": "", "a": "1"}, `a=1;b=`},
	} {
		if got := string(EncodeArgs(tc.args)); got != tc.want {
			t.Errorf("EncodeArgs(%v) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestSpecFromArgs(t *testing.T) {
	s, err := SpecFromArgs(map[string][]string{"watm": {"obfs4"}, "cert": {"AbC=="}, "iat-mode": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "obfs4" || len(s.Args) != 2 || s.Args["cert"] != "AbC==" || s.Args["iat-mode"] != "1" {
		t.Fatalf("spec %+v", s)
	}
	if got, want := string(s.ModuleConfig()), `cert=AbC\=\=;iat-mode=1`; got != want {
		t.Errorf("ModuleConfig %q, want %q", got, want)
	}

	s, err = SpecFromArgs(map[string][]string{"watm-config": {"aGk"}})
	if err != nil || string(s.ModuleConfig()) != "hi" || s.Args != nil {
		t.Errorf("watm-config alone: %+v, %v; want config \"hi\" and no args", s, err)
	}
	if s, err := SpecFromArgs(nil); err != nil || s.ModuleConfig() != nil {
		t.Errorf("no args: config %q, %v; want nil", s.ModuleConfig(), err)
	}

	_, err = SpecFromArgs(map[string][]string{"watm-config": {"aGk"}, "cert": {"x"}, "iat-mode": {"0"}})
	const both = "both watm-config= and module arguments (cert, iat-mode) are given"
	if err == nil || !strings.Contains(err.Error(), both) {
		t.Errorf("watm-config and args: %v, want %q", err, both)
	}
}

func TestTransportSpec(t *testing.T) {
	obfs4 := Transport{Name: "obfs4", Module: "obfs4"}
	s, err := obfs4.Spec(map[string][]string{"cert": {"x"}})
	if err != nil || s.Name != "obfs4" || !s.Embedded || s.Args["cert"] != "x" {
		t.Fatalf("obfs4 spec %+v, %v", s, err)
	}
	for _, k := range HostArgKeys() {
		_, err := obfs4.Spec(map[string][]string{k: {"plain"}})
		want := "argument " + k + "= is not taken by transport obfs4, which always runs the embedded obfs4 module; " +
			"to choose a module, use transport water (e.g. Bridge water ... watm=obfs4)"
		if err == nil || err.Error() != want {
			t.Errorf("obfs4 with %s=: %v, want %q", k, err, want)
		}
	}
	s, err = Transport{Name: "water"}.Spec(map[string][]string{"watm": {"reverse"}})
	if err != nil || s.Name != "reverse" || s.Embedded {
		t.Errorf("water spec %+v, %v", s, err)
	}
}

func TestUnknownArgError(t *testing.T) {
	for _, tc := range []struct {
		err  UnknownArgError
		want string
	}{
		{UnknownArgError{Key: "wtam", HostKeys: []string{"watm", "watm-sha256", "watm-config"}, Module: "plain", Transport: "water"},
			`unknown argument "wtam": water-pt takes watm, watm-sha256, watm-config; module "plain" takes no arguments`},
		{UnknownArgError{Key: "bogus", HostKeys: []string{"watm"}, Module: "obfs4", Known: []string{"cert", "iat-mode"}, Transport: "water"},
			`unknown argument "bogus": water-pt takes watm; module "obfs4" takes: cert, iat-mode`},
		{UnknownArgError{Key: "crt", Module: "obfs4", Known: []string{"cert", "iat-mode"}, Transport: "obfs4"},
			`unknown argument "crt": transport obfs4 runs module "obfs4", which takes: cert, iat-mode`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestFindTransport(t *testing.T) {
	ts := []Transport{{Name: "water"}, {Name: "obfs4", Module: "obfs4"}}
	if got, err := FindTransport(ts, "obfs4"); err != nil || got != ts[1] {
		t.Errorf("FindTransport(obfs4) = %v, %v", got, err)
	}
	_, err := FindTransport(ts, "bogus")
	if want := "no such transport: water-pt provides water, obfs4"; err == nil || err.Error() != want {
		t.Errorf("FindTransport(bogus): %v, want %q", err, want)
	}
}
