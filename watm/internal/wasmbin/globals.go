package wasmbin

import (
	"errors"
	"fmt"
	"strconv"
)

// Global is a module's mutable global as ExportGlobals exported it.
type Global struct {
	Index  uint32 // in the module's global index space
	Type   byte   // value type: 0x7f i32, 0x7e i64, 0x7d f32, 0x7c f64
	Export string // the name it is exported as
}

// ExportGlobals returns the module with every mutable global exported as
// prefix followed by its index, so that a host can read an initialised
// instance's globals and set them in another instance (a snapshot). The
// module's code is unchanged; exports are visible to the host only.
//
// It refuses a module that imports globals (their values are not the
// module's), has a global of a type other than i32, i64, f32 or f64
// (references and vectors cannot be set through an export), or already
// has an export starting with prefix.
func ExportGlobals(wasm []byte, prefix string) (out []byte, globals []Global, err error) {
	secs, err := sections(wasm)
	if err != nil {
		return nil, nil, err
	}
	var exportAt = -1
	for i, s := range secs {
		switch s.id {
		case sectionImport:
			if err := noGlobalImports(s.body); err != nil {
				return nil, nil, err
			}
		case sectionGlobal:
			if globals, err = mutableGlobals(s.body, prefix); err != nil {
				return nil, nil, err
			}
		case sectionExport:
			if exportAt >= 0 {
				return nil, nil, errors.New("two export sections")
			}
			exportAt = i
		}
	}
	if exportAt < 0 {
		return nil, nil, errors.New("no export section")
	}
	exports, err := appendGlobalExports(secs[exportAt].body, prefix, globals)
	if err != nil {
		return nil, nil, err
	}
	s := secs[exportAt]
	out = append([]byte(nil), wasm[:s.start]...)
	out = appendSection(out, sectionExport, exports)
	return append(out, wasm[s.end:]...), globals, nil
}

// noGlobalImports fails if the import section imports a global.
func noGlobalImports(b []byte) error {
	count, n := uleb(b)
	if n == 0 {
		return errors.New("truncated import section")
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		for range 2 { // module and field names
			l, n := uleb(b)
			if n == 0 || l > uint64(len(b)-n) {
				return errors.New("truncated import")
			}
			b = b[n+int(l):]
		}
		if len(b) < 1 {
			return errors.New("truncated import")
		}
		kind := b[0]
		b = b[1:]
		var skip int
		switch kind {
		case KindFunc:
			_, skip = uleb(b)
		case KindTable: // reftype, limits
			if len(b) < 1 {
				return errors.New("truncated import")
			}
			skip = limitsLen(b[1:])
			if skip > 0 {
				skip++
			}
		case KindMemory:
			skip = limitsLen(b)
		case KindGlobal:
			return errors.New("imports a global")
		default:
			return fmt.Errorf("import of unknown kind %d", kind)
		}
		if skip == 0 {
			return errors.New("truncated import")
		}
		b = b[skip:]
	}
	return nil
}

// limitsLen is the length of the limits at the start of b, 0 if bad.
func limitsLen(b []byte) int {
	if len(b) < 1 || b[0] > 3 {
		return 0
	}
	_, n := uleb(b[1:])
	if n == 0 {
		return 0
	}
	if b[0]&1 == 0 {
		return 1 + n
	}
	_, m := uleb(b[1+n:])
	if m == 0 {
		return 0
	}
	return 1 + n + m
}

// mutableGlobals reads the global section and names its mutable globals.
func mutableGlobals(b []byte, prefix string) ([]Global, error) {
	count, n := uleb(b)
	if n == 0 {
		return nil, errors.New("truncated global section")
	}
	b = b[n:]
	var out []Global
	for i := uint64(0); i < count; i++ {
		if len(b) < 2 {
			return nil, errors.New("truncated global")
		}
		typ, mut := b[0], b[1]
		switch {
		case typ < 0x7c || typ > 0x7f:
			return nil, fmt.Errorf("global %d has value type 0x%x, not a number", i, typ)
		case mut > 1:
			return nil, fmt.Errorf("global %d has mutability %d", i, mut)
		}
		l, err := constExprLen(b[2:])
		if err != nil {
			return nil, fmt.Errorf("global %d: %w", i, err)
		}
		b = b[2+l:]
		if mut == 1 {
			out = append(out, Global{Index: uint32(i), Type: typ, Export: prefix + strconv.FormatUint(i, 10)})
		}
	}
	return out, nil
}

// constExprLen is the length of the constant expression (end included) at
// the start of b: one i32/i64/f32/f64.const or global.get, then end.
func constExprLen(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, errors.New("truncated initializer")
	}
	var n int
	switch b[0] {
	case 0x41: // i32.const
		_, n = sleb(b[1:], 5)
	case 0x42: // i64.const
		_, n = sleb(b[1:], 10)
	case 0x43: // f32.const
		n = 4
	case 0x44: // f64.const
		n = 8
	case 0x23: // global.get
		_, n = uleb(b[1:])
	default:
		return 0, fmt.Errorf("initializer opcode 0x%x", b[0])
	}
	if n == 0 || len(b) < 1+n+1 || b[1+n] != 0x0b {
		return 0, errors.New("bad initializer")
	}
	return 1 + n + 1, nil
}

// appendGlobalExports is the export section body with globals added.
func appendGlobalExports(body []byte, prefix string, globals []Global) ([]byte, error) {
	exports, err := parseExportSection(body)
	if err != nil {
		return nil, err
	}
	for name := range exports {
		if len(name) >= len(prefix) && name[:len(prefix)] == prefix {
			return nil, fmt.Errorf("export %q already starts with %q", name, prefix)
		}
	}
	count, n := uleb(body)
	out := appendUleb(nil, count+uint64(len(globals)))
	out = append(out, body[n:]...)
	for _, g := range globals {
		out = appendUleb(out, uint64(len(g.Export)))
		out = append(out, g.Export...)
		out = append(out, KindGlobal)
		out = appendUleb(out, uint64(g.Index))
	}
	return out, nil
}
