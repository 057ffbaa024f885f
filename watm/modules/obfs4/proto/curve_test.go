package proto

import (
	"bytes"
	"errors"
	"hash"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"filippo.io/edwards25519"
)

// TestScalarBaseMultMatches: the generator multiplied with ScalarMult is
// the point ScalarBaseMult gives, byte for byte.
func TestScalarBaseMultMatches(t *testing.T) {
	rng := mrand.NewChaCha8([32]byte{7})
	for range 200 {
		var k [32]byte
		rng.Read(k[:])
		s, err := new(edwards25519.Scalar).SetBytesWithClamping(k[:])
		if err != nil {
			t.Fatal(err)
		}
		want := new(edwards25519.Point).ScalarBaseMult(s).Bytes()
		if got := scalarBaseMult(&k).Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("scalar %x: ScalarMult gives %x, ScalarBaseMult %x", k, got, want)
		}
	}
}

// foreignCurve is NativeCurve behind another type, so the handshake takes
// the path of a host's Curve (the base point decoded from its encoding).
type foreignCurve struct {
	NativeCurve
	baseErr error
}

func (c foreignCurve) ScalarBaseMult(scalar *[32]byte) ([32]byte, error) {
	if c.baseErr != nil {
		return [32]byte{}, c.baseErr
	}
	return c.NativeCurve.ScalarBaseMult(scalar)
}

// TestSessionKeyThroughForeignCurve: the same randomness gives the same
// session keys (private, public, representative) through a Curve other
// than NativeCurve; that Curve's failure is the handshake's, with its text.
func TestSessionKeyThroughForeignCurve(t *testing.T) {
	for seed := range byte(50) {
		want, err := newSessionKey(NativeCurve{}, mrand.NewChaCha8([32]byte{seed}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := newSessionKey(foreignCurve{}, mrand.NewChaCha8([32]byte{seed}))
		if err != nil {
			t.Fatal(err)
		}
		if *got != *want {
			t.Fatalf("seed %d: foreign curve gives %x, native %x", seed, *got, *want)
		}
	}
	_, err := newSessionKey(foreignCurve{baseErr: errors.New("host gone")}, mrand.NewChaCha8([32]byte{}))
	if err == nil || err.Error() != "obfs4: scalar base multiplication: host gone" {
		t.Fatalf("failing curve: %v", err)
	}
}

// TestNtorLowOrderPoint: a zero shared secret fails the handshake with
// X25519's reason.
func TestNtorLowOrderPoint(t *testing.T) {
	key, err := newSessionKey(NativeCurve{}, mrand.NewChaCha8([32]byte{1}))
	if err != nil {
		t.Fatal(err)
	}
	var zero [32]byte
	id := &ServerIdentity{}
	_, err = ntorServer(NativeCurve{}, key, &zero, id)
	if err == nil || !strings.Contains(err.Error(), "ntor handshake failed: X25519 with a low-order point") {
		t.Fatalf("low-order point: %v", err)
	}
}

// TestFinishMACMatches: the three epoch-hour MACs finished from one
// hashed prefix are mac128's, with a cloneable HMAC and with a hash that
// cannot be cloned.
func TestFinishMACMatches(t *testing.T) {
	var b [32]byte
	var node [20]byte
	prefix := bytes.Repeat([]byte{0xab}, 5000)
	for _, name := range []string{"cloneable", "not cloneable"} {
		h := handshakeMAC(&b, &node)
		if name == "not cloneable" {
			h = struct{ hash.Hash }{h}
		}
		h.Reset()
		h.Write(prefix)
		for _, e := range []string{"491234", "491233", "491235"} {
			want := mac128(handshakeMAC(&b, &node), prefix, []byte(e))
			if got := finishMAC(h, prefix, []byte(e)); !bytes.Equal(got, want) {
				t.Errorf("%s, E=%s: %x, want %x", name, e, got, want)
			}
		}
	}
}

// TestServerIdentityFromArgsThroughCurve: Options.Curve derives the same
// public key (hence cert=) as the package function.
func TestServerIdentityFromArgsThroughCurve(t *testing.T) {
	id := testIdentity(t, 1)
	args := id.Args()
	get := func(k string) (string, bool) { v, ok := args[k]; return v, ok }
	got, err := Options{Curve: foreignCurve{}}.ServerIdentityFromArgs(get)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *id {
		t.Fatalf("through a Curve: %+v, want %+v", *got, *id)
	}
}
