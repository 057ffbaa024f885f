package watm_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// A module whose network write queue is full (its peer stops reading) has
// its other sockets' input held back, but never its cancel channel: Close
// stops it through the channel, not by force. Before the cancel channel was
// exempt, the module's poll left the channel out while the queue stayed
// full, and Close always had to stop it by force.
func TestCancelWhileQueueFull(t *testing.T) {
	for _, name := range []string{"plain", "plain_v1"} {
		t.Run(name, func(t *testing.T) {
			rt := newRuntime(t, watm.WithGrace(2*time.Second))
			m := shipped(t, rt, name)
			tp := watmtest.Listen(t)
			held := make(chan net.Conn, 1)
			go func() {
				c, err := tp.Accept()
				if err != nil {
					close(held)
					return
				}
				held <- c // never read: the module's network queue fills
			}()
			app, mod := watmtest.Pair(t)
			s, err := m.Prepare(context.Background(), watm.RoleDialer, mod, watm.ConnConfig{Dial: tp.Dial})
			if err != nil {
				t.Fatal(err)
			}
			s.Start()
			peer := <-held
			if peer == nil {
				t.Fatal("no connection reached the network peer")
			}
			defer peer.Close()
			writeDone := make(chan struct{})
			go func() {
				defer close(writeDone)
				buf := make([]byte, 64<<10)
				for {
					if _, err := app.Write(buf); err != nil {
						return
					}
				}
			}()
			waitFor(t, 20*time.Second, "a full write queue", func() bool { return s.FullQueues() > 0 })
			start := time.Now()
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if s.Behaviour().CancelIgnored {
				t.Errorf("the module was stopped by force after %v: its cancel channel was held back with the other input", time.Since(start))
			}
			app.Close()
			<-writeDone
		})
	}
}
