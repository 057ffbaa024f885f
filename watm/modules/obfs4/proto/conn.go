package proto

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// iat-mode values.
const (
	iatNone     = 0
	iatEnabled  = 1
	iatParanoid = 2
	maxIATDelay = 100 // in units of 100 µs
)

const (
	// writeChunk is how much plaintext one burst carries before it is
	// padded and written; lyrebird pads once per Write, and its copy loop
	// writes 32 KiB at a time.
	writeChunk = 32 * 1024
	// readBufferSize is the raw receive buffer (16 segments, as lyrebird).
	readBufferSize = 16 * maxSegmentLength
)

var errClosedWrite = errors.New("obfs4: connection broken by an earlier write error")

// conn is the framed obfs4 connection returned by the handshakes.
type conn struct {
	net.Conn
	isServer bool
	iatMode  int
	coins    *coins
	lenDist  *weightedDist
	iatDist  *weightedDist // nil with iat-mode 0

	wmu  sync.Mutex
	enc  encoder
	wbuf []byte
	werr error

	rmu   sync.Mutex
	dec   decoder
	rbuf  []byte // raw bytes received: rbuf[roff:rend] not yet decoded
	roff  int
	rend  int
	plain []byte // decoded payload not yet returned: plain[poff:]
	poff  int
	rerr  error
}

// newConn returns a connection whose padding follows seed; a nil seed
// leaves the distributions to setDists (the client learns the server's
// seed from the first frame).
func newConn(c net.Conn, isServer bool, iatMode int, co *coins, seed *[drbgSeedLength]byte) *conn {
	oc := &conn{
		Conn:     c,
		isServer: isServer,
		iatMode:  iatMode,
		coins:    co,
		rbuf:     make([]byte, readBufferSize),
		plain:    make([]byte, 0, readBufferSize),
		wbuf:     make([]byte, 0, writeChunk+writeChunk/maxPacketPayload*frameOverhead+4*maxSegmentLength),
	}
	if seed != nil {
		oc.setDists(seed)
	}
	return oc
}

// setDists builds (or rebuilds) the length distribution from seed, and the
// inter-arrival one from its hash when iat-mode is not 0. Building one
// draws thousands of DRBG blocks, so the client builds its own only when
// the server's seed is not already there.
func (c *conn) setDists(seed *[drbgSeedLength]byte) {
	if c.lenDist == nil {
		c.lenDist = newWeightedDist(seed, 0, maxSegmentLength, c.coins)
	} else {
		c.lenDist.reset(seed)
	}
	if c.iatMode == iatNone {
		return
	}
	iatSeed := iatSeedOf(seed)
	if c.iatDist == nil {
		c.iatDist = newWeightedDist(&iatSeed, 0, maxIATDelay, c.coins)
	} else {
		c.iatDist.reset(&iatSeed)
	}
}

// iatSeedOf derives the inter-arrival-time distribution's seed from the
// length distribution's: the first 24 bytes of its SHA-256.
func iatSeedOf(seed *[drbgSeedLength]byte) [drbgSeedLength]byte {
	sum := sha256.Sum256(seed[:])
	var s [drbgSeedLength]byte
	copy(s[:], sum[:])
	return s
}

// Read returns payload bytes, decoding frames as they arrive.
func (c *conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for c.poff == len(c.plain) {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if err := c.decodeBuffered(); err != nil {
			c.rerr = err
			continue
		}
		if c.poff < len(c.plain) {
			break
		}
		if err := c.fill(); err != nil {
			return 0, err // a deadline: not fatal, the caller may read again
		}
	}
	n := copy(b, c.plain[c.poff:])
	c.poff += n
	if c.poff == len(c.plain) {
		c.plain, c.poff = c.plain[:0], 0
	}
	return n, nil
}

