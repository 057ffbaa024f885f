package watm_test

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/watmtest"
)

// The benchmarks compare, in one run, the plain module's dialer->listener
// pair and relay against a plain TCP relay (io.Copy, no WebAssembly):
//
//	go test -run '^$' -bench . -count 5 ./watm/ | tee bench.txt
//
// MB/s is throughput on one connection; Setup is a whole connection (dial,
// one echoed byte, close); HeapPerInstance reports Go heap bytes per live
// instance (the module's linear memory is not Go heap and is reported
// separately as linear-B/inst).

// tcpRelay is the baseline: accept, dial dst, io.Copy both ways.
func tcpRelay(t testing.TB, dst watm.DialFunc) *watmtest.Server {
	return watmtest.Serve(t, func(a net.Conn) {
		b, err := dst(context.Background())
		if err != nil {
			return
		}
		defer b.Close()
		done := make(chan struct{})
		go func() { io.Copy(b, a); b.(*net.TCPConn).CloseWrite(); close(done) }()
		io.Copy(a, b)
		a.(*net.TCPConn).CloseWrite()
		<-done
	})
}

// wasmRelay serves m as a relay to dst until the test ends and returns its
// address.
func wasmRelay(t testing.TB, m *watm.Module, dst watm.DialFunc) string {
	front := watmtest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&watm.Relay{Module: m, Config: watm.ConnConfig{Dial: dst}}).Serve(ctx, front.Listener)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return front.Address()
}

func benchWrite(b *testing.B, c net.Conn) {
	buf := watmtest.RandomBytes(256<<10, 9)
	b.SetBytes(int64(len(buf)))
	cpu0 := processCPU(b)
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// The process's CPU time per MiB (both instances and the peers): on a
	// shared machine steadier than MB/s, which other loads change.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N)/(float64(len(buf))/(1<<20))/1e3, "cpu-us/MiB")
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchDial connects to addr and runs benchWrite on the connection.
func benchDial(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	benchWrite(b, c)
}

func BenchmarkThroughput(b *testing.B) {
	b.Run("tcp-relay", func(b *testing.B) {
		benchDial(b, tcpRelay(b, watmtest.Sink(b).Dial).Address())
	})
	b.Run("wasm-relay", func(b *testing.B) {
		benchDial(b, wasmRelay(b, shipped(b, newRuntime(b), "plain"), watmtest.Sink(b).Dial))
	})
	b.Run("wasm-pair", func(b *testing.B) {
		rt := newRuntime(b)
		m := shipped(b, rt, "plain")
		c, s := wrappedPair(b, m, m)
		go io.Copy(io.Discard, s)
		benchWrite(b, c)
	})
}

func BenchmarkSetup(b *testing.B) {
	one := []byte{42}
	roundTrip := func(b *testing.B, c net.Conn) {
		if _, err := c.Write(one); err != nil {
			b.Fatal(err)
		}
		var got [1]byte
		if _, err := io.ReadFull(c, got[:]); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.Run("tcp-relay", func(b *testing.B) {
		echo := watmtest.Echo(b)
		front := tcpRelay(b, echo.Dial)
		b.ResetTimer()
		for range b.N {
			c, err := net.Dial("tcp", front.Address())
			if err != nil {
				b.Fatal(err)
			}
			roundTrip(b, c)
		}
	})
	b.Run("wasm-pair", func(b *testing.B) {
		rt := newRuntime(b)
		m := shipped(b, rt, "plain")
		srv := echoServer(b, m)
		d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: srv.Dial}}
		b.ResetTimer()
		for range b.N {
			c, err := d.DialContext(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			roundTrip(b, c)
		}
	})
}

// BenchmarkHeapPerInstance holds 100 live dialer sessions of the plain
// module and reports the Go heap they add per instance, and the resident
// memory (module memory, threads, buffers: everything) per instance.
func BenchmarkHeapPerInstance(b *testing.B) {
	rt := newRuntime(b)
	m := shipped(b, rt, "plain")
	srv := watmtest.Echo(b)
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: srv.Dial}}
	const n = 100
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rss0 := vmRSS(b)
		conns := make([]*watm.Conn, 0, n)
		for range n {
			c, err := d.DialContext(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/inst")
		b.ReportMetric(float64(vmRSS(b)-rss0)/n, "rss-B/inst")
		for _, c := range conns {
			c.Close()
			c.Session().Wait()
		}
	}
}

// BenchmarkInstance is one dialer set-up and tear-down (instantiate, start
// function, init, _water_dial, cancel channel) with no traffic.
func BenchmarkInstance(b *testing.B) {
	rt := newRuntime(b)
	m := shipped(b, rt, "plain")
	srv := watmtest.Echo(b)
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{Dial: srv.Dial}}
	b.ResetTimer()
	for range b.N {
		c, err := d.DialContext(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		c.Session().Close()
		c.Close()
	}
}

// vmRSS reads the process's resident set size in bytes.
func vmRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// BenchmarkRoundTrip is one 1-byte round trip on a held connection through
// one relay hop each way: a TCP relay (io.Copy) or the plain module's relay,
// in front of a TCP echo server.
func BenchmarkRoundTrip(b *testing.B) {
	ping := func(b *testing.B, addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		var buf [1]byte
		b.ResetTimer()
		for i := range b.N {
			buf[0] = byte(i)
			if _, err := c.Write(buf[:]); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf[:]); err != nil || buf[0] != byte(i) {
				b.Fatal(err, buf[0])
			}
		}
		b.StopTimer()
	}
	b.Run("tcp-relay", func(b *testing.B) {
		echo := watmtest.Echo(b)
		ping(b, tcpRelay(b, echo.Dial).Address())
	})
	for _, name := range []string{"plain", "ok_plain"} {
		b.Run("wasm-relay-"+name, func(b *testing.B) {
			rt := newRuntime(b)
			m := shipped(b, rt, "plain")
			if name == "ok_plain" {
				var err error
				if m, err = fixture(b, rt, name); err != nil {
					b.Fatal(err)
				}
			}
			ping(b, wasmRelay(b, m, watmtest.Echo(b).Dial))
		})
	}
}
