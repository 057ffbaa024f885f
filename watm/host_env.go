package watm

import (
	"context"
	"net"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// The WATER imports from module "env". host_dial, host_accept and
// pull_config (v0) and water_dial_fixed, water_accept and water_dial (v1)
// return a descriptor or a negative errno. A module may import any subset;
// Load checks that it imports only these, with these types.
var envFunctions = []*hostFunc{hostDial, hostAccept, pullConfig, hostDefer, waterDialFixed, waterAccept, waterDial, waterSeen}

func returnFD(stack []uint64, fd int32, e wasip1.Errno) wasip1.Errno {
	if e != wasip1.ESUCCESS {
		fd = -int32(e)
	}
	stack[0] = uint64(uint32(fd))
	return e
}

// host_dial() -> fd: connect to the destination the host chose for this
// connection (for a PT client, the bridge). The dial error, if any, is kept
// so the session can report it (a SOCKS reply code is chosen from it).
var hostDial = &hostFunc{name: "host_dial", names: []string{}, rawResult: true,
	body: func(in *instance, _ api.Memory, s []uint64) wasip1.Errno {
		fd, e := in.dial(func(ctx context.Context) (net.Conn, error) { return in.conn.Dial(ctx) })
		return returnFD(s, fd, e)
	}}

// host_accept() -> fd: the inbound connection the host accepted for this
// instance.
var hostAccept = &hostFunc{name: "host_accept", names: []string{}, rawResult: true,
	body: func(in *instance, _ api.Memory, s []uint64) wasip1.Errno {
		fd, e := in.accept()
		return returnFD(s, fd, e)
	}}

// pull_config() -> fd: a read-only file with the config bytes, or -ENOENT
// when the host has none (a config-optional module proceeds).
var pullConfig = &hostFunc{name: "pull_config", names: []string{}, rawResult: true,
	body: func(in *instance, _ api.Memory, s []uint64) wasip1.Errno {
		if in.conn.Config == nil {
			return returnFD(s, 0, wasip1.ENOENT)
		}
		fd, e := in.fds.insert(&memFile{data: in.conn.Config})
		return returnFD(s, fd, e)
	}}

// host_defer() is deprecated and does nothing.
var hostDefer = &hostFunc{name: "host_defer", names: []string{}, noErrno: true,
	body: func(*instance, api.Memory, []uint64) wasip1.Errno { return wasip1.ESUCCESS }}

// water_dial_fixed() -> fd is v1's host_dial.
var waterDialFixed = &hostFunc{name: "water_dial_fixed", names: []string{}, rawResult: true,
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno { return hostDial.body(in, mem, s) }}

// water_accept() -> fd is v1's host_accept.
var waterAccept = &hostFunc{name: "water_accept", names: []string{}, rawResult: true,
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno { return hostAccept.body(in, mem, s) }}

// water_dial(network_iovs, network_iovs_len, address_iovs, address_iovs_len)
// -> fd: the module names the network and address. The dial policy decides
// first; by default only the host's own destination is allowed.
var waterDial = &hostFunc{name: "water_dial", params: params(i32, i32, i32, i32),
	names: []string{"network_iovs", "network_iovs_len", "address_iovs", "address_iovs_len"}, rawResult: true,
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		network, e1 := iovString(mem, p32(s, 0), p32(s, 1))
		address, e2 := iovString(mem, p32(s, 2), p32(s, 3))
		if e1 != wasip1.ESUCCESS || e2 != wasip1.ESUCCESS {
			return returnFD(s, 0, wasip1.EFAULT)
		}
		fd, e := in.dialAddress(network, address)
		return returnFD(s, fd, e)
	}}

// water_seen(key_ptr, key_len, ttl_seconds) -> i32: a replay filter that
// outlives the instance. 0: key was not seen within its ttl, and is now
// recorded for ttl_seconds; 1: it was. Negative errno: -EFAULT when the key
// is not in memory, -EINVAL when key_len is not in 1..64 or ttl_seconds is
// not positive. Every instance of the same module bytes in a Runtime shares
// one set, bounded (the oldest entry is evicted).
var waterSeen = &hostFunc{name: "water_seen", params: params(i32, i32, i32),
	names: []string{"key_ptr", "key_len", "ttl_seconds"}, rawResult: true,
	body: func(in *instance, mem api.Memory, s []uint64) wasip1.Errno {
		ptr, n, ttl := p32(s, 0), p32(s, 1), int32(p32(s, 2))
		if n == 0 || n > seenMaxKey || ttl <= 0 {
			return returnFD(s, 0, wasip1.EINVAL)
		}
		key, ok := mem.Read(ptr, n)
		if !ok {
			return returnFD(s, 0, wasip1.EFAULT)
		}
		seen := in.m.seen.testAndSet(time.Now(), string(key), time.Duration(ttl)*time.Second)
		if seen {
			return returnFD(s, 1, wasip1.ESUCCESS)
		}
		return returnFD(s, 0, wasip1.ESUCCESS)
	}}

// iovString gathers an iovec array into a string of at most 256 bytes.
func iovString(mem api.Memory, iovs, n uint32) (string, wasip1.Errno) {
	if e := checkIovecs(mem, iovs, n); e != wasip1.ESUCCESS {
		return "", e
	}
	var b []byte
	for i := uint32(0); i < n; i++ {
		b = append(b, iovec(mem, iovs, i)...)
		if len(b) > 256 {
			return "", wasip1.EINVAL
		}
	}
	return string(b), wasip1.ESUCCESS
}
