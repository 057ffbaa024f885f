package watm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"
)

// Recycling: an instance of a snapshotted module whose worker returned goes
// back to its pool, restored to the snapshot, instead of being closed.
//
// Why: instantiating is most of what a clone still costs (about 400 us of
// CPU for plain, four fifths of it wazero filling the function table one
// element at a time), and connections back to back empty a pool of 4 faster
// than its idle-priority refill can make new ones. Restoring an instance
// that served a connection is cheap: its memory is the snapshot's image
// mapped copy-on-write, so dropping the pages the connection wrote
// (madvise MADV_DONTNEED on a private file mapping) brings back the image's,
// and its mutable globals are exported and set again, as for any clone.
// Its tables are as instantiated: a module that exports the reseed hook
// declares that it never writes them (Go's code has no table
// instructions). What the host kept for it (fd table, counters, the
// connection's config and logger) is a new instance struct: nothing of
// the previous connection is reachable from the next, in the module or in
// the host, and the reseed gives it its own randomness, as any clone.
//
// Only an instance whose worker call came back by itself is recycled: not
// one that trapped, exited, was stopped by force, or grew its memory
// (wazero cannot shrink it back to the snapshot's size).

// reusable reports whether in, whose worker call came back by itself, can
// be restored to the snapshot for another connection.
func (in *instance) reusable() bool {
	m := in.m
	if m.snap == nil || m.pool == nil || in.mod == nil ||
		in.ctx.Err() != nil || in.cancelIgnored.Load() || in.wasi.Stopping() || in.mod.IsClosed() {
		return false
	}
	mem := in.mod.Memory()
	return mem != nil && uint64(mem.Size()) == uint64(m.snap.pages)<<16
}

// giveBack releases what in holds for its connection and hands its module
// instance to the pool, which restores it off the connection's path (or
// closes it when it has no room).
func (in *instance) giveBack() {
	mod := in.mod
	in.mod = nil
	in.release()
	if !in.m.pool.takeBack(mod) {
		_ = mod.Close(context.Background())
	}
}

// renewInstance makes mod, an instance of m that served a connection and
// was given back, a new instance in the snapshot's state, reseeded. On
// failure mod is closed.
func renewInstance(ctx context.Context, m *Module, mod api.Module) (*instance, error) {
	in := newShell(m)
	in.mod = mod
	mem := mod.Memory()
	buf, ok := mem.Read(0, mem.Size())
	if !ok || len(buf) == 0 {
		in.release()
		return nil, fmt.Errorf("watm: recycle: no memory to restore")
	}
	if err := unix.Madvise(buf, unix.MADV_DONTNEED); err != nil {
		in.release()
		return nil, fmt.Errorf("watm: recycle: madvise: %w", err)
	}
	if err := in.restore(ctx); err != nil {
		in.release()
		return nil, err
	}
	return in, nil
}
