package wasip1

import (
	"crypto/rand"

	"github.com/tetratelabs/wazero/api"
)

// random_get(buf, buf_len) fills buf from crypto/rand.
// Errnos: EFAULT (buf outside memory).
var randomGet = wasiFunc("random_get", randomGetFn, Params(i32, i32), "buf", "buf_len")

func randomGetFn(_ *Context, mem api.Memory, stack []uint64) Errno {
	bufPtr, bufLen := uint32(stack[0]), uint32(stack[1])
	buf, ok := mem.Read(bufPtr, bufLen)
	if !ok {
		return EFAULT
	}
	_, _ = rand.Read(buf) // never fails (crypto/rand panics instead)
	return ESUCCESS
}
