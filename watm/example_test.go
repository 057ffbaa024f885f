package watm_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/modules"
)

// loadPlain starts a runtime and loads the shipped "plain" module, which
// carries bytes unchanged: enough to show the roles without a peer that
// speaks a protocol. (WithTestCache is the tests' shared compilation
// cache, main_test.go: a program leaves it out.)
func loadPlain(ctx context.Context) (*watm.Runtime, *watm.Module) {
	rt, err := watm.NewRuntime(ctx, watm.WithTestCache(), watm.WithPoolSize(0))
	if err != nil {
		log.Fatal(err)
	}
	wasm, _ := modules.Lookup("plain")
	m, err := rt.LoadTrusted(ctx, wasm)
	if err != nil {
		log.Fatal(err)
	}
	return rt, m
}

// echoOnce accepts one conn on a new loopback listener and echoes it until
// the peer half-closes; done is closed when it has finished.
func echoOnce() (addr string, done chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done = make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	return ln.Addr().String(), done
}

func ExampleRuntime() {
	ctx := context.Background()
	rt, m := loadPlain(ctx)
	defer rt.Close(ctx)
	fmt.Println("WATER version:", m.Version())
	fmt.Println("dialer:", m.Can(watm.RoleDialer), "listener:", m.Can(watm.RoleListener), "relay:", m.Can(watm.RoleRelay))
	fmt.Println("trusted:", m.Trusted())
	// Output:
	// WATER version: 0
	// dialer: true listener: true relay: true
	// trusted: true
}

// A Dialer wraps what the caller writes and sends it to the destination its
// Dial reaches; here an echo server, so the bytes come back unwrapped.
func ExampleDialer() {
	ctx := context.Background()
	rt, m := loadPlain(ctx)
	defer rt.Close(ctx)
	addr, echoed := echoOnce()
	d := &watm.Dialer{Module: m, Config: watm.ConnConfig{
		Destination: addr,
		Dial: func(ctx context.Context) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "tcp", addr)
		},
	}}
	c, err := d.DialContext(ctx)
	if err != nil {
		log.Fatal(err)
	}
	c.Write([]byte("hello"))
	c.CloseWrite()
	reply, _ := io.ReadAll(c)
	c.Close()
	<-echoed
	fmt.Printf("%s\n", reply)
	fmt.Println("session:", c.Session().Wait())
	// Output:
	// hello
	// session: <nil>
}

// A Listener unwraps what arrives on a network listener: Listen returns a
// net.Listener whose conns carry the plaintext.
func ExampleListener() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, m := loadPlain(ctx)
	defer rt.Close(context.Background())
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ln := (&watm.Listener{Module: m}).Listen(ctx, inner)
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			return
		}
		c.Write([]byte("hello"))
		c.Close()
	}()
	c, err := ln.Accept()
	if err != nil {
		log.Fatal(err)
	}
	got, _ := io.ReadAll(c)
	c.Close()
	fmt.Printf("%s\n", got)
	fmt.Println("session:", c.(*watm.Conn).Session().Wait())
	// Output:
	// hello
	// session: <nil>
}

// A Relay takes plain TCP conns and carries each through the module to its
// Dial's destination, with no caller in between; OnSessionEnd hears how each
// ended.
func ExampleRelay() {
	ctx, cancel := context.WithCancel(context.Background())
	rt, m := loadPlain(ctx)
	defer rt.Close(context.Background())
	addr, echoed := echoOnce()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ended := make(chan error, 1)
	r := &watm.Relay{Module: m, OnSessionEnd: func(err error) { ended <- err }, Config: watm.ConnConfig{
		Destination: addr,
		Dial: func(ctx context.Context) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "tcp", addr)
		},
	}}
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx, front) }()

	c, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(c)
	c.Close()
	<-echoed
	fmt.Printf("%s\n", reply)
	fmt.Println("session:", <-ended)
	cancel()
	fmt.Println("Serve:", <-served)
	// Output:
	// hello
	// session: <nil>
	// Serve: <nil>
}
