package proto

import (
	"errors"

	"golang.org/x/crypto/nacl/secretbox"
)

var errShortBox = errors.New("obfs4: a secretbox is shorter than its 16-byte tag")

// SecretBox seals and opens NaCl secretboxes (XSalsa20 and Poly1305,
// exactly golang.org/x/crypto/nacl/secretbox) under the key it was made
// with, many per call: an implementation outside the module (a host
// service) then pays its call overhead once per burst, not once per frame.
// The framed connection calls it from one goroutine per direction and
// gives each direction its own SecretBox.
type SecretBox interface {
	// Seal seals len(boxes) messages in place: boxes[i] holds
	// secretbox.Overhead bytes of room followed by the message; on return
	// it holds secretbox.Seal(nil, message, &nonces[i], key).
	Seal(nonces [][24]byte, boxes [][]byte) error
	// Open opens len(boxes) boxes in place: on return
	// boxes[i][secretbox.Overhead:] holds box i's message. It returns how
	// many boxes, from the first, opened: n < len(boxes) with a nil error
	// means that boxes[n] failed authentication (its bytes and those of the
	// boxes after it are unspecified).
	Open(nonces [][24]byte, boxes [][]byte) (n int, err error)
}

// NewSecretBox makes the SecretBox of one direction of a connection for
// key. A nil NewSecretBox is NativeSecretBox.
type NewSecretBox func(key *[32]byte) (SecretBox, error)

// NativeSecretBox returns a SecretBox that runs x/crypto's secretbox in
// this process (inside a WATM: compiled to WebAssembly).
func NativeSecretBox(key *[32]byte) (SecretBox, error) {
	return &nativeBox{key: *key}, nil
}

type nativeBox struct {
	key     [32]byte
	scratch [maxFramePayload]byte // a message, copied out of its box
}

func (b *nativeBox) Seal(nonces [][24]byte, boxes [][]byte) error {
	for i, box := range boxes {
		if len(box) < secretbox.Overhead {
			return errShortBox
		}
		msg := b.buffer(len(box) - secretbox.Overhead)
		copy(msg, box[secretbox.Overhead:])
		secretbox.Seal(box[:0], msg, &nonces[i], &b.key)
	}
	return nil
}

func (b *nativeBox) Open(nonces [][24]byte, boxes [][]byte) (int, error) {
	for i, box := range boxes {
		if len(box) < secretbox.Overhead {
			return i, nil
		}
		msg, ok := secretbox.Open(b.buffer(len(box) - secretbox.Overhead)[:0], box, &nonces[i], &b.key)
		if !ok {
			return i, nil
		}
		copy(box[secretbox.Overhead:], msg)
	}
	return len(boxes), nil
}

// buffer returns n bytes of scratch space: secretbox refuses overlapping
// input and output, so in-place work goes through a copy. Frames fit the
// array; a longer message (not an obfs4 frame) gets its own buffer.
func (b *nativeBox) buffer(n int) []byte {
	if n <= len(b.scratch) {
		return b.scratch[:n]
	}
	return make([]byte, n)
}
