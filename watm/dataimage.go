package watm

import (
	"fmt"

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
// secrets or random state are in it. A module that can reseed its clones
// goes one step further: the image is replaced by a snapshot taken after
// its start function (snapshot.go).
//
// A module this cannot handle exactly (passive segments, offsets that are
// not i32.const, overlapping segments, data past its initial memory, a
// DataCount section) is compiled as it is.

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
	if err := writeSparse(fd, image); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("memfd: %w", err)
	}
	const seals = unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("memfd seal: %w", err)
	}
	return &memImage{fd: fd, size: len(image)}, nil
}

// writeSparse makes the file at fd hold image, writing only its pages that
// are not all zeros: the others stay holes, which cost no memory and map
// as zero pages (an initialised Go heap is mostly such pages).
func writeSparse(fd int, image []byte) error {
	if err := unix.Ftruncate(fd, int64(len(image))); err != nil {
		return err
	}
	const page = 4096
	for off := 0; off < len(image); {
		for off < len(image) && allZero(image[off:min(off+page, len(image))]) {
			off += page
		}
		end := off
		for end < len(image) && !allZero(image[end:min(end+page, len(image))]) {
			end += page
		}
		stop := min(end, len(image))
		for p := off; p < stop; {
			n, err := unix.Pwrite(fd, image[p:stop], int64(p))
			if err != nil {
				return err
			}
			p += n
		}
		off = end
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (m *memImage) close() {
	if m != nil {
		unix.Close(m.fd)
	}
}
