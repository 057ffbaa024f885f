package wasmbin

import (
	"testing"

	"github.com/water-pt/water-pt/watm/modules"
)

// fuzzSeeds are the shipped modules and small hand-made ones: a header
// only, an export section, a memory and data section.
func fuzzSeeds(f *testing.F) {
	for _, name := range modules.Names() {
		if b, ok := modules.Lookup(name); ok && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x07\x0a\x01\x06_start\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01\x0b\x08\x01\x00\x41\x10\x0b\x02hi"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x0b\x0a\xff\xff\xff\xff\x0f\x00\x41\x00\x0b\x00"))
}

// FuzzParseExports: the export parser reads module files named by bridge
// lines before wazero sees them. It must not panic, and what it returns
// must be names it read from the input.
func FuzzParseExports(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		exports, err := Exports(b)
		if err != nil {
			return
		}
		for name := range exports {
			if len(name) > len(b) {
				t.Fatalf("export name of %d bytes from %d bytes of input", len(name), len(b))
			}
		}
	})
}

// FuzzSplitData: the data-section parser builds a memory image from a
// module's data segments. It must not panic, nor build an image larger
// than the memory limit it is given.
func FuzzSplitData(f *testing.F) {
	fuzzSeeds(f)
	const limit = 4 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		image, stripped, err := SplitData(b, limit)
		if err != nil {
			return
		}
		if len(image) > limit || len(image)%(64<<10) != 0 {
			t.Fatalf("image of %d bytes: want a multiple of 64 KiB, at most %d", len(image), limit)
		}
		if len(stripped) > len(b) {
			t.Fatalf("stripped module of %d bytes from %d", len(stripped), len(b))
		}
	})
}
