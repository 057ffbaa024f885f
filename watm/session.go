package watm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// forceWait bounds how long Close waits after a forced stop. A module
// stopped by force exits at its next function call or loop iteration, so
// this is only ever reached if the host itself is wedged.
const forceWait = 2 * time.Second

// Session is one connection served by one module instance. Prepare makes
// it ready (instance, init, role entry, cancel channel); Start runs the
// worker on a goroutine the session owns; Wait returns the worker's result;
// Close ends it, gracefully first. Every socket the instance holds, the
// caller's plaintext conn and the dialed or accepted conns included, is
// closed when the session ends.
type Session struct {
	in        *instance
	cancel    *cancelFile // the cancel channel, nil until set-up made it
	stopAfter func() bool
	done      chan struct{}
	// moved counts reads and writes that moved bytes on the connection's
	// watched sockets: the hang-up watch's sign that the module is working.
	moved atomic.Uint64

	mu      sync.Mutex // guards the fields below
	started bool
	ended   bool
	err     error

	closeOnce sync.Once
	closeErr  error
	hangingUp atomic.Bool // the hang-up watch has started to end it
}

// Prepare runs a connection's set-up on a fresh instance: the start
// function, init, the role's entry and the cancel channel. plaintext is the
// caller's side of the connection (nil for a relay). On success the session
// owns plaintext; on failure plaintext is left open for the caller (unless
// it had no OS descriptor and had to be bridged) and the error says what
// failed; errors.As finds the host's dial error when host_dial failed.
//
// The worker does not run until Start: a caller can first answer its own
// protocol (a SOCKS reply) on plaintext.
//
// Set-up runs under the runtime's set-up timeout and ctx: if either ends
// first the instance is stopped and the error is a *SetupTimeoutError (or
// says why it was stopped). From Start on, the session also ends when its
// connection does (see the package documentation).
func (m *Module) Prepare(ctx context.Context, role Role, plaintext net.Conn, cc ConnConfig) (*Session, error) {
	if err := m.need(role); err != nil {
		return nil, err
	}
	var plain *wasip1.SockFile
	if plaintext != nil {
		f, err := wasip1.NewSockFile(plaintext)
		if err != nil {
			return nil, err
		}
		plain = f
	}
	s, err := m.prepare(ctx, role, plain, cc)
	if err != nil && plain != nil {
		plain.Detach()
	}
	return s, err
}

func (m *Module) prepare(ctx context.Context, role Role, plain *wasip1.SockFile, cc ConnConfig) (*Session, error) {
	m.pool.beginSetup()
	defer m.pool.endSetup()
	sctx, cancel := m.rt.setupContext(ctx)
	defer cancel()
	in, err := m.acquire(sctx, cc)
	if err != nil {
		return nil, err
	}
	return m.enter(ctx, sctx, in, role, plain)
}

// acquire takes an instance from the pool, or restores one given back and
// not yet restored, or makes one when there is neither, configured for cc.
func (m *Module) acquire(sctx context.Context, cc ConnConfig) (*instance, error) {
	if in := m.ready(cc); in != nil {
		return in, nil
	}
	in := m.pool.renewNow(sctx)
	if in == nil {
		var err error
		if in, err = newInstance(sctx, m); err != nil {
			return nil, err
		}
	}
	in.configure(cc)
	return in, nil
}

// ready takes an instance the pool has ready, configured for cc; nil when
// it has none.
func (m *Module) ready(cc ConnConfig) *instance {
	in := m.pool.getFor(cc)
	if in != nil {
		in.configure(cc)
	}
	return in
}

// enter runs the set-up of a session on in (see Prepare); on failure in is
// released.
func (m *Module) enter(ctx, sctx context.Context, in *instance, role Role, plain *wasip1.SockFile) (*Session, error) {
	s := &Session{in: in, done: make(chan struct{})}
	if err := m.rt.track(s); err != nil {
		s.discard(plain)
		return nil, err
	}
	if err := in.bounded(sctx, func() error { return s.setup(role, plain) }); err != nil {
		s.discard(plain)
		m.rt.untrack(s)
		return nil, err
	}
	s.stopAfter = context.AfterFunc(ctx, func() { _ = s.Close() })
	return s, nil
}