// fill reads more raw bytes from the network, compacting the buffer
// first. Errors other than a passed deadline end the connection.
func (c *conn) fill() error {
	if c.roff > 0 {
		c.rend = copy(c.rbuf, c.rbuf[c.roff:c.rend])
		c.roff = 0
	}
	n, err := c.Conn.Read(c.rbuf[c.rend:])
	c.rend += n
	if err == nil || n > 0 {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	c.rerr = err
	return nil
}

// decodeBuffered opens every whole frame buffered, appending payloads to
// plain and acting on PRNG seed packets.
func (c *conn) decodeBuffered() error {
	for c.roff < c.rend {
		pkt, used, err := c.dec.decodeFrame(c.rbuf[c.roff:c.rend], c.fakeFrameLength)
		if err != nil {
			return err
		}
		c.roff += used
		if pkt == nil {
			return nil
		}
		if err := c.handlePacket(pkt); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) fakeFrameLength() int {
	n, err := c.coins.intRange(minFrameLength, maxFrameLength)
	if err != nil {
		return maxFrameLength
	}
	return n
}

func (c *conn) handlePacket(pkt []byte) error {
	if len(pkt) < packetOverhead {
		return fmt.Errorf("obfs4: packet of %d bytes is shorter than its header", len(pkt))
	}
	n := int(pkt[1])<<8 | int(pkt[2])
	if n > len(pkt)-packetOverhead {
		return errPacketTooLong
	}
	payload := pkt[packetOverhead : packetOverhead+n]
	switch pkt[0] {
	case packetTypePayload:
		c.plain = append(c.plain, payload...)
	case packetTypePRNGSeed:
		// Only the client follows the server's distribution.
		if len(payload) == drbgSeedLength && !c.isServer {
			seed := [drbgSeedLength]byte(payload)
			c.setDists(&seed)
		}
	}
	return nil // unknown packet types are ignored, as the spec asks
}

// Write frames b, pads each burst as the length distribution says and
// writes it as the iat-mode says. A write error breaks the connection (the
// frame counter has moved on).
func (c *conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for len(b) > 0 {
		if c.werr != nil {
			return n, c.werr
		}
		chunk := b[:min(len(b), writeChunk)]
		if err := c.writeBurst(chunk); err != nil {
			c.werr = err
			return n, err
		}
		n += len(chunk)
		b = b[len(chunk):]
	}
	return n, c.werr
}

func (c *conn) writeBurst(p []byte) error {
	buf := c.wbuf[:0]
	var err error
	for len(p) > 0 {
		k := min(len(p), maxPacketPayload)
		if buf, err = c.enc.appendPacket(buf, packetTypePayload, p[:k], 0); err != nil {
			return err
		}
		p = p[k:]
	}
	if c.iatMode != iatParanoid {
		target, err := c.lenDist.sample()
		if err != nil {
			return err
		}
		if buf, err = c.padBurst(buf, len(buf), target); err != nil {
			return err
		}
	}
	defer func() { c.wbuf = buf[:0] }()
	switch c.iatMode {
	case iatNone:
		_, err = c.Conn.Write(buf)
		return err
	case iatEnabled:
		return c.writeSpaced(buf)
	default:
		buf, err = c.writeParanoid(buf)
		return err
	}
}

// padBurst appends padding frames so that the unsent part of the burst
// (pending bytes at the end of buf) ends toPadTo bytes into a segment,
// exactly as lyrebird's padBurst.
func (c *conn) padBurst(buf []byte, pending, toPadTo int) ([]byte, error) {
	tail := pending % maxSegmentLength
	padLen := toPadTo - tail
	if toPadTo < tail {
		padLen = maxSegmentLength - tail + toPadTo
	}
	var err error
	switch {
	case padLen > headerLength:
		buf, err = c.enc.appendPacket(buf, packetTypePayload, nil, padLen-headerLength)
	case padLen > 0:
		if buf, err = c.enc.appendPacket(buf, packetTypePayload, nil, maxPacketPayload); err != nil {
			return buf, err
		}
		buf, err = c.enc.appendPacket(buf, packetTypePayload, nil, padLen)
	}
	return buf, err
}

// writeSpaced is iat-mode 1: writes of at most one segment, each followed
// by a delay from the inter-arrival distribution.
func (c *conn) writeSpaced(buf []byte) error {
	for len(buf) > 0 {
		k := min(len(buf), maxSegmentLength)
		if err := c.writeThenWait(buf[:k]); err != nil {
			return err
		}
		buf = buf[k:]
	}
	return nil
}

// writeParanoid is iat-mode 2: every write's size is drawn from the length
// distribution, padding when too little is pending.
func (c *conn) writeParanoid(buf []byte) ([]byte, error) {
	off := 0
	for off < len(buf) {
		target, err := c.lenDist.sample()
		if err != nil {
			return buf, err
		}
		if pending := len(buf) - off; pending < target {
			if buf, err = c.padBurst(buf, pending, target); err != nil {
				return buf, err
			}
			if len(buf)-off != target {
				continue // padding took more than one frame; sample again
			}
		}
		if target == 0 {
			continue
		}
		if err := c.writeThenWait(buf[off : off+target]); err != nil {
			return buf, err
		}
		off += target
	}
	return buf, nil
}

func (c *conn) writeThenWait(p []byte) error {
	if _, err := c.Conn.Write(p); err != nil {
		return err
	}
	d, err := c.iatDist.sample()
	if err != nil {
		return err
	}
	time.Sleep(time.Duration(d) * 100 * time.Microsecond)
	return nil
}
