package watm

import (
	"crypto/rand"
	"runtime"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// args_get, args_sizes_get, environ_get, environ_sizes_get: a WATM has no
// arguments and no environment.
var argsGet = &hostFunc{name: "args_get", params: params(i32, i32), names: []string{"argv", "argv_buf"},
	body: func(_ *instance, _ api.Memory, _ []uint64) wasip1.Errno { return wasip1.ESUCCESS }}

var argsSizesGet = &hostFunc{name: "args_sizes_get", params: params(i32, i32), names: []string{"result.argc", "result.argv_len"},
	body: writeTwoZeros}

var environGet = &hostFunc{name: "environ_get", params: params(i32, i32), names: []string{"environ", "environ_buf"},
	body: func(_ *instance, _ api.Memory, _ []uint64) wasip1.Errno { return wasip1.ESUCCESS }}

var environSizesGet = &hostFunc{name: "environ_sizes_get", params: params(i32, i32), names: []string{"result.environc", "result.environv_len"},
	body: writeTwoZeros}

func writeTwoZeros(_ *instance, mem api.Memory, s []uint64) wasip1.Errno {
	a, b := p32(s, 0), p32(s, 1)
	if !inRange(mem, a, 4) || !inRange(mem, b, 4) {
		return wasip1.EFAULT
	}
	mem.WriteUint32Le(a, 0)
	mem.WriteUint32Le(b, 0)
	return wasip1.ESUCCESS
}

// WASI clock ids.
const (
	clockRealtime  = 0
	clockMonotonic = 1
)

// clock_res_get(id, result.resolution): 1 ns for the realtime and monotonic
// clocks; EINVAL for the CPU-time clocks, which a WATM has no use for.
var clockResGet = &hostFunc{name: "clock_res_get", params: params(i32, i32), names: []string{"id", "result.resolution"},
	body: func(_ *instance, mem api.Memory, s []uint64) wasip1.Errno {
		if !inRange(mem, p32(s, 1), 8) {
			return wasip1.EFAULT
		}
		if id := p32(s, 0); id != clockRealtime && id != clockMonotonic {
			return wasip1.EINVAL
		}
		mem.WriteUint64Le(p32(s, 1), 1)
		return wasip1.ESUCCESS
	}}

// clock_time_get(id, precision, result.timestamp).
var clockTimeGet = &hostFunc{name: "clock_time_get", params: params(i32, i64, i32), names: []string{"id", "precision", "result.timestamp"},
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		ptr := p32(s, 2)
		if !inRange(mem, ptr, 8) {
			return wasip1.EFAULT
		}
		switch p32(s, 0) {
		case clockRealtime:
			mem.WriteUint64Le(ptr, uint64(time.Now().UnixNano()))
		case clockMonotonic:
			mem.WriteUint64Le(ptr, in.monotonic())
		default:
			return wasip1.EINVAL
		}
		return wasip1.ESUCCESS
	}}

// random_get(buf, buf_len) fills buf from crypto/rand.
var randomGet = &hostFunc{name: "random_get", params: params(i32, i32), names: []string{"buf", "buf_len"},
	body: func(_ *instance, mem api.Memory, s []uint64) wasip1.Errno {
		buf, ok := mem.Read(p32(s, 0), p32(s, 1))
		if !ok {
			return wasip1.EFAULT
		}
		_, _ = rand.Read(buf) // never fails (crypto/rand panics instead)
		return wasip1.ESUCCESS
	}}

// sched_yield lets other goroutines run.
var schedYield = &hostFunc{name: "sched_yield", names: []string{},
	body: func(_ *instance, _ api.Memory, _ []uint64) wasip1.Errno {
		runtime.Gosched()
		return wasip1.ESUCCESS
	}}

// proc_exit(rval) ends the instance: the call in progress returns an exit
// error that the session reports with the code. During a TinyGo _start an
// exit with code 0 is the normal end of main and is tolerated.
var procExit = &hostFunc{name: "proc_exit", params: params(i32), names: []string{"rval"}, noErrno: true,
	body: func(in *instance, _ api.Memory, s []uint64) wasip1.Errno {
		code := p32(s, 0)
		in.exitCode.Store(int64(code))
		panic(sys.NewExitError(code))
	}}

// proc_raise(sig): signals do not exist for a WATM.
var procRaise = &hostFunc{name: "proc_raise", params: params(i32), names: []string{"sig"},
	body: func(_ *instance, _ api.Memory, _ []uint64) wasip1.Errno { return wasip1.ENOSYS }}
