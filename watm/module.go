package watm

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasmbin"
)

// Role is what a module can do with a connection.
type Role uint8

// The three WATER roles.
const (
	RoleDialer   Role = 1 << iota // _water_dial / watm_dial_v1 (watm_dial_fixed_v1 without it)
	RoleListener                  // _water_accept / watm_accept_v1
	RoleRelay                     // _water_associate / watm_associate_v1
)

func (r Role) String() string {
	switch r {
	case RoleDialer:
		return "dialer"
	case RoleListener:
		return "listener"
	case RoleRelay:
		return "relay"
	}
	return "role(" + itoa(int(r)) + ")"
}

// Module is a compiled, validated WATM. It is immutable and shared by every
// connection that uses it; each connection gets its own instance.
type Module struct {
	rt       *Runtime
	wrt      wazero.Runtime // the wazero runtime it was compiled by
	trusted  bool           // compiled without loop checks (LoadTrusted)
	compiled wazero.CompiledModule
	sum      [32]byte
	abi      *abi
	start    string // "_initialize", "_start" or ""
	roles    Role
	pool     *pool     // ready instances; nil when pooling is off
	image    *memImage // initial memory, mapped by each instance; nil: data segments are applied
	snap     *snapshot // instances start from a snapshot (image is its memory); nil: they run start
	seen     *seenSet  // water_seen's set, shared with the same bytes loaded trusted or not
	// services: its instances get the preopened /water of host services
	// (it can open them, and the Runtime offers them).
	services bool
}

// Trusted reports whether the module was loaded with LoadTrusted.
func (m *Module) Trusted() bool { return m.trusted }

// Version is the module's WATER ABI version: 0 or 1.
func (m *Module) Version() int { return m.abi.version }

// SHA256 is the hex SHA-256 of the module's bytes, as watm-sha256= pins it.
func (m *Module) SHA256() string { return hex.EncodeToString(m.sum[:]) }

// Can reports whether the module exports the entry point for role.
func (m *Module) Can(role Role) bool { return m.roles&role != 0 }

func (m *Module) need(role Role) error {
	if m.Can(role) {
		return nil
	}
	return fmt.Errorf("watm: module cannot act as %s: it does not export %s", role, m.abi.entry(role))
}

// sig is a function type, printed the way errors show it: (i32,i64)->i32.
type sig struct {
	params, results []api.ValueType
}

func (s sig) String() string {
	return "(" + typeList(s.params) + ")->" + resultList(s.results)
}

func typeList(ts []api.ValueType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = api.ValueTypeName(t)
	}
	return strings.Join(names, ",")
}

func resultList(ts []api.ValueType) string {
	if len(ts) == 1 {
		return typeList(ts)
	}
	return "(" + typeList(ts) + ")"
}

func (s sig) equal(params, results []api.ValueType) bool {
	return string(s.params) == string(params) && string(s.results) == string(results)
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

func compileAndValidate(ctx context.Context, r *Runtime, wrt wazero.Runtime, wasm []byte, sum [32]byte) (*Module, error) {
	exportKinds, err := wasmbin.Exports(wasm)
	if err != nil {
		return nil, fmt.Errorf("watm: not a WebAssembly module: %w", err)
	}
	code := wasm
	image, stripped, splitErr := wasmbin.SplitData(wasm, uint64(r.cfg.memoryPages)<<16)
	if splitErr == nil {
		code = stripped
	}
	var globals []wasmbin.Global
	snapshotable := false
	if image != nil {
		var c []byte
		if c, globals, snapshotable = snapshotCode(exportKinds, code); snapshotable {
			code = c
		}
	}
	compiled, err := wrt.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("watm: compile: %w", err)
	}
	shape, err := validate(compiled, exportKinds)
	if err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	// The one place a Module is made (wrt is r.trusted for LoadTrusted);
	// Runtime.load adds its pool once the module is registered.
	m := &Module{rt: r, wrt: wrt, trusted: wrt == r.trusted, compiled: compiled, sum: sum,
		abi: shape.abi, start: shape.start, roles: shape.roles,
		seen: r.seenFor(sum), services: !r.cfg.noHostCrypto && importsServices(compiled)}
	if image != nil {
		if m.image, err = newMemImage(image); err != nil {
			_ = compiled.Close(ctx)
			return nil, fmt.Errorf("watm: %w", err)
		}
		if snapshotable {
			if err := m.takeSnapshot(ctx, globals); err != nil {
				r.cfg.logger.Warn("watm: module exports "+reseedExport+" but cannot be snapshotted; each instance runs its start function", "err", err)
			}
		}
	}
	return m, nil
}

