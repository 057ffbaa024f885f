package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/ptclient"
	"github.com/water-pt/water-pt/ptserver"
)

// runDemo runs a water-pt server and client in this process, on loopback,
// on the same code paths as the real thing: an echo service behind the
// server, a SOCKS5 request to the client with the server's advertised args,
// and a stream checked byte for byte. No tor, no files.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("water-pt demo", "Usage: water-pt demo [-mib N] [-conns N] [-options k=v;...]\n\n"+
		"Runs a server and a client on loopback through the embedded default module\n"+
		"(or the one -options names) and checks the data that comes back.\n\nFlags:\n", stderr)
	var opts options
	opts.register(fs, "the state directory (demo: none)")
	size := fs.Int("mib", 64, "MiB to send through the pair and check")
	conns := fs.Int("conns", 20, "concurrent connections to open after the stream")
	serverOpts := fs.String("options", "", `server options, "k=v;k=v" (e.g. "watm=reverse")`)
	if code, done := parseFlags(fs, args, nil); done {
		return code
	}
	if err := demo(&opts, *size, *conns, *serverOpts, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "water-pt demo: FAILED:", err)
		return 1
	}
	return 0
}

func demo(opts *options, mib, conns int, optStr string, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	level, err := parseLevel(opts.logLevel)
	if err != nil {
		return err
	}
	logger := slog.New(newLogHandler(stderr, level, false, opts.unsafeLogging))
	opts.serves = true
	rt, cat, err := newCatalog(ctx, opts, "", logger)
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())

	echo, err := startEcho()
	if err != nil {
		return err
	}
	defer echo.Close()
	sopts := pt.Args{}
	if optStr != "" {
		a, err := ptclient.ParseArgs(optStr)
		if err != nil {
			return fmt.Errorf("-options: %w", err)
		}
		for k, vs := range a {
			for _, v := range vs {
				sopts.Add(k, v)
			}
		}
	}
	srv := &ptserver.Server{Catalog: cat, Logger: logger, Info: pt.ServerInfo{
		Bindaddrs: []pt.Bindaddr{{MethodName: ptserver.MethodName, Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, Options: sopts}},
		OrAddr:    echo.Addr().(*net.TCPAddr),
	}}
	methods, errs := srv.Setup(ctx)
	if len(errs) > 0 {
		return errs[0]
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); srv.Serve(ctx, ctx) }()

	socks, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	client := &ptclient.Client{Catalog: cat, Dialer: &net.Dialer{}, Logger: logger}
	wg.Add(1)
	go func() { defer wg.Done(); client.Serve(ctx, ctx, socks) }()

	m := methods[0]
	bridge := m.Addr().String()
	cargs := ptclient.Args{}
	for k, vs := range m.Args {
		cargs[k] = vs
	}
	fmt.Fprintf(stdout, "server: %s, module %s (v%d, sha256 %s), forwarding to an echo service\n",
		bridge, m.Module.Name, m.Module.Module.Version(), m.Module.Module.SHA256())
	fmt.Fprintf(stdout, "client: SOCKS5 on %s, bridge args: %s\n", socks.Addr(), clientArgString(m.Args))

	start := time.Now()
	c, err := socksConnect(socks.Addr().String(), bridge, cargs)
	if err != nil {
		return err
	}
	setup := time.Since(start)
	n, elapsed, err := echoCheck(c, mib<<20)
	c.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stream: %d MiB sent and echoed back intact in %v (%.0f MB/s each way); set-up %v\n",
		mib, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds()/1e6, setup.Round(time.Microsecond))

	start = time.Now()
	errc := make(chan error, conns)
	for range conns {
		go func() {
			c, err := socksConnect(socks.Addr().String(), bridge, cargs)
			if err == nil {
				_, _, err = echoCheck(c, 64<<10)
				c.Close()
			}
			errc <- err
		}()
	}
	for range conns {
		if err := <-errc; err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "connections: %d concurrent, each 64 KiB echoed intact, in %v\nOK\n", conns, time.Since(start).Round(time.Millisecond))
	return nil
}

func startEcho() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln, nil
}

// socksConnect makes a SOCKS5 CONNECT with the args as tor encodes them.
func socksConnect(socks, target string, args ptclient.Args) (net.Conn, error) {
	c, err := net.Dial("tcp", socks)
	if err != nil {
		return nil, err
	}
	user, pass, err := ptclient.EncodeArgs(args)
	if err != nil {
		c.Close()
		return nil, err
	}
	host, portStr, _ := net.SplitHostPort(target)
	port, _ := strconv.Atoi(portStr)
	ip := net.ParseIP(host).To4()
	req := []byte{5, 1, 2}
	req = append(req, 1, byte(len(user)))
	req = append(append(req, user...), byte(len(pass)))
	req = append(req, pass...)
	req = append(req, 5, 1, 0, 1)
	req = append(append(req, ip...), byte(port>>8), byte(port))
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	var reply [2 + 2 + 10]byte // method choice, auth status, CONNECT reply
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("SOCKS handshake: %w", err)
	}
	if reply[1] != 2 || reply[3] != 0 || reply[5] != 0 {
		c.Close()
		return nil, fmt.Errorf("SOCKS request refused (reply %d)", reply[5])
	}
	return c, nil
}

// echoCheck writes n random bytes while reading the echo, and compares.
func echoCheck(c net.Conn, n int) (int, time.Duration, error) {
	data := make([]byte, n)
	rand.Read(data)
	start := time.Now()
	go c.Write(data)
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		return 0, 0, fmt.Errorf("reading the echo: %w", err)
	}
	if !bytes.Equal(got, data) {
		return 0, 0, errors.New("the echoed bytes differ from those sent")
	}
	return n, time.Since(start), nil
}
