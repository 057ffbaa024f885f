package modules_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/water-pt/water-pt/watm/internal/spec"
	"github.com/water-pt/water-pt/watm/modules"
)

func TestNamesAndLookup(t *testing.T) {
	names := modules.Names()
	if !slices.Equal(names, []string{"obfs4", "plain", "plain_v1", "reverse"}) {
		t.Errorf("Names() = %q, want [obfs4 plain plain_v1 reverse]", names)
	}
	if !slices.Contains(names, modules.Default) {
		t.Errorf("Default %q is not among %q", modules.Default, names)
	}
	for _, name := range names {
		b, ok := modules.Lookup(name)
		if !ok || !bytes.HasPrefix(b, []byte("\x00asm\x01\x00\x00\x00")) {
			t.Errorf("Lookup(%q) = %d bytes, %v; want a wasm binary", name, len(b), ok)
		}
		b[0] = 'X' // a copy: the next Lookup is unharmed
		if again, _ := modules.Lookup(name); again[0] != 0 {
			t.Errorf("Lookup(%q) returned the embedded bytes, not a copy", name)
		}
	}
	for _, name := range []string{"", "nope", "plain.wasm", "./plain", "../modules/plain", "Plain"} {
		if _, ok := modules.Lookup(name); ok {
			t.Errorf("Lookup(%q) found a module", name)
		}
	}
}

// TestModulesAreFresh rebuilds every module with gen.sh, the command
// go generate runs, and compares the result with the committed files.
func TestModulesAreFresh(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("sh", "gen.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("sh gen.sh %s: %v\n%s", dir, err, out)
	}
	built, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	var builtNames []string
	for _, path := range built {
		name := strings.TrimSuffix(filepath.Base(path), ".wasm")
		builtNames = append(builtNames, name)
		fresh, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		committed, ok := modules.Lookup(name)
		switch {
		case !ok:
			t.Errorf("%s.wasm is missing: run go generate ./watm/modules", name)
		case bytes.Equal(fresh, committed):
		case goVersion(fresh) != goVersion(committed):
			t.Logf("%s.wasm differs, but it was built by %s and this toolchain is %s: not comparable; run go generate ./watm/modules with %[2]s to check",
				name, goVersion(committed), goVersion(fresh))
		default:
			t.Errorf("%s.wasm is stale: run go generate ./watm/modules", name)
		}
	}
	for _, name := range modules.Names() {
		if !slices.Contains(builtNames, name) {
			t.Errorf("%s.wasm has no source ./%[1]s/main.go: remove it or restore the source", name)
		}
	}
}

// goVersion returns the Go version a module was built with, from its
// "producers" custom section (language Go), or "" if it has none.
func goVersion(bin []byte) string {
	r := wasmReader{b: bin[min(8, len(bin)):], ok: true}
	for len(r.b) > 0 && r.ok {
		id := r.byte()
		sec := wasmReader{b: r.bytes(), ok: r.ok}
		if id != 0 || sec.name() != "producers" {
			continue
		}
		for fields := sec.uint(); fields > 0 && sec.ok; fields-- {
			field := sec.name()
			for values := sec.uint(); values > 0 && sec.ok; values-- {
				name, version := sec.name(), sec.name()
				if field == "language" && name == "Go" && sec.ok {
					return version
				}
			}
		}
	}
	return ""
}

// wasmReader reads the binary format's LEB128 numbers and vectors; ok
// turns false, for good, on short input.
type wasmReader struct {
	b  []byte
	ok bool
}

