package proto

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// The obfs4 session keys are curve25519 keys whose public part is sent as
// an Elligator 2 representative: 32 bytes indistinguishable from random.
// This is the corrected construction lyrebird uses (internal/x25519ell2,
// after Monocypher): the public key is the Montgomery u of
// [clamp(k)]B + [k mod 8]L, where L is a point of order 8, so that public
// keys cover the whole curve and not only the prime-order subgroup (the
// original construction's bias), and the representative's two unused top
// bits are random. x25519 clamps the scalar to a multiple of 8, so the
// torsion part does not change any shared secret.

// lowOrderX and lowOrderY are the affine coordinates of an Edwards point of
// order 8 (x = sqrt((sqrt(d+1)+1)/d), y = -x*sqrt(-1)).
var lowOrderX = [32]byte{
	0x4a, 0xd1, 0x45, 0xc5, 0x46, 0x46, 0xa1, 0xde, 0x38, 0xe2, 0xe5, 0x13, 0x70, 0x3c, 0x19, 0x5c,
	0xbb, 0x4a, 0xde, 0x38, 0x32, 0x99, 0x33, 0xe9, 0x28, 0x4a, 0x39, 0x06, 0xa0, 0xb9, 0xd5, 0x1f,
}

var lowOrderY = [32]byte{
	0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
	0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
}

// montgomeryA is the curve25519 constant A = 486662.
func montgomeryA() *field.Element {
	var b [32]byte
	b[0], b[1], b[2] = 0x06, 0x6d, 0x07 // 486662 = 0x076d06
	fe, _ := new(field.Element).SetBytes(b[:])
	return fe
}

// lowOrderPoint returns the order-8 point L.
func lowOrderPoint() *edwards25519.Point {
	x, _ := new(field.Element).SetBytes(lowOrderX[:])
	y, _ := new(field.Element).SetBytes(lowOrderY[:])
	t := new(field.Element).Multiply(x, y)
	p, err := new(edwards25519.Point).SetExtendedCoordinates(x, y, new(field.Element).One(), t)
	if err != nil {
		panic("obfs4: bad low-order point constant: " + err.Error())
	}
	return p
}

// torsionMultiple returns [k mod 8]L, choosing among the 8 multiples
// without branching on k.
func torsionMultiple(k byte) *edwards25519.Point {
	l := lowOrderPoint()
	acc := edwards25519.NewIdentityPoint()
	var rx, ry, rz, rt field.Element
	for i := 0; i < 8; i++ {
		x, y, z, t := acc.ExtendedCoordinates()
		eq := equalByte(k&7, byte(i))
		rx.Select(x, &rx, eq)
		ry.Select(y, &ry, eq)
		rz.Select(z, &rz, eq)
		rt.Select(t, &rt, eq)
		acc.Add(acc, l)
	}
	p, err := new(edwards25519.Point).SetExtendedCoordinates(&rx, &ry, &rz, &rt)
	if err != nil {
		panic("obfs4: torsion point: " + err.Error())
	}
	return p
}

func equalByte(a, b byte) int {
	x := uint32(a ^ b)
	return int(((x - 1) >> 31) & 1)
}

// dirtyPublicKey returns the Montgomery u of [clamp(priv)]B + [priv mod 8]L,
// with [clamp(priv)]B from curve.
func dirtyPublicKey(curve Curve, priv *[32]byte) (*field.Element, error) {
	p, err := basePoint(curve, priv)
	if err != nil {
		return nil, err
	}
	p.Add(p, torsionMultiple(priv[0]))
	// u = (1 + y) / (1 - y) = (Z + Y) / (Z - Y)
	_, y, z, _ := p.ExtendedCoordinates()
	var num, den field.Element
	num.Add(z, y)
	den.Subtract(z, y)
	den.Invert(&den)
	return num.Multiply(&num, &den), nil
}

