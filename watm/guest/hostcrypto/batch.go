// Package hostcrypto gives a WATM the host's native crypto when the host
// offers it, through WASI preview 1 calls only: the host preopens a
// directory /water, and each path_open of /water/secretbox is a secretbox
// context spoken to with fd_write and fd_read (the protocol is in the
// host's watm/hostbox.go). A module that uses this package imports nothing
// beyond WASI, so it still instantiates on any WATER host; on a host
// without the service OpenSecretBox returns ErrUnavailable and the module
// does the work in WebAssembly instead.
//
// It is optional and made for bulk work: one Seal or Open call carries
// many boxes (the host call costs about as much as sealing a few hundred
// bytes in WebAssembly, and saves about 8x on each box), and the key is
// handed over once per SecretBox.
//
// /water/curve25519 (OpenCurve, protocol in watm/hostcurve.go) does the
// scalar multiplications of a handshake, X25519 and edwards25519's [s]B,
// one host call each: about ten times faster than in WebAssembly, and
// without edwards25519's base-point table, which a fresh instance would
// otherwise build. Without it (ErrNoCurve) use the libraries in
// WebAssembly.
package hostcrypto

import "fmt"

// The host's bounds on one call; SecretBox splits longer batches.
const (
	// MaxBatch is the most boxes one host call carries.
	MaxBatch = 256
	// MaxBatchBytes is the most message (Seal) or box (Open) bytes one
	// host call carries; a single longer one is refused.
	MaxBatchBytes = 64 << 10
)

// overhead is secretbox.Overhead, the tag in front of each box.
const overhead = 16

// chunk is how many boxes, from the first, fit one host call, counting
// each box less skip bytes.
func chunk(boxes [][]byte, skip int) (int, error) {
	total := 0
	for i, box := range boxes {
		if len(box) < overhead {
			return 0, fmt.Errorf("hostcrypto: a box of %d bytes is shorter than its %d-byte tag", len(box), overhead)
		}
		total += len(box) - skip
		if i == MaxBatch || total > MaxBatchBytes {
			if i == 0 {
				return 0, fmt.Errorf("hostcrypto: a box of %d bytes is over the host's %d", len(box), MaxBatchBytes)
			}
			return i, nil
		}
	}
	return len(boxes), nil
}
