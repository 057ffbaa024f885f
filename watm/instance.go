package watm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
	"github.com/water-pt/water-pt/watm/internal/spec"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// DialFunc connects to the destination the caller chose for a connection:
// what host_dial (v0) and water_dial_fixed (v1) reach.
type DialFunc func(ctx context.Context) (net.Conn, error)

// AcceptFunc returns the inbound connection for host_accept / water_accept.
type AcceptFunc func(ctx context.Context) (net.Conn, error)

// DialPolicy decides whether a v1 module may dial network/address itself
// through water_dial.
type DialPolicy func(network, address string) bool

// ConnConfig is what the host gives one connection's instance.
type ConnConfig struct {
	// Config reaches the module through pull_config (v0) or as the file
	// /conf/watm.cfg (v1). nil means no config.
	Config []byte
	// Dial serves host_dial / water_dial_fixed.
	Dial DialFunc
	// Accept serves host_accept / water_accept.
	Accept AcceptFunc
	// Destination is the address Dial reaches ("host:port"); v1's default
	// dial policy lets water_dial reach it and nothing else.
	Destination string
	// Policy, when set, replaces the default dial policy for water_dial;
	// an allowed address other than Destination is dialed with DialAddress.
	Policy DialPolicy
	// DialAddress dials what Policy allowed (default: net.Dialer).
	DialAddress func(ctx context.Context, network, address string) (net.Conn, error)
	// Logger receives this connection's module output and errors
	// (default: the runtime's logger).
	Logger *slog.Logger
}

// instance is one module instance serving one connection. Calls into it
// are sequential (init, role entry, cancel, worker); host functions find it
// in the context of the call. Its WASI state (fd table, stdio, interrupt,
// poll_oneoff, write queues, exit code) is wasi; the rest is WATER's.
type instance struct {
	m    *Module
	conn ConnConfig
	wasi *wasip1.Context
	// callMark counts the module's stderr lines when the current export
	// call began: a failed export's error quotes a line written since.
	callMark uint64
	ctx      context.Context
	cancel   context.CancelFunc
	mod      api.Module
	dials    int
	accepts  int
	dialErr  error
	// inited: init (_water_init / watm_init_v1) has run, without a config
	// (the pool runs it ahead for connections that have none).
	inited bool
	// renewed: a module instance that served an earlier connection,
	// restored to the snapshot (recycle.go).
	renewed bool
	// conf is v1's preopened /conf directory.
	conf *wasip1.DirFile
	// cancelIgnored: Close had to stop the instance by force.
	cancelIgnored atomic.Bool

	// watching is the session whose sockets the runtime's hang-up watch
	// follows, from Start on: sockets dialed or accepted later join it.
	watching *Session
}

// newInstance instantiates the module and runs its start function. The
// instance serves no connection yet: configure attaches one. A pool keeps a
// few of these ready, since this is most of a connection's set-up time.
//
// ctx bounds the start function (see bounded).
func newInstance(ctx context.Context, m *Module) (*instance, error) {
	in := newShell(m)
	mctx := experimental.WithMemoryAllocator(in.ctx, mmapAllocator{limit: uint64(m.rt.cfg.memoryPages) << 16, image: m.image})
	mod, err := m.wrt.InstantiateModule(mctx, m.compiled, m.rt.instanceConfig)
	if err != nil {
		in.release()
		return nil, fmt.Errorf("watm: instantiate: %w", err)
	}
	in.mod = mod
	if m.snap != nil {
		if err := in.restore(ctx); err != nil {
			in.release()
			return nil, err
		}
	} else if m.start != "" {
		err := in.bounded(ctx, func() error {
			if _, err := in.call(m.start); err != nil && !(m.start == "_start" && in.wasi.ExitCode() == 0) {
				return err
			}
			return nil
		})
		if err != nil {
			in.release()
			return nil, err
		}
		in.wasi.ResetExitCode()
	}
	return in, nil
}

// newShell returns the host's side of a new instance of m, with no module
// instance yet: its WASI state with the descriptors every instance starts
// with, and the context its calls run in.
func newShell(m *Module) *instance {
	in := &instance{m: m, wasi: wasip1.NewContext(m.rt.wasi, m.rt.cfg.logger)}
	if m.abi.version == 1 {
		// Go's wasip1 runtime looks for preopens while it starts, so /conf
		// is there from the start; configure fills it.
		in.conf = wasip1.NewDir(spec.ConfigDir, nil)
		_, _ = in.wasi.Insert(in.conf)
	}
	if m.services {
		_, _ = in.wasi.Insert(newServicesDir())
	}
	in.ctx, in.cancel = context.WithCancel(context.WithValue(context.Background(), instanceKey{}, in))
	return in
}

