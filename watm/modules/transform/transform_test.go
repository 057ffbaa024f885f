package transform_test

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/water-pt/water-pt/watm/modules/transform"
)

func TestReverseBitsEveryByte(t *testing.T) {
	// Every byte value, at every offset modulo 8, so both the 8-byte and
	// the byte-at-a-time paths see all of them.
	for off := range 8 {
		p := make([]byte, off+256+off)
		for i := range 256 {
			p[off+i] = byte(i)
		}
		transform.ReverseBits(p)
		for i := range 256 {
			if got, want := p[off+i], bits.Reverse8(byte(i)); got != want {
				t.Fatalf("offset %d: ReverseBits(%#02x) = %#02x, want %#02x", off, i, got, want)
			}
		}
	}
}

func TestReverseBitsEmpty(t *testing.T) {
	if got := transform.ReverseBits(nil); len(got) != 0 {
		t.Fatalf("ReverseBits(nil) = %v", got)
	}
	if got := transform.ReverseBits([]byte{}); len(got) != 0 {
		t.Fatalf("ReverseBits([]byte{}) = %v", got)
	}
}

func TestReverseIsStreamSafeInvolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]byte, 100_003)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	whole := transform.Reverse{}.Wrap(bytes.Clone(src))

	// Cut into random chunks: same bytes.
	var chunked []byte
	for rest := bytes.Clone(src); len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(20))
		chunked = append(chunked, transform.Reverse{}.Wrap(rest[:n])...)
		rest = rest[n:]
	}
	if !bytes.Equal(whole, chunked) {
		t.Fatal("chunked Wrap differs from whole Wrap")
	}
	if bytes.Equal(whole, src) {
		t.Fatal("Wrap left the data unchanged")
	}
	if back := (transform.Reverse{}).Unwrap(whole); !bytes.Equal(back, src) {
		t.Fatal("Unwrap(Wrap(p)) != p")
	}
}

func TestPlainIsIdentity(t *testing.T) {
	p := []byte("hello")
	if got := (transform.Plain{}).Wrap(p); &got[0] != &p[0] || string(got) != "hello" {
		t.Fatal("Plain.Wrap is not the identity")
	}
	if got := (transform.Plain{}).Unwrap(p); &got[0] != &p[0] || string(got) != "hello" {
		t.Fatal("Plain.Unwrap is not the identity")
	}
}

func BenchmarkReverseBits(b *testing.B) {
	p := make([]byte, 64<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		transform.ReverseBits(p)
	}
}
