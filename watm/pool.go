package watm

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"
)

// DefaultPoolSize is how many started instances each module keeps ready.
// An instance of a Go module takes a few milliseconds to instantiate and
// start (its memory image is mapped, not copied: see dataimage.go; most of
// the time is the Go runtime initialising in the start function);
// taking one from the pool makes that cost invisible to a connection. Each
// idle instance holds about a megabyte of memory for a Go module.
const DefaultPoolSize = 4

// WithPoolSize sets how many ready instances each module keeps (0: none).
func WithPoolSize(n int) Option { return func(c *config) { c.poolSize = n } }

// pool holds instances that are instantiated and started but serve no
// connection yet. routineRefill, owned by the Runtime, keeps it full, off
// the connections' path: a refill starts when a connection's set-up ends,
// not when it takes an instance, and only one instance is made while other
// set-ups are under way (RATIONALE.md, "Why compile once, map an image, and
// keep a pool?").
type pool struct {
	m     *Module
	ready chan *instance
	want  chan struct{}
	tid   atomic.Int32 // the refill thread, while it runs at idle priority
	// setups counts the module's connections being set up (between
	// beginSetup and endSetup).
	setups atomic.Int32
	// preinit: run init ahead too, for connections without a config (the
	// common case: a bridge line with no watm-config). Turned off for good
	// when a connection with a config arrives, or when init fails ahead.
	preinit atomic.Bool
	// ahead: call the module's aheadExport in each instance made ready
	// (ahead.go). Turned off for good when it fails.
	ahead atomic.Bool

	// returned holds module instances given back by finished connections,
	// for the refill to restore (recycle.go); closed: the refill has
	// stopped, so giveBack closes them itself.
	returned chan api.Module
	mu       sync.Mutex
	closed   bool
	// renewed counts instances restored; reused counts those a
	// connection took.
	renewed, reused atomic.Uint64
}

func newPool(m *Module, size int) *pool {
	if size <= 0 {
		return nil
	}
	p := &pool{m: m, ready: make(chan *instance, size), want: make(chan struct{}, 1), returned: make(chan api.Module, size)}
	p.preinit.Store(true)
	p.ahead.Store(m.hasExport(aheadExport))
	return p
}

// get returns a ready instance, or nil when the pool is empty (or off).
// The refill waits for the caller's endSetup.
func (p *pool) get() *instance {
	if p == nil {
		return nil
	}
	select {
	case in := <-p.ready:
		if in.renewed {
			p.reused.Add(1)
		}
		return in
	default:
		return nil
	}
}

// takeBack queues mod, given back by a finished connection, for the refill
// to restore; false when the pool has stopped or has no room.
func (p *pool) takeBack(mod api.Module) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	select {
	case p.returned <- mod:
		return true
	default:
		return false
	}
}

// getFor is get for a connection with cc. An instance initialised ahead
// (without a config) cannot serve a connection with a config: then the
// pool stops initialising ahead, and every such instance it holds is
// dropped now, so that this connection takes one started without init if
// the pool has one, and the next ones do not each meet a stale instance
// and start one of their own while the client waits.
func (p *pool) getFor(cc ConnConfig) *instance {
	in := p.get()
	for in != nil && in.inited && cc.Config != nil {
		p.preinit.Store(false)
		in.release()
		in = p.get()
	}
	return in
}

// beginSetup marks a connection's set-up under way; endSetup, when it
// ends (either way), asks for a refill. Both do nothing on a nil pool.
func (p *pool) beginSetup() {
	if p != nil {
		p.setups.Add(1)
	}
}

func (p *pool) endSetup() {
	if p != nil {
		p.setups.Add(-1)
		p.signal()
	}
}

func (p *pool) signal() {
	select {
	case p.want <- struct{}{}:
	default:
	}
}

// routineRefill fills the pool until ctx ends, then releases what it holds.
//
// It runs on its own OS thread at idle priority (SCHED_IDLE): starting an
// instance is a millisecond or two of CPU that must not compete with the
// connections being served, on a small machine least of all. The thread is
// never unlocked, so it exits with the goroutine and no other goroutine
// inherits its priority. While the kernel keeps that thread waiting inside
// WebAssembly code (which Go cannot preempt) it holds one Go P; the
// managed proxy gives Go one P more than it has CPUs for that reason.
func (p *pool) routineRefill(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	runtime.LockOSThread()
	if unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0) == nil {
		p.tid.Store(int32(unix.Gettid()))
	}
	defer p.drain()
	for {
		for len(p.ready) < cap(p.ready) && ctx.Err() == nil {
			in, err := p.newReady(ctx, p.nextReturned())
			if err != nil {
				if ctx.Err() == nil {
					p.m.rt.cfg.logger.Error("watm: pool cannot start an instance", "err", err)
				}
				break
			}
			select {
			case p.ready <- in:
			case <-ctx.Done():
				in.release()
			}
			if p.setups.Load() > 0 {
				break // one per set-up that ends while others are under way
			}
		}
		select {
		case <-p.want:
			if !p.settle(ctx) {
				return
			}
		case mod := <-p.returned:
			p.keepReturned(ctx, mod)
		case <-ctx.Done():
			return
		case <-time.After(time.Minute): // retry after a failure
		}
	}
}

