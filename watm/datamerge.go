package watm

import (
	"bytes"
	"errors"
	"sort"
)

// mergeDataSegments rewrites a module's data section so that active
// segments at constant offsets that lie close together become one.
//
// Why: the Go linker splits a module's data at runs of zeros, so a Go
// module has tens of thousands of segments (22,535 for plain.wasm), and
// wazero evaluates and copies each one at every instantiation: most of a
// connection's set-up time. Memory starts zeroed, so filling a small gap
// with zeros writes nothing that was not there: the merged module
// initialises memory exactly as the original does. Gaps of mergeGap bytes
// or more are kept, so untouched zero pages stay untouched.
//
// Any module this cannot rewrite exactly (passive segments, offsets that
// are not i32.const, overlaps, a second memory) is returned unchanged.
func mergeDataSegments(wasm []byte) []byte {
	out, err := rewriteData(wasm)
	if err != nil {
		return wasm
	}
	return out
}

const mergeGap = 256

type segment struct {
	off  uint32
	data []byte
}

func rewriteData(b []byte) ([]byte, error) {
	if len(b) < 8 {
		return nil, errors.New("short")
	}
	var out bytes.Buffer
	out.Write(b[:8])
	p := 8
	rewrote := false
	var newCount int
	for p < len(b) {
		id := b[p]
		size, n := uleb(b[p+1:])
		if n == 0 || p+1+n+int(size) > len(b) {
			return nil, errors.New("truncated section")
		}
		body := b[p+1+n : p+1+n+int(size)]
		next := p + 1 + n + int(size)
		if id == 11 {
			segs, err := parseDataSection(body)
			if err != nil {
				return nil, err
			}
			merged := merge(segs)
			newCount = len(merged)
			writeSection(&out, 11, encodeDataSection(merged))
			rewrote = true
		} else {
			out.Write(b[p:next])
		}
		p = next
	}
	if !rewrote {
		return nil, errors.New("no data section")
	}
	return fixDataCount(out.Bytes(), newCount)
}

func parseDataSection(body []byte) ([]segment, error) {
	count, n := uleb(body)
	if n == 0 {
		return nil, errors.New("bad count")
	}
	body = body[n:]
	segs := make([]segment, 0, count)
	for i := uint64(0); i < count; i++ {
		flag, n := uleb(body)
		if n == 0 || flag != 0 {
			return nil, errors.New("not an active segment of memory 0")
		}
		body = body[n:]
		if len(body) < 1 || body[0] != 0x41 { // i32.const
			return nil, errors.New("offset is not i32.const")
		}
		off, n := sleb32(body[1:])
		if n == 0 || len(body) < 1+n+1 || body[1+n] != 0x0b {
			return nil, errors.New("bad offset expression")
		}
		body = body[1+n+1:]
		l, n := uleb(body)
		if n == 0 || n+int(l) > len(body) {
			return nil, errors.New("truncated segment")
		}
		segs = append(segs, segment{off: uint32(off), data: body[n : n+int(l)]})
		body = body[n+int(l):]
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].off < segs[j].off })
	for i := 1; i < len(segs); i++ {
		if uint64(segs[i-1].off)+uint64(len(segs[i-1].data)) > uint64(segs[i].off) {
			return nil, errors.New("overlapping segments")
		}
	}
	return segs, nil
}

func merge(segs []segment) []segment {
	var out []segment
	for _, s := range segs {
		if len(out) > 0 {
			last := &out[len(out)-1]
			end := last.off + uint32(len(last.data))
			if s.off-end < mergeGap {
				last.data = append(last.data, make([]byte, s.off-end)...)
				last.data = append(last.data, s.data...)
				continue
			}
		}
		out = append(out, segment{off: s.off, data: append([]byte(nil), s.data...)})
	}
	return out
}

func encodeDataSection(segs []segment) []byte {
	var b bytes.Buffer
	b.Write(appendUleb(nil, uint64(len(segs))))
	for _, s := range segs {
		b.WriteByte(0)    // active, memory 0
		b.WriteByte(0x41) // i32.const
		b.Write(appendSleb(nil, int64(int32(s.off))))
		b.WriteByte(0x0b)
		b.Write(appendUleb(nil, uint64(len(s.data))))
		b.Write(s.data)
	}
	return b.Bytes()
}

func writeSection(out *bytes.Buffer, id byte, body []byte) {
	out.WriteByte(id)
	out.Write(appendUleb(nil, uint64(len(body))))
	out.Write(body)
}

// fixDataCount updates the DataCount section (id 12), if any, to count.
func fixDataCount(b []byte, count int) ([]byte, error) {
	var out bytes.Buffer
	out.Write(b[:8])
	for p := 8; p < len(b); {
		id := b[p]
		size, n := uleb(b[p+1:])
		next := p + 1 + n + int(size)
		if id == 12 {
			writeSection(&out, 12, appendUleb(nil, uint64(count)))
		} else {
			out.Write(b[p:next])
		}
		p = next
	}
	return out.Bytes(), nil
}

func sleb32(b []byte) (int32, int) {
	var v int64
	var shift uint
	for i := 0; i < len(b) && i < 5; i++ {
		v |= int64(b[i]&0x7f) << shift
		shift += 7
		if b[i]&0x80 == 0 {
			if shift < 64 && b[i]&0x40 != 0 {
				v |= -1 << shift
			}
			return int32(v), i + 1
		}
	}
	return 0, 0
}

func appendUleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func appendSleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		done := (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0)
		if !done {
			c |= 0x80
		}
		b = append(b, c)
		if done {
			return b
		}
	}
}
