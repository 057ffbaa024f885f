package watm

import (
	"bytes"
	"encoding/binary"
	mrand "math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/curve25519"
)

// curveRequest is a request of op over records, each rec bytes.
func curveRequest(op int, records ...[]byte) []byte {
	req := boxHeader(op, len(records), len(bytes.Join(records, nil)))
	return append(req, bytes.Join(records, nil)...)
}

// TestHostCurveMatchesLibraries: /water/curve25519 gives what
// curve25519.X25519 and edwards25519's ScalarBaseMult give, byte for byte,
// for a batch written whole and one written in one-byte pieces; a
// low-order point stops an x25519 batch there.
func TestHostCurveMatchesLibraries(t *testing.T) {
	h := newBoxHarness(t)
	fd := h.openService(curveName)
	rng := mrand.NewChaCha8([32]byte{5})
	var recs, scalars [][]byte
	wantX, wantB := binary.LittleEndian.AppendUint32(nil, 5), binary.LittleEndian.AppendUint32(nil, 5)
	for range 5 {
		rec := make([]byte, 64)
		rng.Read(rec)
		out, err := curve25519.X25519(rec[:32], rec[32:])
		if err != nil {
			t.Fatal(err)
		}
		recs, wantX = append(recs, rec), append(wantX, out...)
		s, _ := new(edwards25519.Scalar).SetBytesWithClamping(rec[:32])
		scalars = append(scalars, rec[:32])
		wantB = append(wantB, new(edwards25519.Point).ScalarBaseMult(s).Bytes()...)
	}
	h.mustWrite(fd, curveRequest(curveOpX25519, recs...))
	if got := h.read(fd, 1000); !bytes.Equal(got, wantX) {
		t.Errorf("x25519: got %x, want %x", got, wantX)
	}
	for _, b := range curveRequest(curveOpBase, scalars...) {
		h.mustWrite(fd, []byte{b})
	}
	if got := h.read(fd, 1000); !bytes.Equal(got, wantB) {
		t.Errorf("base mult in pieces: got %x, want %x", got, wantB)
	}
	lowOrder := append(bytes.Clone(recs[0][:32]), make([]byte, 32)...) // the point 0
	h.mustWrite(fd, curveRequest(curveOpX25519, recs[0], lowOrder, recs[1]))
	want := append(binary.LittleEndian.AppendUint32(nil, 1), wantX[4:36]...)
	if got := h.read(fd, 1000); !bytes.Equal(got, want) {
		t.Errorf("low-order point second: got %x, want %x", got, want)
	}
}

// TestHostCurveErrors: malformed requests get EINVAL and leave nothing
// behind; a request before the reply is read gets EBUSY.
func TestHostCurveErrors(t *testing.T) {
	h := newBoxHarness(t)
	fd := h.openService(curveName)
	scalar := make([]byte, 32)
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"unknown op", curveRequest(3, scalar)},
		{"count 0", boxHeader(curveOpBase, 0, 0)},
		{"count over the bound", boxHeader(curveOpBase, curveMaxCount+1, (curveMaxCount+1)*32)},
		{"body not count records", boxHeader(curveOpX25519, 1, 32)},
	} {
		if _, e := h.write(fd, tc.req); e != EINVAL {
			t.Errorf("%s: fd_write = %v, want EINVAL", tc.name, e)
		}
		if got := h.read(fd, 100); len(got) != 0 {
			t.Errorf("%s: a reply of %d bytes", tc.name, len(got))
		}
	}
	h.mustWrite(fd, curveRequest(curveOpBase, scalar))
	if _, e := h.write(fd, curveRequest(curveOpBase, scalar)); e != EBUSY {
		t.Errorf("second request before the reply: %v, want EBUSY", e)
	}
	if got := h.read(fd, 100); len(got) != 4+32 {
		t.Errorf("reply of %d bytes, want 36", len(got))
	}
}
