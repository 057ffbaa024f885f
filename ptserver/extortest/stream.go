package extortest

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
)

// DefaultSeed is the seed of the Stream used when a test does not choose one
// (Source, VerifySink, tortest.CheckEcho).
const DefaultSeed uint64 = 1

// bufSize is the chunk size of every bulk loop in this package: large enough
// that system calls and stream generation are cheap per byte.
const bufSize = 256 << 10

// Stream is a deterministic pseudo-random byte stream: the AES-128-CTR
// keystream under a key derived from a seed. Two Streams with the same seed
// produce the same bytes however their reads are split. It is not safe for
// concurrent use.
type Stream struct {
	ctr cipher.Stream
	buf []byte // scratch for WriteN, allocated on first use
}

// NewStream returns the stream for seed.
func NewStream(seed uint64) *Stream {
	var key [16]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	copy(key[8:], "extortst")
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // unreachable: the key size is fixed
	}
	return &Stream{ctr: cipher.NewCTR(block, make([]byte, aes.BlockSize))}
}

// Read fills p with the next len(p) bytes of the stream. It never fails.
func (s *Stream) Read(p []byte) (int, error) {
	clear(p)
	s.ctr.XORKeyStream(p, p)
	return len(p), nil
}

// WriteN writes the next n bytes of the stream to w in large chunks and
// returns how many bytes w accepted.
func (s *Stream) WriteN(w io.Writer, n int64) (int64, error) {
	if s.buf == nil {
		s.buf = make([]byte, bufSize)
	}
	var written int64
	for written < n {
		chunk := s.buf[:min(int64(len(s.buf)), n-written)]
		s.Read(chunk)
		m, err := w.Write(chunk)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// MismatchError reports the first byte that differs from the expected stream.
type MismatchError struct {
	Offset int64 // offset in the stream of the first differing byte
	Got    byte
	Want   byte
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("stream mismatch at offset %d: got 0x%02x, want 0x%02x", e.Offset, e.Got, e.Want)
}

// Checker is an io.Writer that compares everything written to it with the
// Stream of a seed. The first difference is returned as a *MismatchError, and
// every later Write returns the same error. It is not safe for concurrent use.
type Checker struct {
	stream *Stream
	want   []byte
	off    int64
	err    error
}

// NewChecker returns a Checker expecting the Stream of seed.
func NewChecker(seed uint64) *Checker {
	return &Checker{stream: NewStream(seed)}
}

// Write compares p with the next len(p) bytes of the expected stream.
func (c *Checker) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	done := 0
	for done < len(p) {
		n := min(len(p)-done, bufSize)
		if len(c.want) < n {
			c.want = make([]byte, bufSize)
		}
		want := c.want[:n]
		got := p[done : done+n]
		c.stream.Read(want)
		if string(got) != string(want) { // compiled to a memequal, no copy
			for i := range got {
				if got[i] != want[i] {
					c.err = &MismatchError{Offset: c.off + int64(i), Got: got[i], Want: want[i]}
					c.off += int64(i)
					return done + i, c.err
				}
			}
		}
		c.off += int64(n)
		done += n
	}
	return len(p), nil
}

// ReadFrom reads r until EOF in large chunks and checks every byte. It returns
// the number of bytes read and checked, and the first read error other than
// io.EOF or the first mismatch.
func (c *Checker) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, bufSize)
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			m, werr := c.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// Offset returns how many bytes have matched so far.
func (c *Checker) Offset() int64 { return c.off }

// Err returns the mismatch found, if any.
func (c *Checker) Err() error { return c.err }
