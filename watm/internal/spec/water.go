package spec

// The WATER ABI, versions 0 and 1 (/work/shared/docs/watm-abi.md; seeds 002
// and 004 for v0, upstream water v0.7.1-alpha for v1): the names of the
// functions a module imports and exports, and their types. The host checks
// and calls modules by these tables, and the tests of the shipped modules
// compare against them.

// The modules a WATM imports functions from: WASI preview 1, and the
// WATER host functions.
const (
	WASIModule = "wasi_snapshot_preview1"
	EnvModule  = "env"
)

// A v1 module reads its config from the file ConfigFile in the preopened
// directory ConfigDir (it has no pull_config).
const (
	ConfigDir  = "/conf"
	ConfigFile = "watm.cfg"
)

// A v1 module declares its version by exports named V1ExportPrefix + ... +
// V1ExportSuffix (watm_init_v1 and the others); v0 by its Marker.
const (
	V1ExportPrefix = "watm_"
	V1ExportSuffix = "_v1"
)

// Seen is water_seen(key_ptr, key_len, ttl_seconds) -> i32, water-pt's
// replay filter, which a module of either version may import from env.
const Seen = "water_seen"

// Func is a function's name and type. Every parameter and result of a
// WATER function is an i32.
type Func struct {
	Name    string
	Params  int // how many i32 parameters
	Results int // how many i32 results: 0 or 1
}

// Role is the connection role an entry export serves.
type Role uint8

// RoleAll marks the exports every connection calls (so every module needs
// them); the others are entries of one role, of which a module needs one.
const (
	RoleAll Role = iota
	RoleDialer
	RoleListener
	RoleRelay
)

// Export is a function the host calls.
type Export struct {
	Func
	Role Role
}

// Water is one version of the WATER ABI. The host calls, per connection,
// Init, the role's entry (Dial, Accept or Associate), CancelWith, then
// Worker.
type Water struct {
	Version int
	// Marker is v0's version marker _water_v0, a function () -> () (Go,
	// TinyGo) or a global (Rust). v1 has none: its exports are named
	// V1ExportPrefix...V1ExportSuffix.
	Marker string

	Init       string // () -> i32
	CancelWith string // (fd) -> i32: the cancel channel (v1: the control pipe)
	Worker     string // () -> i32: the data loop
	Dial       string // (caller_fd) -> fd: the module calls HostDial
	Accept     string // (caller_fd) -> fd: the module calls HostAccept
	Associate  string // () -> i32: HostAccept, then HostDial
	// DialFixed is v1's watm_dial_fixed_v1 (caller_fd) -> fd: the module
	// names its own destination through DialAddress. A host calls it only
	// for a module without Dial. "" in v0.
	DialFixed string

	HostDial   string // () -> fd: dial the destination the host chose
	HostAccept string // () -> fd: the inbound connection
	PullConfig string // v0: () -> fd of the config file; "" in v1 (ConfigDir)
	HostDefer  string // v0: () -> (), deprecated, does nothing; "" in v1
	// DialAddress is v1's water_dial(network_iovs, network_iovs_len,
	// address_iovs, address_iovs_len) -> fd; "" in v0.
	DialAddress string

	// CancelByte is the byte the host writes into the cancel channel to
	// ask the worker to stop.
	CancelByte byte
}

// WaterV0 returns WATER v0.
func WaterV0() Water {
	return Water{
		Version: 0, Marker: "_water_v0",
		Init: "_water_init", CancelWith: "_water_cancel_with", Worker: "_water_worker",
		Dial: "_water_dial", Accept: "_water_accept", Associate: "_water_associate",
		HostDial: "host_dial", HostAccept: "host_accept", PullConfig: "pull_config", HostDefer: "host_defer",
		CancelByte: 1,
	}
}

// WaterV1 returns WATER v1 as released with upstream v0.7.1-alpha.
func WaterV1() Water {
	return Water{
		Version: 1,
		Init:    "watm_init_v1", CancelWith: "watm_ctrlpipe_v1", Worker: "watm_start_v1",
		Dial: "watm_dial_v1", Accept: "watm_accept_v1", Associate: "watm_associate_v1",
		DialFixed: "watm_dial_fixed_v1",
		HostDial:  "water_dial_fixed", HostAccept: "water_accept", DialAddress: "water_dial",
		CancelByte: 0,
	}
}

// Exports returns the functions the host calls, with their types, in call
// order (the role entries in the order dial, dial fixed, accept, associate).
func (w Water) Exports() []Export {
	es := []Export{
		{Func{w.Init, 0, 1}, RoleAll},
		{Func{w.CancelWith, 1, 1}, RoleAll},
		{Func{w.Worker, 0, 1}, RoleAll},
		{Func{w.Dial, 1, 1}, RoleDialer},
		{Func{w.DialFixed, 1, 1}, RoleDialer},
		{Func{w.Accept, 1, 1}, RoleListener},
		{Func{w.Associate, 0, 1}, RoleRelay},
	}
	return dropUnnamed(es, func(e Export) string { return e.Name })
}

// Imports returns the functions of module env the host provides to a
// module of this version, with their types, Seen included.
func (w Water) Imports() []Func {
	fs := []Func{
		{w.HostDial, 0, 1},
		{w.HostAccept, 0, 1},
		{w.PullConfig, 0, 1},
		{w.HostDefer, 0, 0},
		{w.DialAddress, 4, 1},
		{Seen, 3, 1},
	}
	return dropUnnamed(fs, func(f Func) string { return f.Name })
}

// Required returns the names of the exports every module of this version
// must have (besides one role entry).
func (w Water) Required() []string {
	return []string{w.Init, w.CancelWith, w.Worker}
}

func dropUnnamed[T any](ts []T, name func(T) string) []T {
	out := ts[:0]
	for _, t := range ts {
		if name(t) != "" {
			out = append(out, t)
		}
	}
	return out
}
