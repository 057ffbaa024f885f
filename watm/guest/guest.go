//go:build wasip1

// Package guest is what a WebAssembly Transport Module (WATM) written in Go
// builds on: the author writes a Transport and registers it; an ABI package
// imported for its side effects (v0 for WATER v0, v1 for WATER v1) provides
// the exports the host calls and runs the data loop.
//
// A module is a package main:
//
//	package main
//
//	import (
//		"github.com/water-pt/water-pt/watm/guest"
//		_ "github.com/water-pt/water-pt/watm/guest/v0"
//	)
//
//	func init() { guest.Register(myTransport{}) }
//
//	func main() {}
//
// built as a reactor with the standard toolchain (the flags after
// c-shared make the bytes reproducible; watm/modules/gen.sh uses them):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-buildid= -o my.wasm ./my
//
// The host instantiates the module once per connection, so a Transport's
// state is the state of one connection. The data loop is single-threaded:
// Wrap and Unwrap are never called concurrently, and must not block.
//
// A Transport is a byte transform: it cannot write first, wait, or fail.
// A module that needs a handshake, timers or errors registers a
// connection-level transport with package guest/stream instead; Args,
// Config and Role serve both kinds.
package guest

import (
	"github.com/water-pt/water-pt/watm/guest/internal/args"
	"github.com/water-pt/water-pt/watm/guest/internal/core"
)

// Transport transforms a byte stream. Wrap is applied to plaintext going to
// the network, Unwrap to network bytes going to the plaintext side. Each
// may return fewer or more bytes than given (keep state inside for
// framing); the returned slice may alias p, and stays the caller's only
// until the next call of the same method.
type Transport interface {
	Wrap(p []byte) []byte
	Unwrap(p []byte) []byte
}

// Initer is implemented by a Transport that wants the host's config: Init
// is called once from the module's init export (_water_init or
// watm_init_v1), after the config is read and before any data flows; config
// is nil when the host gave none. An error fails the init export with
// EINVAL, and its text reaches the host's log and error. A Transport
// without Init refuses any non-empty config with "this module takes no
// arguments".
type Initer interface {
	Init(config []byte) error
}

// Register sets the module's transport. Call it once, from an init function:
// the host calls the exports only after package initialization. It panics
// if t is nil or if called twice.
func Register(t Transport) { core.Register(t) }

// Config returns the config bytes the host gave, or nil if it gave none.
// It is set by the module's init export, so it is nil during package
// initialization; read it from Init, Wrap or Unwrap.
func Config() []byte { return core.Config() }

// Args decodes the config as PT args, the form water-pt hands a module the
// bridge line's (client) or ServerTransportOptions' (server) arguments in:
// key=value pairs joined by ";", with "\", ";" and "=" inside a key or
// value escaped by a backslash (`cert=AbC\=\=;iat-mode=0`). A key not in
// known is refused with `unknown argument "KEY"; this module takes: k1, k2`
// (or `this module takes no arguments`). No config gives an empty map.
// Call it from Init.
func Args(known ...string) (map[string]string, error) {
	return args.Parse(core.Config(), known...)
}

// Role is the part the module plays for one connection.
type Role = core.Role

// The roles: which entry the host called.
const (
	RoleDialer   = core.RoleDialer   // _water_dial / watm_dial_v1: the network side is a conn the host dialed
	RoleListener = core.RoleListener // _water_accept / watm_accept_v1: the network side is a conn the host accepted
	RoleRelay    = core.RoleRelay    // _water_associate / watm_associate_v1: accepted plaintext, dialed network
)

// CurrentRole returns the role of this instance's connection, once the
// host has called a role entry (0 before, during Init).
func CurrentRole() Role { return core.CurrentRole() }