// configure attaches the connection the instance is to serve.
func (in *instance) configure(cc ConnConfig) {
	in.conn = cc
	if cc.Logger != nil {
		in.wasi.SetLogger(cc.Logger)
	}
	if in.conf != nil && cc.Config != nil {
		in.conf.SetFile(spec.ConfigFile, cc.Config)
	}
}

// init runs the module's init export.
func (in *instance) init() error {
	name := in.m.abi.init
	r, err := in.call(name)
	if err != nil {
		return err
	}
	if r != 0 {
		return in.failed(name, r)
	}
	in.inited = true
	return nil
}

// failed is the error of the export that just returned the failure r; it
// quotes the module's last stderr line if the call wrote one (the guest SDK
// writes its error's text there).
func (in *instance) failed(name string, r int32) error {
	if said := in.wasi.StderrSince(in.callMark); said != "" {
		return fmt.Errorf("watm: %s returned %s: module stderr: %s", name, resultString(r), said)
	}
	return fmt.Errorf("watm: %s returned %s", name, resultString(r))
}

// call invokes an export and returns its i32 result. Traps, host panics,
// proc_exit and forced stops come back as errors naming the export.
func (in *instance) call(name string, args ...uint64) (int32, error) {
	f := in.mod.ExportedFunction(name)
	if f == nil {
		return 0, fmt.Errorf("watm: %s not exported", name)
	}
	in.callMark = in.wasi.StderrMark()
	res, err := f.Call(in.ctx, args...)
	if err != nil {
		return 0, in.failure(name, err)
	}
	if len(res) == 0 {
		return 0, nil
	}
	return int32(uint32(res[0])), nil
}

// failure turns an error from a call into one that says which and why.
func (in *instance) failure(name string, err error) error {
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		switch code := in.wasi.ExitCode(); {
		case in.wasi.Stopping():
			return &StopError{Func: name}
		case code >= 0:
			return &ExitError{Func: name, Code: uint32(code)}
		}
		return fmt.Errorf("watm: %s: %w", name, err)
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return &TrapError{Func: name, Msg: msg, err: err}
}

// errSetupTimeout is the cause of a set-up context whose deadline passed.
var errSetupTimeout = errors.New("watm: set-up timeout")

// setupContext bounds one set-up by the runtime's set-up timeout.
func (r *Runtime) setupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, r.cfg.setup, errSetupTimeout)
}

// bounded runs fn, which calls into the instance, and stops the instance
// by force (waking a wait in poll_oneoff or a blocked read) if ctx ends
// first. An instance stopped that way is good only for release.
func (in *instance) bounded(ctx context.Context, fn func() error) error {
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		in.forceStop()
		close(fired)
	})
	err := fn()
	if stop() {
		return err
	}
	<-fired
	if context.Cause(ctx) == errSetupTimeout {
		te := &SetupTimeoutError{Timeout: in.m.rt.cfg.setup}
		if se, ok := errors.AsType[*StopError](err); ok {
			te.Func = se.Func
		}
		return te
	}
	if err == nil {
		err = fmt.Errorf("watm: set-up stopped: %w", context.Cause(ctx))
	}
	return err
}

// SetupTimeoutError reports a connection whose set-up in the module (start
// function, init, role entry) did not finish within the runtime's set-up
// timeout (WithSetupTimeout): the instance was stopped. errors.Is finds
// context.DeadlineExceeded in it.
type SetupTimeoutError struct {
	Timeout time.Duration
	Func    string // the export that was running, when known
}

func (e *SetupTimeoutError) Error() string {
	in := ""
	if e.Func != "" {
		in = " (in " + e.Func + ")"
	}
	return fmt.Sprintf("watm: module set-up did not finish within the set-up timeout of %v%s: instance stopped", e.Timeout, in)
}

