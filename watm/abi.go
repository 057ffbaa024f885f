package watm

import (
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
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
var abiV0 = &abi{
	version: 0,
	marker:  "_water_v0",
	exports: []export{
		{"_water_init", fn(none, i32), 0},
		{"_water_cancel_with", fn([]api.ValueType{i32}, i32), 0},
		{"_water_worker", fn(none, i32), 0},
		{"_water_dial", fn([]api.ValueType{i32}, i32), RoleDialer},
		{"_water_accept", fn([]api.ValueType{i32}, i32), RoleListener},
		{"_water_associate", fn(none, i32), RoleRelay},
	},
	imports: map[string]sig{
		"host_dial":   fn(none, i32),
		"host_accept": fn(none, i32),
		"pull_config": fn(none, i32),
		"host_defer":  fn(none),
		"water_seen":  fn([]api.ValueType{i32, i32, i32}, i32),
	},
	init: "_water_init", cancelWith: "_water_cancel_with", worker: "_water_worker",
	dial: "_water_dial", accept: "_water_accept", associate: "_water_associate",
	cancelByte: 1,
}

// abiV1 is WATER v1 as released with upstream v0.7.1-alpha (watm-abi.md).
var abiV1 = &abi{
	version: 1,
	exports: []export{
		{"watm_init_v1", fn(none, i32), 0},
		{"watm_ctrlpipe_v1", fn([]api.ValueType{i32}, i32), 0},
		{"watm_start_v1", fn(none, i32), 0},
		{"watm_dial_v1", fn([]api.ValueType{i32}, i32), RoleDialer},
		{"watm_dial_fixed_v1", fn([]api.ValueType{i32}, i32), RoleDialer},
		{"watm_accept_v1", fn([]api.ValueType{i32}, i32), RoleListener},
		{"watm_associate_v1", fn(none, i32), RoleRelay},
	},
	imports: map[string]sig{
		"water_dial":       fn([]api.ValueType{i32, i32, i32, i32}, i32),
		"water_dial_fixed": fn(none, i32),
		"water_accept":     fn(none, i32),
		"water_seen":       fn([]api.ValueType{i32, i32, i32}, i32),
	},
	init: "watm_init_v1", cancelWith: "watm_ctrlpipe_v1", worker: "watm_start_v1",
	dial: "watm_dial_v1", dialOwn: "watm_dial_fixed_v1", accept: "watm_accept_v1", associate: "watm_associate_v1",
	cancelByte: 0,
}

var v1Required = []string{"watm_init_v1", "watm_ctrlpipe_v1", "watm_start_v1"}

// detectABI picks the version from the export names: _water_v0 (a function
// or a global) for v0, watm_*_v1 exports for v1. Both or neither is an error
// that lists what was found.
func detectABI(exports map[string]byte) (*abi, error) {
	_, v0 := exports[abiV0.marker]
	var v1 []string
	for _, name := range sortedKeys(exports) {
		if strings.HasPrefix(name, "watm_") && strings.HasSuffix(name, "_v1") {
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
