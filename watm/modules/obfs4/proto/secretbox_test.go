package proto

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// countingBox counts the calls and boxes that reach a NativeSecretBox.
type countingBox struct {
	SecretBox
	seals, opens, sealed, opened int
}

func (b *countingBox) Seal(nonces [][24]byte, boxes [][]byte) error {
	b.seals++
	b.sealed += len(boxes)
	return b.SecretBox.Seal(nonces, boxes)
}

func (b *countingBox) Open(nonces [][24]byte, boxes [][]byte) (int, error) {
	b.opens++
	n, err := b.SecretBox.Open(nonces, boxes)
	b.opened += n
	return n, err
}

func countingPair(t *testing.T) (send, recv *conn, sb, rb *countingBox) {
	send, recv = framedPair(t)
	sb = &countingBox{SecretBox: send.enc.box}
	rb = &countingBox{SecretBox: recv.dec.box}
	send.enc.box, recv.dec.box = sb, rb
	return send, recv, sb, rb
}

// TestFramesSealedAndOpenedInBatches: a 32 KiB Write seals all its frames
// (payload and padding) in one SecretBox call, and a Read opens every
// whole frame buffered in one call.
func TestFramesSealedAndOpenedInBatches(t *testing.T) {
	send, recv, sb, rb := countingPair(t)
	data := randomBytes(t, 32<<10)
	if _, err := send.Write(data); err != nil {
		t.Fatal(err)
	}
	if sb.seals != 1 || sb.sealed < (32<<10)/maxPacketPayload+1 {
		t.Errorf("a 32 KiB Write made %d Seal calls for %d frames; want 1 call for at least %d", sb.seals, sb.sealed, (32<<10)/maxPacketPayload+1)
	}
	got := make([]byte, len(data))
	if _, err := io.ReadFull(recv, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("payload differs")
	}
	// The read buffer holds 16 segments: the burst arrives in 3 fills at
	// most, one Open call each.
	if rb.opens > 3 || rb.opened < sb.sealed-1 {
		t.Errorf("reading the burst made %d Open calls opening %d frames; want at most 3 calls for the %d frames sent", rb.opens, rb.opened, sb.sealed)
	}
}

// TestBadFrameAfterGoodOnesInOneBatch: when a frame in the middle of a
// batch fails authentication, the frames before it are delivered, then
// the Read fails naming the tag mismatch, and keeps failing.
func TestBadFrameAfterGoodOnesInOneBatch(t *testing.T) {
	send, recv, _, _ := countingPair(t)
	m := send.Conn.(*memConn)
	first, second := []byte("delivered before the bad frame"), []byte("never delivered")
	if _, err := send.Write(first); err != nil {
		t.Fatal(err)
	}
	mark := m.buf.Len()
	if _, err := send.Write(second); err != nil {
		t.Fatal(err)
	}
	m.buf.Bytes()[mark+2+5] ^= 0x80 // in the second burst's first box
	got := make([]byte, 100)
	n, err := recv.Read(got)
	if err != nil || !bytes.Equal(got[:n], first) {
		t.Fatalf("first Read = %q, %v; want %q", got[:n], err, first)
	}
	for range 2 {
		if n, err := recv.Read(got); n != 0 || !errors.Is(err, errTagMismatch) {
			t.Fatalf("Read after the bad frame = %d, %v; want 0, %v", n, err, errTagMismatch)
		}
	}
}

// TestNativeSecretBoxShortBox: a box shorter than its tag does not open
// (and is not sealed), instead of panicking.
func TestNativeSecretBoxShortBox(t *testing.T) {
	b, _ := NativeSecretBox(&[32]byte{})
	nonces := make([][24]byte, 2)
	if n, err := b.Open(nonces, [][]byte{make([]byte, 15), make([]byte, 20)}); n != 0 || err != nil {
		t.Errorf("Open of a 15-byte box = %d, %v; want 0, nil", n, err)
	}
	if err := b.Seal(nonces[:1], [][]byte{make([]byte, 15)}); err == nil {
		t.Error("Seal into a 15-byte box succeeded")
	}
}
