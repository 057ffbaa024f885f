//go:build wasip1

// Package v1 provides the WATER v1 ABI (as released with upstream
// v0.7.1-alpha) for a WATM built on package guest (or guest/stream).
// Import it for its side effects, instead of v0:
//
//	import _ "github.com/water-pt/water-pt/watm/guest/v1"
//
// Imports (module env): water_dial_fixed, water_accept, each () -> i32.
//
// Exports:
//
//	watm_init_v1() -> i32                reads /conf/watm.cfg if present, calls guest.Initer
//	watm_ctrlpipe_v1(fd i32) -> i32      records the control pipe
//	watm_dial_v1(fd i32) -> i32          dialer: water_dial_fixed, the handshake; returns the network fd
//	watm_accept_v1(fd i32) -> i32        listener: water_accept, the handshake; returns the network fd
//	watm_associate_v1() -> i32           relay: water_accept (plaintext), water_dial_fixed (network)
//	watm_start_v1() -> i32               the data loop
//
// watm_dial_v1 is the entry a host calls to reach the destination it chose
// (a PT client's bridge), and it calls water_dial_fixed, as upstream's SDK
// does. watm_dial_fixed_v1, where the module names the address itself
// through water_dial, is not provided: these modules have no address of
// their own to dial.
//
// The config is the file watm.cfg in the preopened directory /conf; no such
// preopen, or no such file, means no config. The host asks the worker to
// stop by writing a byte (0x00) to the control pipe; watm_start_v1 then
// returns -ECANCELED (-11), as it does when the pipe hangs up. Results and
// failures are as in v0: the exports are the same code (internal/core).
package v1

import (
	"github.com/water-pt/water-pt/watm/guest/internal/core"
	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
	"github.com/water-pt/water-pt/watm/internal/spec"
)

//go:wasmimport env water_dial_fixed
func waterDialFixed() int32

//go:wasmimport env water_accept
func waterAccept() int32

var abi = core.ABI{
	Dial:   waterDialFixed,
	Accept: waterAccept,
	Config: func() ([]byte, wasi.Errno) { return core.ConfigFile(spec.ConfigDir, spec.ConfigFile) },
}

//go:wasmexport watm_init_v1
func watmInit() int32 { return abi.Init() }

//go:wasmexport watm_ctrlpipe_v1
func watmCtrlpipe(fd int32) int32 { return core.SetCancel(fd) }

//go:wasmexport watm_dial_v1
func watmDial(callerFD int32) int32 { return abi.DialEntry(callerFD) }

//go:wasmexport watm_accept_v1
func watmAccept(callerFD int32) int32 { return abi.AcceptEntry(callerFD) }

//go:wasmexport watm_associate_v1
func watmAssociate() int32 { return abi.AssociateEntry() }

//go:wasmexport watm_start_v1
func watmStart() int32 { return core.Worker() }
