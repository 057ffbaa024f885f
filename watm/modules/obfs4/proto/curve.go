package proto

import (
	"errors"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/curve25519"
)

// Curve does the handshake's curve arithmetic: four or five scalar
// multiplications per connection, the handshake's main cost. An
// implementation outside the module (a host service) must return exactly
// what NativeCurve returns.
type Curve interface {
	// X25519 returns curve25519.X25519(scalar, point), and an error where
	// that returns one (a low-order point).
	X25519(scalar, point *[32]byte) ([32]byte, error)
	// ScalarBaseMult returns the encoding (Point.Bytes) of the edwards25519
	// point [s]B, s the scalar read with Scalar.SetBytesWithClamping.
	ScalarBaseMult(scalar *[32]byte) ([32]byte, error)
}

// NativeCurve is the Curve of golang.org/x/crypto and
// filippo.io/edwards25519 in this process (inside a WATM: WebAssembly).
type NativeCurve struct{}

// errLowOrder is X25519's refusal of a point whose product is zero.
var errLowOrder = errors.New("X25519 with a low-order point (a shared secret was zero)")

// X25519 is curve25519.X25519.
func (NativeCurve) X25519(scalar, point *[32]byte) ([32]byte, error) {
	var out [32]byte
	r, err := curve25519.X25519(scalar[:], point[:])
	if err != nil {
		return out, errLowOrder
	}
	copy(out[:], r)
	return out, nil
}

// ScalarBaseMult is [s]B, encoded.
func (NativeCurve) ScalarBaseMult(scalar *[32]byte) ([32]byte, error) {
	var out [32]byte
	copy(out[:], scalarBaseMult(scalar).Bytes())
	return out, nil
}

// scalarBaseMult is [clamp(scalar)]B. It multiplies the generator with
// ScalarMult, not ScalarBaseMult: the latter builds a 30 KiB table on its
// first call, which costs about 30 ms in WebAssembly, and a WATM instance
// lives for one connection, so it would pay that on every connection for
// two or three multiplications. ScalarMult is constant-time too and gives
// the same point.
func scalarBaseMult(scalar *[32]byte) *edwards25519.Point {
	s, err := new(edwards25519.Scalar).SetBytesWithClamping(scalar[:])
	if err != nil {
		panic("obfs4: scalar: " + err.Error()) // 32 bytes never fail
	}
	return new(edwards25519.Point).ScalarMult(s, edwards25519.NewGeneratorPoint())
}

// curveOrNative is c, or NativeCurve when c is nil.
func curveOrNative(c Curve) Curve {
	if c == nil {
		return NativeCurve{}
	}
	return c
}
