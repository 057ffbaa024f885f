package wasip1

import (
	"time"

	"github.com/tetratelabs/wazero/api"
)

// WASI clock ids.
const (
	clockRealtime  = 0
	clockMonotonic = 1
)

// clock_res_get(id, result.resolution): 1 ns for the realtime and monotonic
// clocks; the CPU-time clocks, which a WATM has no use for, are EINVAL.
// Errnos: EFAULT (result outside memory), EINVAL (another clock).
var clockResGet = wasiFunc("clock_res_get", clockResGetFn, Params(i32, i32), "id", "result.resolution")

func clockResGetFn(_ *Context, mem api.Memory, stack []uint64) Errno {
	id, resultPtr := uint32(stack[0]), uint32(stack[1])
	if !inRange(mem, resultPtr, 8) {
		return EFAULT
	}
	if id != clockRealtime && id != clockMonotonic {
		return EINVAL
	}
	mem.WriteUint64Le(resultPtr, 1)
	return ESUCCESS
}

// clock_time_get(id, precision, result.timestamp): the realtime clock in
// nanoseconds since the epoch, or the monotonic clock (shared by the
// runtime's instances, never 0). precision is ignored.
// Errnos: EFAULT (result outside memory), EINVAL (another clock).
var clockTimeGet = wasiFunc("clock_time_get", clockTimeGetFn, Params(i32, i64, i32), "id", "precision", "result.timestamp")

func clockTimeGetFn(c *Context, mem api.Memory, stack []uint64) Errno {
	id, resultPtr := uint32(stack[0]), uint32(stack[2])
	if !inRange(mem, resultPtr, 8) {
		return EFAULT
	}
	switch id {
	case clockRealtime:
		mem.WriteUint64Le(resultPtr, uint64(time.Now().UnixNano()))
	case clockMonotonic:
		mem.WriteUint64Le(resultPtr, c.host.monotonic())
	default:
		return EINVAL
	}
	return ESUCCESS
}
