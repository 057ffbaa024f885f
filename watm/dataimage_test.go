package watm

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/water-pt/water-pt/watm/internal/wasmbin"
	"github.com/water-pt/water-pt/watm/modules"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// TestDataImageExact instantiates each shipped module as it is and as
// water-pt runs it (no data section, the image mapped copy-on-write) and
// checks that memory starts out byte for byte the same. The module as it
// is runs on wazero's interpreter: wazero's store applies data segments
// the same for every engine, and the interpreter's compile is a fraction of
// the compiler's, which under -race takes tens of seconds per module. The
// module as water-pt runs it runs on the compiler, as in water-pt.
func TestDataImageExact(t *testing.T) {
	ctx := context.Background()
	r, err := NewRuntime(ctx, WithPoolSize(0))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	oracle := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer oracle.Close(ctx)
	if err := instantiateHostModules(ctx, oracle); err != nil {
		t.Fatal(err)
	}
	for _, name := range modules.Names() {
		orig, _ := modules.Lookup(name)
		image, stripped, err := wasmbin.SplitData(orig, 1<<32)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		img, err := newMemImage(image)
		if err != nil {
			t.Fatal(err)
		}
		want := initialMemory(t, oracle, orig, nil)
		got := initialMemory(t, r.rt, stripped, img)
		img.close()
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: initial memory differs (%d vs %d bytes)", name, len(got), len(want))
		}
		t.Logf("%s: image %d KiB, module %d -> %d bytes", name, len(image)>>10, len(orig), len(stripped))
	}
	if _, _, err := wasmbin.SplitData([]byte("\x00asm\x01\x00\x00\x00"), 1<<32); err == nil {
		t.Error("a module without data was split")
	}
}

// initialMemory instantiates b on wrt (with the host modules, no start
// function) and returns a copy of its memory.
func initialMemory(t *testing.T, wrt wazero.Runtime, b []byte, img *memImage) []byte {
	ctx := context.Background()
	c, err := wrt.CompileModule(watmtest.CompileContext(ctx), b)
	if err != nil {
		t.Fatal(err)
	}
	ictx := context.WithValue(ctx, instanceKey{}, &instance{})
	ictx = experimental.WithMemoryAllocator(ictx, mmapAllocator{limit: 64 << 20, image: img})
	mod, err := wrt.InstantiateModule(ictx, c, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	mem, _ := mod.Memory().Read(0, mod.Memory().Size())
	return append([]byte(nil), mem...)
}
