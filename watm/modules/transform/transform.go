// Package transform holds the transforms of the WATMs shipped in
// watm/modules, as plain Go: the modules register them, and host-side tests
// can use them to compute the bytes a module puts on the wire.
//
// Both are stateless per-byte maps, so how a stream is cut into chunks does
// not change the result.
package transform

import (
	"math/bits"
	"unsafe"
)

// Plain is the identity transform of the "plain" module.
type Plain struct{}

// Wrap returns p.
func (Plain) Wrap(p []byte) []byte { return p }

// Unwrap returns p.
func (Plain) Unwrap(p []byte) []byte { return p }

// Reverse is the transform of the "reverse" module: it reverses the bit
// order of every byte, in place. It is an involution, so Wrap and Unwrap
// are the same map. It changes every byte but the 16 whose bits read the
// same both ways (0x00, 0x18, 0x24, 0x3c, 0x42, 0x5a, 0x66, 0x7e, 0x81,
// 0x99, 0xa5, 0xbd, 0xc3, 0xdb, 0xe7, 0xff).
type Reverse struct{}

// Wrap reverses the bits of each byte of p in place and returns p.
func (Reverse) Wrap(p []byte) []byte { return ReverseBits(p) }

// Unwrap reverses the bits of each byte of p in place and returns p.
func (Reverse) Unwrap(p []byte) []byte { return ReverseBits(p) }

// ReverseBits reverses the bit order of every byte of p in place and
// returns p.
func ReverseBits(p []byte) []byte {
	// Eight bytes at a time: the swaps in reverse8x8 never move a bit out
	// of its byte, so neither the byte order nor the alignment of the
	// words matters.
	words := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(p))), len(p)/8)
	for i, w := range words {
		words[i] = reverse8x8(w)
	}
	for i := len(words) * 8; i < len(p); i++ {
		p[i] = bits.Reverse8(p[i])
	}
	return p
}

// reverse8x8 reverses the bit order of each of the eight bytes of x.
func reverse8x8(x uint64) uint64 {
	const m4, m2, m1 = 0x0f0f0f0f0f0f0f0f, 0x3333333333333333, 0x5555555555555555
	x = x>>4&m4 | x&m4<<4
	x = x>>2&m2 | x&m2<<2
	x = x>>1&m1 | x&m1<<1
	return x
}
