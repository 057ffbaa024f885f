//go:build wasip1

package hostcrypto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"

	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

// ErrUnavailable means the host offers no secretbox service: use a
// WebAssembly implementation (golang.org/x/crypto/nacl/secretbox).
var ErrUnavailable = errors.New("hostcrypto: the host offers no secretbox service (/water/secretbox)")

const (
	servicesDir  = "/water"
	serviceName  = "secretbox"
	headerLength = 12
	recordLength = 24 + 4
	opKey        = 1
	opSeal       = 2
	opOpen       = 3
)

// channel is an open /water service descriptor and the buffers of its
// requests and replies.
type channel struct {
	fd     int32
	req    []byte       // header and records
	status [4]byte      // the reply's count
	iovs   []wasi.Iovec // reused for every call
}

// openChannel opens /water/name, or fails wrapping unavailable when the
// host has no such service.
func openChannel(name string, unavailable error) (channel, error) {
	dir, e := wasi.FindPreopen(servicesDir)
	if e != wasi.ESUCCESS {
		return channel{}, fmt.Errorf("%w: no %s preopen", unavailable, servicesDir)
	}
	fd, e := wasi.OpenReadWrite(dir, name)
	if e != wasi.ESUCCESS {
		return channel{}, fmt.Errorf("%w: opening %s/%s: %v", unavailable, servicesDir, name, e)
	}
	return channel{fd: fd}, nil
}

// Close closes the host descriptor.
func (b *channel) Close() error {
	if e := wasi.Close(b.fd); e != wasi.ESUCCESS {
		return e
	}
	return nil
}

// SecretBox is a host secretbox context keyed once. Its methods have the
// shapes of obfs4's proto.SecretBox. It is not safe for concurrent use.
type SecretBox struct {
	channel
}

// OpenSecretBox opens a host secretbox context with key. It returns an
// error wrapping ErrUnavailable when the host has no such service.
func OpenSecretBox(key *[32]byte) (*SecretBox, error) {
	ch, err := openChannel(serviceName, ErrUnavailable)
	if err != nil {
		return nil, err
	}
	b := &SecretBox{ch}
	b.req = b.header(opKey, 0, 32)
	b.req = append(b.req, key[:]...)
	if err := b.write(b.req, nil, 0); err != nil {
		b.Close()
		return nil, fmt.Errorf("hostcrypto: setting the key: %w", err)
	}
	return b, nil
}

func (b *channel) header(op, n, body int) []byte {
	h := b.req[:0]
	h = binary.LittleEndian.AppendUint32(h, uint32(op))
	h = binary.LittleEndian.AppendUint32(h, uint32(n))
	return binary.LittleEndian.AppendUint32(h, uint32(body))
}

// Seal seals messages in place: boxes[i] holds 16 bytes of room and then
// the message, and on return secretbox.Seal(nil, message, &nonces[i], key).
func (b *SecretBox) Seal(nonces [][24]byte, boxes [][]byte) error {
	for len(boxes) > 0 {
		n, err := chunk(boxes, overhead)
		if err != nil {
			return err
		}
		if err := b.seal(nonces[:n], boxes[:n]); err != nil {
			return err
		}
		nonces, boxes = nonces[n:], boxes[n:]
	}
	return nil
}

// Open opens boxes in place and returns how many, from the first, opened;
// on return boxes[i][16:] holds the message of each of those.
func (b *SecretBox) Open(nonces [][24]byte, boxes [][]byte) (int, error) {
	done := 0
	for len(boxes) > 0 {
		n, err := chunk(boxes, 0)
		if err != nil {
			return done, err
		}
		k, err := b.open(nonces[:n], boxes[:n])
		done += k
		if err != nil || k < n {
			return done, err
		}
		nonces, boxes = nonces[n:], boxes[n:]
	}
	return done, nil
}

// request builds the header and records of a seal or open of boxes, each
// counted less skip bytes.
func (b *SecretBox) request(op int, nonces [][24]byte, boxes [][]byte, skip int) {
	body := len(boxes) * recordLength
	for _, box := range boxes {
		body += len(box) - skip
	}
	b.req = b.header(op, len(boxes), body)
	for i, box := range boxes {
		b.req = append(b.req, nonces[i][:]...)
		b.req = binary.LittleEndian.AppendUint32(b.req, uint32(len(box)-skip))
	}
}

func (b *SecretBox) seal(nonces [][24]byte, boxes [][]byte) error {
	b.request(opSeal, nonces, boxes, overhead)
	if err := b.write(b.req, boxes, overhead); err != nil {
		return err
	}
	k, err := b.read(boxes, 0, len(boxes))
	if err == nil && k != len(boxes) {
		err = fmt.Errorf("hostcrypto: the host sealed %d of %d boxes", k, len(boxes))
	}
	return err
}

func (b *SecretBox) open(nonces [][24]byte, boxes [][]byte) (int, error) {
	b.request(opOpen, nonces, boxes, 0)
	if err := b.write(b.req, boxes, 0); err != nil {
		return 0, err
	}
	return b.read(boxes, overhead, len(boxes))
}

// write sends head and then each of boxes less its first skip bytes in
// one fd_write.
func (b *channel) write(head []byte, boxes [][]byte, skip int) error {
	b.iovs = append(b.iovs[:0], wasi.IovecOf(head))
	want := len(head)
	for _, box := range boxes {
		b.iovs = append(b.iovs, wasi.IovecOf(box[skip:]))
		want += len(box) - skip
	}
	n, e := wasi.Writev(b.fd, b.iovs)
	runtime.KeepAlive(head)
	runtime.KeepAlive(boxes)
	if e != wasi.ESUCCESS {
		return fmt.Errorf("hostcrypto: request: %w", e)
	}
	if n != want {
		return fmt.Errorf("hostcrypto: the host took %d of %d request bytes", n, want)
	}
	return nil
}

// read receives a reply: the count k of boxes done (at most max), then
// into each of the first k boxes (less its first skip bytes) its result.
func (b *channel) read(boxes [][]byte, skip, max int) (int, error) {
	b.iovs = append(b.iovs[:0], wasi.IovecOf(b.status[:]))
	for _, box := range boxes {
		b.iovs = append(b.iovs, wasi.IovecOf(box[skip:]))
	}
	n, e := wasi.Readv(b.fd, b.iovs)
	runtime.KeepAlive(boxes)
	if e != wasi.ESUCCESS {
		return 0, fmt.Errorf("hostcrypto: reply: %w", e)
	}
	k := int(binary.LittleEndian.Uint32(b.status[:]))
	if n < len(b.status) || k > max {
		return 0, fmt.Errorf("hostcrypto: a malformed reply (%d bytes, count %d of %d)", n, k, max)
	}
	want := len(b.status)
	for _, box := range boxes[:k] {
		want += len(box) - skip
	}
	if n != want {
		return 0, fmt.Errorf("hostcrypto: a reply of %d bytes, want %d", n, want)
	}
	return k, nil
}
