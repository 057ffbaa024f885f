package watm

import (
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/water-pt/water-pt/watm/internal/spec"
)

// abi describes one version of the WATER module interface: the exports the
// host calls, in order, and the env imports the host provides.
type abi struct {
	version int
	marker  string   // v0: the _water_v0 marker export
	exports []export // role == 0: required
	imports map[string]sig

	init, cancelWith, worker string
	dial, accept, associate  string
	// dialOwn is v1's watm_dial_fixed_v1, called only for a module that
	// does not export dial (watm_dial_v1): it dials an address of its own
	// choosing through water_dial, which the dial policy checks.
	dialOwn string
	// cancelByte is what the host writes into the cancel channel.
	cancelByte byte
}

type export struct {
	name string
	sig  sig
	role Role
}

func (a *abi) entry(r Role) string {
	switch r {
	case RoleDialer:
		return a.dial
	case RoleListener:
		return a.accept
	}
	return a.associate
}

var none = []api.ValueType{}

// abiV0 is water draft version 0 (seeds 002 and 004, watm-abi.md).
var abiV0 = newABI(spec.WaterV0())

// abiV1 is WATER v1 as released with upstream v0.7.1-alpha (watm-abi.md).
var abiV1 = newABI(spec.WaterV1())

var v1Required = spec.WaterV1().Required()

// newABI is the host's view of w, the table in internal/spec.
func newABI(w spec.Water) *abi {
	a := &abi{
		version: w.Version, marker: w.Marker, imports: map[string]sig{},
		init: w.Init, cancelWith: w.CancelWith, worker: w.Worker,
		dial: w.Dial, dialOwn: w.DialFixed, accept: w.Accept, associate: w.Associate,
		cancelByte: w.CancelByte,
	}
	roles := map[spec.Role]Role{spec.RoleAll: 0, spec.RoleDialer: RoleDialer, spec.RoleListener: RoleListener, spec.RoleRelay: RoleRelay}
	for _, e := range w.Exports() {
		a.exports = append(a.exports, export{e.Name, specSig(e.Func), roles[e.Role]})
	}
	for _, f := range w.Imports() {
		a.imports[f.Name] = specSig(f)
	}
	return a
}

// specSig is the type of f: its parameters and results are all i32.
func specSig(f spec.Func) sig {
	s := sig{params: make([]api.ValueType, f.Params), results: make([]api.ValueType, f.Results)}
	for i := range s.params {
		s.params[i] = i32
	}
	for i := range s.results {
		s.results[i] = i32
	}
	return s
}

// detectABI picks the version from the export names: _water_v0 (a function
// or a global) for v0, watm_*_v1 exports for v1. Both or neither is an error
// that lists what was found.
func detectABI(exports map[string]byte) (*abi, error) {
	_, v0 := exports[abiV0.marker]
	var v1 []string
	for _, name := range sortedKeys(exports) {
		if strings.HasPrefix(name, spec.V1ExportPrefix) && strings.HasSuffix(name, spec.V1ExportSuffix) {
			v1 = append(v1, name)
		}
	}
	switch {
	case v0 && len(v1) > 0:
		return nil, fmt.Errorf("watm: module declares two ABI versions: v0 marker _water_v0 and v1 exports %s; export only one version's",
			strings.Join(v1, ", "))
	case v0:
		return abiV0, nil
	case len(v1) > 0:
		return abiV1, nil
	}
	found := "none"
	if names := sortedKeys(exports); len(names) > 0 {
		found = strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("watm: module has no WATER version marker: export _water_v0 (v0) or %s (v1); it exports: %s",
		strings.Join(v1Required, ", "), found)
}
