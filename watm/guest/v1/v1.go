//go:build wasip1

// Package v1 provides the WATER v1 ABI (as released with upstream
// v0.7.1-alpha) for a WATM built on package guest. Import it for its side
// effects, instead of v0:
//
//	import _ "github.com/water-pt/water-pt/watm/guest/v1"
//
// Imports (module env): water_dial_fixed, water_accept, each () -> i32.
//
// Exports:
//
//	watm_init_v1() -> i32                reads /conf/watm.cfg if present, calls guest.Initer
//	watm_ctrlpipe_v1(fd i32) -> i32      records the control pipe
//	watm_dial_v1(fd i32) -> i32          dialer: water_dial_fixed; returns the network fd
//	watm_accept_v1(fd i32) -> i32        listener: water_accept; returns the network fd
//	watm_associate_v1() -> i32           relay: water_accept (plaintext), water_dial_fixed (network)
//	watm_start_v1() -> i32               the data loop (see internal/pump)
//
// These are the entries upstream's runtime calls: watm_dial_v1 when the host
// knows the destination (the module then calls water_dial_fixed).
// watm_dial_fixed_v1, where the module names the address itself through
// water_dial, is not provided: the transforms built on guest have no address
// of their own to dial.
//
// The config is the file watm.cfg in the preopened directory /conf; no such
// preopen, or no such file, means no config. The host asks the worker to
// stop by writing a byte (0x00) to the control pipe; watm_start_v1 then
// returns -ECANCELED (-11), as it does when the pipe hangs up. Otherwise
// it returns 0 when both directions ended cleanly and the negated errno of
// a failed read or write; it closes the plaintext and network fds before
// returning, and leaves the control pipe open.
package v1

import (
	"github.com/water-pt/water-pt/watm/guest/internal/core"
	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

//go:wasmimport env water_dial_fixed
func waterDialFixed() int32

//go:wasmimport env water_accept
func waterAccept() int32

// The config file: a file name in a preopened directory.
const (
	configDir  = "/conf"
	configFile = "watm.cfg"
)

//go:wasmexport watm_init_v1
func watmInit() int32 {
	cfg, e := readConfig()
	if e != wasi.ESUCCESS {
		return e.Result()
	}
	return core.Init(cfg)
}

func readConfig() ([]byte, wasi.Errno) {
	dir, e := wasi.FindPreopen(configDir)
	if e != wasi.ESUCCESS {
		return nil, wasi.ESUCCESS
	}
	fd, e := wasi.OpenRead(dir, configFile)
	switch e {
	case wasi.ESUCCESS:
	case wasi.ENOENT:
		return nil, wasi.ESUCCESS
	default:
		return nil, e
	}
	defer wasi.Close(fd)
	return wasi.ReadAll(fd, core.MaxConfig)
}

//go:wasmexport watm_ctrlpipe_v1
func watmCtrlpipe(fd int32) int32 { return core.SetCancel(fd) }

//go:wasmexport watm_dial_v1
func watmDial(callerFD int32) int32 {
	if callerFD < 0 {
		return wasi.EBADF.Result()
	}
	fd := waterDialFixed()
	if fd >= 0 {
		core.Connect(callerFD, fd)
	}
	return fd
}

//go:wasmexport watm_accept_v1
func watmAccept(callerFD int32) int32 {
	if callerFD < 0 {
		return wasi.EBADF.Result()
	}
	fd := waterAccept()
	if fd >= 0 {
		core.Connect(callerFD, fd)
	}
	return fd
}

//go:wasmexport watm_associate_v1
func watmAssociate() int32 {
	src := waterAccept()
	if src < 0 {
		return src
	}
	dst := waterDialFixed()
	if dst < 0 {
		wasi.Close(src)
		return dst
	}
	core.Connect(src, dst)
	return 0
}

//go:wasmexport watm_start_v1
func watmStart() int32 { return core.Worker() }
