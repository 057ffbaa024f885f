package ptserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/internal/accept"
	"github.com/water-pt/water-pt/internal/ptlog"
	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/catalog"
)

// MethodName is the transport water-pt provides for any module.
const MethodName = "water"

// Obfs4Method is the transport that runs the embedded obfs4 module,
// wire-compatible with obfs4proxy and lyrebird.
const Obfs4Method = "obfs4"

// Method is one configured server transport: what it listens on and what
// it advertises.
type Method struct {
	Bindaddr pt.Bindaddr
	Module   catalog.Resolved
	Config   []byte  // the server module's own config
	Args     pt.Args // the SMETHOD ARGS clients need
	ln       net.Listener
}

// Addr is where the method listens.
func (m *Method) Addr() net.Addr { return m.ln.Addr() }

// Server serves every configured method until its context ends.
type Server struct {
	Info    pt.ServerInfo
	Catalog *catalog.Catalog
	Logger  *slog.Logger
	// Dialer reaches the ExtORPort or ORPort (default: a net.Dialer without
	// TCP keep-alive).
	Dialer *net.Dialer
	// DialPolicy decides what a v1 module may dial with water_dial (nil:
	// nothing, as a server connection has no destination of its own).
	DialPolicy watm.DialPolicy
	// Transports are the methods served (nil: water only).
	Transports []catalog.Transport
	// StateDir keeps the obfs4 identity (Obfs4StateFile).
	StateDir string
	// IdleTimeout is how long an inbound connection may stay silent: no
	// module instance and no ExtORPort connection is taken for it until its
	// first byte arrives, and it is closed if none comes in time. 0 takes
	// them at once and waits for ever (for a module whose server speaks
	// first).
	IdleTimeout time.Duration
	// MaxConns caps the open inbound connections (0: no cap); past it a new
	// connection is closed at once.
	MaxConns int

	full    accept.Burst // connections refused at MaxConns, for the log
	silent  accept.Burst // connections closed at IdleTimeout, for the log
	methods []*Method
	spare   orSpare // an ExtORPort connection in reserve (orspare.go)
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
}

// MethodError is a bind address that could not be set up: it becomes an
// SMETHOD-ERROR line, and the other methods still start.
type MethodError struct {
	Name string
	Err  error
}

func (e *MethodError) Error() string { return e.Name + ": " + e.Err.Error() }

// Setup loads the module and listens for each bind address. It returns the
// methods that are ready and an error for each that is not.
func (s *Server) Setup(ctx context.Context) ([]*Method, []*MethodError) {
	s.conns = map[net.Conn]struct{}{}
	s.spare = orSpare{wg: &s.wg, start: func(ctx context.Context) (*extORHalf, error) {
		return startOR(ctx, s.dialer(), s.Info.ExtendedOrAddr.String(), s.Info.AuthCookiePath)
	}}
	var errs []*MethodError
	for _, b := range s.Info.Bindaddrs {
		m, err := s.setupMethod(ctx, b)
		if err != nil {
			errs = append(errs, &MethodError{Name: b.MethodName, Err: err})
			continue
		}
		s.methods = append(s.methods, m)
	}
	return s.methods, errs
}

func (s *Server) setupMethod(ctx context.Context, b pt.Bindaddr) (*Method, error) {
	t, spec, r, err := s.module(ctx, b)
	if err != nil {
		return nil, err
	}
	m := &Method{Bindaddr: b, Module: r}
	if m.Args, err = clientArgs(t, r, b.Options); err != nil {
		return nil, err
	}
	if r.Name == Obfs4Module && spec.Config == nil {
		if err := s.withObfs4Identity(&spec, m); err != nil {
			return nil, err
		}
	}
	m.Config = spec.ModuleConfig()
	if m.Config != nil {
		if err := checkConfig(ctx, r, m.Config); err != nil {
			return nil, err
		}
	}
	if m.ln, err = listen(b.Addr); err != nil {
		return nil, err
	}
	s.Logger.Info("serving", "method", b.MethodName, "addr", m.ln.Addr().String(),
		"module", r.Name, "source", r.Source, "sha256", r.Module.SHA256(), "abi", r.Module.Version(),
		"trusted", r.Module.Trusted(), ptlog.NotifyTor, true)
	return m, nil
}

