package conformance

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// chunk is the size of every read and write of test data.
const chunk = 256 << 10

// keystream is the deterministic test data of a seed: the AES-128-CTR
// keystream, several GB/s, so generating and checking it does not limit
// the figures. (extortest has the same stream, but it is a test package.)
func keystream(seed uint64) cipher.Stream {
	var key [16]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // unreachable: the key size is fixed
	}
	return cipher.NewCTR(block, make([]byte, aes.BlockSize))
}

// next fills b with the next len(b) bytes of ks.
func next(ks cipher.Stream, b []byte) {
	clear(b)
	ks.XORKeyStream(b, b)
}

// mismatchError is the first byte that differs from what was sent.
type mismatchError struct {
	offset    int64
	got, want byte
}

func (e *mismatchError) Error() string {
	return fmt.Sprintf("byte %d differs from what was sent (got 0x%02x, want 0x%02x)", e.offset, e.got, e.want)
}

// exchange writes n bytes of the stream of seedOut to c while it reads n
// bytes and checks them against the stream of seedIn. took is the time from
// the start to the last byte read.
func exchange(c net.Conn, n int64, seedOut, seedIn uint64) (took time.Duration, err error) {
	start := time.Now()
	werr := make(chan error, 1)
	go func() { werr <- send(c, n, seedOut) }()
	got, rerr := receive(c, n, seedIn)
	took = time.Since(start)
	if rerr != nil {
		c.SetDeadline(time.Unix(1, 0)) // unblock the writer
	}
	if err := <-werr; err != nil && rerr == nil {
		return took, fmt.Errorf("writing: %w", err)
	}
	if rerr != nil {
		return took, fmt.Errorf("reading at byte %d of %d: %w", got, n, rerr)
	}
	return took, nil
}

func send(w io.Writer, n int64, seed uint64) error {
	ks := keystream(seed)
	buf := make([]byte, min(n, chunk))
	for sent := int64(0); sent < n; {
		b := buf[:min(int64(len(buf)), n-sent)]
		next(ks, b)
		m, err := w.Write(b)
		sent += int64(m)
		if err != nil {
			return err
		}
	}
	return nil
}

// receive reads n bytes and compares them with the stream of seed; it
// returns how many arrived intact.
func receive(r io.Reader, n int64, seed uint64) (int64, error) {
	ks := keystream(seed)
	size := min(n, chunk)
	buf, want := make([]byte, size), make([]byte, size)
	var off int64
	for off < n {
		m, err := io.ReadAtLeast(r, buf[:min(size, n-off)], 1)
		next(ks, want[:m])
		if !bytes.Equal(buf[:m], want[:m]) {
			i := firstDiff(buf[:m], want[:m])
			return off + int64(i), &mismatchError{off + int64(i), buf[i], want[i]}
		}
		off += int64(m)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return off, err
		}
	}
	return off, nil
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}
