// Package proto implements the obfs4 pluggable-transport protocol
// (doc/obfs4-spec.txt of obfs4/lyrebird), wire-compatible with lyrebird and
// obfs4proxy: the ntor handshake authenticated by the bridge's node ID and
// identity key (the bridge line's cert=), Elligator2-encoded ephemeral keys,
// the MAC'd mark and epoch-hour check, the replay filter, secretbox frames
// with SipHash-2-4 DRBG length obfuscation, padding drawn from the
// server-sent PRNG seed, and iat-mode 0, 1 and 2.
//
// It is pure Go (standard library, golang.org/x/crypto and
// filippo.io/edwards25519) and builds for linux/amd64 and wasip1/wasm, so the
// same code runs in native tests and inside the obfs4 WATM.
package proto

import (
	"errors"
	"io"
	"net"
	"time"
)

var errNotImplemented = errors.New("obfs4: not implemented")

// ServerIdentity is an obfs4 bridge's long-term identity: what lyrebird
// keeps in obfs4_state.json.
type ServerIdentity struct {
	NodeID     [20]byte
	PrivateKey [32]byte // curve25519
	PublicKey  [32]byte
	DRBGSeed   [24]byte
	IATMode    int // 0, 1, 2
}

// NewServerIdentity creates a fresh identity (node ID, curve25519 key pair,
// DRBG seed) from rand, with IATMode 0.
func NewServerIdentity(rand io.Reader) (*ServerIdentity, error) {
	return nil, errNotImplemented
}

// Cert returns the bridge line's cert= value as lyrebird writes it: base64
// (standard alphabet, no padding) of NodeID || PublicKey.
func (id *ServerIdentity) Cert() string { return "" }

// StateJSON returns the identity in obfs4proxy's obfs4_state.json format.
func (id *ServerIdentity) StateJSON() []byte { return nil }

// ParseStateJSON reads an obfs4_state.json written by obfs4proxy, lyrebird
// or StateJSON.
func ParseStateJSON(b []byte) (*ServerIdentity, error) {
	return nil, errNotImplemented
}

// ServerIdentityFromArgs reads an identity from the keys node-id (40 hex),
// private-key (64 hex), drbg-seed (48 hex) and iat-mode (0, 1 or 2), as
// lyrebird's ServerTransportOptions carry them. get reports whether a key
// is present.
func ServerIdentityFromArgs(get func(string) (string, bool)) (*ServerIdentity, error) {
	return nil, errNotImplemented
}

// Args returns the identity as the keys node-id, private-key, drbg-seed and
// iat-mode (hex, decimal for iat-mode): the form ServerIdentityFromArgs reads.
func (id *ServerIdentity) Args() map[string]string { return nil }

// ClientArgs is what a client needs to reach an obfs4 bridge: its node ID
// and identity public key (the bridge line's cert=) and the iat-mode.
type ClientArgs struct {
	NodeID    [20]byte
	PublicKey [32]byte
	IATMode   int
}

// ParseClientArgs reads the bridge-line arguments cert= (or node-id= and
// public-key= in hex, as lyrebird accepts) and iat-mode=.
func ParseClientArgs(get func(string) (string, bool)) (ClientArgs, error) {
	return ClientArgs{}, errNotImplemented
}

// ReplayFilter remembers client handshake MACs; TestAndSet reports
// whether key was seen before (within the filter's lifetime) and records it.
type ReplayFilter interface {
	TestAndSet(now time.Time, key []byte) bool
}

// NewMemReplayFilter returns an in-memory ReplayFilter whose entries expire
// after ttl; for native tests and hosts.
func NewMemReplayFilter(ttl time.Duration) ReplayFilter {
	return nil
}

// ClientHandshake runs the client side of the obfs4 handshake over conn
// and returns the framed connection. Deadlines set on conn bound the
// handshake. Close on the result closes conn.
func ClientHandshake(conn net.Conn, args ClientArgs, rand io.Reader) (net.Conn, error) {
	return nil, errNotImplemented
}

// ServerHandshake runs the server side of the obfs4 handshake over conn and
// returns the framed connection. On a failed handshake (random bytes, bad
// mark, bad MAC, replay) it sends nothing and returns only after the spec's
// delay and byte budget (lyrebird's closeAfterDelay); the caller then
// closes conn.
func ServerHandshake(conn net.Conn, id *ServerIdentity, replay ReplayFilter, rand io.Reader) (net.Conn, error) {
	return nil, errNotImplemented
}
