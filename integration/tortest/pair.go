package tortest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/ptserver/extortest"
)

// PairConfig describes a client and server PT wired the way tor wires them:
// the server PT gets an ExtORPort (an extortest.Server) and its cookie, the
// client PT gets the server's SMETHOD ARGS as the bridge line's arguments.
type PairConfig struct {
	Binary       string // PT binary of both sides
	ServerBinary string // if set, the server side's binary instead of Binary
	Transport    string // transport name, e.g. "water"

	ServerOptions []KV     // the transport's ServerTransportOptions
	ServerArgs    []string // command-line arguments of each side
	ClientArgs    []string
	ServerEnv     []string // extra "KEY=value" entries (they override)
	ClientEnv     []string

	Mode        extortest.Mode // the ExtORPort's data mode (zero: Echo)
	ExtOROpts   []extortest.Option
	SetupWithin time.Duration // bound on both PTs reaching METHODS DONE; zero means 30 s
}

// Pair is a running client/server PT pair.
type Pair struct {
	Server, Client *PT
	ExtOR          *extortest.Server
	ServerMethod   Method // the SMETHOD line: bridge address and ARGS
	ClientMethod   Method // the CMETHOD line: SOCKS address
	ServerStateDir string
	ClientStateDir string
}

// StartPair starts the ExtORPort, the server PT and the client PT, and waits
// for both to finish the configuration protocol; any failure is fatal. The
// PTs are started concurrently, as tor would; the client is not given the
// server's address until it dials.
func StartPair(t testing.TB, cfg PairConfig) *Pair {
	t.Helper()
	if cfg.ServerBinary == "" {
		cfg.ServerBinary = cfg.Binary
	}
	if cfg.SetupWithin == 0 {
		cfg.SetupWithin = 30 * time.Second
	}
	dir := t.TempDir()
	p := &Pair{
		ExtOR:          extortest.Start(t, cfg.Mode, cfg.ExtOROpts...),
		ServerStateDir: filepath.Join(dir, "server", "pt_state"),
		ClientStateDir: filepath.Join(dir, "client", "pt_state"),
	}
	transports := []string{cfg.Transport}
	var opts string
	if len(cfg.ServerOptions) > 0 {
		opts = ServerTransportOptions(cfg.Transport, cfg.ServerOptions)
	}
	senv := append(ServerEnv(p.ServerStateDir, transports, nil, opts, "", p.ExtOR.Addr(), p.ExtOR.CookiePath()), cfg.ServerEnv...)
	cenv := append(ClientEnv(p.ClientStateDir, transports, ""), cfg.ClientEnv...)
	p.Server = Start(t, cfg.ServerBinary, senv, cfg.ServerArgs...)
	p.Client = Start(t, cfg.Binary, cenv, cfg.ClientArgs...)

	ctx, cancel := context.WithTimeout(context.Background(), cfg.SetupWithin)
	defer cancel()
	var (
		wg           sync.WaitGroup
		smeth, cmeth []Method
		serr, cerr   error
	)
	wg.Add(2)
	go func() { defer wg.Done(); smeth, serr = p.Server.WaitDone(ctx) }()
	go func() { defer wg.Done(); cmeth, cerr = p.Client.WaitDone(ctx) }()
	wg.Wait()
	if err := errors.Join(serr, cerr); err != nil {
		t.Fatalf("tortest: starting the pair: %v", err)
	}
	var err error
	if p.ServerMethod, err = findMethod(smeth, cfg.Transport); err != nil {
		t.Fatalf("tortest: server PT: %v", err)
	}
	if p.ClientMethod, err = findMethod(cmeth, cfg.Transport); err != nil {
		t.Fatalf("tortest: client PT: %v", err)
	}
	return p
}

func findMethod(ms []Method, name string) (Method, error) {
	for _, m := range ms {
		if m.Name == name {
			return m, nil
		}
	}
	return Method{}, fmt.Errorf("no method line for transport %q among %d", name, len(ms))
}

// Dial opens a connection through the pair as tor would: SOCKS5 to the
// client PT, target the server PT's SMETHOD address, arguments the SMETHOD
// ARGS. The returned connection is a *net.TCPConn.
func (p *Pair) Dial(ctx context.Context) (net.Conn, error) {
	c, _, err := DialSOCKS(ctx, p.ClientMethod.Addr, p.ServerMethod.Addr, p.ServerMethod.Args)
	return c, err
}

// Stop closes both PTs' stdin at the same instant, as tor does at shutdown,
// and waits up to timeout for both to exit. It returns the longer of the two
// exit times, and an error if either is still running or exits non-zero.
func (p *Pair) Stop(timeout time.Duration) (time.Duration, error) {
	mark := time.Now()
	p.Server.CloseStdin()
	p.Client.CloseStdin()
	var worst time.Duration
	var errs []error
	for _, side := range []struct {
		name string
		pt   *PT
	}{{"server", p.Server}, {"client", p.Client}} {
		code, _, err := side.pt.Wait(timeout - time.Since(mark))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", side.name, err))
			continue
		}
		worst = max(worst, side.pt.ExitTime().Sub(mark))
		if code != 0 {
			errs = append(errs, fmt.Errorf("%s: %v", side.name, side.pt.ProcessState()))
		}
	}
	return worst, errors.Join(errs...)
}
