package proto

import (
	"encoding/binary"
	"math/bits"
)

// sipState is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast
// short-input PRF", 2012) over a message made of whole 8-byte words, fed one
// word at a time. golang.org/x/crypto has no SipHash; see RATIONALE.md.
type sipState struct {
	v0, v1, v2, v3 uint64
	words          uint64 // message words absorbed so far
}

func newSipState(key []byte) sipState {
	k0 := binary.LittleEndian.Uint64(key[0:8])
	k1 := binary.LittleEndian.Uint64(key[8:16])
	return sipState{
		v0: k0 ^ 0x736f6d6570736575,
		v1: k1 ^ 0x646f72616e646f6d,
		v2: k0 ^ 0x6c7967656e657261,
		v3: k1 ^ 0x7465646279746573,
	}
}

func (s *sipState) round() {
	s.v0 += s.v1
	s.v1 = bits.RotateLeft64(s.v1, 13)
	s.v1 ^= s.v0
	s.v0 = bits.RotateLeft64(s.v0, 32)
	s.v2 += s.v3
	s.v3 = bits.RotateLeft64(s.v3, 16)
	s.v3 ^= s.v2
	s.v0 += s.v3
	s.v3 = bits.RotateLeft64(s.v3, 21)
	s.v3 ^= s.v0
	s.v2 += s.v1
	s.v1 = bits.RotateLeft64(s.v1, 17)
	s.v1 ^= s.v2
	s.v2 = bits.RotateLeft64(s.v2, 32)
}

// compress absorbs one little-endian message word (2 compression rounds).
func (s *sipState) compress(m uint64) {
	s.v3 ^= m
	s.round()
	s.round()
	s.v0 ^= m
}

// sum finalizes a copy of the state after the whole words absorbed so far
// plus tail (the last len(tail) < 8 bytes), leaving s usable.
func (s sipState) sum(tail []byte) uint64 {
	n := s.words*8 + uint64(len(tail))
	b := n << 56
	for i, c := range tail {
		b |= uint64(c) << (8 * i)
	}
	s.compress(b)
	s.v2 ^= 0xff
	s.round()
	s.round()
	s.round()
	s.round()
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3
}

// sipHash24 is the one-shot SipHash-2-4 of msg under a 16-byte key.
func sipHash24(key, msg []byte) uint64 {
	s := newSipState(key)
	for len(msg) >= 8 {
		s.compress(binary.LittleEndian.Uint64(msg))
		s.words++
		msg = msg[8:]
	}
	return s.sum(msg)
}
