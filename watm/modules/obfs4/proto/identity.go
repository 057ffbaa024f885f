package proto

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"golang.org/x/crypto/curve25519"
)

// NewServerIdentity creates a fresh identity (node ID, curve25519 key pair,
// DRBG seed) from rand, with IATMode 0.
func NewServerIdentity(rand io.Reader) (*ServerIdentity, error) {
	id := &ServerIdentity{}
	if _, err := io.ReadFull(rand, id.NodeID[:]); err != nil {
		return nil, fmt.Errorf("obfs4: reading randomness: %w", err)
	}
	if _, err := io.ReadFull(rand, id.PrivateKey[:]); err != nil {
		return nil, fmt.Errorf("obfs4: reading randomness: %w", err)
	}
	if _, err := io.ReadFull(rand, id.DRBGSeed[:]); err != nil {
		return nil, fmt.Errorf("obfs4: reading randomness: %w", err)
	}
	id.PrivateKey[0] &= 248
	id.PrivateKey[31] &= 127
	id.PrivateKey[31] |= 64
	if err := id.derivePublic(NativeCurve{}); err != nil {
		return nil, err
	}
	return id, nil
}

func (id *ServerIdentity) derivePublic(curve Curve) error {
	var base [32]byte
	copy(base[:], curve25519.Basepoint)
	pub, err := curve.X25519(&id.PrivateKey, &base)
	if err != nil {
		return fmt.Errorf("obfs4: private-key is not a usable curve25519 key: %w", err)
	}
	id.PublicKey = pub
	return nil
}

// Cert returns the bridge line's cert= value as lyrebird writes it: base64
// (standard alphabet, no padding) of NodeID || PublicKey.
func (id *ServerIdentity) Cert() string {
	var raw [52]byte
	copy(raw[:20], id.NodeID[:])
	copy(raw[20:], id.PublicKey[:])
	return base64.RawStdEncoding.EncodeToString(raw[:])
}

// stateJSON is obfs4_state.json as lyrebird and obfs4proxy write it.
type stateJSON struct {
	NodeID     string `json:"node-id"`
	PrivateKey string `json:"private-key"`
	PublicKey  string `json:"public-key"`
	DRBGSeed   string `json:"drbg-seed"`
	IATMode    int    `json:"iat-mode"`
}

// StateJSON returns the identity in obfs4proxy's obfs4_state.json format.
func (id *ServerIdentity) StateJSON() []byte {
	b, err := json.Marshal(stateJSON{
		NodeID:     hex.EncodeToString(id.NodeID[:]),
		PrivateKey: hex.EncodeToString(id.PrivateKey[:]),
		PublicKey:  hex.EncodeToString(id.PublicKey[:]),
		DRBGSeed:   hex.EncodeToString(id.DRBGSeed[:]),
		IATMode:    id.IATMode,
	})
	if err != nil {
		panic("obfs4: encoding state: " + err.Error()) // strings and an int always encode
	}
	return b
}

// ParseStateJSON reads an obfs4_state.json written by obfs4proxy, lyrebird
// or StateJSON.
func ParseStateJSON(b []byte) (*ServerIdentity, error) {
	var st stateJSON
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("obfs4: obfs4_state.json is not valid JSON (%v); restore it from a backup, or delete it to create a new identity (the bridge line changes)", err)
	}
	id, err := identityFromHex(st.NodeID, st.PrivateKey, st.DRBGSeed, st.IATMode, NativeCurve{})
	if err != nil {
		return nil, fmt.Errorf("obfs4: obfs4_state.json: %w", err)
	}
	if st.PublicKey != "" {
		var pub [32]byte
		if err := decodeHex(pub[:], "public-key", st.PublicKey); err != nil {
			return nil, fmt.Errorf("obfs4: obfs4_state.json: %w", err)
		}
		if subtle.ConstantTimeCompare(pub[:], id.PublicKey[:]) != 1 {
			return nil, fmt.Errorf("obfs4: obfs4_state.json: public-key does not belong to private-key; the file is corrupt, restore it from a backup")
		}
	}
	return id, nil
}

// ServerIdentityFromArgs reads an identity from the keys node-id (40 hex),
// private-key (64 hex), drbg-seed (48 hex) and iat-mode (0, 1 or 2; 0 when
// absent), as lyrebird's ServerTransportOptions carry them. get reports
// whether a key is present.
func ServerIdentityFromArgs(get func(string) (string, bool)) (*ServerIdentity, error) {
	return Options{}.ServerIdentityFromArgs(get)
}

