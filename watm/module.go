package watm

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
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
	exportKinds, err := parseExports(wasm)
	if err != nil {
		return nil, fmt.Errorf("watm: not a WebAssembly module: %w", err)
	}
	code := wasm
	image, stripped, splitErr := splitData(wasm, uint64(r.cfg.memoryPages)<<16)
	if splitErr == nil {
		code = stripped
	}
	compiled, err := wrt.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("watm: compile: %w", err)
	}
	m, err := validate(compiled, exportKinds)
	if err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	m.rt, m.wrt, m.compiled, m.sum = r, wrt, compiled, sum
	m.seen = r.seenFor(sum)
	m.services = !r.cfg.noHostCrypto && importsServices(compiled)
	if image != nil {
		if m.image, err = newMemImage(image); err != nil {
			_ = compiled.Close(ctx)
			return nil, fmt.Errorf("watm: %w", err)
		}
	}
	return m, nil
}

// free releases a module that was compiled but will never run.
func (m *Module) free(ctx context.Context) {
	_ = m.compiled.Close(context.WithoutCancel(ctx))
	m.image.close()
}

// validate detects the ABI version and checks every export and import the
// version needs, collecting all problems into one error.
func validate(c wazero.CompiledModule, exportKinds map[string]byte) (*Module, error) {
	a, err := detectABI(exportKinds)
	if err != nil {
		return nil, err
	}
	var problems []string
	exports := c.ExportedFunctions()
	m := &Module{abi: a}
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
		m.roles |= e.role
	}
	if m.roles == 0 && !hasRoleProblem(problems, a) {
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
			} else if m.start == "" {
				m.start = name
			}
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Version: a.version, Problems: problems}
	}
	return m, nil
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

// parseExports reads the names and kinds (0 func, 1 table, 2 memory,
// 3 global) of a module's exports. wazero's CompiledModule lists exported
// functions and memories only, and a Rust module's _water_v0 is a global.
func parseExports(b []byte) (map[string]byte, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, errors.New("missing \\0asm magic")
	}
	p := 8
	for p < len(b) {
		id := b[p]
		p++
		size, n := uleb(b[p:])
		if n == 0 || size > uint64(len(b)-p-n) {
			return nil, errors.New("truncated section")
		}
		p += n
		body := b[p : p+int(size)]
		p += int(size)
		if id == 7 {
			return parseExportSection(body)
		}
	}
	return map[string]byte{}, nil
}

func parseExportSection(b []byte) (map[string]byte, error) {
	count, n := uleb(b)
	if n == 0 {
		return nil, errors.New("truncated export section")
	}
	b = b[n:]
	// count comes from the file: each export takes at least 3 bytes.
	out := make(map[string]byte, min(count, uint64(len(b)/3)))
	for i := uint64(0); i < count; i++ {
		l, n := uleb(b)
		if n == 0 || l >= uint64(len(b)-n) {
			return nil, errors.New("truncated export")
		}
		name := string(b[n : n+int(l)])
		kind := b[n+int(l)]
		b = b[n+int(l)+1:]
		if _, n = uleb(b); n == 0 {
			return nil, errors.New("truncated export index")
		}
		b = b[n:]
		out[name] = kind
	}
	return out, nil
}

func uleb(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
