package watm

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/water-pt/water-pt/watm/modules"
)

// TestMergeDataSegmentsExact instantiates a shipped module before and after
// the rewrite and checks that memory starts out byte for byte the same.
func TestMergeDataSegmentsExact(t *testing.T) {
	ctx := context.Background()
	for _, name := range modules.Names() {
		orig, _ := modules.Lookup(name)
		merged := mergeDataSegments(orig)
		if bytes.Equal(orig, merged) {
			t.Fatalf("%s: not rewritten", name)
		}
		before, _ := parseDataSegmentCount(orig)
		after, _ := parseDataSegmentCount(merged)
		t.Logf("%s: %d data segments -> %d, %d -> %d bytes", name, before, after, len(orig), len(merged))
		if after >= before/10 {
			t.Errorf("%s: %d segments left of %d", name, after, before)
		}
		if !bytes.Equal(initialMemory(t, ctx, orig), initialMemory(t, ctx, merged)) {
			t.Fatalf("%s: initial memory differs after merging", name)
		}
	}
}

func parseDataSegmentCount(b []byte) (int, error) {
	for p := 8; p < len(b); {
		id := b[p]
		size, n := uleb(b[p+1:])
		if id == 11 {
			c, _ := uleb(b[p+1+n:])
			return int(c), nil
		}
		p += 1 + n + int(size)
	}
	return 0, nil
}

// initialMemory instantiates b with stub imports and no start function and
// returns a copy of its memory.
func initialMemory(t *testing.T, ctx context.Context, b []byte) []byte {
	r, err := NewRuntime(ctx, WithPoolSize(0))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	c, err := r.rt.CompileModule(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{}
	ctx = context.WithValue(ctx, instanceKey{}, in)
	mod, err := r.rt.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := mod.Memory().Read(0, mod.Memory().Size())
	return append([]byte(nil), mem...)
}
