//go:build wasip1

package stream

import (
	"runtime"
	"time"
	"unsafe"

	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

//go:wasmimport env water_seen
//go:noescape
func waterSeen(keyPtr unsafe.Pointer, keyLen uint32, ttlSeconds int32) int32

// MaxSeenKey is the longest key Seen takes.
const MaxSeenKey = 64

// Seen is a replay filter that outlives the instance: it reports whether
// key was recorded within its ttl by any instance of this module in the
// host's process (each connection is its own instance), and if not,
// records it for ttl (rounded up to whole seconds). It calls the host
// function water_seen, which a module imports only if it calls Seen. The
// host's set is bounded: under a flood the oldest keys go first.
//
// Errors: EINVAL for a key of 0 or more than MaxSeenKey bytes; a host
// without water_seen fails the module's load instead.
func Seen(key []byte, ttl time.Duration) (bool, error) {
	if len(key) == 0 || len(key) > MaxSeenKey {
		return false, wasi.EINVAL
	}
	secs := int32(min((ttl+time.Second-1)/time.Second, 1<<31-1))
	r := waterSeen(unsafe.Pointer(unsafe.SliceData(key)), uint32(len(key)), max(secs, 1))
	runtime.KeepAlive(key)
	switch {
	case r < 0:
		return false, wasi.Errno(-r)
	case r == 1:
		return true, nil
	}
	return false, nil
}
