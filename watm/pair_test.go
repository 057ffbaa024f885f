package watm_test

import (
	"github.com/water-pt/water-pt/watm/watmtest"
	"testing"
)

func TestPairPlain64MiB(t *testing.T) {
	for _, name := range []string{"plain", "reverse"} {
		t.Run(name, func(t *testing.T) {
			watmtest.LeakCheck(t)
			rt := newRuntime(t)
			m := shipped(t, rt, name)
			c, s := wrappedPair(t, m, m)
			up, down := watmtest.RandomBytes(64<<20, 1), watmtest.RandomBytes(64<<20, 2)
			errs := make(chan error, 2)
			go func() { errs <- watmtest.SendAndCheck(c, s, up) }()
			go func() { errs <- watmtest.SendAndCheck(s, c, down) }()
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			s.Close()
			if err := c.Session().Wait(); err != nil {
				t.Errorf("client session: %v", err)
			}
			if err := s.Session().Wait(); err != nil {
				t.Errorf("server session: %v", err)
			}
		})
	}
}
