package watm_test

import (
	"testing"

	"github.com/water-pt/water-pt/watm"
)

func TestAllowTCP(t *testing.T) {
	some, any, none := watm.AllowTCP("127.0.0.1:1", "[::1]:2"), watm.AllowTCP("*"), watm.AllowTCP()
	for _, tc := range []struct {
		network, address string
		some, any, none  bool
	}{
		{"tcp", "127.0.0.1:1", true, true, false},
		{"tcp4", "127.0.0.1:1", true, true, false},
		{"tcp6", "[::1]:2", true, true, false},
		{"tcp", "127.0.0.1:2", false, true, false},
		{"udp", "127.0.0.1:1", false, false, false},
		{"unix", "/tmp/x", false, false, false},
		{"tcp", "*", false, true, false},
	} {
		if got := some(tc.network, tc.address); got != tc.some {
			t.Errorf("AllowTCP(127.0.0.1:1, [::1]:2)(%s, %s) = %v", tc.network, tc.address, got)
		}
		if got := any(tc.network, tc.address); got != tc.any {
			t.Errorf("AllowTCP(*)(%s, %s) = %v", tc.network, tc.address, got)
		}
		if got := none(tc.network, tc.address); got != tc.none {
			t.Errorf("AllowTCP()(%s, %s) = %v", tc.network, tc.address, got)
		}
	}
}
