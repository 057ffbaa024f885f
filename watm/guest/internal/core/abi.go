//go:build wasip1

package core

import "github.com/water-pt/water-pt/watm/guest/internal/wasi"

// ABI is one WATER version as its package declares it: the host functions
// that hand over connections and the config. The exports of both versions
// call the same methods.
type ABI struct {
	Dial   func() int32 // host_dial (v0), water_dial_fixed (v1)
	Accept func() int32 // host_accept (v0), water_accept (v1)
	// Config reads the host's config: nil for none.
	Config func() ([]byte, wasi.Errno)
}

// Init is the init export: read the config, hand it to the transport.
func (a *ABI) Init() int32 {
	cfg, e := a.Config()
	if e != wasi.ESUCCESS {
		Fail("init: reading the config", e)
		return e.Result()
	}
	return Init(cfg)
}

// DialEntry is the dialer's entry: the host dials, the transport wraps.
// It returns the network fd.
func (a *ABI) DialEntry(callerFD int32) int32 { return enter(RoleDialer, callerFD, a.Dial) }

// AcceptEntry is the listener's entry: the host accepts, the transport
// unwraps. It returns the network fd.
func (a *ABI) AcceptEntry(callerFD int32) int32 { return enter(RoleListener, callerFD, a.Accept) }

// AssociateEntry is the relay's entry: the accepted connection is the
// plaintext side, the dialed one the network side.
func (a *ABI) AssociateEntry() int32 {
	src := a.Accept()
	if src < 0 {
		return src
	}
	dst := a.Dial()
	if dst < 0 {
		wasi.Close(src)
		return dst
	}
	if e := connect(RoleRelay, src, dst); e != wasi.ESUCCESS {
		return e.Result()
	}
	return 0
}

func enter(r Role, callerFD int32, get func() int32) int32 {
	if callerFD < 0 {
		return wasi.EBADF.Result()
	}
	fd := get()
	if fd < 0 {
		return fd
	}
	if e := connect(r, callerFD, fd); e != wasi.ESUCCESS {
		return e.Result()
	}
	return fd
}

// ConfigFD reads the config from the fd pull_config (v0) returned: a
// negative fd or EBADF mean no config.
func ConfigFD(fd int32) ([]byte, wasi.Errno) {
	if fd < 0 {
		return nil, wasi.ESUCCESS
	}
	b, e := wasi.ReadAll(fd, MaxConfig)
	wasi.Close(fd)
	switch e {
	case wasi.ESUCCESS:
		return b, e
	case wasi.EBADF:
		return nil, wasi.ESUCCESS
	}
	return nil, e
}

// ConfigFile reads the config from file in the preopened directory dir
// (v1: /conf/watm.cfg); no such preopen or file means no config.
func ConfigFile(dir, file string) ([]byte, wasi.Errno) {
	dirFD, e := wasi.FindPreopen(dir)
	if e != wasi.ESUCCESS {
		return nil, wasi.ESUCCESS
	}
	fd, e := wasi.OpenRead(dirFD, file)
	switch e {
	case wasi.ESUCCESS:
	case wasi.ENOENT:
		return nil, wasi.ESUCCESS
	default:
		return nil, e
	}
	defer wasi.Close(fd)
	return wasi.ReadAll(fd, MaxConfig)
}
