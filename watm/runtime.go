package watm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// Defaults for the limits a Runtime enforces on every instance.
const (
	// DefaultMemoryLimitPages is 64 MiB of linear memory (1024 pages of 64 KiB):
	// room for a Go module's heap with crypto state, small enough that a
	// thousand connections of a runaway module cannot exhaust the host.
	DefaultMemoryLimitPages = 1024
	// DefaultMaxFDs bounds the descriptors one instance may hold.
	DefaultMaxFDs = 32
	// DefaultMaxDials bounds host_dial (and, separately, host_accept) calls
	// per instance: a dialer needs one, a relay one of each.
	DefaultMaxDials = 2
	// DefaultGrace is how long Close waits for a module to honour its
	// cancel channel before stopping it by force.
	DefaultGrace = 500 * time.Millisecond
	// DefaultSetupTimeout bounds a connection's set-up in the module (start
	// function, init, role entry, cancel channel), host_dial included.
	DefaultSetupTimeout = 30 * time.Second
)

// Runtime compiles WATMs and runs their instances. It is safe for
// concurrent use; one Runtime serves a whole process.
type Runtime struct {
	rt      wazero.Runtime // modules that can be stopped anywhere (close on context done)
	trusted wazero.Runtime // modules trusted to reach host calls: no loop checks
	cache   wazero.CompilationCache
	cfg     config
	// instanceConfig is every instance's wazero configuration: no name (so
	// that any number can coexist), no automatic start functions
	// (newInstance calls them), and crypto/rand as the random source. Our
	// WASI layer serves random_get itself, and wazero's default source is a
	// deterministic math/rand generator costing 5 KB of heap per instance.
	instanceConfig wazero.ModuleConfig
	mu             sync.Mutex
	loaded         map[loadKey]*Module
	loading        map[loadKey]*loading
	live           map[*Session]struct{}
	seen           map[[32]byte]*seenSet // water_seen's sets, by module bytes
	closed         bool

	// wasi is what the instances' WASI contexts share: the clock, the
	// ready watch parked modules wait on, the write queues' blocks.
	wasi    *wasip1.Host
	hangups *hangupWatch   // ends sessions whose connection went away
	closers sync.WaitGroup // the Closes hangups starts

	poolCtx    context.Context // ends the pools' refill goroutines
	poolCancel context.CancelFunc
	pools      sync.WaitGroup

	// compile is compileAndValidate; a test puts a step in between.
	compile func(ctx context.Context, r *Runtime, wrt wazero.Runtime, wasm []byte, sum [32]byte) (*Module, error)
}

type config struct {
	cacheDir    string
	memoryPages uint32
	maxFDs      int
	maxDials    int
	grace       time.Duration
	setup       time.Duration
	poolSize    int
	logger      *slog.Logger
	// noHostCrypto: no /water preopen (WithoutHostCrypto).
	noHostCrypto bool
}

// Option configures a Runtime.
type Option func(*config)

// WithCompilationCacheDir keeps compiled machine code in dir so that a
// restarted process does not compile its modules again.
func WithCompilationCacheDir(dir string) Option { return func(c *config) { c.cacheDir = dir } }

// WithMemoryLimitPages caps each instance's linear memory, in 64 KiB pages.
func WithMemoryLimitPages(pages uint32) Option { return func(c *config) { c.memoryPages = pages } }

// WithMaxFDs caps the descriptors one instance may hold.
func WithMaxFDs(n int) Option { return func(c *config) { c.maxFDs = n } }

// WithMaxDials caps host_dial and host_accept calls per instance.
func WithMaxDials(n int) Option { return func(c *config) { c.maxDials = n } }

// WithGrace sets how long Close waits for a module to stop by itself.
func WithGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithSetupTimeout bounds each connection's set-up (start function, init,
// role entry): past it the instance is stopped by force and Prepare fails
// with a *SetupTimeoutError. Instances the pool starts ahead are bounded
// the same way.
func WithSetupTimeout(d time.Duration) Option { return func(c *config) { c.setup = d } }

// WithoutHostCrypto leaves out the host's crypto services (the preopened
// /water directory and its secretbox): modules then do their crypto in
// WebAssembly, as on a WATER host that has no such services. For tests of
// that fallback, and for an operator who wants no module to reach host
// code beyond WASI and the WATER imports.
func WithoutHostCrypto() Option { return func(c *config) { c.noHostCrypto = true } }

// WithLogger sets where the runtime logs, module stdout/stderr included.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// NewRuntime creates a runtime with the WASI and WATER host modules.
func NewRuntime(ctx context.Context, opts ...Option) (*Runtime, error) {
	cfg := config{
		memoryPages: DefaultMemoryLimitPages,
		maxFDs:      DefaultMaxFDs,
		maxDials:    DefaultMaxDials,
		grace:       DefaultGrace,
		setup:       DefaultSetupTimeout,
		poolSize:    DefaultPoolSize,
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.setup <= 0 {
		return nil, fmt.Errorf("watm: set-up timeout %v must be positive", cfg.setup)
	}
	if cfg.memoryPages == 0 || cfg.memoryPages > 65536 {
		return nil, fmt.Errorf("watm: memory limit %d pages out of range 1-65536", cfg.memoryPages)
	}
	rc := wazero.NewRuntimeConfig().WithMemoryLimitPages(cfg.memoryPages)
	r := &Runtime{cfg: cfg, loaded: map[loadKey]*Module{}, loading: map[loadKey]*loading{}, live: map[*Session]struct{}{}, seen: map[[32]byte]*seenSet{},
		instanceConfig: wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(rand.Reader),
		compile:        compileAndValidate}
	if cfg.cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("watm: compilation cache %s: %w", cfg.cacheDir, err)
		}
		r.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	// One compilation cache serves both: wazero's cache key includes the
	// loop-check setting.
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc.WithCloseOnContextDone(true))
	r.trusted = wazero.NewRuntimeWithConfig(ctx, rc.WithCloseOnContextDone(false))
	r.poolCtx, r.poolCancel = context.WithCancel(context.Background())
	for _, wrt := range []wazero.Runtime{r.rt, r.trusted} {
		if err := instantiateHostModules(ctx, wrt); err != nil {
			r.rt.Close(ctx)
			r.trusted.Close(ctx)
			return nil, err
		}
	}
	h, err := newHangupWatch(cfg.grace/2, r.endSession)
	if err != nil {
		r.rt.Close(ctx)
		r.trusted.Close(ctx)
		return nil, err
	}
	r.hangups = h
	if r.wasi, err = wasip1.NewHost(cfg.maxFDs, cfg.grace); err != nil {
		h.close()
		r.rt.Close(ctx)
		r.trusted.Close(ctx)
		return nil, err
	}
	return r, nil
}

