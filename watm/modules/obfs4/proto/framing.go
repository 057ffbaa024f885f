package proto

import (
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/nacl/secretbox"
)

// Frame layout (obfs4-spec section 5): a 2-byte length, masked with the
// SipHash DRBG, then a secretbox of type(1) | payload length(2) | payload |
// zero padding. The secretbox nonce is a 16-byte prefix and a big-endian
// 64-bit counter starting at 1.
const (
	maxSegmentLength     = 1500 - (40 + 12)                 // 1448, frame included its length field
	frameOverhead        = 2 + secretbox.Overhead           // 18
	maxFramePayload      = maxSegmentLength - frameOverhead // 1430
	maxFrameLength       = maxSegmentLength - 2             // 1446, the secretbox alone
	minFrameLength       = frameOverhead - 2                // 16
	packetOverhead       = 3                                // type and payload length
	maxPacketPayload     = maxFramePayload - packetOverhead // 1427
	headerLength         = frameOverhead + packetOverhead   // 21
	seedFrameLength      = headerLength + drbgSeedLength    // 45
	packetTypePayload    = 0
	packetTypePRNGSeed   = 1
	noncePrefixLength    = 16
	nonceCounterOffset   = noncePrefixLength
	secretboxNonceLength = 24
)

var (
	errTagMismatch   = errors.New("obfs4: frame authentication failed (secretbox tag mismatch)")
	errNonceWrapped  = errors.New("obfs4: frame nonce counter wrapped")
	errPacketTooLong = errors.New("obfs4: packet payload length exceeds the frame")
)

// frameCrypto is one direction's frame state.
type frameCrypto struct {
	key   [32]byte
	nonce [secretboxNonceLength]byte
	count uint64
	drbg  hashDRBG
}

func newFrameCrypto(k *[frameKeyLength]byte) *frameCrypto {
	f := &frameCrypto{count: 1}
	copy(f.key[:], k[:32])
	copy(f.nonce[:noncePrefixLength], k[32:48])
	var seed [drbgSeedLength]byte
	copy(seed[:], k[48:])
	f.drbg = newHashDRBG(&seed)
	return f
}

// nextNonce sets the nonce for the next frame and advances the counter.
func (f *frameCrypto) nextNonce() error {
	if f.count == 0 {
		return errNonceWrapped
	}
	binary.BigEndian.PutUint64(f.nonce[nonceCounterOffset:], f.count)
	f.count++
	return nil
}

// encoder seals packets into frames.
type encoder struct {
	frameCrypto
	pkt [maxFramePayload]byte // plaintext scratch
}

// appendPacket appends one frame carrying a packet of type typ with
// payload and padLen zero bytes of padding to dst.
func (e *encoder) appendPacket(dst []byte, typ byte, payload []byte, padLen int) ([]byte, error) {
	n := packetOverhead + len(payload) + padLen
	if n > maxFramePayload {
		panic("obfs4: packet too long")
	}
	e.pkt[0] = typ
	binary.BigEndian.PutUint16(e.pkt[1:3], uint16(len(payload)))
	copy(e.pkt[3:], payload)
	clear(e.pkt[3+len(payload) : n])
	if err := e.nextNonce(); err != nil {
		return dst, err
	}
	length := uint16(n+secretbox.Overhead) ^ e.drbg.lengthMask()
	dst = binary.BigEndian.AppendUint16(dst, length)
	return secretbox.Seal(dst, e.pkt[:n], &e.nonce, &e.key), nil
}

// decoder opens frames.
type decoder struct {
	frameCrypto
	next    int  // length of the next secretbox, 0 when not yet read
	invalid bool // next is a made-up length after an out-of-range one
	pkt     [maxFramePayload]byte
}

// decodeFrame opens the first frame of src. It returns the packet (valid
// until the next call) and how many bytes of src it used; used == 0 means
// src holds no whole frame yet. fakeLen gives a random frame length to
// wait for when the length is out of range, so that a corrupted length
// fails after a plausible amount of data, as in lyrebird.
func (d *decoder) decodeFrame(src []byte, fakeLen func() int) (pkt []byte, used int, err error) {
	hdr := 0
	if d.next == 0 {
		if len(src) < 2 {
			return nil, 0, nil
		}
		length := int(binary.BigEndian.Uint16(src) ^ d.drbg.lengthMask())
		if err := d.nextNonce(); err != nil {
			return nil, 0, err
		}
		if length < minFrameLength || length > maxFrameLength {
			d.invalid = true
			length = fakeLen()
		}
		d.next = length
		hdr = 2
	}
	if len(src)-hdr < d.next {
		return nil, hdr, nil
	}
	box := src[hdr : hdr+d.next]
	out, ok := secretbox.Open(d.pkt[:0], box, &d.nonce, &d.key)
	if !ok || d.invalid {
		return nil, 0, errTagMismatch
	}
	used = hdr + d.next
	d.next = 0
	return out, used, nil
}
