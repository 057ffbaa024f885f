package watm

import (
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// mmapAllocator backs each instance's linear memory with its own anonymous
// mapping instead of a Go []byte. The whole maximum is reserved once
// (PROT_NONE, no RSS) and pages are made accessible as the module grows, so:
//   - growing never copies (a Go slice would be reallocated and copied);
//   - fresh pages come zeroed from the kernel and cost RSS only once touched;
//   - the Go heap and its GC never see the module's memory.
//
// The memory is freed (munmap) when the instance is closed.
//
// With an image (the module's initial data, see dataimage.go), the image is
// mapped copy-on-write over the start of the reservation.
type mmapAllocator struct {
	limit uint64
	image *memImage
}

func (a mmapAllocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	if max > a.limit {
		max = a.limit
	}
	if max == 0 {
		max = 1 << 16
	}
	b, err := unix.Mmap(-1, 0, int(max), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	m := &mmapMemory{buf: b}
	if a.image != nil {
		if uint64(a.image.size) > max {
			m.Free()
			return nil
		}
		_, err := unix.MmapPtr(a.image.fd, 0, unsafe.Pointer(&b[0]), uintptr(a.image.size),
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
		if err != nil {
			m.Free()
			return nil
		}
		m.committed = uint64(a.image.size)
	}
	if m.Reallocate(capacity) == nil && capacity > 0 {
		m.Free()
		return nil
	}
	return m
}

type mmapMemory struct {
	buf       []byte // the whole reservation
	committed uint64 // bytes made readable and writable
}

// Reallocate makes the first size bytes accessible and returns them; the
// address never changes.
func (m *mmapMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	if size > m.committed {
		if err := unix.Mprotect(m.buf[m.committed:size], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = size
	}
	return m.buf[:size:size]
}

func (m *mmapMemory) Free() {
	if m.buf != nil {
		_ = unix.Munmap(m.buf)
		m.buf = nil
	}
}
