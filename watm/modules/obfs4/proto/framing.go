package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

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
	box   SecretBox
	nonce [secretboxNonceLength]byte
	count uint64
	drbg  hashDRBG
}

// newFrameCrypto keys one direction with k: the secretbox key, the nonce
// prefix and the length DRBG's seed. newBox nil is NativeSecretBox.
func newFrameCrypto(k *[frameKeyLength]byte, newBox NewSecretBox) (*frameCrypto, error) {
	if newBox == nil {
		newBox = NativeSecretBox
	}
	var key [32]byte
	copy(key[:], k[:32])
	box, err := newBox(&key)
	if err != nil {
		return nil, fmt.Errorf("obfs4: setting up the frame cipher: %w", err)
	}
	f := &frameCrypto{box: box, count: 1}
	copy(f.nonce[:noncePrefixLength], k[32:48])
	var seed [drbgSeedLength]byte
	copy(seed[:], k[48:])
	f.drbg = newHashDRBG(&seed)
	return f, nil
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

// batch is the frames staged for one SecretBox call: each one's nonce and
// where its box lies in the caller's buffer (offsets, since the buffer
// may grow while frames are added).
type batch struct {
	nonces [][24]byte
	offs   []int // box i is buf[offs[i]:ends[i]]
	ends   []int
	boxes  [][]byte // the call's argument, rebuilt from offs and ends
}

// newBatch returns a batch with room for n frames.
func newBatch(n int) batch {
	return batch{nonces: make([][24]byte, 0, n), offs: make([]int, 0, n), ends: make([]int, 0, n), boxes: make([][]byte, 0, n)}
}

func (b *batch) add(nonce *[24]byte, off, end int) {
	b.nonces = append(b.nonces, *nonce)
	b.offs = append(b.offs, off)
	b.ends = append(b.ends, end)
}

func (b *batch) slices(buf []byte) [][]byte {
	b.boxes = b.boxes[:0]
	for i, off := range b.offs {
		b.boxes = append(b.boxes, buf[off:b.ends[i]])
	}
	return b.boxes
}

func (b *batch) reset() {
	clear(b.boxes) // no reference to a buffer outlives the call
	b.nonces, b.offs, b.ends, b.boxes = b.nonces[:0], b.offs[:0], b.ends[:0], b.boxes[:0]
}

// encoder seals packets into frames: appendPacket stages a frame, seal
// seals every staged frame in one SecretBox call.
type encoder struct {
	frameCrypto
	staged batch
}

// appendPacket appends one frame carrying a packet of type typ with
// payload and padLen zero bytes of padding to dst, still in plaintext:
// seal(dst) must run before dst is sent.
func (e *encoder) appendPacket(dst []byte, typ byte, payload []byte, padLen int) ([]byte, error) {
	n := packetOverhead + len(payload) + padLen
	if n > maxFramePayload {
		panic("obfs4: packet too long")
	}
	if err := e.nextNonce(); err != nil {
		return dst, err
	}
	length := uint16(n+secretbox.Overhead) ^ e.drbg.lengthMask()
	dst = binary.BigEndian.AppendUint16(dst, length)
	off := len(dst)
	dst = appendZeros(dst, secretbox.Overhead)
	dst = append(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(payload)))
	dst = append(dst, payload...)
	dst = appendZeros(dst, padLen)
	e.staged.add(&e.nonce, off, len(dst))
	return dst, nil
}

// appendZeros appends n zero bytes to dst, allocating only if dst has no
// room.
func appendZeros(dst []byte, n int) []byte {
	dst = slices.Grow(dst, n)
	dst = dst[:len(dst)+n]
	clear(dst[len(dst)-n:])
	return dst
}

// seal seals the frames staged in buf since the last seal.
func (e *encoder) seal(buf []byte) error {
	defer e.staged.reset()
	if len(e.staged.offs) == 0 {
		return nil
	}
	return e.box.Seal(e.staged.nonces, e.staged.slices(buf))
}

// decoder opens frames.
type decoder struct {
	frameCrypto
	next    int  // length of the next secretbox, 0 when not yet read
	invalid bool // next is a made-up length after an out-of-range one
	staged  batch
}

// openFrames opens every whole frame at the start of src in one SecretBox
// call and returns their packets (in place in src, valid until src is
// overwritten) and how many bytes of src it used, a partly received
// frame's length field included. A frame that fails authentication, or
// that had an out-of-range length, ends the list with errTagMismatch; the
// packets before it are returned. fakeLen gives a random frame length to
// wait for when the length is out of range, so that a corrupted length
// fails after a plausible amount of data, as in lyrebird.
func (d *decoder) openFrames(src []byte, fakeLen func() int, pkts [][]byte) ([][]byte, int, error) {
	defer d.staged.reset()
	used, failed := 0, error(nil)
	for failed == nil {
		if d.next == 0 {
			if len(src)-used < 2 {
				break
			}
			length := int(binary.BigEndian.Uint16(src[used:]) ^ d.drbg.lengthMask())
			if err := d.nextNonce(); err != nil {
				failed = err
				break
			}
			if length < minFrameLength || length > maxFrameLength {
				d.invalid = true
				length = fakeLen()
			}
			d.next = length
			used += 2
		}
		if len(src)-used < d.next {
			break
		}
		if d.invalid {
			failed = errTagMismatch
			break
		}
		d.staged.add(&d.nonce, used, used+d.next)
		used += d.next
		d.next = 0
	}
	if len(d.staged.offs) == 0 {
		return pkts, used, failed
	}
	boxes := d.staged.slices(src)
	n, err := d.box.Open(d.staged.nonces, boxes)
	if err != nil {
		return pkts, used, err
	}
	for _, box := range boxes[:n] {
		pkts = append(pkts, box[secretbox.Overhead:])
	}
	if n < len(boxes) {
		failed = errTagMismatch
	}
	return pkts, used, failed
}
