package watm

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
	"github.com/water-pt/water-pt/watm/internal/wasmbin"
)

// A snapshot of an initialised instance, which every instance of its
// module starts from instead of running the start function.
//
// Why: a Go module's _initialize (the Go runtime starting, package inits)
// is most of an instance's creation time, and the pages it writes (its heap,
// goroutine stacks, the runtime's structures) most of an idle instance's
// private memory. Done once per module, both are shared: every instance
// maps the snapshot's memory copy-on-write (see memImage) and gets its
// globals, and only the pages a connection writes become its own.
//
// The objection to this is randomness: the Go runtime seeds its
// generators during _initialize, so every clone would produce the same
// math/rand streams, map orders and new maps' hash seeds. So only modules
// that export reseedExport are snapshotted (water-pt's guest SDK does, with
// the build tag waterpt_reseed; see watm/guest/internal/reseed): the host
// calls it in every clone before anything else, and it reseeds the
// runtime from random_get. Every other module is started as before.
//
// Host state matters too. The flags the start function set on the
// descriptors every instance starts with (Go sets stdin non-blocking) are
// recorded and set in every clone; a snapshot is refused (and the module
// started per instance) when the start function left anything else a clone
// would not have: a descriptor opened or closed, or anything counted in
// Behaviour. The modules' monotonic clock is the Runtime's, so a clone's
// time goes on from the template's. Tables are not part of a snapshot
// (wazero offers no way to read them): a module that exports the hook
// declares that its start function leaves its tables as instantiated, as
// Go's start-up does (Go never writes its function table).

// reseedExport is the export, () -> i32, that re-seeds a clone's
// randomness: 0 on success, a negated errno when it cannot.
const reseedExport = "waterpt_reseed"

// globalExportPrefix names the exports that the snapshot variant of a
// module adds for its mutable globals.
const globalExportPrefix = "waterpt:global:"

type snapshot struct {
	pages   uint32 // memory size, in 64 KiB pages
	globals []snapGlobal
	fdFlags []uint16 // of the descriptors every instance starts with
	// unseeded: clones skip the reseed export. Only tests set it, to show
	// what sharing looks like (what the reseed prevents).
	unseeded bool
}

type snapGlobal struct {
	export string
	value  uint64
}

// snapshotCode returns the module code to compile for a module that may be
// snapshotted (code with its mutable globals exported) and those globals;
// ok is false for a module that may not.
func snapshotCode(exportKinds map[string]byte, code []byte) (out []byte, globals []wasmbin.Global, ok bool) {
	if kind, ok := exportKinds[reseedExport]; !ok || kind != wasmbin.KindFunc {
		return nil, nil, false
	}
	if _, ok := exportKinds["_initialize"]; !ok {
		return nil, nil, false
	}
	out, globals, err := wasmbin.ExportGlobals(code, globalExportPrefix)
	return out, globals, err == nil
}

// takeSnapshot starts a template instance of m, records its memory and
// globals, checks that the reseed export works, and from then on has m's
// instances start from the snapshot. m.image (the memory before the start
// function) is replaced by the snapshot's memory.
func (m *Module) takeSnapshot(ctx context.Context, globals []wasmbin.Global) error {
	def, ok := m.compiled.ExportedFunctions()[reseedExport]
	if !ok || len(def.ParamTypes()) != 0 || !slices.Equal(def.ResultTypes(), []api.ValueType{api.ValueTypeI32}) {
		return fmt.Errorf("%s is not a function () -> i32", reseedExport)
	}
	sctx, cancel := m.rt.setupContext(ctx)
	defer cancel()
	in, err := newInstance(sctx, m)
	if err != nil {
		return err
	}
	defer in.release()
	s := &snapshot{}
	if s.fdFlags, err = in.hostState(); err != nil {
		return err
	}
	for _, g := range globals {
		eg := in.mod.ExportedGlobal(g.Export)
		if eg == nil {
			return fmt.Errorf("global %s not exported", g.Export)
		}
		s.globals = append(s.globals, snapGlobal{g.Export, eg.Get()})
	}
	mem := in.mod.Memory()
	if mem == nil {
		return errors.New("no memory")
	}
	buf, _ := mem.Read(0, mem.Size())
	image, err := newMemImage(buf)
	if err != nil {
		return err
	}
	s.pages = mem.Size() >> 16
	if err := in.reseed(sctx); err != nil {
		image.close()
		return err
	}
	m.image.close()
	m.image, m.snap = image, s
	return nil
}

// hostState returns the flags of the descriptors every instance starts
// with (stdio, v1's /conf, the services directory), and fails if the start
// function left other host state that a clone would not have: a descriptor
// opened or closed, or a behaviour counted.
func (in *instance) hostState() ([]uint16, error) {
	fresh := 3
	if in.conf != nil {
		fresh++
	}
	if in.m.services {
		fresh++
	}
	flags := make([]uint16, fresh)
	for fd := range int32(in.m.rt.cfg.maxFDs) {
		fl, e := in.wasi.Flags(fd)
		switch {
		case e == wasip1.ESUCCESS && int(fd) >= fresh:
			return nil, fmt.Errorf("the start function left fd %d open", fd)
		case e != wasip1.ESUCCESS && int(fd) < fresh:
			return nil, fmt.Errorf("the start function closed fd %d", fd)
		case e == wasip1.ESUCCESS:
			flags[fd] = fl
		}
	}
	if in.behaviour() != (Behaviour{}) || in.wasi.PollsWrite() {
		return nil, errors.New("the start function did what Behaviour counts")
	}
	return flags, nil
}

// restore makes a new instance of a snapshotted module what the template
// was after its start function, then reseeds it. Its memory already maps
// the snapshot's image (m.image); it grows to the snapshot's size.
func (in *instance) restore(ctx context.Context) error {
	s := in.m.snap
	mem := in.mod.Memory()
	if cur := mem.Size() >> 16; cur < s.pages {
		if _, ok := mem.Grow(s.pages - cur); !ok {
			return fmt.Errorf("watm: snapshot: cannot grow memory to %d pages", s.pages)
		}
	}
	for _, g := range s.globals {
		in.mod.ExportedGlobal(g.export).(api.MutableGlobal).Set(g.value)
	}
	for fd, flags := range s.fdFlags {
		if flags != 0 {
			if e := in.wasi.SetFlags(int32(fd), flags); e != wasip1.ESUCCESS {
				return fmt.Errorf("watm: snapshot: fd %d flags: %w", fd, e)
			}
		}
	}
	if s.unseeded {
		return nil
	}
	return in.reseed(ctx)
}

// reseed calls the module's reseed export, bounded by ctx.
func (in *instance) reseed(ctx context.Context) error {
	return in.bounded(ctx, func() error {
		r, err := in.call(reseedExport)
		if err == nil && r != 0 {
			err = in.failed(reseedExport, r)
		}
		return err
	})
}
