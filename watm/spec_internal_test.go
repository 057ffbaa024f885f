package watm

import (
	"slices"
	"testing"

	"github.com/water-pt/water-pt/watm/internal/spec"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// TestWASIFunctionsAreSpec checks that the host provides exactly the
// functions of WASI preview 1, each once.
func TestWASIFunctionsAreSpec(t *testing.T) {
	var got []string
	for _, f := range wasip1.Functions() {
		got = append(got, f.Name)
	}
	want := spec.Preview1Functions()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("host WASI functions %v\nwant %v", got, want)
	}
}

// TestErrnoText checks the names the host prints for errnos: known, the
// two that used to live in wasi_path.go's own table, and unknown.
func TestErrnoText(t *testing.T) {
	for _, tc := range []struct {
		e    Errno
		want string
	}{
		{ESUCCESS, "errno 0 (ESUCCESS)"},
		{EFAULT, "errno 21 (EFAULT)"},
		{ENAMETOOLONG, "errno 37 (ENAMETOOLONG)"},
		{EROFS, "errno 69 (EROFS)"},
		{ENOTCAPABLE, "errno 76 (ENOTCAPABLE)"},
		{77, "errno 77 (errno(77))"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Errno(%d).Error() = %q, want %q", uint16(tc.e), got, tc.want)
		}
	}
}

// TestEnvFunctionsAreSpec checks that the host's env module provides
// exactly the imports of the WATER tables, both versions together, each
// with the table's type.
func TestEnvFunctionsAreSpec(t *testing.T) {
	want := map[string]sig{}
	for _, w := range []spec.Water{spec.WaterV0(), spec.WaterV1()} {
		for _, f := range w.Imports() {
			want[f.Name] = specSig(f)
		}
	}
	got := map[string]sig{}
	for _, f := range envFunctions() {
		got[f.Name] = sig{f.Params, f.ResultTypes()}
	}
	if len(got) != len(want) {
		t.Errorf("host env functions %v, want %v", got, want)
	}
	for name, s := range want {
		if g, ok := got[name]; !ok || !g.equal(s.params, s.results) {
			t.Errorf("host env function %s: %v (provided %v), want %v", name, g, ok, s)
		}
	}
}
