// Package wasmbin reads and rewrites the few parts of a WebAssembly binary
// that the host changes before compiling a module: its exports, its data
// segments (applied once to a memory image, see SplitData) and its globals
// (exported so that a snapshot can read and restore them, see
// ExportGlobals). It is pure: bytes in, bytes out, no wazero. Input comes
// from module files named by bridge lines, so every function here returns
// an error, never panics, on any input (the fuzz tests check that).
package wasmbin

import (
	"errors"
	"fmt"
)

// Section ids used here.
const (
	sectionImport    = 2
	sectionMemory    = 5
	sectionGlobal    = 6
	sectionExport    = 7
	sectionData      = 11
	sectionDataCount = 12
)

// Export kinds, as in the export section.
const (
	KindFunc   byte = 0
	KindTable  byte = 1
	KindMemory byte = 2
	KindGlobal byte = 3
)

// section is one section of a module: its id, its body, and where the
// whole section (id and size included) lies in the module.
type section struct {
	id         byte
	body       []byte
	start, end int
}

// sections splits a module into its sections after checking the header.
func sections(wasm []byte) ([]section, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, errors.New("missing \\0asm magic")
	}
	var out []section
	for p := 8; p < len(wasm); {
		id := wasm[p]
		size, n := uleb(wasm[p+1:])
		if n == 0 || size > uint64(len(wasm)-p-1-n) {
			return nil, errors.New("truncated section")
		}
		end := p + 1 + n + int(size)
		out = append(out, section{id: id, body: wasm[p+1+n : end], start: p, end: end})
		p = end
	}
	return out, nil
}

// Exports reads the names and kinds (KindFunc...) of a module's exports.
// (wazero's CompiledModule lists exported functions and memories only, and
// a Rust module's _water_v0 is a global.)
func Exports(wasm []byte) (map[string]byte, error) {
	secs, err := sections(wasm)
	if err != nil {
		return nil, err
	}
	for _, s := range secs {
		if s.id == sectionExport {
			return parseExportSection(s.body)
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
	if len(b) > 0 {
		// A rewrite appends after the last export: bytes past it would
		// end up in the middle (and wazero refuses such a section anyway).
		return nil, fmt.Errorf("export section has %d bytes after its last export", len(b))
	}
	return out, nil
}

// uleb reads an unsigned LEB128 number of at most 10 bytes; n is 0 when b
// holds none.
func uleb(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// sleb reads a signed LEB128 number of at most maxBytes bytes (5 for i32,
// 10 for i64).
func sleb(b []byte, maxBytes int) (int64, int) {
	var v int64
	var shift uint
	for i := 0; i < len(b) && i < maxBytes; i++ {
		v |= int64(b[i]&0x7f) << shift
		shift += 7
		if b[i]&0x80 == 0 {
			if shift < 64 && b[i]&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1
		}
	}
	return 0, 0
}

// appendUleb appends v as unsigned LEB128.
func appendUleb(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendSection appends a section with id and body.
func appendSection(b []byte, id byte, body []byte) []byte {
	b = append(b, id)
	b = appendUleb(b, uint64(len(body)))
	return append(b, body...)
}