// setup calls init, the role's entry and the cancel-channel export.
func (s *Session) setup(role Role, plain *wasip1.SockFile) error {
	if !s.in.inited {
		if err := s.in.init(); err != nil {
			return err
		}
	}
	if err := s.enterRole(role, plain); err != nil {
		return err
	}
	return s.openCancel()
}

// discard releases a session whose set-up failed, leaving the caller's
// plaintext conn open.
func (s *Session) discard(plain *wasip1.SockFile) {
	if plain != nil {
		s.in.wasi.RemoveFile(plain)
	}
	s.in.release()
}

// enterRole calls _water_dial / _water_accept with the plaintext fd, or
// _water_associate.
func (s *Session) enterRole(role Role, plain *wasip1.SockFile) error {
	in, a := s.in, s.in.m.abi
	var args []uint64
	if role != RoleRelay {
		if plain == nil {
			return errors.New("watm: " + role.String() + " needs a plaintext conn")
		}
		plain.Peer = true
		fd, e := in.wasi.Insert(plain)
		if e != wasip1.ESUCCESS {
			return fmt.Errorf("watm: plaintext fd: %w", e)
		}
		args = []uint64{uint64(fd)}
	}
	entry := a.entry(role)
	if role == RoleDialer && a.dialOwn != "" && !in.m.hasExport(entry) {
		// v1 as upstream runs it: watm_dial_v1 when the host knows the
		// destination (the module calls water_dial_fixed), and
		// watm_dial_fixed_v1 only for a module without it, whose water_dial
		// the dial policy checks.
		entry = a.dialOwn
	}
	r, err := in.call(entry, args...)
	if err != nil {
		return err
	}
	if r < 0 {
		if in.dialErr != nil {
			return &DialError{Func: entry, Err: in.dialErr}
		}
		return in.failed(entry, r)
	}
	return nil
}

// DialError is a failed host_dial or host_accept: Err is the host's own
// error (a *net.OpError for a refused connection, say).
type DialError struct {
	Func string
	Err  error
}

func (e *DialError) Error() string { return "watm: " + e.Func + ": " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// openCancel creates the cancel channel (v0 _water_cancel_with, v1
// watm_ctrlpipe_v1): a descriptor that becomes readable when the host asks
// the module to stop (cancelFile; no kernel object).
func (s *Session) openCancel() error {
	f := newCancelFile(s.in.wasi, s.in.m.abi.cancelByte)
	fd, e := s.in.wasi.Insert(f)
	if e != wasip1.ESUCCESS {
		return fmt.Errorf("watm: cancel fd: %w", e)
	}
	s.cancel = f
	a := s.in.m.abi
	r, err := s.in.call(a.cancelWith, uint64(fd))
	if err != nil {
		return err
	}
	if r != 0 {
		return fmt.Errorf("watm: %s returned %s", a.cancelWith, resultString(r))
	}
	return nil
}

func resultString(r int32) string {
	if r < 0 && r > -1<<16 {
		return wasip1.Errno(-r).Error()
	}
	return "result " + itoa(int(r))
}

// Start runs the worker on a goroutine of its own. It returns at once;
// Wait or Done tell the end.
func (s *Session) Start() {
	if s.begin() {
		go s.routineWorker()
	}
}

// Run runs the worker on the calling goroutine and returns Wait's result
// when the session has ended: Start and Wait in one, without a goroutine
// per connection (nor the growth of its stack, which the caller's has
// usually done already in the set-up's calls into the module). A session
// already started or ended only waits.
func (s *Session) Run() error {
	if s.begin() {
		s.runWorker()
	}
	return s.Wait()
}

// begin marks the session started and watches its sockets; false if it
// had started or ended already.
func (s *Session) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.ended {
		return false
	}
	s.started = true
	s.in.watchHangups(s)
	return true
}

