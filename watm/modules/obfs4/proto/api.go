// Package proto implements the obfs4 pluggable-transport protocol
// (doc/obfs4-spec.txt of obfs4/lyrebird), wire-compatible with lyrebird and
// obfs4proxy: the ntor handshake authenticated by the bridge's node ID and
// identity key (the bridge line's cert=), Elligator 2 encoded ephemeral
// keys, the MAC'd mark and epoch-hour check, the replay filter, secretbox
// frames with SipHash-2-4 DRBG length obfuscation, padding drawn from the
// server-sent PRNG seed, and iat-mode 0, 1 and 2.
//
// Where the spec and lyrebird differ, this package does what lyrebird does
// (the running code is what bridges speak): the KDF's first half keys
// client-to-server, PRNG seeds are 24 bytes, ntor's suffix is
// B | B | X | Y | PROTOID | ID.
//
// It is pure Go (standard library, golang.org/x/crypto and
// filippo.io/edwards25519) and builds for linux/amd64 and wasip1/wasm, so the
// same code runs in native tests and inside the obfs4 WATM. The steady
// state (Read and Write on an established connection) allocates nothing
// per frame.
package proto

import (
	"io"
	"net"
	"time"
)

// ServerIdentity is an obfs4 bridge's long-term identity: what lyrebird
// keeps in obfs4_state.json.
type ServerIdentity struct {
	NodeID     [20]byte
	PrivateKey [32]byte // curve25519
	PublicKey  [32]byte
	DRBGSeed   [24]byte
	IATMode    int // 0, 1, 2
}

// ClientArgs is what a client needs to reach an obfs4 bridge: its node ID
// and identity public key (the bridge line's cert=) and the iat-mode.
type ClientArgs struct {
	NodeID    [20]byte
	PublicKey [32]byte
	IATMode   int
}

// ReplayFilter remembers client handshake MACs; TestAndSet reports
// whether key was seen before (within the filter's lifetime) and records it.
type ReplayFilter interface {
	TestAndSet(now time.Time, key []byte) bool
}

// ClientHandshake runs the client side of the obfs4 handshake over conn
// and returns the framed connection. Like lyrebird it bounds the handshake
// with a 60 s deadline on conn, cleared on success (a deadline the caller
// set before is replaced); conn must support deadlines.
//
// The returned net.Conn is safe for one reader and one writer at a time.
// Close closes conn; deadlines set on it apply to conn. A passed read
// deadline only interrupts that Read; a failed or interrupted Write breaks
// the connection for writing (frames are numbered, a lost one cannot be
// skipped), as does any read error other than a deadline.
func ClientHandshake(conn net.Conn, args ClientArgs, rand io.Reader) (net.Conn, error) {
	return clientHandshake(conn, args, rand, defaultTiming())
}

// ServerHandshake runs the server side of the obfs4 handshake over conn and
// returns the framed connection. Like lyrebird it bounds the handshake with
// a 30 s deadline on conn, cleared on success. On a failed handshake
// (random bytes, bad mark, bad MAC, replay, timeout) it sends nothing and
// returns only after lyrebird's closeAfterDelay: it reads and discards
// until 30 s plus a per-identity delay (0 to 59 s) have passed since it
// started, or until a per-identity number of bytes (0 to 8191) has been
// discarded, or the peer closes; the caller then closes conn. Both values
// come from the identity's DRBG seed exactly as lyrebird draws them, so a
// bridge keeps its behaviour when it moves from lyrebird.
func ServerHandshake(conn net.Conn, id *ServerIdentity, replay ReplayFilter, rand io.Reader) (net.Conn, error) {
	return serverHandshake(conn, id, replay, rand, defaultTiming())
}

// Options change how the handshakes set up a connection; the zero value
// is what ClientHandshake and ServerHandshake use.
type Options struct {
	// NewSecretBox makes each direction's frame cipher (called twice per
	// connection, once per key); nil is NativeSecretBox. The obfs4 WATM
	// passes the host's secretbox service here when the host offers one.
	NewSecretBox NewSecretBox
	// Curve does the handshake's scalar multiplications; nil is
	// NativeCurve. The obfs4 WATM passes the host's curve service here
	// when the host offers one.
	Curve Curve
	// SessionKey, when set, is the handshake's ephemeral key pair, drawn
	// ahead by NewSessionKey; nil draws one during the handshake. A key
	// must serve one handshake only.
	SessionKey *SessionKey
}

// SessionKey is an ephemeral handshake key pair whose public key has an
// Elligator 2 representative, as each side of a handshake draws one.
type SessionKey struct{ k *sessionKey }

// NewSessionKey draws a session key with curve's arithmetic (nil:
// NativeCurve) from rand, for one handshake ahead of it (the draw's
// rejection sampling is most of a side's set-up in WebAssembly).
func NewSessionKey(curve Curve, rand io.Reader) (*SessionKey, error) {
	k, err := newSessionKey(curveOrNative(curve), rand)
	if err != nil {
		return nil, err
	}
	return &SessionKey{k}, nil
}

func (o Options) timing() timing {
	tm := defaultTiming()
	tm.newBox, tm.curve = o.NewSecretBox, curveOrNative(o.Curve)
	if o.SessionKey != nil {
		tm.key = o.SessionKey.k
	}
	return tm
}

// ClientHandshake is the package's ClientHandshake with these options.
func (o Options) ClientHandshake(conn net.Conn, args ClientArgs, rand io.Reader) (net.Conn, error) {
	return clientHandshake(conn, args, rand, o.timing())
}

// ServerHandshake is the package's ServerHandshake with these options.
func (o Options) ServerHandshake(conn net.Conn, id *ServerIdentity, replay ReplayFilter, rand io.Reader) (net.Conn, error) {
	return serverHandshake(conn, id, replay, rand, o.timing())
}
