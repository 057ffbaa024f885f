package proto

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	"golang.org/x/crypto/curve25519"
)

func TestLowOrderPointHasOrder8(t *testing.T) {
	l := lowOrderPoint()
	p := edwards25519.NewIdentityPoint()
	id := edwards25519.NewIdentityPoint()
	for i := 1; i <= 8; i++ {
		p.Add(p, l)
		if got := p.Equal(id) == 1; got != (i == 8) {
			t.Fatalf("[%d]L is identity: %v", i, got)
		}
	}
	for k := 0; k < 8; k++ {
		want := edwards25519.NewIdentityPoint()
		for i := 0; i < k; i++ {
			want.Add(want, l)
		}
		if torsionMultiple(byte(k)|0xf8).Equal(want) != 1 {
			t.Fatalf("torsionMultiple(%d) is not [%d]L", k, k)
		}
	}
}

// TestRepresentativeDecodesToPublicKey: every session key's representative
// maps back to its public key, and the key agrees with standard x25519.
func TestRepresentativeDecodesToPublicKey(t *testing.T) {
	for i := 0; i < 200; i++ {
		k, err := newSessionKey(NativeCurve{}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if got := publicFromRepresentative(&k.representative); got != k.public {
			t.Fatalf("representative %x decodes to %x, want %x", k.representative, got, k.public)
		}
		var other [32]byte
		rand.Read(other[:])
		otherPub, _ := curve25519.X25519(other[:], curve25519.Basepoint)
		s1, err1 := curve25519.X25519(k.private[:], otherPub)
		s2, err2 := curve25519.X25519(other[:], k.public[:])
		if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) {
			t.Fatalf("x25519 with the session key disagrees: %x vs %x (%v, %v)", s1, s2, err1, err2)
		}
	}
}

// TestRepresentativeBitsUniform: representatives must look random, so each
// of the top bits (where the original construction was biased: bits 254
// and 255 were always 0) and the low bits is set about half the time, and
// public keys are not confined to the prime-order subgroup (their low
// torsion part varies).
func TestRepresentativeBitsUniform(t *testing.T) {
	const n = 2000
	var top [8]int
	low := 0
	for i := 0; i < n; i++ {
		k, err := newSessionKey(NativeCurve{}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < 8; b++ {
			if k.representative[31]>>b&1 == 1 {
				top[b]++
			}
		}
		low += int(k.representative[0] & 1)
	}
	// Binomial(2000, 1/2): sd ~ 22; allow 5 sd.
	check := func(name string, c int) {
		if c < n/2-112 || c > n/2+112 {
			t.Errorf("%s set %d times in %d representatives; want about %d", name, c, n, n/2)
		}
	}
	for b, c := range top {
		check(fmt.Sprintf("bit %d", 248+b), c)
	}
	check("bit 0", low)
}

// TestPublicKeysCoverTheTorsion: the corrected construction adds a random
// low-order point, so about 7/8 of session public keys lie outside the
// prime-order subgroup (the original construction's keys never did, which
// tells them apart from random strings).
func TestPublicKeysCoverTheTorsion(t *testing.T) {
	const n = 400
	minusOne := new(edwards25519.Scalar).Negate(scalarOne())
	outside := 0
	for i := 0; i < n; i++ {
		k, err := newSessionKey(NativeCurve{}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p := edwardsFromMontgomery(t, &k.public)
		// [l]P = [l-1]P + P is the identity exactly for subgroup points.
		q := new(edwards25519.Point).ScalarMult(minusOne, p)
		q.Add(q, p)
		if q.Equal(edwards25519.NewIdentityPoint()) != 1 {
			outside++
		}
	}
	if outside < n*7/8-60 || outside > n*7/8+60 {
		t.Fatalf("%d of %d public keys outside the prime-order subgroup; want about %d", outside, n, n*7/8)
	}
}

func scalarOne() *edwards25519.Scalar {
	var b [32]byte
	b[0] = 1
	s, _ := new(edwards25519.Scalar).SetCanonicalBytes(b[:])
	return s
}

// edwardsFromMontgomery returns an Edwards point with Montgomery u (either
// sign of x: both are in the subgroup or neither).
func edwardsFromMontgomery(t *testing.T, u *[32]byte) *edwards25519.Point {
	fu, _ := new(field.Element).SetBytes(u[:])
	one := new(field.Element).One()
	num := new(field.Element).Subtract(fu, one)
	den := new(field.Element).Add(fu, one)
	y := new(field.Element).Multiply(num, new(field.Element).Invert(den))
	p, err := new(edwards25519.Point).SetBytes(y.Bytes())
	if err != nil {
		t.Fatalf("u %x is not on the curve: %v", u, err)
	}
	return p
}
