package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/internal/ptlog"
	"github.com/water-pt/water-pt/ptclient"
	"github.com/water-pt/water-pt/ptserver"
	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/catalog"
	"github.com/water-pt/water-pt/watm/modules"
)

// envError prints an ENV-ERROR line (goptlib has no exported way to).
func envError(msg string) {
	fmt.Fprintln(pt.Stdout, "ENV-ERROR", printable(msg))
}

// runManaged is the PT v1 managed proxy: negotiate with tor on stdout, serve,
// and stop when tor says so.
func runManaged(ctx context.Context, opts *options, level slog.Level, stdin io.Reader, _ io.Writer) int {
	isClient := os.Getenv("TOR_PT_CLIENT_TRANSPORTS") != ""
	if !isClient && os.Getenv("TOR_PT_SERVER_TRANSPORTS") == "" {
		envError("neither TOR_PT_CLIENT_TRANSPORTS nor TOR_PT_SERVER_TRANSPORTS is set: " +
			"water-pt is started by tor (ClientTransportPlugin or ServerTransportPlugin); " +
			"without tor, run \"water-pt client\" or \"water-pt server\"")
		return 1
	}
	stateDir, err := pt.MakeStateDir() // prints ENV-ERROR itself when the variable is missing
	if err != nil {
		// ...but not when the directory cannot be created: tor must still be told.
		if dir := os.Getenv("TOR_PT_STATE_LOCATION"); dir != "" {
			envError(fmt.Sprintf("cannot create the state directory: %v", err))
		}
		return 1
	}
	logger, closeLog, err := managedLogger(stateDir, opts, level)
	if err != nil {
		envError(fmt.Sprintf("cannot open the log file in %s: %v", stateDir, err))
		return 1
	}
	defer closeLog()
	raiseFDLimit(logger)

	opts.serves = !isClient
	rt, cat, err := newCatalog(ctx, opts, stateDir, logger)
	if err != nil {
		envError(err.Error())
		return 1
	}
	// No rt.Close on the way out: exiting closes every socket, and tor wants
	// us gone within a second of asking. StopPools makes sure no idle-priority
	// thread holds the exit up.
	defer rt.StopPools()
	if isClient {
		return managedClient(ctx, cat, logger, stdin, opts.dialPolicy())
	}
	return managedServer(ctx, cat, logger, stdin, stateDir, opts)
}

func managedLogger(stateDir string, opts *options, level slog.Level) (*slog.Logger, func(), error) {
	var w io.Writer
	closeLog := func() {}
	if opts.enableLogging {
		f, err := openLogFile(stateDir)
		if err != nil {
			return nil, nil, err
		}
		w, closeLog = f, func() { f.Close() }
	}
	return slog.New(newLogHandler(w, level, true, opts.unsafeLogging)), closeLog, nil
}

// newCatalog creates the runtime (with its compilation cache in the state
// directory) and the module catalog.
func newCatalog(ctx context.Context, opts *options, stateDir string, logger *slog.Logger) (*watm.Runtime, *catalog.Catalog, error) {
	setup, err := opts.setupTimeoutFor()
	if err != nil {
		return nil, nil, err
	}
	ropts := []watm.Option{watm.WithLogger(logger), watm.WithPoolSize(opts.poolSize), watm.WithSetupTimeout(setup)}
	cacheDir := opts.cacheDir
	if cacheDir == "" && stateDir != "" {
		cacheDir = filepath.Join(stateDir, "wazero-cache")
	}
	if cacheDir == "off" {
		cacheDir = ""
	}
	rt, err := newRuntime(ctx, ropts, cacheDir, logger)
	if err != nil {
		return nil, nil, err
	}
	dirs := []string(opts.watmDirs)
	if len(dirs) == 0 && stateDir != "" {
		dirs = []string{filepath.Join(stateDir, "watm")}
	}
	cat := catalog.New(rt, catalog.WithDirs(dirs...),
		catalog.WithEmbedded(modules.Lookup, modules.Names(), modules.Default),
		catalog.WithModuleArgs(modules.Args),
		catalog.WithTrustedFiles(opts.trustFiles),
		catalog.WithMaxFileSize(int64(opts.maxModuleSize)))
	return rt, cat, nil
}

// transports are the methods water-pt serves: water (any module) always,
// obfs4 when the embedded obfs4 module is there.
func transports() []catalog.Transport {
	ts := []catalog.Transport{{Name: ptserver.MethodName}}
	if _, ok := modules.Lookup(ptserver.Obfs4Module); ok {
		ts = append(ts, catalog.Transport{Name: ptserver.Obfs4Method, Module: ptserver.Obfs4Module})
	}
	return ts
}

// bridgeDialer is how the client reaches bridges: from the outbound bind
// address when tor gives one, through TOR_PT_PROXY when tor sets one.
func bridgeDialer(info pt.ClientInfo) (ptclient.ContextDialer, bool) {
	bind, err := ptclient.ParseOutboundBind(os.Getenv("TOR_PT_OUTBOUND_BIND_ADDRESS_V4"), os.Getenv("TOR_PT_OUTBOUND_BIND_ADDRESS_V6"))
	if err != nil {
		envError(err.Error())
		return nil, false
	}
	d := bind.Dialer(&net.Dialer{})
	if info.ProxyURL == nil {
		return d, true
	}
	u, err := ptclient.ParseProxyURL(info.ProxyURL.String())
	if err == nil {
		d, err = ptclient.ProxyDialer(u, d)
	}
	if err != nil {
		_ = pt.ProxyError(printable(err.Error()))
		return nil, false
	}
	pt.ProxyDone()
	return d, true
}

