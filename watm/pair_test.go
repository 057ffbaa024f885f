package watm_test

import (
	"testing"

	"github.com/water-pt/water-pt/watm/watmtest"
)

func TestPairPlain64MiB(t *testing.T) {
	for _, name := range []string{"plain", "reverse"} {
		t.Run(name, func(t *testing.T) {
			watmtest.LeakCheck(t)
			rt := newRuntime(t)
			m := shipped(t, rt, name)
			c, s := wrappedPair(t, m, m)
			up, down := watmtest.RandomBytes(64<<20, 1), watmtest.RandomBytes(64<<20, 2)
			if err := watmtest.Exchange(c, s, up, down); err != nil {
				t.Fatal(err)
			}
			closeClean(t, c, s)
		})
	}
}
