//go:build wasip1

// Package v0 provides the WATER v0 ABI for a WATM built on package guest.
// Import it for its side effects:
//
//	import _ "github.com/water-pt/water-pt/watm/guest/v0"
//
// Imports (module env): host_dial, host_accept, pull_config, each () -> i32.
//
// Exports:
//
//	_water_v0()                          version marker
//	_water_init() -> i32                 reads the config (pull_config), calls guest.Initer
//	_water_cancel_with(fd i32) -> i32    records the cancel fd
//	_water_dial(caller_fd i32) -> i32    dialer: host_dial; returns the network fd
//	_water_accept(caller_fd i32) -> i32  listener: host_accept; returns the network fd
//	_water_associate() -> i32            relay: host_accept (plaintext), host_dial (network)
//	_water_worker() -> i32               the data loop (see internal/pump)
//
// Every i32 result is 0 (or an fd) on success, a negated WASI errno on
// failure. _water_worker returns 0 when both directions ended cleanly,
// -ECANCELED (-11) when the cancel fd turned readable (a byte or a
// hang-up), and the negated errno of the failed read or write otherwise; it
// closes the plaintext and network fds before returning, and leaves the
// cancel fd open.
package v0

import (
	"github.com/water-pt/water-pt/watm/guest/internal/core"
	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

//go:wasmimport env host_dial
func hostDial() int32

//go:wasmimport env host_accept
func hostAccept() int32

//go:wasmimport env pull_config
func pullConfig() int32

//go:wasmexport _water_v0
func waterV0() {}

//go:wasmexport _water_init
func waterInit() int32 {
	var cfg []byte
	if fd := pullConfig(); fd >= 0 {
		b, e := wasi.ReadAll(fd, core.MaxConfig)
		wasi.Close(fd)
		switch e {
		case wasi.ESUCCESS:
			cfg = b
		case wasi.EBADF:
			// An invalid fd also means "no config".
		default:
			return e.Result()
		}
	}
	return core.Init(cfg)
}

//go:wasmexport _water_cancel_with
func waterCancelWith(fd int32) int32 { return core.SetCancel(fd) }

//go:wasmexport _water_dial
func waterDial(callerFD int32) int32 {
	if callerFD < 0 {
		return wasi.EBADF.Result()
	}
	fd := hostDial()
	if fd >= 0 {
		core.Connect(callerFD, fd)
	}
	return fd
}

//go:wasmexport _water_accept
func waterAccept(callerFD int32) int32 {
	if callerFD < 0 {
		return wasi.EBADF.Result()
	}
	fd := hostAccept()
	if fd >= 0 {
		core.Connect(callerFD, fd)
	}
	return fd
}

//go:wasmexport _water_associate
func waterAssociate() int32 {
	src := hostAccept()
	if src < 0 {
		return src
	}
	dst := hostDial()
	if dst < 0 {
		wasi.Close(src)
		return dst
	}
	core.Connect(src, dst)
	return 0
}

//go:wasmexport _water_worker
func waterWorker() int32 { return core.Worker() }
