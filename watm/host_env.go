package watm

import (
	"context"
	"net"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// envFunctions is the WATER imports from module "env". host_dial,
// host_accept and pull_config (v0) and water_dial_fixed, water_accept and
// water_dial (v1) return a descriptor or a negative errno (ResultRaw). A
// module may import any subset; Load checks that it imports only these,
// with these types.
func envFunctions() []*wasip1.Func[*instance] {
	return []*wasip1.Func[*instance]{hostDial, hostAccept, pullConfig, hostDefer, waterDialFixed, waterAccept, waterDial, waterSeen}
}

// envFunc declares a WATER function that returns a descriptor, a count or
// a negative errno in its one i32 result (returnFD writes it).
func envFunc(name string, body func(*instance, api.Memory, []uint64) wasip1.Errno, params []api.ValueType, names ...string) *wasip1.Func[*instance] {
	return &wasip1.Func[*instance]{Name: name, Params: params, ParamNames: names, Results: wasip1.ResultRaw, Body: body}
}

// returnFD writes the result of a ResultRaw function: fd, or the negative
// errno e.
func returnFD(stack []uint64, fd int32, e wasip1.Errno) wasip1.Errno {
	if e != wasip1.ESUCCESS {
		fd = e.NegABI()
	}
	stack[0] = uint64(uint32(fd))
	return e
}

// host_dial() -> fd: connect to the destination the host chose for this
// connection (for a PT client, the bridge). The dial error, if any, is kept
// so the session can report it (a SOCKS reply code is chosen from it).
// Errnos (negative): EPERM (no destination), ENOTCAPABLE (too many dials),
// EMFILE, EIO, the dial's (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...).
var hostDial = envFunc("host_dial", hostDialFn, wasip1.Params())

func hostDialFn(in *instance, _ api.Memory, stack []uint64) wasip1.Errno {
	fd, e := in.dial(func(ctx context.Context) (net.Conn, error) { return in.conn.Dial(ctx) })
	return returnFD(stack, fd, e)
}

// host_accept() -> fd: the inbound connection the host accepted for this
// instance. Errnos (negative): EPERM (nothing to accept), ENOTCAPABLE (too
// many accepts), EMFILE, EIO, the accept's.
var hostAccept = envFunc("host_accept", hostAcceptFn, wasip1.Params())

func hostAcceptFn(in *instance, _ api.Memory, stack []uint64) wasip1.Errno {
	fd, e := in.accept()
	return returnFD(stack, fd, e)
}

// pull_config() -> fd: a read-only file with the config bytes, or -ENOENT
// when the host has none (a config-optional module proceeds).
// Errnos (negative): ENOENT, EMFILE.
var pullConfig = envFunc("pull_config", pullConfigFn, wasip1.Params())

func pullConfigFn(in *instance, _ api.Memory, stack []uint64) wasip1.Errno {
	if in.conn.Config == nil {
		return returnFD(stack, 0, wasip1.ENOENT)
	}
	fd, e := in.wasi.Insert(wasip1.NewMemFile(in.conn.Config))
	return returnFD(stack, fd, e)
}

// host_defer() is deprecated and does nothing. Returns nothing.
var hostDefer = &wasip1.Func[*instance]{Name: "host_defer", Params: wasip1.Params(), Results: wasip1.ResultNone, Body: hostDeferFn}

func hostDeferFn(*instance, api.Memory, []uint64) wasip1.Errno { return wasip1.ESUCCESS }

// water_dial_fixed() -> fd is v1's host_dial (the same body).
var waterDialFixed = envFunc("water_dial_fixed", hostDialFn, wasip1.Params())

// water_accept() -> fd is v1's host_accept (the same body).
var waterAccept = envFunc("water_accept", hostAcceptFn, wasip1.Params())

// water_dial(network_iovs, network_iovs_len, address_iovs, address_iovs_len)
// -> fd: the module names the network and address. The dial policy decides
// first; by default only the host's own destination is allowed.
// Errnos (negative): EFAULT (an iovec outside memory, or longer than 256
// bytes), ENOTCAPABLE (the policy refused, or too many dials), host_dial's.
var waterDial = envFunc("water_dial", waterDialFn, wasip1.Params(i32, i32, i32, i32),
	"network_iovs", "network_iovs_len", "address_iovs", "address_iovs_len")

func waterDialFn(in *instance, mem api.Memory, stack []uint64) wasip1.Errno {
	networkIovs, networkLen := uint32(stack[0]), uint32(stack[1])
	addressIovs, addressLen := uint32(stack[2]), uint32(stack[3])
	network, e1 := iovString(mem, networkIovs, networkLen)
	address, e2 := iovString(mem, addressIovs, addressLen)
	if e1 != wasip1.ESUCCESS || e2 != wasip1.ESUCCESS {
		return returnFD(stack, 0, wasip1.EFAULT)
	}
	fd, e := in.dialAddress(network, address)
	return returnFD(stack, fd, e)
}

// water_seen(key_ptr, key_len, ttl_seconds) -> i32: a replay filter that
// outlives the instance. 0: key was not seen within its ttl, and is now
// recorded for ttl_seconds; 1: it was. Every instance of the same module
// bytes in a Runtime shares one set, bounded (the oldest entry is evicted).
// Errnos (negative): EINVAL (key_len not in 1..64, or ttl_seconds not
// positive), EFAULT (the key outside memory).
var waterSeen = envFunc("water_seen", waterSeenFn, wasip1.Params(i32, i32, i32), "key_ptr", "key_len", "ttl_seconds")

func waterSeenFn(in *instance, mem api.Memory, stack []uint64) wasip1.Errno {
	keyPtr, keyLen, ttl := uint32(stack[0]), uint32(stack[1]), int32(stack[2])
	if keyLen == 0 || keyLen > seenMaxKey || ttl <= 0 {
		return returnFD(stack, 0, wasip1.EINVAL)
	}
	key, ok := mem.Read(keyPtr, keyLen)
	if !ok {
		return returnFD(stack, 0, wasip1.EFAULT)
	}
	if in.m.seen.testAndSet(time.Now(), string(key), time.Duration(ttl)*time.Second) {
		return returnFD(stack, 1, wasip1.ESUCCESS)
	}
	return returnFD(stack, 0, wasip1.ESUCCESS)
}

// iovString gathers an iovec array into a string of at most 256 bytes.
func iovString(mem api.Memory, iovs, n uint32) (string, wasip1.Errno) {
	if e := wasip1.CheckIovecs(mem, iovs, n); e != wasip1.ESUCCESS {
		return "", e
	}
	var b []byte
	for i := uint32(0); i < n; i++ {
		b = append(b, wasip1.Iovec(mem, iovs, i)...)
		if len(b) > 256 {
			return "", wasip1.EINVAL
		}
	}
	return string(b), wasip1.ESUCCESS
}