// module finds the bind address's transport, reads its options and loads
// and checks the module.
func (s *Server) module(ctx context.Context, b pt.Bindaddr) (catalog.Transport, catalog.Spec, catalog.Resolved, error) {
	var r catalog.Resolved
	t, err := s.transport(b.MethodName)
	if err != nil {
		return t, catalog.Spec{}, r, err
	}
	spec, err := t.Spec(b.Options)
	if err != nil {
		return t, spec, r, fmt.Errorf("ServerTransportOptions: %w", err)
	}
	if r, err = s.Catalog.Load(ctx, spec); err != nil {
		return t, spec, r, err
	}
	if !r.Module.Can(watm.RoleListener) {
		return t, spec, r, fmt.Errorf("module %q cannot serve: it does not export the listener entry point", r.Name)
	}
	if err := s.Catalog.CheckArgs(t, true, r, spec.Args); err != nil {
		return t, spec, r, fmt.Errorf("ServerTransportOptions: %w", err)
	}
	return t, spec, r, nil
}

// clientArgs are the SMETHOD ARGS a client needs to reach the module:
// watm= and watm-sha256= (on a transport whose args choose the module),
// watm-config= from watm-client-config=.
func clientArgs(t catalog.Transport, r catalog.Resolved, opts pt.Args) (pt.Args, error) {
	args := pt.Args{}
	if t.Module == "" {
		args.Add(catalog.ArgModule, r.Name)
		args.Add(catalog.ArgSHA256, r.Module.SHA256())
	}
	if v, ok := opts.Get(catalog.ArgClientConfig); ok {
		cfg, err := catalog.DecodeConfig(v)
		if err != nil {
			return nil, fmt.Errorf("ServerTransportOptions: %s: %w", catalog.ArgClientConfig, err)
		}
		args.Add(catalog.ArgConfig, catalog.EncodeConfig(cfg))
	}
	return args, nil
}

// withObfs4Identity hands the obfs4 module its identity as arguments and
// advertises what clients need: cert= and iat-mode=.
func (s *Server) withObfs4Identity(spec *catalog.Spec, m *Method) error {
	id, err := obfs4Identity(s.StateDir, spec.Args)
	if err != nil {
		return err
	}
	if s.StateDir == "" {
		s.Logger.Warn("no state directory: this obfs4 identity (cert=) is new and lasts until exit; give a state directory to keep it",
			"method", m.Bindaddr.MethodName)
	}
	if spec.Args == nil {
		spec.Args = map[string]string{}
	}
	for k, v := range id.Args() {
		spec.Args[k] = v
	}
	m.Args.Add("cert", id.Cert())
	m.Args.Add(optIATMode, strconv.Itoa(id.IATMode))
	return nil
}

// checkConfig runs the module's init with the method's config once, so
// that a config it refuses (an unknown key, say) stops the method now.
func checkConfig(ctx context.Context, r catalog.Resolved, cfg []byte) error {
	if err := r.Module.CheckConfig(ctx, cfg); err != nil {
		return fmt.Errorf("ServerTransportOptions: module %q refused its config: %w", r.Name, err)
	}
	return nil
}

// transport finds the method a bind address names.
func (s *Server) transport(name string) (catalog.Transport, error) {
	ts := s.Transports
	if ts == nil {
		ts = []catalog.Transport{{Name: MethodName}}
	}
	return catalog.FindTransport(ts, name)
}

// listen binds addr; an unspecified address (0.0.0.0 or [::]) listens on
// both IPv4 and IPv6.
func listen(addr *net.TCPAddr) (net.Listener, error) {
	a := addr.String()
	if addr.IP.IsUnspecified() {
		a = ":" + strconv.Itoa(addr.Port)
	}
	ln, err := net.Listen("tcp", a)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", a, err)
	}
	return ln, nil
}

// AdvertisedAddr is the address for the SMETHOD line: the bind address
// with the port actually bound.
func (m *Method) AdvertisedAddr() *net.TCPAddr {
	port := m.ln.Addr().(*net.TCPAddr).Port
	return &net.TCPAddr{IP: m.Bindaddr.Addr.IP, Port: port}
}

