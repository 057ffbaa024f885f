package wasi

import (
	"bytes"
	"testing"
	"unsafe"
)

func TestSubscriptionLayout(t *testing.T) {
	if unsafe.Sizeof(Subscription{}) != 48 || unsafe.Alignof(Subscription{}) != 8 {
		t.Fatalf("Subscription: size %d align %d, want 48 and 8", unsafe.Sizeof(Subscription{}), unsafe.Alignof(Subscription{}))
	}
	var s Subscription
	s.SetFD(0x0102030405060708, EventFDWrite, 0x11223344)
	want := make([]byte, 48)
	copy(want[0:], []byte{8, 7, 6, 5, 4, 3, 2, 1})
	want[8] = 2
	copy(want[16:], []byte{0x44, 0x33, 0x22, 0x11})
	if !bytes.Equal(s.b[:], want) {
		t.Errorf("SetFD wrote\n% x\nwant\n% x", s.b, want)
	}

	s.SetClock(7, 1_000_000_000)
	want = make([]byte, 48)
	want[0] = 7
	want[8] = 0                                                 // tag clock
	want[16] = 1                                                // monotonic
	copy(want[24:], []byte{0x00, 0xca, 0x9a, 0x3b, 0, 0, 0, 0}) // 1e9
	if !bytes.Equal(s.b[:], want) {
		t.Errorf("SetClock wrote\n% x\nwant\n% x", s.b, want)
	}
}

func TestEventLayout(t *testing.T) {
	if unsafe.Sizeof(Event{}) != 32 || unsafe.Alignof(Event{}) != 8 {
		t.Fatalf("Event: size %d align %d, want 32 and 8", unsafe.Sizeof(Event{}), unsafe.Alignof(Event{}))
	}
	var e Event
	copy(e.b[0:], []byte{9, 0, 0, 0, 0, 0, 0, 0x80})
	copy(e.b[8:], []byte{64, 0}) // EPIPE
	e.b[10] = 1                  // fd_read
	copy(e.b[16:], []byte{0x00, 0x10})
	copy(e.b[24:], []byte{1, 0}) // hangup
	if e.UserData() != 0x8000000000000009 || e.Errno() != EPIPE || e.Type() != EventFDRead || e.NBytes() != 0x1000 || !e.Hangup() {
		t.Errorf("decoded %#x %v %d %d %v", e.UserData(), e.Errno(), e.Type(), e.NBytes(), e.Hangup())
	}
}

func TestErrno(t *testing.T) {
	for _, c := range []struct {
		e    Errno
		s    string
		want int32
	}{
		{ESUCCESS, "success", 0},
		{EAGAIN, "EAGAIN", -6},
		{ECANCELED, "ECANCELED", -11},
		{EPIPE, "EPIPE", -64},
		{Errno(42), "ENOBUFS", -42}, // in spec, not among the guest's constants
		{Errno(142), "errno 142", -142},
	} {
		if c.e.Error() != c.s || c.e.Result() != c.want {
			t.Errorf("Errno(%d): %q %d, want %q %d", c.e, c.e.Error(), c.e.Result(), c.s, c.want)
		}
	}
}