// basePoint is [clamp(priv)]B, computed by curve (decoded from its
// encoding) or, for NativeCurve, directly.
func basePoint(curve Curve, priv *[32]byte) (*edwards25519.Point, error) {
	if _, ok := curve.(NativeCurve); ok {
		return scalarBaseMult(priv), nil
	}
	enc, err := curve.ScalarBaseMult(priv)
	if err != nil {
		return nil, fmt.Errorf("obfs4: scalar base multiplication: %w", err)
	}
	p, err := new(edwards25519.Point).SetBytes(enc[:])
	if err != nil {
		return nil, fmt.Errorf("obfs4: scalar base multiplication gave no point: %w", err)
	}
	return p, nil
}

// representative returns an Elligator 2 representative of u, or false when
// u has none (about half of all u). Bit 0 of tweak picks one of the two
// representatives; bits 6 and 7 become the representative's top bits.
func representative(u *field.Element, tweak byte) ([32]byte, bool) {
	var out [32]byte
	a := montgomeryA()
	uPlusA := new(field.Element).Add(u, a)
	// r = t / sqrt(-2u(u+A)), t = u or u+A: then the forward map gives u.
	d := new(field.Element).Multiply(u, uPlusA)
	minusTwo := new(field.Element).Add(new(field.Element).One(), new(field.Element).One())
	minusTwo.Negate(minusTwo)
	d.Multiply(d, minusTwo)
	inv, isSquare := new(field.Element).SqrtRatio(new(field.Element).One(), d)
	if isSquare != 1 {
		return out, false
	}
	t := new(field.Element).Select(uPlusA, u, int(tweak&1))
	r := new(field.Element).Multiply(t, inv)
	// Take the root in [0, (p-1)/2], which fits in 254 bits: 2r mod p is
	// even exactly for those.
	twoR := new(field.Element).Add(r, r)
	neg := new(field.Element).Negate(r)
	r.Select(neg, r, int(twoR.Bytes()[0]&1))
	copy(out[:], r.Bytes())
	out[31] |= tweak & 0xc0
	return out, true
}

// publicFromRepresentative is the Elligator 2 map (non-square 2): it gives
// the curve25519 public key a representative stands for. The top two bits
// are ignored.
func publicFromRepresentative(rep *[32]byte) [32]byte {
	var b [32]byte
	copy(b[:], rep[:])
	b[31] &= 0x3f
	r, _ := new(field.Element).SetBytes(b[:])
	a := montgomeryA()
	one := new(field.Element).One()
	// w = -A / (1 + 2r^2)
	den := new(field.Element).Square(r)
	den.Add(den, den)
	den.Add(den, one)
	den.Invert(den)
	w := new(field.Element).Multiply(a, den)
	w.Negate(w)
	// g(w) = w(w^2 + Aw + 1); u = w if g(w) is a square, else -w - A.
	g := new(field.Element).Square(w)
	aw := new(field.Element).Multiply(a, w)
	g.Add(g, aw)
	g.Add(g, one)
	g.Multiply(g, w)
	_, isSquare := new(field.Element).SqrtRatio(g, one)
	other := new(field.Element).Negate(w)
	other.Subtract(other, a)
	u := new(field.Element).Select(w, other, isSquare)
	var out [32]byte
	copy(out[:], u.Bytes())
	return out
}

// sessionKey is an ephemeral curve25519 key pair with a representative.
type sessionKey struct {
	private        [32]byte
	public         [32]byte
	representative [32]byte
}

// errKeyGen is returned when no representable key was found; with a working
// random source this does not happen (each try fails with probability 1/2).
var errKeyGen = errors.New("obfs4: no Elligator-representable key in 128 tries; is the random source broken?")

// newSessionKey draws private keys until one's public key has a
// representative, with curve's arithmetic.
func newSessionKey(curve Curve, rand io.Reader) (*sessionKey, error) {
	var buf [33]byte
	for i := 0; i < 128; i++ {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return nil, fmt.Errorf("obfs4: reading randomness: %w", err)
		}
		k := &sessionKey{}
		copy(k.private[:], buf[:32])
		u, err := dirtyPublicKey(curve, &k.private)
		if err != nil {
			return nil, err
		}
		rep, ok := representative(u, buf[32])
		if !ok {
			continue
		}
		copy(k.public[:], u.Bytes())
		k.representative = rep
		return k, nil
	}
	return nil, errKeyGen
}
