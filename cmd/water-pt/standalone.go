package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"syscall"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/ptclient"
	"github.com/water-pt/water-pt/ptserver"
	"github.com/water-pt/water-pt/watm"
)

// runStandalone runs the client or server without tor, on the same code
// paths as managed mode: for apps that speak SOCKS5 themselves, and for
// trying a module out.
func runStandalone(mode string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("water-pt "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts options
	opts.register(fs, "the -state directory")
	opts.logLevel = "INFO"
	fs.Lookup("logLevel").DefValue = "INFO"
	listen := fs.String("listen", "", "address to listen on (client: the SOCKS5 port, e.g. 127.0.0.1:1080; server: e.g. :443)")
	stateDir := fs.String("state", "", "directory for the compiled-module cache, the default WATM directory and the server's obfs4 identity (obfs4_state.json)")
	var bridge, clientArgs, forward, serverOpts *string
	if mode == "client" {
		bridge = fs.String("bridge", "", "host:port of the bridge to dial for every SOCKS request (default: the address in the request)")
		clientArgs = fs.String("args", "", `bridge args used when a SOCKS request carries none, as "k=v;k=v" (e.g. "watm=plain")`)
	} else {
		opts.registerServerLimits(fs)
		forward = fs.String("forward", "", "host:port to forward unwrapped connections to (plain TCP, no ExtORPort)")
		serverOpts = fs.String("options", "", `server options as "k=v;k=v" (watm=, watm-sha256=, watm-config=, watm-client-config=)`)
	}
	fs.Usage = func() {
		if mode == "client" {
			fmt.Fprint(stderr, "Usage: water-pt client -listen 127.0.0.1:1080 [-bridge host:port] [-args k=v;...]\n\n"+
				"A SOCKS5 server: each connection runs through its own WATM instance, which dials\n"+
				"the bridge. Per-connection args may also come as SOCKS5 username/password, as tor sends them.\n\nFlags:\n")
		} else {
			fmt.Fprint(stderr, "Usage: water-pt server -listen :443 -forward 127.0.0.1:9001 [-options k=v;...]\n\n"+
				"Each inbound connection runs through its own WATM instance; the unwrapped stream\n"+
				"goes to -forward. It prints the bridge args clients need.\n\nFlags:\n")
		}
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, nil); done {
		return code
	}
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "water-pt %s: %s (see water-pt %s -h)\n", mode, msg, mode)
		return 2
	}
	if *listen == "" {
		return usage("-listen is required")
	}
	level, err := parseLevel(opts.logLevel)
	if err == nil {
		err = opts.checkServerLimits()
	}
	if err != nil {
		return usage(err.Error())
	}
	logTo := stderr
	if opts.enableLogging {
		if *stateDir == "" {
			return usage("-enableLogging needs -state (the log is written there)")
		}
		if err := os.MkdirAll(*stateDir, 0o700); err != nil {
			fmt.Fprintln(stderr, "water-pt:", err)
			return 1
		}
		f, err := openLogFile(*stateDir)
		if err != nil {
			fmt.Fprintln(stderr, "water-pt:", err)
			return 1
		}
		defer f.Close()
		logTo = f
	}
	logger := slog.New(newLogHandler(logTo, level, false, opts.unsafeLogging))
	raiseFDLimit(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rt, cat, err := newCatalog(ctx, &opts, *stateDir, logger)
	if err != nil {
		fmt.Fprintln(stderr, "water-pt:", err)
		return 1
	}
	defer rt.Close(context.Background())
	if mode == "client" {
		return standaloneClient(ctx, cat, logger, opts.dialPolicy(), *listen, *bridge, *clientArgs, stdout, stderr)
	}
	if *forward == "" {
		return usage("-forward is required")
	}
	return standaloneServer(ctx, cat, logger, &opts, *listen, *forward, *serverOpts, *stateDir, stdout, stderr)
}

func standaloneClient(ctx context.Context, cat *watm.Catalog, logger *slog.Logger, policy watm.DialPolicy, listen, bridge, argStr string, stdout, stderr io.Writer) int {
	var defArgs ptclient.Args
	if argStr != "" {
		a, err := ptclient.ParseArgs(argStr)
		if err != nil {
			fmt.Fprintln(stderr, "water-pt client: -args:", err)
			return 2
		}
		defArgs = a
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(stderr, "water-pt client:", err)
		return 1
	}
	c := &ptclient.Client{Catalog: cat, Dialer: &net.Dialer{}, Logger: logger, Bridge: bridge, DefaultArgs: defArgs, DialPolicy: policy}
	fmt.Fprintf(stdout, "water-pt client: SOCKS5 on %s\n", ln.Addr())
	c.Serve(ctx, ctx, ln)
	return 0
}

func standaloneServer(ctx context.Context, cat *watm.Catalog, logger *slog.Logger, o *options, listen, forward, optStr, stateDir string, stdout, stderr io.Writer) int {
	addr, err := net.ResolveTCPAddr("tcp", listen)
	if err != nil {
		fmt.Fprintln(stderr, "water-pt server: -listen:", err)
		return 2
	}
	if addr.IP == nil {
		addr.IP = net.IPv4zero
	}
	fwd, err := net.ResolveTCPAddr("tcp", forward)
	if err != nil {
		fmt.Fprintln(stderr, "water-pt server: -forward:", err)
		return 2
	}
	opts := pt.Args{}
	if optStr != "" {
		a, err := ptclient.ParseArgs(optStr)
		if err != nil {
			fmt.Fprintln(stderr, "water-pt server: -options:", err)
			return 2
		}
		for k, vs := range a {
			for _, v := range vs {
				opts.Add(k, v)
			}
		}
	}
	srv := &ptserver.Server{
		Info:        pt.ServerInfo{Bindaddrs: []pt.Bindaddr{{MethodName: ptserver.MethodName, Addr: addr, Options: opts}}, OrAddr: fwd},
		Catalog:     cat,
		Logger:      logger,
		DialPolicy:  o.dialPolicy(),
		IdleTimeout: o.idleTimeout,
		MaxConns:    o.maxConns,
		StateDir:    stateDir,
	}
	methods, errs := srv.Setup(ctx)
	for _, e := range errs {
		fmt.Fprintln(stderr, "water-pt server:", e.Err)
	}
	if len(methods) == 0 {
		return 1
	}
	m := methods[0]
	fmt.Fprintf(stdout, "water-pt server: listening on %s, forwarding to %s\nwater-pt server: client args: %s\n",
		m.Addr(), forward, clientArgString(m.Args))
	srv.Serve(ctx, ctx)
	return 0
}

// clientArgString formats args as -args takes them ("k=v;k=v").
func clientArgString(a pt.Args) string {
	s := ""
	for _, k := range sortedArgKeys(a) {
		for _, v := range a[k] {
			if s != "" {
				s += ";"
			}
			s += k + "=" + v
		}
	}
	return s
}

func sortedArgKeys(a pt.Args) []string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
