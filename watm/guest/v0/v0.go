//go:build wasip1

// Package v0 provides the WATER v0 ABI for a WATM built on package guest
// (or guest/stream). Import it for its side effects:
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
//	_water_dial(caller_fd i32) -> i32    dialer: host_dial, the handshake; returns the network fd
//	_water_accept(caller_fd i32) -> i32  listener: host_accept, the handshake; returns the network fd
//	_water_associate() -> i32            relay: host_accept (plaintext), host_dial (network)
//	_water_worker() -> i32               the data loop
//
// Every i32 result is 0 (or an fd) on success, a negated WASI errno on
// failure; a failure's text is written to stderr. _water_worker returns 0
// when both directions ended cleanly, -ECANCELED (-11) when the cancel fd
// turned readable (a byte or a hang-up), and the negated errno of the
// failure otherwise; it closes the plaintext and network fds before
// returning.
//
// The exports are the same code as v1's (internal/core); only the names
// differ.
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

var abi = core.ABI{
	Dial:   hostDial,
	Accept: hostAccept,
	Config: func() ([]byte, wasi.Errno) { return core.ConfigFD(pullConfig()) },
}

//go:wasmexport _water_v0
func waterV0() {}

//go:wasmexport _water_init
func waterInit() int32 { return abi.Init() }

//go:wasmexport _water_cancel_with
func waterCancelWith(fd int32) int32 { return core.SetCancel(fd) }

//go:wasmexport _water_dial
func waterDial(callerFD int32) int32 { return abi.DialEntry(callerFD) }

//go:wasmexport _water_accept
func waterAccept(callerFD int32) int32 { return abi.AcceptEntry(callerFD) }

//go:wasmexport _water_associate
func waterAssociate() int32 { return abi.AssociateEntry() }

//go:wasmexport _water_worker
func waterWorker() int32 { return core.Worker() }
