package wasmbin

import (
	"context"
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// globalsWasm is (wat2wasm 1.0.32):
//
//	(module
//	  (import "env" "f" (func))
//	  (memory 1)
//	  (global (mut i32) (i32.const 65536))
//	  (global i64 (i64.const 7))
//	  (global (mut f64) (f64.const 1.5))
//	  (global (mut i64) (i64.const -2))
//	  (func (export "get") (result i32) global.get 0)
//	  (data (i32.const 16) "hi"))
var globalsWasm = mustHex("0061736d010000000108026000006000017f02090103656e7601660000030201010503010001061e047f01418080040b7e0042070b7c0144000000000000f83f0b7e01427e0b0707010367657400010a0601040023000b0b08010041100b026869")

// TestExportGlobals exports the mutable globals of a module, instantiates
// the result with wazero and reads and sets them through the exports; the
// module's own code sees what the host set.
func TestExportGlobals(t *testing.T) {
	out, globals, err := ExportGlobals(globalsWasm, "g:")
	if err != nil {
		t.Fatal(err)
	}
	want := []Global{{0, 0x7f, "g:0"}, {2, 0x7c, "g:2"}, {3, 0x7e, "g:3"}}
	if len(globals) != len(want) {
		t.Fatalf("globals %v, want %v", globals, want)
	}
	for i := range want {
		if globals[i] != want[i] {
			t.Fatalf("globals %v, want %v", globals, want)
		}
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := r.NewHostModuleBuilder("env").NewFunctionBuilder().WithFunc(func() {}).Export("f").Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	exports, err := Exports(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(exports) != 4 || exports["get"] != KindFunc || exports["g:3"] != KindGlobal {
		t.Fatalf("exports %v", exports)
	}
	if v := mod.ExportedGlobal("g:0").Get(); v != 65536 {
		t.Errorf("g:0 = %d, want 65536", v)
	}
	if v := math.Float64frombits(mod.ExportedGlobal("g:2").Get()); v != 1.5 {
		t.Errorf("g:2 = %v, want 1.5", v)
	}
	if v := int64(mod.ExportedGlobal("g:3").Get()); v != -2 {
		t.Errorf("g:3 = %d, want -2", v)
	}
	mod.ExportedGlobal("g:0").(api.MutableGlobal).Set(12345)
	res, err := mod.ExportedFunction("get").Call(ctx)
	if err != nil || res[0] != 12345 {
		t.Fatalf("get after Set: %v, %v; want 12345", res, err)
	}
}

// TestExportGlobalsRefuses: a prefix already in use, an imported global,
// and a module without exports are refused with errors naming why; table,
// memory and function imports are skipped correctly.
func TestExportGlobalsRefuses(t *testing.T) {
	cases := []struct {
		name, wasm, prefix, err string
	}{
		{"prefix in use", hex.EncodeToString(globalsWasm), "ge", `export "get" already starts with "ge"`},
		// (module (import "env" "g" (global i32)) (export "x" (global 0)))
		{"imported global", "0061736d01000000020a0103656e760167037f0007050101780300", "g:", "imports a global"},
		{"no exports", "0061736d01000000", "g:", "no export section"},
		{"bad magic", "0061736e01000000", "g:", "magic"},
		// An export section with one export (name "", kind 0x30, index
		// 0x30) and four bytes after it: appending exports after those
		// made a section that does not parse (found by FuzzExportGlobals).
		{"bytes after the last export", "0061736d0100000007080100303030303030", "g:", "4 bytes after its last export"},
	}
	for _, c := range cases {
		if _, _, err := ExportGlobals(mustHex(c.wasm), c.prefix); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: err %v, want one containing %q", c.name, err, c.err)
		}
	}
	// (module (import "env" "t" (table 2 8 funcref)) (import "env" "m" (memory 1 2))
	//   (import "env" "f" (func)) (global (mut i32) (i32.const 1)) (func (export "x")))
	imports := mustHex("0061736d01000000010401600000021e0303656e760174017001020803656e76016d0201010203656e7601660000030201000606017f0141010b070501017800010a040102000b")
	_, globals, err := ExportGlobals(imports, "g:")
	if err != nil || len(globals) != 1 || globals[0].Index != 0 {
		t.Fatalf("module with table, memory and func imports: %v, %v", globals, err)
	}
}

// FuzzExportGlobals: the rewrite must not panic, and what it returns must
// still parse, with every global it names exported as a global.
func FuzzExportGlobals(f *testing.F) {
	fuzzSeeds(f)
	f.Add(globalsWasm)
	f.Fuzz(func(t *testing.T, b []byte) {
		out, globals, err := ExportGlobals(b, "g:")
		if err != nil {
			return
		}
		exports, err := Exports(out)
		if err != nil {
			t.Fatalf("rewritten module does not parse: %v", err)
		}
		for _, g := range globals {
			if exports[g.Export] != KindGlobal {
				t.Fatalf("%s not exported as a global", g.Export)
			}
		}
	})
}
