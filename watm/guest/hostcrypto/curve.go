//go:build wasip1

package hostcrypto

import "errors"

// ErrNoCurve means the host offers no curve25519 service: use
// golang.org/x/crypto/curve25519 and filippo.io/edwards25519 in
// WebAssembly.
var ErrNoCurve = errors.New("hostcrypto: the host offers no curve25519 service (/water/curve25519)")

// ErrLowOrder is X25519's refusal of a low-order point (an all-zero
// result), as curve25519.X25519 refuses it.
var ErrLowOrder = errors.New("hostcrypto: X25519 with a low-order point (a shared secret was zero)")

const (
	curveServiceName = "curve25519"
	curveOpX25519    = 1
	curveOpBase      = 2
)

// Curve is a host curve25519 context: scalar multiplications with the
// host's native code, one host call each. Its methods have the shapes of
// obfs4's proto.Curve. It is not safe for concurrent use.
type Curve struct {
	channel
	out [1][]byte
}

// OpenCurve opens the host's curve25519 service. It returns an error
// wrapping ErrNoCurve when the host has none.
func OpenCurve() (*Curve, error) {
	ch, err := openChannel(curveServiceName, ErrNoCurve)
	if err != nil {
		return nil, err
	}
	return &Curve{channel: ch}, nil
}

// X25519 returns curve25519.X25519(scalar, point), or ErrLowOrder where
// that fails.
func (c *Curve) X25519(scalar, point *[32]byte) ([32]byte, error) {
	c.req = c.header(curveOpX25519, 1, 64)
	c.req = append(append(c.req, scalar[:]...), point[:]...)
	return c.call()
}

// ScalarBaseMult returns the encoding of the edwards25519 point [s]B, s
// read from scalar with X25519's clamping (Scalar.SetBytesWithClamping).
func (c *Curve) ScalarBaseMult(scalar *[32]byte) ([32]byte, error) {
	c.req = c.header(curveOpBase, 1, 32)
	c.req = append(c.req, scalar[:]...)
	return c.call()
}

// call sends the request in c.req and reads its one 32-byte result.
func (c *Curve) call() ([32]byte, error) {
	var res [32]byte
	if err := c.write(c.req, nil, 0); err != nil {
		return res, err
	}
	c.out[0] = res[:]
	k, err := c.read(c.out[:], 0, 1)
	if err != nil {
		return res, err
	}
	if k == 0 {
		return res, ErrLowOrder
	}
	return res, nil
}