// endSession closes s on a goroutine the runtime waits for: the hang-up
// watch calls it and must not wait for a grace period itself.
func (r *Runtime) endSession(s *Session, reason string) {
	if !s.hangingUp.CompareAndSwap(false, true) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return // Close stops every session itself
	}
	s.in.wasi.Logger().Info("watm: ending the session: " + reason)
	r.closers.Add(1)
	go func() {
		defer r.closers.Done()
		_ = s.Close()
	}()
}

// Load compiles and validates a module. The same bytes loaded twice give the
// same *Module: compilation happens once per process, and concurrent Loads
// of the same bytes wait for the one compilation in progress.
//
// The module's code checks at every loop iteration and call whether its
// instance is being stopped (wazero's close-on-context-done), so even a
// module spinning in a loop can be stopped. That costs an indirect call per
// loop iteration: byte loops in transforms run 2-10 times slower. For a
// module you trust not to loop forever without a host call, use LoadTrusted.
func (r *Runtime) Load(ctx context.Context, wasm []byte) (*Module, error) {
	return r.load(ctx, wasm, false)
}

// LoadTrusted is Load without the loop checks: the module runs at full
// speed, but an instance stuck in a loop that makes no host call cannot be
// stopped (Close gives up after a bounded wait and the loop holds a CPU
// until the process exits). water-pt uses it for its embedded modules.
func (r *Runtime) LoadTrusted(ctx context.Context, wasm []byte) (*Module, error) {
	return r.load(ctx, wasm, true)
}

// loadKey identifies a loaded module: its bytes and how it was compiled.
type loadKey struct {
	sum     [32]byte
	trusted bool
}

func (r *Runtime) load(ctx context.Context, wasm []byte, trusted bool) (*Module, error) {
	sum := sha256.Sum256(wasm)
	key := loadKey{sum, trusted}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errRuntimeClosed
	}
	if m := r.loaded[key]; m != nil {
		r.mu.Unlock()
		return m, nil
	}
	if l := r.loading[key]; l != nil {
		r.mu.Unlock()
		select {
		case <-l.done:
			return l.m, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l := &loading{done: make(chan struct{})}
	r.loading[key] = l
	r.mu.Unlock()

	// Not canceled with ctx: others may be waiting for this compilation,
	// and it ends by itself.
	wrt := r.rt
	if trusted {
		wrt = r.trusted
	}
	l.m, l.err = r.compile(context.WithoutCancel(ctx), r, wrt, wasm, sum)
	r.mu.Lock()
	delete(r.loading, key)
	if l.err == nil && r.closed {
		// Close ran during the compilation: it has already freed what it
		// knew of and waited for the pools, so nothing may start now.
		l.m.free(ctx)
		l.m, l.err = nil, errRuntimeClosed
	}
	if l.err == nil {
		r.loaded[key] = l.m
		if l.m.pool = newPool(l.m, r.cfg.poolSize); l.m.pool != nil {
			r.pools.Add(1)
			go l.m.pool.routineRefill(r.poolCtx, &r.pools)
		}
	}
	r.mu.Unlock()
	close(l.done)
	return l.m, l.err
}

// loading is a compilation in progress.
type loading struct {
	done chan struct{}
	m    *Module
	err  error
}

// track registers a live session so that Close can stop it.
func (r *Runtime) track(s *Session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errRuntimeClosed
	}
	r.live[s] = struct{}{}
	return nil
}

func (r *Runtime) untrack(s *Session) {
	r.mu.Lock()
	delete(r.live, s)
	r.mu.Unlock()
}

// Close stops every live session (each bounded by its grace period and a
// forced stop), then frees compiled code.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	sessions := make([]*Session, 0, len(r.live))
	for s := range r.live {
		sessions = append(sessions, s)
	}
	r.mu.Unlock()
	r.StopPools()
	r.pools.Wait()

	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Close()
		}()
	}
	wg.Wait()
	r.closers.Wait()
	r.hangups.close()
	r.wasi.Close()
	err := errors.Join(r.rt.Close(ctx), r.trusted.Close(ctx))
	for _, m := range r.loaded {
		m.image.close()
	}
	if r.cache != nil {
		_ = r.cache.Close(ctx)
	}
	return err
}

// StopPools stops refilling the modules' instance pools and puts the refill
// threads back to normal priority. Call it before the process exits: an exit
// waits for every thread, and an idle-priority thread on a busy machine may
// not run for seconds.
func (r *Runtime) StopPools() {
	r.mu.Lock()
	for _, m := range r.loaded {
		if m.pool != nil {
			m.pool.unidle()
		}
	}
	r.mu.Unlock()
	r.poolCancel()
}

var errRuntimeClosed = fmt.Errorf("watm: runtime closed")