func (e *SetupTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// ExitError reports a module that called proc_exit.
type ExitError struct {
	Func string
	Code uint32
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("watm: module called proc_exit(%d) during %s", e.Code, e.Func)
}

// TrapError reports a trap (unreachable, out-of-bounds access, stack
// overflow...) or a panic in a host function.
type TrapError struct {
	Func string
	Msg  string
	err  error
}

func (e *TrapError) Error() string { return fmt.Sprintf("watm: %s trapped: %s", e.Func, e.Msg) }
func (e *TrapError) Unwrap() error { return e.err }

// StopError reports an instance the host stopped by force because it did
// not end by itself within the grace period.
type StopError struct{ Func string }

func (e *StopError) Error() string {
	return "watm: " + e.Func + " stopped by force: the module did not stop after its cancel channel was written"
}

// PolicyError is a water_dial the dial policy refused.
type PolicyError struct {
	Network, Address string
	Custom           bool // a caller's policy, not the default
}

func (e *PolicyError) Error() string {
	if e.Custom {
		return "dial " + e.Network + " " + e.Address + " denied by the dial policy"
	}
	return "dial " + e.Network + " " + e.Address + " denied by the default dial policy: a module may dial only the host's destination"
}

// forceStop wakes a module blocked in the host and makes it exit at the
// next function call or loop iteration (wazero's close-on-context-done).
func (in *instance) forceStop() {
	in.wasi.Stop()
	in.cancel()
}

func (in *instance) dial(fn DialFunc) (int32, wasip1.Errno) {
	if in.conn.Dial == nil {
		in.wasi.Logger().Warn("watm: module called host_dial but this connection has no destination")
		return -1, wasip1.EPERM
	}
	if in.dials >= in.m.rt.cfg.maxDials {
		in.wasi.Logger().Warn("watm: module dialed too often", "limit", in.m.rt.cfg.maxDials)
		return -1, wasip1.ENOTCAPABLE
	}
	in.dials++
	c, err := fn(in.ctx)
	if err != nil {
		in.dialErr = err
		return -1, in.wasi.HostErrno(wasip1.ErrnoOf(err))
	}
	return in.insertConn(c)
}

func (in *instance) accept() (int32, wasip1.Errno) {
	if in.conn.Accept == nil {
		in.wasi.Logger().Warn("watm: module called host_accept but this connection has nothing to accept")
		return -1, wasip1.EPERM
	}
	if in.accepts >= in.m.rt.cfg.maxDials {
		in.wasi.Logger().Warn("watm: module accepted too often", "limit", in.m.rt.cfg.maxDials)
		return -1, wasip1.ENOTCAPABLE
	}
	in.accepts++
	c, err := in.conn.Accept(in.ctx)
	if err != nil {
		in.dialErr = err
		return -1, in.wasi.HostErrno(wasip1.ErrnoOf(err))
	}
	return in.insertConn(c)
}

// dialAddress serves v1's water_dial after the dial policy.
func (in *instance) dialAddress(network, address string) (int32, wasip1.Errno) {
	allowed := false
	if in.conn.Policy != nil {
		allowed = in.conn.Policy(network, address)
	} else {
		allowed = isTCP(network) && address != "" && address == in.conn.Destination
	}
	if !allowed {
		in.dialErr = &PolicyError{Network: network, Address: address, Custom: in.conn.Policy != nil}
		in.wasi.Logger().Warn("watm: dial denied by policy", "network", network, "address", address)
		return -1, wasip1.ENOTCAPABLE
	}
	if isTCP(network) && address == in.conn.Destination && in.conn.Dial != nil {
		return in.dial(in.conn.Dial)
	}
	dialAddr := in.conn.DialAddress
	if dialAddr == nil {
		var d net.Dialer
		dialAddr = d.DialContext
	}
	return in.dial(func(ctx context.Context) (net.Conn, error) { return dialAddr(ctx, network, address) })
}

// isTCP is the one test for Go's TCP networks (AllowTCP uses it too).
func isTCP(network string) bool { return network == "tcp" || network == "tcp4" || network == "tcp6" }

func (in *instance) insertConn(c net.Conn) (int32, wasip1.Errno) {
	f, err := wasip1.NewSockFile(c)
	if err != nil {
		c.Close()
		in.wasi.Logger().Warn("watm: cannot use connection", "err", err)
		return -1, wasip1.EIO
	}
	f.Peer = true
	fd, e := in.wasi.Insert(f)
	if e != wasip1.ESUCCESS {
		_ = f.Close()
		return -1, e
	}
	if in.watching != nil {
		in.m.rt.hangups.add(in.watching, f)
	}
	return fd, wasip1.ESUCCESS
}

// watchHangups takes the connection's sockets out of the Go netpoller and
// registers them with the runtime's hang-up watch: from now on the session
// ends when its peers leave.
func (in *instance) watchHangups(s *Session) {
	in.watching = s
	// The set-up is over: the host's own uses of the conns (the SOCKS
	// reply, the ExtORPort handshake) are done, and from now on only the
	// module uses them. See wasip1/ownedfd.go.
	in.wasi.OwnPeers()
	for _, f := range in.wasi.Peers() {
		in.m.rt.hangups.add(s, f)
	}
}

// release frees everything the instance holds. Only the owner calls it,
// once no call into the module is running.
func (in *instance) release() {
	in.wasi.Release()
	if in.mod != nil {
		_ = in.mod.Close(context.Background())
	}
	in.cancel()
}

// itoa is strconv.Itoa without the package (for Role and result strings).
func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
