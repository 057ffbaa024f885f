package watm_test

import (
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// TestPollClocksFireByDeadline checks that poll_oneoff, with no fd ready,
// reports only the clock subscriptions whose deadline passed (issue 12).
func TestPollClocksFireByDeadline(t *testing.T) {
	rt := newRuntime(t)
	m, err := fixture(t, rt, "poll_clocks")
	if err != nil {
		t.Fatal(err)
	}
	a, b := watmtest.Pair(t)
	s, err := m.Prepare(context.Background(), watm.RoleDialer, a, watm.ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	out := make([]byte, 68)
	if _, err := io.ReadFull(b, out); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	nev := binary.LittleEndian.Uint32(out)
	var uds []uint64
	for i := range min(nev, 2) {
		uds = append(uds, binary.LittleEndian.Uint64(out[4+32*i:]))
	}
	if nev != 1 || uds[0] != 1 {
		t.Fatalf("poll_oneoff returned %d events with userdata %v; want 1 event, userdata 1 (the 1 ms clock only)", nev, uds)
	}
}