// nextReturned takes a given-back module instance to restore, if one waits
// (nil if none): restoring one costs far less than starting a new one.
func (p *pool) nextReturned() api.Module {
	select {
	case mod := <-p.returned:
		return mod
	default:
		return nil
	}
}

// renewNow restores a given-back instance for a connection that found the
// pool empty (the refill runs at idle priority, so on a busy machine it
// falls behind): nil when none waits or restoring fails.
func (p *pool) renewNow(sctx context.Context) *instance {
	if p == nil {
		return nil
	}
	mod := p.nextReturned()
	if mod == nil {
		return nil
	}
	in, err := renewInstance(sctx, p.m, mod)
	if err != nil {
		p.m.rt.cfg.logger.Error("watm: cannot restore an instance", "err", err)
		return nil
	}
	in.renewed = true
	p.renewed.Add(1)
	p.reused.Add(1)
	return in
}

// keepReturned restores mod into the pool when it has room, and closes it
// when it has none.
func (p *pool) keepReturned(ctx context.Context, mod api.Module) {
	if len(p.ready) == cap(p.ready) {
		_ = mod.Close(context.Background())
		return
	}
	in, err := p.newReady(ctx, mod)
	if err != nil {
		if ctx.Err() == nil {
			p.m.rt.cfg.logger.Error("watm: pool cannot restore an instance", "err", err)
		}
		return
	}
	select {
	case p.ready <- in:
	default:
		in.release()
	}
}

// refillSettle is how long a refill waits after a set-up ends when the
// pool lacks only one instance: the connection's first bytes are still
// crossing both processes then (measured: a refill 5 ms later cut the
// set-up 20 ms apart from 2.40 to 2.05 ms).
const refillSettle = 5 * time.Millisecond

// settle waits refillSettle when the pool lacks only one instance (a
// connection now and then). When it lacks more, connections come faster
// than that and the next one would make its own instance: no wait. It
// reports false when ctx ended.
func (p *pool) settle(ctx context.Context) bool {
	if len(p.ready) >= cap(p.ready)-1 {
		select {
		case <-time.After(refillSettle):
		case <-ctx.Done():
		}
	}
	return ctx.Err() == nil
}

// unidle puts the refill thread back to normal priority, so that stopping
// (and a process exit, which waits for every thread) is not left waiting
// for a thread the kernel runs only when a CPU is idle.
func (p *pool) unidle() {
	if tid := p.tid.Swap(0); tid != 0 {
		_ = unix.SchedSetAttr(int(tid), &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}, 0)
	}
}

// newReady starts an instance (or restores mod, a given-back one, when
// not nil), runs the module's aheadExport in it when the module has one,
// and, while preinit holds, its init with no config. Each call is bounded
// by the set-up timeout, and stopped when ctx ends. When the ahead call or
// init fails, it is turned off for good and a new instance is made without
// it.
func (p *pool) newReady(ctx context.Context, mod api.Module) (*instance, error) {
	sctx, cancel := p.m.rt.setupContext(ctx)
	defer cancel()
	var (
		in  *instance
		err error
	)
	if mod != nil {
		in, err = renewInstance(sctx, p.m, mod)
	} else {
		in, err = newInstance(sctx, p.m)
	}
	if err != nil {
		return nil, err
	}
	in.renewed = mod != nil
	if p.ahead.Load() {
		if err := in.bounded(sctx, in.ahead); err != nil {
			p.ahead.Store(false)
			return p.again(ctx, in, err, "watm: the module's "+aheadExport+" failed; instances are made without it")
		}
	}
	if p.preinit.Load() {
		in.configure(ConnConfig{})
		if err := in.bounded(sctx, in.init); err != nil {
			// A module whose init needs more than a config-less start (or
			// that fails or hangs without a config): initialise per
			// connection. Only a timeout is worth a warning.
			p.preinit.Store(false)
			msg := ""
			if _, ok := errors.AsType[*SetupTimeoutError](err); ok {
				msg = "watm: module init ahead of a connection timed out; it will run per connection"
			}
			return p.again(ctx, in, err, msg)
		}
	}
	if in.renewed {
		p.renewed.Add(1)
	}
	return in, nil
}

// again releases in, whose call ahead failed with err (and is now turned
// off), logs warn if not empty, and makes a new ready instance; err when
// ctx ended.
func (p *pool) again(ctx context.Context, in *instance, err error, warn string) (*instance, error) {
	in.release()
	if ctx.Err() != nil {
		return nil, err
	}
	if warn != "" {
		p.m.rt.cfg.logger.Warn(warn, "err", err)
	}
	return p.newReady(ctx, nil)
}

func (p *pool) drain() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case in := <-p.ready:
			in.release()
		case mod := <-p.returned:
			_ = mod.Close(context.Background())
		default:
			return
		}
	}
}