// Serve accepts on every method until acceptCtx ends, then waits for the open connections to end. Ending connCtx stops
// the open connections (each module is asked to stop, then stopped).
func (s *Server) Serve(acceptCtx, connCtx context.Context) {
	for _, m := range s.methods {
		s.wg.Add(1)
		go s.routineAccept(acceptCtx, connCtx, m)
	}
	s.wg.Wait()
	s.spare.close()
}

func (s *Server) routineAccept(ctx, connCtx context.Context, m *Method) {
	defer s.wg.Done()
	// A transient error (out of descriptors) is retried: see package accept.
	_ = accept.Loop(ctx, m.ln, s.Logger, "method "+m.Bindaddr.MethodName, func(c net.Conn) {
		if !s.admit(c) {
			return
		}
		s.wg.Add(1)
		go s.routineConn(connCtx, m, c)
	})
}

func (s *Server) track(c net.Conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
}

// routineConn serves one inbound connection: ExtORPort first, then the
// module between the two.
func (s *Server) routineConn(ctx context.Context, m *Method, c net.Conn) {
	defer s.wg.Done()
	defer s.track(c, false)
	remote := c.RemoteAddr().String()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if !s.waitFirstByte(ctx, c) {
		c.Close()
		return
	}
	// The ExtORPort handshake (two round trips with tor, one with a spare;
	// see dialTor) runs while the module instance is taken or made: since
	// the first byte is in, both are on the connection's critical path.
	var orErr error
	dialOr := func(dctx context.Context) (net.Conn, error) {
		or, err := s.dialTor(ctx, dctx, remote, m.Bindaddr.MethodName)
		orErr = err
		return or, err
	}
	l := &watm.Listener{Module: m.Module.Module, Config: watm.ConnConfig{Config: m.Config, Logger: s.Logger, Policy: s.DialPolicy}}
	sess, err := l.AcceptDialing(ctx, c, dialOr)
	switch te, timedOut := errors.AsType[*watm.SetupTimeoutError](err); {
	case err == nil:
	case orErr != nil:
		s.Logger.Warn("cannot reach tor's ExtORPort/ORPort", "client", remote, "err", err)
		return
	case timedOut:
		s.Logger.Warn("module set-up timed out: instance stopped, connection closed; raise -watm-setup-timeout if the module needs longer",
			"timeout", te.Timeout, "func", te.Func, "err", err, ptlog.NotifyTor, true)
		fallthrough
	default:
		s.Logger.Warn("module rejected connection", "client", remote, "err", err)
		return
	}
	if err := sess.Run(); err != nil && !watm.IsNormalClose(err) {
		s.Logger.Info("connection ended with an error", "client", remote, "err", err)
		return
	} else if err != nil {
		s.Logger.Debug("connection ended", "client", remote, "module", err)
		return
	}
	s.Logger.Debug("connection ended", "client", remote)
}

// dialer reaches tor: Dialer, or by default a net.Dialer without TCP
// keep-alive (tor is on this machine, and setting it up is four system
// calls on the set-up path).
func (s *Server) dialer() *net.Dialer {
	if s.Dialer != nil {
		return s.Dialer
	}
	return &net.Dialer{KeepAlive: -1}
}

// dialTor connects to tor for one inbound connection with USERADDR addr
// and TRANSPORT method: through the spare ExtORPort connection when there
// is one (one round trip), else as dialOR within dctx. srvCtx, the
// server's connection context, bounds the next spare's dial.
func (s *Server) dialTor(srvCtx, dctx context.Context, addr, method string) (net.Conn, error) {
	if s.Info.ExtendedOrAddr != nil && s.Info.AuthCookiePath != "" {
		if h := s.spare.take(srvCtx); h != nil {
			if err := h.finish(addr, method); err == nil {
				return h.c, nil
			}
			h.c.Close() // tor let it go meanwhile: dial afresh
		}
	}
	return dialOR(dctx, s.dialer(), &s.Info, addr, method)
}
