package wasmbin

import (
	"errors"
	"fmt"
	"sort"
)

// segment is one active data segment: its offset in memory and its bytes.
type segment struct {
	off  uint32
	data []byte
}

// SplitData returns the image of a module's active data segments (its
// length a multiple of the 64 KiB page) and the module without its data
// section: applying the image to a zeroed memory gives the memory the
// module starts with. An image larger than maxImage bytes (the instances'
// memory limit, which the module will fail anyway) is refused before it is
// built.
//
// A module this cannot handle exactly (passive segments, offsets that are
// not i32.const, overlapping segments, data past its initial memory, a
// DataCount section) gets an error, and is to be compiled as it is.
func SplitData(wasm []byte, maxImage uint64) (image, stripped []byte, err error) {
	secs, err := sections(wasm)
	if err != nil {
		return nil, nil, err
	}
	out := append([]byte(nil), wasm[:8]...)
	var segs []segment
	var minPages uint64
	for _, s := range secs {
		switch s.id {
		case sectionMemory:
			if minPages, err = memoryMin(s.body); err != nil {
				return nil, nil, err
			}
		case sectionData:
			if segs, err = parseDataSection(s.body); err != nil {
				return nil, nil, err
			}
			continue
		case sectionDataCount:
			return nil, nil, errors.New("DataCount section (bulk memory)")
		}
		out = append(out, wasm[s.start:s.end]...)
	}
	if len(segs) == 0 {
		return nil, nil, errors.New("no data segments")
	}
	last := segs[len(segs)-1]
	end := (uint64(last.off) + uint64(len(last.data)) + 0xffff) &^ 0xffff
	if end>>16 > minPages {
		return nil, nil, fmt.Errorf("data ends at %d, past the initial memory of %d pages", end, minPages)
	}
	if end > maxImage {
		return nil, nil, fmt.Errorf("data ends at %d, past the memory limit of %d bytes", end, maxImage)
	}
	image = make([]byte, end)
	for _, s := range segs {
		copy(image[s.off:], s.data)
	}
	return image, out, nil
}

// memoryMin reads the initial pages of the only memory.
func memoryMin(body []byte) (uint64, error) {
	count, n := uleb(body)
	if n == 0 || count != 1 || len(body) < n+2 {
		return 0, errors.New("not exactly one memory")
	}
	flags := body[n]
	if flags&^1 != 0 {
		return 0, errors.New("shared or 64-bit memory")
	}
	min, m := uleb(body[n+1:])
	if m == 0 {
		return 0, errors.New("bad memory limits")
	}
	return min, nil
}

func parseDataSection(body []byte) ([]segment, error) {
	count, n := uleb(body)
	if n == 0 {
		return nil, errors.New("bad count")
	}
	body = body[n:]
	// count comes from the file: each segment takes at least 5 bytes.
	segs := make([]segment, 0, min(count, uint64(len(body)/5)))
	for i := uint64(0); i < count; i++ {
		flag, n := uleb(body)
		if n == 0 || flag != 0 {
			return nil, errors.New("not an active segment of memory 0")
		}
		body = body[n:]
		if len(body) < 1 || body[0] != 0x41 { // i32.const
			return nil, errors.New("offset is not i32.const")
		}
		off, n := sleb(body[1:], 5)
		if n == 0 || len(body) < 1+n+1 || body[1+n] != 0x0b || off < 0 || off > 1<<31-1 {
			return nil, errors.New("bad offset expression")
		}
		body = body[1+n+1:]
		l, n := uleb(body)
		if n == 0 || l > uint64(len(body)-n) {
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