// free releases a module that was compiled but will never run.
func (m *Module) free(ctx context.Context) {
	_ = m.compiled.Close(context.WithoutCancel(ctx))
	m.image.close()
}

// moduleShape is what validate learns of a module's exports.
type moduleShape struct {
	abi   *abi
	start string // "_initialize", "_start" or ""
	roles Role
}

// validate detects the ABI version and checks every export and import the
// version needs, collecting all problems into one error.
func validate(c wazero.CompiledModule, exportKinds map[string]byte) (moduleShape, error) {
	a, err := detectABI(exportKinds)
	if err != nil {
		return moduleShape{}, err
	}
	var problems []string
	exports := c.ExportedFunctions()
	shape := moduleShape{abi: a}
	for _, e := range a.exports {
		def, ok := exports[e.name]
		if !ok {
			if e.role == 0 {
				problems = append(problems, e.name+" missing")
			}
			continue
		}
		if !e.sig.equal(def.ParamTypes(), def.ResultTypes()) {
			problems = append(problems, fmt.Sprintf("%s has type %s, want %s", e.name,
				sig{def.ParamTypes(), def.ResultTypes()}, e.sig))
			continue
		}
		shape.roles |= e.role
	}
	if shape.roles == 0 && !hasRoleProblem(problems, a) {
		entries := []string{a.entry(RoleDialer), a.entry(RoleListener), a.entry(RoleRelay)}
		if a.dialOwn != "" {
			entries = append(entries[:1], append([]string{a.dialOwn}, entries[1:]...)...)
		}
		problems = append(problems, "no role entry point: export "+strings.Join(entries[:len(entries)-1], ", ")+
			" or "+entries[len(entries)-1])
	}
	problems = append(problems, checkImports(c, a)...)
	for _, name := range []string{"_initialize", "_start"} {
		if def, ok := exports[name]; ok {
			if len(def.ParamTypes()) != 0 || len(def.ResultTypes()) != 0 {
				problems = append(problems, fmt.Sprintf("%s has type %s, want ()->()", name,
					sig{def.ParamTypes(), def.ResultTypes()}))
			} else if shape.start == "" {
				shape.start = name
			}
		}
	}
	if len(problems) > 0 {
		return moduleShape{}, &ValidationError{Version: a.version, Problems: problems}
	}
	return shape, nil
}

func hasRoleProblem(problems []string, a *abi) bool {
	for _, p := range problems {
		for _, r := range []Role{RoleDialer, RoleListener, RoleRelay} {
			if strings.HasPrefix(p, a.entry(r)+" ") {
				return true
			}
		}
	}
	return false
}

// ValidationError lists everything wrong with a module.
type ValidationError struct {
	Version  int
	Problems []string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("watm: invalid v%d module: %s", e.Version, strings.Join(e.Problems, "; "))
}

// checkImports allows only functions the host provides, with their exact
// types, and no imported memories, tables or globals.
func checkImports(c wazero.CompiledModule, a *abi) []string {
	var problems []string
	for _, def := range c.ImportedFunctions() {
		mod, name, _ := def.Import()
		want, ok := lookupImport(a, mod, name)
		if !ok {
			problems = append(problems, fmt.Sprintf("imports unknown function %s.%s", mod, name))
			continue
		}
		if !want.equal(def.ParamTypes(), def.ResultTypes()) {
			problems = append(problems, fmt.Sprintf("import %s.%s has type %s, want %s", mod, name,
				sig{def.ParamTypes(), def.ResultTypes()}, want))
		}
	}
	for _, mem := range c.ImportedMemories() {
		mod, name, _ := mem.Import()
		problems = append(problems, fmt.Sprintf("imports memory %s.%s: the host provides none", mod, name))
	}
	return problems
}

func lookupImport(a *abi, mod, name string) (sig, bool) {
	switch mod {
	case wasiModuleName:
		s, ok := wasiSignatures[name]
		return s, ok
	case envModuleName:
		s, ok := a.imports[name]
		return s, ok
	}
	return sig{}, false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
