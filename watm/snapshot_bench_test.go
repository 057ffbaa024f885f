package watm

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/watm/modules"
	"golang.org/x/sys/unix"
)

// BenchmarkInstance creates instances of the shipped plain module as the
// pool does (instantiate, start or restore from the snapshot, init) and
// releases them, started from the snapshot and as without one (the same
// bytes with the reseed export renamed, so not snapshotted). It reports
// the time per instance (created and released; wall and the process's CPU
// time, which a loaded machine distorts less) and what 100 instances
// held at once add to the process per instance: its proportional set size
// (pss-kB/inst) and anonymous RSS (anon-kB/inst; the pages written by the
// instance, private to it, besides the wazero state in the Go heap).
//
//	go test -run X -bench BenchmarkInstance -benchtime 200x -count 5 ./watm
func BenchmarkInstance(b *testing.B) {
	plain, _ := modules.Lookup("plain")
	renamed := bytes.ReplaceAll(plain, []byte(reseedExport), []byte("waterpt_noseed"))
	for _, c := range []struct {
		name string
		wasm []byte
		snap bool
	}{{"snapshot", plain, true}, {"start", renamed, false}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			r, err := NewRuntime(ctx, WithPoolSize(0))
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close(ctx)
			m, err := r.LoadTrusted(ctx, c.wasm)
			if err != nil {
				b.Fatal(err)
			}
			if m.Snapshotted() != c.snap {
				b.Fatalf("snapshotted %v, want %v", m.Snapshotted(), c.snap)
			}
			p := newPool(m, 1)
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for range b.N {
				in, err := p.newReady(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				in.release()
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-cpu0)/1e3/float64(b.N), "cpu-us/op")
			pss, anon := heldMemory(b, p, 100)
			b.ReportMetric(pss, "pss-kB/inst")
			b.ReportMetric(anon, "anon-kB/inst")
		})
	}
}

// BenchmarkRenew restores an instance of the shipped plain module that
// served as a connection would (its memory written) to the snapshot, as
// the pool does with one given back (recycle.go): restore, reseed, init,
// and the page faults those take.
// Compare with BenchmarkInstance/snapshot, a new clone.
//
//	go test -run X -bench 'BenchmarkInstance/snapshot|BenchmarkRenew' -benchtime 200x -count 5 ./watm
func BenchmarkRenew(b *testing.B) {
	ctx := context.Background()
	plain, _ := modules.Lookup("plain")
	r, err := NewRuntime(ctx, WithPoolSize(0))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(ctx)
	m, err := r.LoadTrusted(ctx, plain)
	if err != nil {
		b.Fatal(err)
	}
	p := newPool(m, 1)
	in, err := p.newReady(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var cpu int64
	for range b.N {
		// What a connection might write (outside the timings): a byte in
		// every 64 KiB of memory.
		b.StopTimer()
		mem := in.mod.Memory()
		all, _ := mem.Read(0, mem.Size())
		for i := 0; i < len(all); i += 64 << 10 {
			all[i] = 1
		}
		b.StartTimer()
		cpu0 := cpuTime(b)
		mod := in.mod
		in.mod = nil
		in.release()
		if in, err = p.newReady(ctx, mod); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime(b) - cpu0
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-us/op")
	in.release()
}

// heldMemory returns how much the process's PSS and anonymous RSS grow,
// per instance, while n instances from p are held.
func heldMemory(b *testing.B, p *pool, n int) (pss, anon float64) {
	measure := func() (int64, int64) {
		runtime.GC()
		debug.FreeOSMemory()
		pss, err := tortest.PssKB(os.Getpid())
		if err != nil {
			b.Fatal(err)
		}
		anon, err := tortest.StatusField(os.Getpid(), "RssAnon:")
		if err != nil {
			b.Fatal(err)
		}
		return pss, anon
	}
	pss0, anon0 := measure()
	held := make([]*instance, 0, n)
	defer func() {
		for _, in := range held {
			in.release()
		}
	}()
	for range n {
		in, err := p.newReady(context.Background(), nil)
		if err != nil {
			b.Fatal(err)
		}
		held = append(held, in)
	}
	pss1, anon1 := measure()
	return float64(pss1-pss0) / float64(n), float64(anon1-anon0) / float64(n)
}

// cpuTime is the process's user and system CPU time so far, in ns.
func cpuTime(b *testing.B) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
