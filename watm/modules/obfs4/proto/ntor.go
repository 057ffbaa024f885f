package proto

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"
)

// ntor as obfs4 uses it (Tor proposal 216, with obfs4's own layout, which
// differs from tor's: the common suffix is B | B | X | Y | PROTOID | ID).
const protoID = "ntor-curve25519-sha256-1"

// ntorResult is what both ends of the ntor handshake derive.
type ntorResult struct {
	keySeed [32]byte
	auth    [32]byte
}

// ntorCommon derives KEY_SEED and AUTH from the two shared secrets.
func ntorCommon(exp1, exp2 []byte, nodeID *[20]byte, b, x, y *[32]byte) ntorResult {
	suffix := make([]byte, 0, 4*32+len(protoID)+20)
	suffix = append(suffix, b[:]...)
	suffix = append(suffix, b[:]...)
	suffix = append(suffix, x[:]...)
	suffix = append(suffix, y[:]...)
	suffix = append(suffix, protoID...)
	suffix = append(suffix, nodeID[:]...)

	var res ntorResult
	h := hmac.New(sha256.New, []byte(protoID+":key_extract"))
	h.Write(exp1)
	h.Write(exp2)
	h.Write(suffix)
	h.Sum(res.keySeed[:0])

	h = hmac.New(sha256.New, []byte(protoID+":key_verify"))
	h.Write(exp1)
	h.Write(exp2)
	h.Write(suffix)
	verify := h.Sum(nil)

	h = hmac.New(sha256.New, []byte(protoID+":mac"))
	h.Write(verify)
	h.Write(suffix)
	h.Write([]byte("Server"))
	h.Sum(res.auth[:0])
	return res
}

// ntorClient computes EXP(Y,x) | EXP(B,x).
func ntorClient(curve Curve, x *sessionKey, serverY, identityB *[32]byte, nodeID *[20]byte) (ntorResult, error) {
	e1, err1 := curve.X25519(&x.private, serverY)
	e2, err2 := curve.X25519(&x.private, identityB)
	if err := ntorError(err1, err2); err != nil {
		return ntorResult{}, err
	}
	return ntorCommon(e1[:], e2[:], nodeID, identityB, &x.public, serverY), nil
}

// ntorServer computes EXP(X,y) | EXP(X,b).
func ntorServer(curve Curve, y *sessionKey, clientX *[32]byte, id *ServerIdentity) (ntorResult, error) {
	e1, err1 := curve.X25519(&y.private, clientX)
	e2, err2 := curve.X25519(&id.PrivateKey, clientX)
	if err := ntorError(err1, err2); err != nil {
		return ntorResult{}, err
	}
	return ntorCommon(e1[:], e2[:], &id.NodeID, &id.PublicKey, clientX, &y.public), nil
}

// ntorError is the first of the curve's errors (a zero shared secret, or
// a host service that failed), as the handshake's.
func ntorError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("obfs4: ntor handshake failed: %w", err)
		}
	}
	return nil
}

// frameKeyLength is one direction's keys: secretbox key (32), nonce
// prefix (16), DRBG seed for length masks (SipHash key 16 + IV 8).
const frameKeyLength = 32 + 16 + drbgSeedLength

// sessionKeys expands KEY_SEED with HKDF-SHA256 (salt t_key, info
// m_expand). The first half keys client-to-server, the second
// server-to-client: that is what lyrebird does, although the spec's prose
// lists server-to-client first.
func sessionKeys(keySeed *[32]byte) (c2s, s2c [frameKeyLength]byte) {
	r := hkdf.New(sha256.New, keySeed[:], []byte(protoID+":key_extract"), []byte(protoID+":key_expand"))
	if _, err := io.ReadFull(r, c2s[:]); err != nil {
		panic("obfs4: HKDF: " + err.Error()) // 144 bytes is far below HKDF's limit
	}
	if _, err := io.ReadFull(r, s2c[:]); err != nil {
		panic("obfs4: HKDF: " + err.Error())
	}
	return c2s, s2c
}
