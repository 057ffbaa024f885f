package main

import (
	"context"
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
	"github.com/water-pt/water-pt/watm/catalog"
)

// standaloneUsage is the head of a standalone mode's -h text.
func standaloneUsage(mode string) string {
	switch mode {
	case "client":
		return "Usage: water-pt client -listen 127.0.0.1:1080 [-bridge host:port] [-args k=v;...]\n\n" +
			"A SOCKS5 server: each connection runs through its own WATM instance, which dials\n" +
			"the bridge. Per-connection args may also come as SOCKS5 username/password, as tor sends them.\n\nFlags:\n"
	case "server":
		return "Usage: water-pt server -listen :443 -forward 127.0.0.1:9001 [-options k=v;...]\n\n" +
			"Each inbound connection runs through its own WATM instance; the unwrapped stream\n" +
			"goes to -forward. It prints the bridge args clients need.\n\nFlags:\n"
	}
	return "Usage: water-pt relay -listen 127.0.0.1:8080 -to host:port [-args k=v;...]\n\n" +
		"Accepts plain TCP; each connection runs through its own WATM instance in the relay\n" +
		"role (_water_associate / watm_associate_v1): the module accepts the plain connection\n" +
		"and dials -to, wrapping what it carries (e.g. towards a water-pt server).\n\nFlags:\n"
}

// runStandalone runs the client, server or relay without tor, on the same code
// paths as managed mode: for apps that speak SOCKS5 themselves, and for
// trying a module out.
func runStandalone(mode string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("water-pt "+mode, standaloneUsage(mode), stderr)
	var opts options
	opts.register(fs, "the -state directory")
	opts.logLevel = "INFO"
	fs.Lookup("logLevel").DefValue = "INFO"
	listen := fs.String("listen", "", "address to listen on (client: the SOCKS5 port, e.g. 127.0.0.1:1080; server: e.g. :443; relay: the plain TCP port)")
	stateDir := fs.String("state", "", "directory for the compiled-module cache, the default WATM directory and the server's obfs4 identity (obfs4_state.json)")
	var bridge, clientArgs, forward, serverOpts, to, relayArgs *string
	switch mode {
	case "client":
		bridge = fs.String("bridge", "", "host:port of the bridge to dial for every SOCKS request (default: the address in the request)")
		clientArgs = fs.String("args", "", `bridge args used when a SOCKS request carries none, as "k=v;k=v" (e.g. "watm=plain")`)
	case "server":
		opts.registerServerLimits(fs)
		forward = fs.String("forward", "", "host:port to forward unwrapped connections to (plain TCP, no ExtORPort)")
		serverOpts = fs.String("options", "", `server options as "k=v;k=v" (watm=, watm-sha256=, watm-config=, watm-client-config=)`)
	case "relay":
		to = fs.String("to", "", "host:port to dial for every connection, through the module (e.g. a water-pt server)")
		relayArgs = fs.String("args", "", `the module, as "k=v;k=v" (watm=, watm-sha256=, watm-config=; e.g. "watm=reverse")`)
	}
	if code, done := parseFlags(fs, args, nil); done {
		return code
	}
	usage := func(msg string) int { return usageError(stderr, "water-pt "+mode, msg) }
	if *listen == "" {
		return usage("-listen is required")
	}
	level, err := opts.check()
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
	opts.serves = mode == "server"
	rt, cat, err := newCatalog(ctx, &opts, *stateDir, logger)
	if err != nil {
		fmt.Fprintln(stderr, "water-pt:", err)
		return 1
	}
	defer rt.Close(context.Background())
	switch mode {
	case "client":
		return standaloneClient(ctx, cat, logger, opts.dialPolicy(), *listen, *bridge, *clientArgs, stdout, stderr)
	case "relay":
		if *to == "" {
			return usage("-to is required")
		}
		return standaloneRelay(ctx, cat, logger, opts.dialPolicy(), *listen, *to, *relayArgs, stdout, stderr)
	}
	if *forward == "" {
		return usage("-forward is required")
	}
	return standaloneServer(ctx, cat, logger, &opts, *listen, *forward, *serverOpts, *stateDir, stdout, stderr)
}

func standaloneClient(ctx context.Context, cat *catalog.Catalog, logger *slog.Logger, policy watm.DialPolicy, listen, bridge, argStr string, stdout, stderr io.Writer) int {
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

func standaloneServer(ctx context.Context, cat *catalog.Catalog, logger *slog.Logger, o *options, listen, forward, optStr, stateDir string, stdout, stderr io.Writer) int {
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

func standaloneRelay(ctx context.Context, cat *catalog.Catalog, logger *slog.Logger, policy watm.DialPolicy, listen, to, argStr string, stdout, stderr io.Writer) int {
	r, res, err := loadRelay(ctx, cat, logger, policy, to, argStr)
	if err != nil {
		fmt.Fprintln(stderr, "water-pt relay:", err)
		return 2
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(stderr, "water-pt relay:", err)
		return 1
	}
	fmt.Fprintf(stdout, "water-pt relay: listening on %s, relaying to %s\nwater-pt relay: module %s (%s, v%d, sha256 %s)\n",
		ln.Addr(), to, res.Name, res.Source, r.Module.Version(), r.Module.SHA256())
	if err := r.Serve(ctx, ln); err != nil {
		fmt.Fprintln(stderr, "water-pt relay:", err)
		return 1
	}
	return 0
}

// loadRelay reads -args, loads the module they name and checks that it has
// a relay entry. Keys other than the module's are refused: the relay has
// nothing else to pass them to.
func loadRelay(ctx context.Context, cat *catalog.Catalog, logger *slog.Logger, policy watm.DialPolicy, to, argStr string) (*watm.Relay, catalog.Resolved, error) {
	var res catalog.Resolved
	args, err := ptclient.ParseArgs(argStr)
	if err != nil {
		return nil, res, fmt.Errorf("-args: %w", err)
	}
	for _, k := range sortedArgKeys(pt.Args(args)) {
		if k != catalog.ArgModule && k != catalog.ArgSHA256 && k != catalog.ArgConfig {
			return nil, res, fmt.Errorf("-args: unknown key %q: the relay takes %s=, %s= and %s=", k, catalog.ArgModule, catalog.ArgSHA256, catalog.ArgConfig)
		}
	}
	spec, err := catalog.ParseSpec(args.Get)
	if err != nil {
		return nil, res, fmt.Errorf("-args: %w", err)
	}
	if res, err = cat.Load(ctx, spec); err != nil {
		return nil, res, err
	}
	if !res.Module.Can(watm.RoleRelay) {
		return nil, res, fmt.Errorf("module %s (%s) has no relay entry: it must export _water_associate (v0) or watm_associate_v1 (v1)", res.Name, res.Source)
	}
	return &watm.Relay{Module: res.Module, Config: watm.ConnConfig{
		Config:      spec.Config,
		Destination: to,
		Logger:      logger,
		Policy:      policy,
		Dial: func(ctx context.Context) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, ptclient.DefaultDialTimeout)
			defer cancel()
			var d net.Dialer
			return d.DialContext(ctx, "tcp", to)
		},
	}}, res, nil
}
