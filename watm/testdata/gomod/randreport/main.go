//go:build wasip1

// Command randreport is a test WATM (v0, on watm/guest/stream) that reports
// the randomness its instance sees, to show whether two connections share
// random streams. As a dialer, before any byte of the connection, it
// writes one line to the network side:
//
//	rand=HEX map=HEX initmap=HEX select=HEX crypto=HEX\n
//
// rand: four math/rand/v2 Uint64s (the runtime's chacha8 generator);
// map: the iteration order of a map made now (the generator, and the new
// map's hash seed); initmap: four iteration orders of a map made during
// init (its seed was fixed then; iteration still starts at a random
// place, one of only 128 for this map, so one order alone would match
// across two reseeded clones one time in 128); select: 64 choices of a select with two ready cases (the
// runtime's cheaprand); crypto: 16 bytes of crypto/rand (random_get).
// Bytes then pass unchanged both ways.
//
// Its init leaves the Go heap a megabyte of free pages, so that a
// connection's buffers fit without growing the linear memory: the host
// restores a finished instance to the snapshot for the next connection
// only if its memory kept the snapshot's size.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	randv2 "math/rand/v2"
	"net"
	"runtime"

	"github.com/water-pt/water-pt/watm/guest"
	"github.com/water-pt/water-pt/watm/guest/stream"
	_ "github.com/water-pt/water-pt/watm/guest/v0"
)

var initMap = numbers()

// headroom is dropped at the end of init: the collector frees its pages
// and the heap keeps them for later allocations.
var headroom = make([]byte, 1<<20)

func init() {
	headroom = nil
	runtime.GC()
	stream.Register(stream.Func(func(role guest.Role, network net.Conn) (net.Conn, error) {
		if role != guest.RoleDialer {
			return network, nil
		}
		_, err := fmt.Fprintf(network, "rand=%s map=%s initmap=%s select=%s crypto=%s\n",
			randHex(), order(numbers()), initOrders(), selects(), cryptoHex())
		return network, err
	}))
}

func numbers() map[int]bool {
	m := map[int]bool{}
	for i := range 64 {
		m[i] = true
	}
	return m
}

func order(m map[int]bool) string {
	var b []byte
	for k := range m {
		b = append(b, byte(k))
	}
	return hex.EncodeToString(b)
}

// initOrders is four successive iteration orders of initMap.
func initOrders() string {
	var s string
	for range 4 {
		s += order(initMap)
	}
	return s
}

func randHex() string {
	var b []byte
	for range 4 {
		b = fmt.Appendf(b, "%016x", randv2.Uint64())
	}
	return string(b)
}

func selects() string {
	a, b := make(chan struct{}, 1), make(chan struct{}, 1)
	var bits uint64
	for i := range 64 {
		a <- struct{}{}
		b <- struct{}{}
		select {
		case <-a:
			<-b
		case <-b:
			<-a
			bits |= 1 << i
		}
	}
	return fmt.Sprintf("%016x", bits)
}

func cryptoHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func main() {}