func (r *wasmReader) byte() byte {
	if len(r.b) == 0 {
		r.ok, r.b = false, nil
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *wasmReader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.ok, r.b = false, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wasmReader) bytes() []byte {
	n := r.uint()
	if !r.ok || uint64(len(r.b)) < n {
		r.ok, r.b = false, nil
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *wasmReader) name() string { return string(r.bytes()) }

// TestModuleABI checks that every module has exactly the imports and
// exports the guest SDK gives a module of its WATER version (v1 for names
// ending in _v1, else v0), with the types of the spec tables, plus
// water_seen for the modules that keep a replay filter.
func TestModuleABI(t *testing.T) {
	sig := func(params, results []api.ValueType) string {
		s := "("
		for i, p := range params {
			if i > 0 {
				s += ","
			}
			s += api.ValueTypeName(p)
		}
		s += ")->("
		for i, r := range results {
			if i > 0 {
				s += ","
			}
			s += api.ValueTypeName(r)
		}
		return s + ")"
	}
	specSig := func(f spec.Func) string {
		i32s := func(n int) []api.ValueType { return slices.Repeat([]api.ValueType{api.ValueTypeI32}, n) }
		return sig(i32s(f.Params), i32s(f.Results))
	}
	type abi struct{ imports, exports map[string]string }
	// sdk is what a module built on the guest SDK (guest/v0, guest/v1)
	// imports and exports: every export but watm_dial_fixed_v1 (v1.go says
	// why), the dial and accept imports and v0's pull_config, the
	// reactor's _initialize, and water-pt's waterpt_reseed and
	// waterpt_ahead.
	sdk := func(w spec.Water) abi {
		a := abi{imports: map[string]string{}, exports: map[string]string{"_initialize": "()->()"}}
		// gen.sh's tag: instances start from a snapshot.
		a.exports["waterpt_reseed"] = specSig(spec.Func{Results: 1})
		// Work ahead of a connection (watm/ahead.go), in every SDK module.
		a.exports["waterpt_ahead"] = specSig(spec.Func{Results: 1})
		if w.Marker != "" {
			a.exports[w.Marker] = "()->()"
		}
		for _, e := range w.Exports() {
			if e.Name != w.DialFixed {
				a.exports[e.Name] = specSig(e.Func)
			}
		}
		for _, f := range w.Imports() {
			if f.Name == w.HostDial || f.Name == w.HostAccept || f.Name == w.PullConfig {
				a.imports[f.Name] = specSig(f)
			}
		}
		return a
	}
	v0, v1 := sdk(spec.WaterV0()), sdk(spec.WaterV1())
	var seen spec.Func // water_seen, which obfs4 imports too
	for _, f := range spec.WaterV0().Imports() {
		if f.Name == spec.Seen {
			seen = f
		}
	}

	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	for _, name := range modules.Names() {
		t.Run(name, func(t *testing.T) {
			want := v0
			if strings.HasSuffix(name, "_v1") {
				want = v1
			}
			if name == "obfs4" {
				want.imports = maps.Clone(want.imports)
				want.imports[seen.Name] = specSig(seen)
			}
			bin, _ := modules.Lookup(name)
			cm, err := r.CompileModule(ctx, bin)
			if err != nil {
				t.Fatal(err)
			}
			defer cm.Close(ctx)

			gotImports := map[string]string{}
			for _, f := range cm.ImportedFunctions() {
				mod, fn, _ := f.Import()
				switch mod {
				case spec.EnvModule:
					gotImports[fn] = sig(f.ParamTypes(), f.ResultTypes())
				case spec.WASIModule:
					if !slices.Contains(spec.Preview1Functions(), fn) {
						t.Errorf("imports %s.%s, not a WASI preview 1 function", mod, fn)
					}
				default:
					t.Errorf("imports %s.%s: unexpected module", mod, fn)
				}
			}
			if !maps.Equal(gotImports, want.imports) {
				t.Errorf("env imports %v, want %v", gotImports, want.imports)
			}

			gotExports := map[string]string{}
			for fn, f := range cm.ExportedFunctions() {
				gotExports[fn] = sig(f.ParamTypes(), f.ResultTypes())
			}
			if !maps.Equal(gotExports, want.exports) {
				t.Errorf("function exports %v, want %v", gotExports, want.exports)
			}
			if _, ok := cm.ExportedMemories()["memory"]; !ok || len(cm.ExportedMemories()) != 1 {
				t.Errorf("memory exports %v, want just \"memory\"", cm.ExportedMemories())
			}
			if len(cm.ImportedMemories()) != 0 {
				t.Errorf("imports memory %v", cm.ImportedMemories())
			}
		})
	}
}

// TestTorrcExamplePins checks that every watm=NAME watm-sha256=HEX pair in
// the project's torrc.example pins the module as shipped: a user who copies
// the Bridge line must not get a hash mismatch.
func TestTorrcExamplePins(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "torrc.example"))
	if err != nil {
		t.Fatal(err)
	}
	pins := 0
	for _, line := range strings.Split(string(b), "\n") {
		var name, pin string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "watm="); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(f, "watm-sha256="); ok {
				pin = v
			}
		}
		if name == "" || pin == "" || strings.Contains(line, "<") {
			continue // no pin, or a template (watm=<module>)
		}
		pins++
		wasm, ok := modules.Lookup(name)
		if !ok {
			t.Errorf("torrc.example pins %q, which is not shipped", name)
			continue
		}
		if sum := sha256.Sum256(wasm); hex.EncodeToString(sum[:]) != pin {
			t.Errorf("torrc.example pins %s at %s; the shipped module is %x", name, pin, sum)
		}
	}
	if pins == 0 {
		t.Error("torrc.example has no watm= with watm-sha256= pin")
	}
}
