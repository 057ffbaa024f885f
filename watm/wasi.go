package watm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// The host module names a WATM imports from.
const (
	wasiModuleName = "wasi_snapshot_preview1"
	envModuleName  = "env"
)

// hostFunc declares one host function: its name, parameter types and names,
// and a body that takes the calling instance and its memory and returns a
// WASI errno. Every host function, WASI or WATER, is declared this way.
type hostFunc struct {
	name    string
	params  []api.ValueType
	names   []string
	noErrno bool // proc_exit and host_defer return nothing
	// raw results: the body writes stack[0] itself (host_dial and friends
	// return an fd or a negative errno).
	rawResult bool
	body      func(in *instance, mem api.Memory, stack []uint64) wasip1.Errno
}

func (h *hostFunc) sig() sig {
	if h.noErrno {
		return sig{h.params, none}
	}
	return sig{h.params, []api.ValueType{i32}}
}

// instanceKey finds the calling instance in the context every call into a
// module carries.
type instanceKey struct{}

func instanceOf(ctx context.Context) *instance {
	in, _ := ctx.Value(instanceKey{}).(*instance)
	if in == nil {
		panic(fmt.Errorf("watm: host function called outside a WATM connection"))
	}
	return in
}

func exportHostFunc(b wazero.HostModuleBuilder, h *hostFunc) {
	body, noErrno, raw := h.body, h.noErrno, h.rawResult
	f := api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		in := instanceOf(ctx)
		if in.stopping.Load() {
			// Stopped by force: no more host calls, whatever the module
			// does with their results (and even if it was compiled
			// without loop checks).
			in.exitStopped()
		}
		errno := body(in, mod.Memory(), stack)
		if !noErrno && !raw {
			stack[0] = uint64(errno)
		}
	})
	s := h.sig()
	b.NewFunctionBuilder().WithGoModuleFunction(f, s.params, s.results).
		WithParameterNames(h.names...).Export(h.name)
}

func instantiateHostModules(ctx context.Context, rt wazero.Runtime) error {
	wasi := rt.NewHostModuleBuilder(wasiModuleName)
	for _, h := range wasiFunctions {
		exportHostFunc(wasi, h)
	}
	if _, err := wasi.Instantiate(ctx); err != nil {
		return fmt.Errorf("watm: WASI host module: %w", err)
	}
	env := rt.NewHostModuleBuilder(envModuleName)
	for _, h := range envFunctions {
		exportHostFunc(env, h)
	}
	if _, err := env.Instantiate(ctx); err != nil {
		return fmt.Errorf("watm: env host module: %w", err)
	}
	return nil
}

// wasiFunctions is all of WASI preview 1: a module may import any of them.
// Those that need a file system answer with an errno: no module sees the
// host's files.
var wasiFunctions = []*hostFunc{
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

var wasiSignatures = func() map[string]sig {
	m := make(map[string]sig, len(wasiFunctions))
	for _, h := range wasiFunctions {
		m[h.name] = h.sig()
	}
	return m
}()

// p32 returns parameter i as a u32 pointer or length.
func p32(stack []uint64, i int) uint32 { return uint32(stack[i]) }

// inRange reports whether [off, off+n) lies inside memory.
func inRange(mem api.Memory, off, n uint32) bool {
	return uint64(off)+uint64(n) <= uint64(mem.Size())
}

// inRange64 is inRange for a length computed in 64 bits (a count times a
// size, which must not wrap around).
func inRange64(mem api.Memory, off uint32, n uint64) bool {
	return uint64(off)+n <= uint64(mem.Size())
}

func params(ts ...api.ValueType) []api.ValueType { return ts }
