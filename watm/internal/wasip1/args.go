package wasip1

import "github.com/tetratelabs/wazero/api"

// A WATM has no arguments and no environment: the _get functions write
// nothing, the _sizes_get functions write two zeros.

// args_get(argv, argv_buf) writes nothing. Errnos: none.
var argsGet = wasiFunc("args_get", argsGetFn, Params(i32, i32), "argv", "argv_buf")

func argsGetFn(*Context, api.Memory, []uint64) Errno { return ESUCCESS }

// args_sizes_get(result.argc, result.argv_len) writes 0 and 0.
// Errnos: EFAULT (a result outside memory).
var argsSizesGet = wasiFunc("args_sizes_get", sizesGetFn, Params(i32, i32), "result.argc", "result.argv_len")

// environ_get(environ, environ_buf) writes nothing. Errnos: none.
var environGet = wasiFunc("environ_get", argsGetFn, Params(i32, i32), "environ", "environ_buf")

// environ_sizes_get(result.environc, result.environv_len) writes 0 and 0.
// Errnos: EFAULT (a result outside memory).
var environSizesGet = wasiFunc("environ_sizes_get", sizesGetFn, Params(i32, i32), "result.environc", "result.environv_len")

// sizesGetFn is args_sizes_get and environ_sizes_get: no strings.
func sizesGetFn(_ *Context, mem api.Memory, stack []uint64) Errno {
	countPtr, lenPtr := uint32(stack[0]), uint32(stack[1])
	if !inRange(mem, countPtr, 4) || !inRange(mem, lenPtr, 4) {
		return EFAULT
	}
	mem.WriteUint32Le(countPtr, 0)
	mem.WriteUint32Le(lenPtr, 0)
	return ESUCCESS
}
