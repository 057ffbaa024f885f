package proto

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"
)

// memConn is a net.Conn whose writes are buffered for its own reads, for
// measuring framing without a network.
type memConn struct {
	net.Conn // nil: only Read and Write are used
	buf      bytes.Buffer
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.buf.Len() == 0 {
		return 0, io.EOF
	}
	return m.buf.Read(p)
}
func (m *memConn) Write(p []byte) (int, error) { return m.buf.Write(p) }

// framedPair returns a sender and a receiver sharing one memConn, keyed as
// after a handshake, iat-mode 0.
func framedPair(tb testing.TB) (send, recv *conn) {
	tb.Helper()
	var keys [frameKeyLength]byte
	var seed [drbgSeedLength]byte
	if _, err := rand.Read(keys[:]); err != nil {
		tb.Fatal(err)
	}
	if _, err := rand.Read(seed[:]); err != nil {
		tb.Fatal(err)
	}
	m := &memConn{}
	send = newConn(m, false, iatNone, newCoins(rand.Reader), &seed)
	recv = newConn(m, true, iatNone, newCoins(rand.Reader), &seed)
	send.enc.frameCrypto = *newFrameCrypto(&keys)
	recv.dec.frameCrypto = *newFrameCrypto(&keys)
	return send, recv
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	send, recv := framedPair(t)
	data := randomBytes(t, 32<<10)
	got := make([]byte, len(data))
	step := func() {
		if _, err := send.Write(data); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(recv, got); err != nil {
			t.Fatal(err)
		}
	}
	step() // let the buffers reach their size
	if n := testing.AllocsPerRun(50, step); n != 0 {
		t.Fatalf("a 32 KiB Write and Read allocate %v times; want 0", n)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("payload differs")
	}
}

// BenchmarkFraming measures steady-state framing, both ends in one
// goroutine: seal, pad and mask 32 KiB, then unmask and open it.
func BenchmarkFraming(b *testing.B) {
	send, recv := framedPair(b)
	data := randomBytes(b, 32<<10)
	got := make([]byte, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := send.Write(data); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(recv, got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandshake measures a whole handshake over net.Pipe.
func BenchmarkHandshake(b *testing.B) {
	id := testIdentity(b, 0)
	for b.Loop() {
		c, s := net.Pipe()
		handshakePair(b, c, s, id)
		c.Close()
		s.Close()
	}
}

// BenchmarkSecretboxBaseline is bare secretbox Seal and Open over the same
// 32 KiB in maximum-size frames: the bound BenchmarkFraming is measured
// against.
func BenchmarkSecretboxBaseline(b *testing.B) {
	var key [32]byte
	var nonce [24]byte
	data := randomBytes(b, 32<<10)
	box := make([]byte, 0, maxSegmentLength)
	out := make([]byte, 0, maxSegmentLength)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(data); off += maxPacketPayload {
			msg := data[off:min(off+maxPacketPayload, len(data))]
			box = secretbox.Seal(box[:0], msg, &nonce, &key)
			var ok bool
			if out, ok = secretbox.Open(out[:0], box, &nonce, &key); !ok {
				b.Fatal("open failed")
			}
		}
	}
}