func managedClient(ctx context.Context, cat *catalog.Catalog, logger *slog.Logger, stdin io.Reader, policy watm.DialPolicy) int {
	info, err := clientSetup() // prints VERSION, or ENV-ERROR
	if err != nil {
		// goptlib prints nothing when TOR_PT_PROXY does not parse (its
		// last step, so MethodNames is already set): tor waits for a
		// PROXY-ERROR then. Its error may quote the URL's password; ours
		// does not.
		if info.MethodNames != nil && os.Getenv("TOR_PT_PROXY") != "" {
			msg := "TOR_PT_PROXY does not parse"
			if _, perr := ptclient.ParseProxyURL(os.Getenv("TOR_PT_PROXY")); perr != nil {
				msg = perr.Error()
			}
			_ = pt.ProxyError(printable(msg))
		}
		return 1
	}
	dialer, ok := bridgeDialer(info)
	if !ok {
		return 1
	}
	var clients []*ptclient.Client
	var listeners []net.Listener
	for _, name := range info.MethodNames {
		t, err := catalog.FindTransport(transports(), name)
		if err != nil {
			_ = pt.CmethodError(name, err.Error())
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			_ = pt.CmethodError(name, printable("cannot listen for SOCKS: "+err.Error()))
			continue
		}
		pt.Cmethod(name, "socks5", ln.Addr())
		listeners = append(listeners, ln)
		clients = append(clients, &ptclient.Client{Catalog: cat, Dialer: dialer, Logger: logger, DialPolicy: policy, Transport: t})
	}
	pt.CmethodsDone()
	if len(listeners) == 0 {
		return 1
	}
	return serveUntilStopped(ctx, logger, stdin, func(acceptCtx, connCtx context.Context) {
		// Compile the default module now rather than on the first
		// connection (which would otherwise wait a second for it).
		warmed := make(chan struct{})
		go func() {
			defer close(warmed)
			if _, err := cat.Load(acceptCtx, catalog.Spec{}); err != nil {
				logger.Error("cannot load the default module", "err", err, ptlog.NotifyTor, true)
			}
		}()
		defer func() { <-warmed }()
		done := make(chan struct{}, len(listeners))
		for i, ln := range listeners {
			go func() { clients[i].Serve(acceptCtx, connCtx, ln); done <- struct{}{} }()
		}
		for range listeners {
			<-done
		}
	})
}

func managedServer(ctx context.Context, cat *catalog.Catalog, logger *slog.Logger, stdin io.Reader, stateDir string, opts *options) int {
	info, err := serverSetup() // prints VERSION, or ENV-ERROR
	if err != nil {
		return 1
	}
	for _, name := range missingBindaddrs(os.Getenv("TOR_PT_SERVER_TRANSPORTS"), info) {
		_ = pt.SmethodError(name, "no bind address for it in TOR_PT_SERVER_BINDADDR: tor passes one for every transport it asks for (ServerTransportListenAddr, or 0.0.0.0:0)")
	}
	srv := &ptserver.Server{Info: info, Catalog: cat, Logger: logger, DialPolicy: opts.dialPolicy(),
		IdleTimeout: opts.idleTimeout, MaxConns: opts.maxConns, Transports: transports(), StateDir: stateDir}
	methods, errs := srv.Setup(ctx)
	for _, e := range errs {
		_ = pt.SmethodError(e.Name, printable(e.Err.Error()))
		logger.Error("method not started", "method", e.Name, "err", e.Err)
	}
	for _, m := range methods {
		pt.SmethodArgs(m.Bindaddr.MethodName, m.AdvertisedAddr(), m.Args)
	}
	pt.SmethodsDone()
	if len(methods) == 0 {
		return 1
	}
	if err := ptserver.WriteBridgeLine(stateDir, methods); err != nil {
		logger.Warn("cannot write the bridge line file", "err", err, ptlog.NotifyTor, true)
	}
	return serveUntilStopped(ctx, logger, stdin, srv.Serve)
}

// serveUntilStopped runs serve until tor asks us to stop. A hard stop
// (stdin closing, a second signal, the parent gone) returns at once,
// leaving the connections to die with the process: stopping thousands of
// modules one by one would outlast the second tor gives us. SIGTERM
// without TOR_PT_EXIT_ON_STDIN_CLOSE asks each open connection's module to
// stop on the way out. A first SIGINT stops accepting and returns when the
// open connections have ended.
func serveUntilStopped(ctx context.Context, logger *slog.Logger, stdin io.Reader, serve func(acceptCtx, connCtx context.Context)) int {
	tm := newTermMon(stdin, os.Getenv("TOR_PT_EXIT_ON_STDIN_CLOSE") == "1")
	defer tm.stop()
	connCtx, stopConns := context.WithCancel(ctx)
	hard := false
	defer func() {
		if !hard {
			stopConns()
		}
	}()
	// Deferred last, so run first: the listeners close before the rest.
	acceptCtx, stopAccepting := context.WithCancel(ctx)
	defer stopAccepting()
	served := make(chan struct{})
	go func() {
		serve(acceptCtx, connCtx)
		close(served)
	}()
	for {
		select {
		case k := <-tm.events:
			switch k {
			case stopGraceful:
				logger.Info("SIGINT: no longer accepting connections; open ones may finish; SIGINT again to exit", ptlog.NotifyTor, true)
				stopAccepting()
				continue
			case stopHard:
				hard = true
			}
			return 0
		case <-served:
			return 0
		}
	}
}
