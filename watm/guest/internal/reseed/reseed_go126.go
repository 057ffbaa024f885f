//go:build wasip1 && go1.26 && !go1.27 && waterpt_reseed && !goexperiment.staticlockranking

package reseed

import (
	"unsafe"

	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

// globalRand mirrors runtime.globalRand of Go 1.26 (runtime/rand.go), with
// lock ranking off (the default): a mutex (one uintptr), the seed being
// read, the chacha8rand.State, and whether randinit ran.
//
//go:linkname globalRand runtime.globalRand
var globalRand struct {
	lock  uintptr
	seed  [32]byte
	state struct {
		buf     [32]uint64
		seed    [4]uint64
		i, n, c uint32
	}
	init bool
}

//go:linkname readRandomFailed runtime.readRandomFailed
var readRandomFailed bool

//go:linkname randinit runtime.randinit
func randinit()

//go:linkname mrandinit runtime.mrandinit
func mrandinit(mp unsafe.Pointer)

//go:linkname acquirem runtime.acquirem
func acquirem() unsafe.Pointer

//go:linkname releasem runtime.releasem
func releasem(mp unsafe.Pointer)

//go:linkname mcount runtime.mcount
func mcount() int32

//go:wasmexport waterpt_reseed
func waterptReseed() int32 { return reseed().Result() }

func reseed() wasi.Errno {
	if !laidOut() {
		return wasi.ENOTSUP
	}
	// randinit reads a new seed with random_get, as at start-up; it
	// refuses to run twice, hence init is cleared first.
	globalRand.init = false
	readRandomFailed = false
	randinit()
	if readRandomFailed || !globalRand.init {
		return wasi.EIO
	}
	mp := acquirem()
	mrandinit(mp)
	releasem(mp)
	return wasi.ESUCCESS
}

// laidOut checks what the runtime's state must look like after start-up if
// the mirror above matches it: one M (wasm runs no threads: newosproc
// throws), randinit ran and cleared its seed, the lock is free, and the
// generator's position is within its 32-word buffer.
func laidOut() bool {
	g := &globalRand
	if unsafe.Sizeof(*g) != 352 || mcount() != 1 || !g.init || g.lock != 0 {
		return false
	}
	if g.seed != [32]byte{} {
		return false
	}
	s := &g.state
	return s.i <= s.n && s.n <= 32 && s.c < 16 && s.c%4 == 0
}
