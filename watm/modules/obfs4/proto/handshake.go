package proto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"strconv"
	"time"
)

// Handshake messages (obfs4-spec section 4, sizes as lyrebird has them):
//
//	client: X' | P_C | M_C | MAC_C
//	server: Y' | AUTH | P_S | M_S | MAC_S, then the PRNG seed frame
//
// M = HMAC-SHA256-128(B | NODEID, X' or Y'), MAC = the same over everything
// before it and the epoch hour E as a decimal string.
const (
	maxHandshakeLength   = 8192
	markLength           = sha256.Size / 2
	macLength            = sha256.Size / 2
	clientMinHandshake   = 32 + markLength + macLength      // 64
	serverMinHandshake   = 32 + 32 + markLength + macLength // 96
	clientMinPadLength   = serverMinHandshake + seedFrameLength - clientMinHandshake
	clientMaxPadLength   = maxHandshakeLength - clientMinHandshake // 8128
	serverMaxPadLength   = maxHandshakeLength - (serverMinHandshake + seedFrameLength)
	clientHandshakeLimit = 60 * time.Second
	serverHandshakeLimit = 30 * time.Second
)

var (
	errMarkNotFound    = errors.New("obfs4: handshake mark not found")
	errBadMAC          = errors.New("obfs4: handshake MAC mismatch")
	errReplay          = errors.New("obfs4: replayed client handshake")
	errTrailingGarbage = errors.New("obfs4: client sent data after its handshake")
	errNoServerMark    = errors.New("obfs4: no server handshake in the first 8192 bytes: wrong cert= for this bridge, or not an obfs4 server")
	errBadAuth         = errors.New("obfs4: server's ntor AUTH does not match: wrong cert= for this bridge, or not an obfs4 server")
)

// epochHour is E: hours since the Unix epoch, as a decimal string.
func epochHour(now time.Time, offset int64) []byte {
	return strconv.AppendInt(nil, now.Unix()/3600+offset, 10)
}

// handshakeMAC is HMAC-SHA256 keyed with B | NODEID.
func handshakeMAC(b *[32]byte, nodeID *[20]byte) hash.Hash {
	key := make([]byte, 0, 52)
	key = append(key, b[:]...)
	key = append(key, nodeID[:]...)
	return hmac.New(sha256.New, key)
}

// mac128 returns HMAC-SHA256-128 over the parts.
func mac128(h hash.Hash, parts ...[]byte) []byte {
	h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)[:macLength]
}

// clientHello builds the client handshake message.
func clientHello(h hash.Hash, key *sessionKey, pad []byte, now time.Time) (msg, e []byte) {
	mark := mac128(h, key.representative[:])
	msg = make([]byte, 0, len(key.representative)+len(pad)+markLength+macLength)
	msg = append(msg, key.representative[:]...)
	msg = append(msg, pad...)
	msg = append(msg, mark...)
	e = epochHour(now, 0)
	return append(msg, mac128(h, msg, e)...), e
}

// findClientMark checks a client handshake in buf: the mark must sit right
// before the last 16 bytes (a client cannot send anything after MAC_C). It
// returns errMarkNotFound while more data may complete it.
func findClientMark(h hash.Hash, buf []byte) (markPos int, err error) {
	if len(buf) < clientMinHandshake {
		return 0, errMarkNotFound
	}
	mark := mac128(h, buf[:32])
	end := min(len(buf), maxHandshakeLength)
	pos := end - markLength - macLength
	if pos < 32+clientMinPadLength || !hmac.Equal(buf[pos:pos+markLength], mark) {
		if len(buf) >= maxHandshakeLength {
			return 0, errBadMAC
		}
		return 0, errMarkNotFound
	}
	return pos, nil
}

// checkClientMAC verifies MAC_C for E-1, E and E+1 (all three, as
// lyrebird does) and returns the E that matched.
func checkClientMAC(h hash.Hash, buf []byte, pos int, now time.Time) ([]byte, error) {
	got := buf[pos+markLength : pos+markLength+macLength]
	// The three MACs share everything but E: hash that once (up to 8 KiB,
	// slow in WebAssembly) and finish a clone of the state for each E.
	h.Reset()
	h.Write(buf[:pos+markLength])
	var match []byte
	for _, off := range []int64{0, -1, 1} {
		e := epochHour(now, off)
		if hmac.Equal(finishMAC(h, buf[:pos+markLength], e), got) {
			match = e
		}
	}
	if match == nil {
		return nil, errBadMAC
	}
	return match, nil
}

// finishMAC is the 128-bit MAC of prefix | e, where h holds prefix: a
// clone of h finishes it, h is left as it was. A hash that cannot be
// cloned (not crypto/hmac's) hashes prefix again, each time.
func finishMAC(h hash.Hash, prefix, e []byte) []byte {
	if c, ok := h.(hash.Cloner); ok {
		if d, err := c.Clone(); err == nil {
			d.Write(e)
			return d.Sum(nil)[:macLength]
		}
	}
	return mac128(h, prefix, e)
}

// serverHello builds the server handshake message (without the seed frame).
func serverHello(h hash.Hash, key *sessionKey, auth *[32]byte, pad, e []byte) []byte {
	mark := mac128(h, key.representative[:])
	msg := make([]byte, 0, 64+len(pad)+markLength+macLength+seedFrameLength)
	msg = append(msg, key.representative[:]...)
	msg = append(msg, auth[:]...)
	msg = append(msg, pad...)
	msg = append(msg, mark...)
	return append(msg, mac128(h, msg, e)...)
}

// findServerMark searches the server handshake's mark (the server may send
// frames right after MAC_S, so this is a search, not a tail check) and
// verifies MAC_S. It returns the handshake's length.
func findServerMark(h hash.Hash, buf, e []byte) (int, error) {
	if len(buf) < serverMinHandshake {
		return 0, errMarkNotFound
	}
	mark := mac128(h, buf[:32])
	end := min(len(buf), maxHandshakeLength)
	i := bytes.Index(buf[64:end], mark)
	if i < 0 || 64+i+markLength+macLength > end {
		if len(buf) >= maxHandshakeLength {
			return 0, errNoServerMark
		}
		return 0, errMarkNotFound
	}
	pos := 64 + i
	want := mac128(h, buf[:pos+markLength], e)
	if !hmac.Equal(want, buf[pos+markLength:pos+markLength+macLength]) {
		return 0, errBadMAC
	}
	return pos + markLength + macLength, nil
}
