//go:build wasip1

// Package core is what the ABI packages (v0, v1) share: the registered
// transport, the config, the fds of the one connection an instance
// carries, the role entries and the worker. The ABI packages only declare
// their export and import names (go:wasmexport and go:wasmimport need
// literal names) and map them onto an ABI value.
package core

import (
	"github.com/water-pt/water-pt/watm/guest/internal/args"
	"github.com/water-pt/water-pt/watm/guest/internal/pump"
	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

// MaxConfig bounds the config an ABI package reads.
const MaxConfig = 4 << 20

// Role is the part a module plays for one connection.
type Role int

// The roles, named as in WATER.
const (
	RoleDialer   Role = 1 + iota // wraps plaintext towards a destination the host dials
	RoleListener                 // unwraps a connection the host accepted
	RoleRelay                    // carries an accepted connection to a dialed one
)

func (r Role) String() string {
	switch r {
	case RoleDialer:
		return "dialer"
	case RoleListener:
		return "listener"
	case RoleRelay:
		return "relay"
	}
	return "no role"
}

// Conn is a connection-level transport, as package stream registers it.
type Conn struct {
	// Init checks the config; nil means the transport takes none.
	Init func(config []byte) error
	// Enter runs in the role entry, after the host gave the network fd:
	// the handshake. A non-success errno fails the entry.
	Enter func(role Role, network int32) wasi.Errno
	// Worker carries bytes between plain and the wrapped network side
	// until the connection ends or cancel turns readable.
	Worker func(plain, cancel int32) wasi.Errno
	// Ahead, when set, is work a host may have done before the
	// connection, with no config (the waterpt_ahead export): at most once,
	// or not at all, before Init.
	Ahead func() error
}

var (
	transport pump.Transport // a byte transform (Register)
	conn      *Conn          // or a connection-level transport (RegisterConn)
	config    []byte
	role      Role

	plainFD  = pump.NoFD
	netFD    = pump.NoFD
	cancelFD = pump.NoFD
	started  bool

	// buffers is the data loop's memory, in the module's initial memory.
	buffers pump.Buffers
)

// Register records a byte transform; a second registration or a nil t
// panics.
func Register(t pump.Transport) {
	if t == nil {
		panic("guest: Register(nil)")
	}
	registered()
	transport = t
}

// RegisterConn records a connection-level transport; a second
// registration panics.
func RegisterConn(c *Conn) {
	registered()
	conn = c
}

func registered() {
	if transport != nil || conn != nil {
		panic("guest: a transport is registered twice")
	}
}

// Config returns the host's config bytes, or nil.
func Config() []byte { return config }

// CurrentRole returns the role the host chose, once a role entry ran.
func CurrentRole() Role { return role }

// Init records the host's config (nil for none) and hands it to the
// transport's Init, if it has one; a transport without one refuses a
// non-empty config. It returns 0 or a negated errno, and writes a refusal's
// text to stderr for the host's log.
func Init(cfg []byte) int32 {
	config = cfg
	var initer func([]byte) error
	switch {
	case transport != nil:
		if i, ok := transport.(interface{ Init([]byte) error }); ok {
			initer = i.Init
		}
	case conn != nil:
		initer = conn.Init
	default:
		Fail("init", errNoTransport{})
		return wasi.ENOSYS.Result()
	}
	if initer == nil {
		if len(cfg) > 0 {
			Fail("init", args.ErrNone)
			return wasi.EINVAL.Result()
		}
		return 0
	}
	if err := initer(cfg); err != nil {
		Fail("init", err)
		return wasi.EINVAL.Result()
	}
	return 0
}

type errNoTransport struct{}

func (errNoTransport) Error() string {
	return "no transport registered: call guest.Register or stream.Register from an init function"
}

// Fail writes "watm: WHAT: ERR" as one line to stderr (fd 2), which the
// host logs and attaches to the failed call's error.
func Fail(what string, err error) {
	line := []byte("watm: " + what + ": " + err.Error())
	for i, c := range line {
		if c == '\n' {
			line[i] = ' '
		}
	}
	line = append(line, '\n')
	for len(line) > 0 {
		n, e := wasi.Write(2, line)
		if e != wasi.ESUCCESS || n <= 0 {
			return
		}
		line = line[n:]
	}
}

// SetCancel records the fd whose readability stops the worker.
func SetCancel(fd int32) int32 {
	if fd < 0 {
		return wasi.EBADF.Result()
	}
	cancelFD = fd
	return 0
}

// connect records the connection's fds and runs a connection-level
// transport's handshake: plain is the plaintext side (Wrap reads it), net
// the network side (Unwrap reads it).
func connect(r Role, plain, net int32) wasi.Errno {
	role = r
	plainFD, netFD = plain, net
	if conn != nil {
		return conn.Enter(r, net)
	}
	return wasi.ESUCCESS
}

// Worker runs the data loop once over the recorded fds, then closes the
// plaintext and network fds. It returns 0 when both directions ended,
// -ECANCELED when the cancel fd turned readable, a negated errno otherwise
// (-ENOTCONN before a role entry, -EALREADY on a second call).
func Worker() int32 {
	if plainFD < 0 || netFD < 0 {
		return wasi.ENOTCONN.Result()
	}
	if started {
		return wasi.EALREADY.Result()
	}
	started = true
	switch {
	case conn != nil:
		return conn.Worker(plainFD, cancelFD).Result()
	case transport == nil:
		return wasi.ENOSYS.Result()
	}
	e := pump.Run(pump.WASI(), transport, plainFD, netFD, cancelFD, &buffers)
	wasi.Close(plainFD)
	wasi.Close(netFD)
	return e.Result()
}
