package wasip1

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/spec"
)

// ModuleName is the host module the WASI functions are imported from.
const ModuleName = spec.WASIModule

// The value types of WASI and WATER parameters.
const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// Results is what a host function returns to the module.
type Results uint8

const (
	// ResultErrno: the body's Errno, as the function's one i32 result
	// (every WASI function but proc_exit).
	ResultErrno Results = iota
	// ResultNone: no result (proc_exit, host_defer).
	ResultNone
	// ResultRaw: one i32 result that the body writes into stack[0] itself
	// (host_dial and friends return a descriptor or a negative errno).
	ResultRaw
)

// Func declares one host function, WASI or WATER, in the one shape they all
// share: its name, parameter types and names, what it returns, and a named
// body that binds its parameters to named locals first and returns an
// Errno. T is what the body runs on: a *Context for the WASI functions,
// WATER's instance for the env imports.
type Func[T any] struct {
	Name       string
	Params     []api.ValueType
	ParamNames []string
	Results    Results
	Body       func(c T, mem api.Memory, stack []uint64) Errno
}

// ResultTypes is the function's result types.
func (f *Func[T]) ResultTypes() []api.ValueType {
	if f.Results == ResultNone {
		return []api.ValueType{}
	}
	return []api.ValueType{i32}
}

// Export adds f to b. from finds, in the context of a call, what the body
// runs on and the calling instance's WASI Context: a stopped Context makes
// the call unwind the module instead of running the body.
func Export[T any](b wazero.HostModuleBuilder, f *Func[T], from func(context.Context) (T, *Context)) {
	body, results := f.Body, f.Results
	g := api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		t, c := from(ctx)
		if c.stopping.Load() {
			// Stopped by force: no more host calls, whatever the module
			// does with their results (and even if it was compiled
			// without loop checks).
			c.exitStopped()
		}
		errno := body(t, mod.Memory(), stack)
		if results == ResultErrno {
			stack[0] = errno.ABI()
		}
	})
	b.NewFunctionBuilder().WithGoModuleFunction(g, f.Params, f.ResultTypes()).
		WithParameterNames(f.ParamNames...).Export(f.Name)
}

// Functions returns all of WASI preview 1: a module may import any of them.
// Those that need a file system answer with an errno: no module sees the
// host's files.
func Functions() []*Func[*Context] {
	return []*Func[*Context]{
		argsGet, argsSizesGet, environGet, environSizesGet,
		clockResGet, clockTimeGet,
		fdAdvise, fdAllocate, fdClose, fdDatasync, fdFdstatGet, fdFdstatSetFlags,
		fdFdstatSetRights, fdFilestatGet, fdFilestatSetSize, fdFilestatSetTimes,
		fdPread, fdPrestatGet, fdPrestatDirName, fdPwrite, fdRead, fdReaddir,
		fdRenumber, fdSeek, fdSync, fdTell, fdWrite,
		pathCreateDirectory, pathFilestatGet, pathFilestatSetTimes, pathLink,
		pathOpen, pathReadlink, pathRemoveDirectory, pathRename, pathSymlink,
		pathUnlinkFile,
		pollOneoff, procExit, procRaise, schedYield, randomGet,
		sockAccept, sockRecv, sockSend, sockShutdown,
	}
}

// wasiFunc declares a WASI function that returns its errno.
func wasiFunc(name string, body func(*Context, api.Memory, []uint64) Errno, params []api.ValueType, names ...string) *Func[*Context] {
	return &Func[*Context]{Name: name, Params: params, ParamNames: names, Body: body}
}

// Params is a parameter type list.
func Params(ts ...api.ValueType) []api.ValueType {
	if ts == nil {
		return []api.ValueType{}
	}
	return ts
}

// inRange reports whether [off, off+n) lies inside memory.
func inRange(mem api.Memory, off, n uint32) bool {
	return uint64(off)+uint64(n) <= uint64(mem.Size())
}

// inRange64 is inRange for a length computed in 64 bits (a count times a
// size, which must not wrap around).
func inRange64(mem api.Memory, off uint32, n uint64) bool {
	return uint64(off)+n <= uint64(mem.Size())
}