func (s *Session) routineWorker() { s.runWorker() }

// runWorker runs _water_worker / watm_start_v1 for the life of the
// connection, then releases the instance.
func (s *Session) runWorker() {
	name := s.in.m.abi.worker
	r, err := s.in.call(name)
	returned := err == nil
	if err == nil && r != 0 {
		err = &WorkerError{Func: name, Result: r}
	}
	s.end(err, returned)
}

// WorkerError is a worker (_water_worker / watm_start_v1) that returned
// something other than 0: a negative errno, usually.
type WorkerError struct {
	Func   string
	Result int32
}

func (e *WorkerError) Error() string {
	return "watm: " + e.Func + " returned " + resultString(e.Result)
}

// Unwrap lets errors.Is find the Errno of a negative result.
func (e *WorkerError) Unwrap() error {
	if e.Result < 0 && e.Result > -1<<16 {
		return wasip1.Errno(-e.Result)
	}
	return nil
}

// IsNormalClose reports whether err, from Session.Wait, is a normal end of
// the connection all the same: a worker that returned EPIPE or ECONNRESET,
// which is what modules built with the older WATER SDKs return when their
// peer closed. Callers log it as a close, not as an error.
func IsNormalClose(err error) bool {
	var we *WorkerError
	return errors.As(err, &we) && (we.Result == -int32(wasip1.EPIPE) || we.Result == -int32(wasip1.ECONNRESET))
}

// end records the result and releases everything, once. returned: the
// worker call came back by itself, so the instance may go back to its pool
// (see recycle.go) rather than be closed.
func (s *Session) end(err error, returned bool) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.err = err
	if returned && s.in.reusable() {
		s.in.giveBack()
	} else {
		s.in.release()
	}
	s.mu.Unlock()
	if s.stopAfter != nil {
		s.stopAfter()
	}
	s.in.m.rt.untrack(s)
	close(s.done)
}

// Done is closed when the session has ended and released its resources.
func (s *Session) Done() <-chan struct{} { return s.done }

// Wait blocks until the session ends and returns the worker's error: nil
// for a clean end or a stop the host asked for.
func (s *Session) Wait() error {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close asks the module to stop through its cancel channel, waits up to the
// runtime's grace period, then stops it by force. It never hangs: it
// returns within grace plus a bounded wait. The result is the worker's
// error (a StopError if it had to be stopped by force), nil for a clean end;
// a worker that answers the cancel channel with ECANCELED, as it should,
// ends cleanly.
func (s *Session) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.stop() })
	return s.closeErr
}

func (s *Session) stop() error {
	s.mu.Lock()
	if !s.started && !s.ended {
		s.mu.Unlock()
		s.end(nil, false)
		return nil
	}
	asked := !s.ended
	if asked {
		s.cancel.fire()
	}
	s.mu.Unlock()

	select {
	case <-s.done:
		if asked {
			s.clearCanceled()
		}
		return s.Wait()
	case <-time.After(s.in.m.rt.cfg.grace):
	}
	s.mu.Lock()
	forced := !s.ended
	if forced {
		s.in.cancelIgnored.Store(true)
		s.in.forceStop()
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		if asked && !forced {
			// It answered the cancel channel, but releasing it (draining
			// its write queues) outlasted the grace period.
			s.clearCanceled()
		}
		return s.Wait()
	case <-time.After(forceWait):
		s.in.wasi.Logger().Error("watm: instance did not stop after a forced stop", "func", s.in.m.abi.worker)
		return errors.New("watm: instance did not stop after a forced stop")
	}
}

// clearCanceled forgets the worker's complaint about being canceled
// (ECANCELED, what a module returns when its cancel channel fires): a stop
// the host asked for is a clean end. Any other error stays.
func (s *Session) clearCanceled() {
	s.mu.Lock()
	if errors.Is(s.err, wasip1.ECANCELED) {
		s.err = nil
	}
	s.mu.Unlock()
}

func (m *Module) hasExport(name string) bool {
	_, ok := m.compiled.ExportedFunctions()[name]
	return ok
}
