package watm

import (
	"encoding/binary"

	"filippo.io/edwards25519"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
	"golang.org/x/crypto/curve25519"
)

// /water/curve25519: scalar multiplications on curve25519 and
// edwards25519 with the host's native code, for handshakes (obfs4's ntor
// and its Elligator 2 keys do four or five per connection, each about ten
// times slower in WebAssembly). Generic primitives, nothing obfs4's; the
// descriptor holds no key and no state besides the request and the reply.
// Same requests as /water/secretbox (header op, count, body_len):
//
//	op 1 x25519:    count n in 1..curveMaxCount, body n records
//	                scalar(32) | point(32). Reply: u32 k, then k results of
//	                curve25519.X25519(scalar, point) (32 bytes each): k < n
//	                means record k's point gave the all-zero output (low
//	                order), which X25519 refuses.
//	op 2 base mult: count n in 1..curveMaxCount, body n scalars (32
//	                bytes each), read with edwards25519's
//	                Scalar.SetBytesWithClamping (X25519's clamping).
//	                Reply: u32 n, then the n encodings (Point.Bytes) of
//	                [scalar]B, B the edwards25519 base point.
//
// fd_write errnos: EINVAL for an unknown op, a count out of bounds or a
// body_len that is not count records; EBUSY while a reply is unread;
// EFAULT and EBADF as every fd_write. fd_read as for secretbox.
const (
	curveName      = "curve25519"
	curveMaxCount  = 64
	curveOpX25519  = 1
	curveOpBase    = 2
	curveRecX25519 = 64
	curveRecBase   = 32
)

type curveService struct{}

func (curveService) checkHeader(op, n, body int) wasip1.Errno {
	rec := 0
	switch op {
	case curveOpX25519:
		rec = curveRecX25519
	case curveOpBase:
		rec = curveRecBase
	}
	if rec == 0 || n < 1 || n > curveMaxCount || body != n*rec {
		return wasip1.EINVAL
	}
	return wasip1.ESUCCESS
}

func (curveService) run(op, n int, body, reply []byte) ([]byte, wasip1.Errno) {
	reply = binary.LittleEndian.AppendUint32(reply, uint32(n))
	for i := range n {
		if op == curveOpBase {
			s, err := new(edwards25519.Scalar).SetBytesWithClamping(body[i*curveRecBase : (i+1)*curveRecBase])
			if err != nil {
				return reply, wasip1.EINVAL // 32 bytes never fail
			}
			reply = append(reply, new(edwards25519.Point).ScalarBaseMult(s).Bytes()...)
			continue
		}
		rec := body[i*curveRecX25519:]
		out, err := curve25519.X25519(rec[:32], rec[32:64])
		if err != nil {
			binary.LittleEndian.PutUint32(reply, uint32(i))
			break
		}
		reply = append(reply, out...)
	}
	return reply, wasip1.ESUCCESS
}
