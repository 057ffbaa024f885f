package proto

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// coins hands out small random numbers from a rand reader, a buffer at a
// time, so that sampling a padding length does not cost a read (a host call
// under WebAssembly) per frame.
type coins struct {
	mu   sync.Mutex
	rand io.Reader
	buf  [256]byte
	off  int
}

func newCoins(rand io.Reader) *coins {
	c := &coins{rand: rand}
	c.off = len(c.buf)
	return c
}

func (c *coins) uint64() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off+8 > len(c.buf) {
		if _, err := io.ReadFull(c.rand, c.buf[:]); err != nil {
			return 0, fmt.Errorf("obfs4: reading randomness: %w", err)
		}
		c.off = 0
	}
	v := binary.LittleEndian.Uint64(c.buf[c.off:])
	c.off += 8
	return v, nil
}

// intn returns a number in [0, n); the modulo bias is below 2^-50.
func (c *coins) intn(n int) (int, error) {
	v, err := c.uint64()
	if err != nil {
		return 0, err
	}
	return int(v % uint64(n)), nil
}

// intRange returns a number in [lo, hi], both included.
func (c *coins) intRange(lo, hi int) (int, error) {
	v, err := c.intn(hi + 1 - lo)
	return lo + v, err
}

// float64 returns a number in [0, 1).
func (c *coins) float64() (float64, error) {
	v, err := c.uint64()
	return float64(v>>11) / (1 << 53), err
}
