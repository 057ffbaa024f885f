package proto

import (
	"encoding/binary"
	"math/bits"
)

// drbgSeedLength is a hash DRBG seed: a 16-byte SipHash-2-4 key and an
// 8-byte initial output block.
const drbgSeedLength = 24

// hashDRBG is lyrebird's common/drbg: SipHash-2-4 in OFB mode. Each block is
// the SipHash, under the seed's key, of the initial block and every block
// produced so far (lyrebird feeds one never-reset hash.Hash64), so the state
// is the running SipHash state plus the last block.
type hashDRBG struct {
	sip sipState
	ofb uint64 // last block, as the little-endian value of its 8 bytes
}

func newHashDRBG(seed *[drbgSeedLength]byte) hashDRBG {
	return hashDRBG{
		sip: newSipState(seed[:16]),
		ofb: binary.LittleEndian.Uint64(seed[16:]),
	}
}

// next advances the DRBG and returns the new block's 8 bytes as a
// big-endian number (lyrebird reads its blocks big-endian).
func (d *hashDRBG) next() uint64 {
	d.sip.compress(d.ofb)
	d.sip.words++
	d.ofb = d.sip.sum(nil)
	return bits.ReverseBytes64(d.ofb)
}

// lengthMask is the 16-bit mask for one frame length: the block's first
// two bytes, big-endian.
func (d *hashDRBG) lengthMask() uint16 { return uint16(d.next() >> 48) }

// Int63 and Seed make hashDRBG a math/rand.Source as lyrebird uses it: the
// same seed gives the same math/rand stream, so the padding distribution
// and the probe close delay equal lyrebird's for the same drbg-seed.
// hashDRBG must not implement Uint64 (lyrebird's does not; math/rand would
// then draw differently).
func (d *hashDRBG) Int63() int64 { return int64(d.next() & (1<<63 - 1)) }

// Seed is a no-op, as in lyrebird.
func (d *hashDRBG) Seed(int64) {}