// ServerIdentityFromArgs is the package's ServerIdentityFromArgs, with the
// public key derived by o.Curve (one X25519: a millisecond in WebAssembly,
// on every connection of the obfs4 WATM).
func (o Options) ServerIdentityFromArgs(get func(string) (string, bool)) (*ServerIdentity, error) {
	var vals [3]string
	for i, k := range []string{"node-id", "private-key", "drbg-seed"} {
		v, ok := get(k)
		if !ok {
			return nil, fmt.Errorf("obfs4: missing argument %q; a server identity needs node-id, private-key and drbg-seed (the values in obfs4_state.json)", k)
		}
		vals[i] = v
	}
	iat := 0
	if v, ok := get("iat-mode"); ok {
		var err error
		if iat, err = parseIATMode(v); err != nil {
			return nil, err
		}
	}
	return identityFromHex(vals[0], vals[1], vals[2], iat, curveOrNative(o.Curve))
}

func identityFromHex(nodeID, privateKey, drbgSeed string, iat int, curve Curve) (*ServerIdentity, error) {
	id := &ServerIdentity{IATMode: iat}
	if err := decodeHex(id.NodeID[:], "node-id", nodeID); err != nil {
		return nil, err
	}
	if err := decodeHex(id.PrivateKey[:], "private-key", privateKey); err != nil {
		return nil, err
	}
	if err := decodeHex(id.DRBGSeed[:], "drbg-seed", drbgSeed); err != nil {
		return nil, err
	}
	if iat < iatNone || iat > iatParanoid {
		return nil, fmt.Errorf("obfs4: iat-mode %d is not 0, 1 or 2", iat)
	}
	if err := id.derivePublic(curve); err != nil {
		return nil, err
	}
	return id, nil
}

func decodeHex(dst []byte, name, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("obfs4: %s must be %d hex digits, got %d characters", name, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("obfs4: %s is not hex: %v", name, err)
	}
	return nil
}

func parseIATMode(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < iatNone || n > iatParanoid {
		return 0, fmt.Errorf("obfs4: iat-mode=%q must be 0, 1 or 2", s)
	}
	return n, nil
}

// Args returns the identity as the keys node-id, private-key, drbg-seed and
// iat-mode (hex, decimal for iat-mode): the form ServerIdentityFromArgs reads.
func (id *ServerIdentity) Args() map[string]string {
	return map[string]string{
		"node-id":     hex.EncodeToString(id.NodeID[:]),
		"private-key": hex.EncodeToString(id.PrivateKey[:]),
		"drbg-seed":   hex.EncodeToString(id.DRBGSeed[:]),
		"iat-mode":    strconv.Itoa(id.IATMode),
	}
}

// ParseClientArgs reads the bridge-line arguments cert= (or node-id= and
// public-key= in hex, as lyrebird accepts) and iat-mode= (required, as in
// lyrebird).
func ParseClientArgs(get func(string) (string, bool)) (ClientArgs, error) {
	var a ClientArgs
	if cert, ok := get("cert"); ok {
		raw, err := base64.StdEncoding.DecodeString(cert + "==")
		if err != nil || len(raw) != 52 {
			return a, fmt.Errorf("obfs4: cert=%q is not a bridge line cert (base64 of 52 bytes, 70 characters); copy it again from the bridge line", cert)
		}
		copy(a.NodeID[:], raw[:20])
		copy(a.PublicKey[:], raw[20:])
	} else {
		nodeID, ok1 := get("node-id")
		pub, ok2 := get("public-key")
		if !ok1 || !ok2 {
			return a, fmt.Errorf("obfs4: missing argument \"cert\"; the bridge line must carry cert= (or node-id= and public-key=)")
		}
		if err := decodeHex(a.NodeID[:], "node-id", nodeID); err != nil {
			return a, err
		}
		if err := decodeHex(a.PublicKey[:], "public-key", pub); err != nil {
			return a, err
		}
	}
	iat, ok := get("iat-mode")
	if !ok {
		return a, fmt.Errorf("obfs4: missing argument \"iat-mode\"; the bridge line must carry iat-mode=0, 1 or 2")
	}
	var err error
	a.IATMode, err = parseIATMode(iat)
	return a, err
}
