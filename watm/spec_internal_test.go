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
