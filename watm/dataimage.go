package watm

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/sys/unix"
)

// A module's initial memory image.
//
// Why: the Go linker splits a module's data at runs of zeros, so a Go
// module has tens of thousands of data segments (22,755 for plain.wasm),
// and wazero evaluates and copies every one at every instantiation: most of
// a connection's set-up time, and a megabyte of private memory per
// connection. Instead, at load, the data segments are applied once to a
// zeroed image held in a sealed memfd, and the module is compiled without
// its data section. Each instance maps the image copy-on-write at the start
// of its linear memory (see mmapAllocator): instantiation copies nothing,
// and the pages a module only reads (most of a Go module's data: type
// descriptors, function tables, strings) stay shared by all instances.
//
// This is the state before any code of the module runs: no instance's
// secrets or random state are in it. (Snapshotting after the start function
// would be faster still, but every connection would then share the Go
// runtime's random seeds; see RATIONALE.md.)
//
// A module this cannot handle exactly (passive segments, offsets that are
// not i32.const, overlapping segments, data past its initial memory, a
// DataCount section) is compiled as it is.

type segment struct {
	off  uint32
	data []byte
}

// splitData returns the image of a module's active data segments (its
// length a multiple of the 64 KiB page) and the module without its data
// section. An image larger than maxImage bytes (the instances' memory
// limit, which the module will fail anyway) is refused before it is built.
func splitData(wasm []byte, maxImage uint64) (image, stripped []byte, err error) {
	if len(wasm) < 8 {
		return nil, nil, errors.New("short module")
	}
	var out bytes.Buffer
	out.Write(wasm[:8])
	var segs []segment
	var minPages uint64
	for p := 8; p < len(wasm); {
		id := wasm[p]
		size, n := uleb(wasm[p+1:])
		if n == 0 || size > uint64(len(wasm)-p-1-n) {
			return nil, nil, errors.New("truncated section")
		}
		body := wasm[p+1+n : p+1+n+int(size)]
		next := p + 1 + n + int(size)
		switch id {
		case 5: // memory
			if minPages, err = memoryMin(body); err != nil {
				return nil, nil, err
			}
			out.Write(wasm[p:next])
		case 11: // data
			if segs, err = parseDataSection(body); err != nil {
				return nil, nil, err
			}
		case 12:
			return nil, nil, errors.New("DataCount section (bulk memory)")
		default:
			out.Write(wasm[p:next])
		}
		p = next
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
	return image, out.Bytes(), nil
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
		off, n := sleb32(body[1:])
		if n == 0 || len(body) < 1+n+1 || body[1+n] != 0x0b || off < 0 {
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

// memImage is an initial memory image in a sealed memfd, mapped
// copy-on-write by every instance of its module.
type memImage struct {
	fd   int
	size int
}

func newMemImage(image []byte) (*memImage, error) {
	fd, err := unix.MemfdCreate("watm-image", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd: %w", err)
	}
	for b := image; len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("memfd: %w", err)
		}
		b = b[n:]
	}
	const seals = unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("memfd seal: %w", err)
	}
	return &memImage{fd: fd, size: len(image)}, nil
}

func (m *memImage) close() {
	if m != nil {
		unix.Close(m.fd)
	}
}
