//go:build wasip1

// Package core is what the ABI packages (v0, v1) share: the registered
// transport, the config, the fds of the one connection an instance
// carries, and the worker that runs the data loop over them. The ABI
// packages only map their export and import names onto it.
package core

import (
	"github.com/water-pt/water-pt/watm/guest/internal/pump"
	"github.com/water-pt/water-pt/watm/guest/internal/wasi"
)

// MaxConfig bounds the config an ABI package reads.
const MaxConfig = 4 << 20

var (
	transport pump.Transport
	config    []byte

	plainFD  = pump.NoFD
	netFD    = pump.NoFD
	cancelFD = pump.NoFD
	started  bool

	// buffers is the data loop's memory, in the module's initial memory.
	buffers pump.Buffers
)

// Register records t; a second call or a nil t panics.
func Register(t pump.Transport) {
	if t == nil {
		panic("guest: Register(nil)")
	}
	if transport != nil {
		panic("guest: Register called twice")
	}
	transport = t
}

// Config returns the host's config bytes, or nil.
func Config() []byte { return config }

// Init records the host's config (nil for none) and hands it to the
// transport's Init method, if it has one. It returns 0 or a negated errno.
func Init(cfg []byte) int32 {
	config = cfg
	if transport == nil {
		return wasi.ENOSYS.Result()
	}
	if i, ok := transport.(interface{ Init([]byte) error }); ok {
		if err := i.Init(cfg); err != nil {
			return wasi.EINVAL.Result()
		}
	}
	return 0
}

// SetCancel records the fd whose readability stops the worker.
func SetCancel(fd int32) int32 {
	if fd < 0 {
		return wasi.EBADF.Result()
	}
	cancelFD = fd
	return 0
}

// Connect records the connection's fds: plain is the plaintext side
// (Wrap reads it), net the network side (Unwrap reads it).
func Connect(plain, net int32) {
	plainFD, netFD = plain, net
}

// Worker runs the data loop once over the recorded fds, then closes the
// plaintext and network fds. It returns 0 when both directions ended,
// -ECANCELED when the cancel fd turned readable, a negated errno otherwise
// (-ENOTCONN before Connect, -EALREADY on a second call).
func Worker() int32 {
	if plainFD < 0 || netFD < 0 {
		return wasi.ENOTCONN.Result()
	}
	if started {
		return wasi.EALREADY.Result()
	}
	started = true
	if transport == nil {
		return wasi.ENOSYS.Result()
	}
	e := pump.Run(pump.WASI(), transport, plainFD, netFD, cancelFD, &buffers)
	wasi.Close(plainFD)
	wasi.Close(netFD)
	return e.Result()
}
