package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
	"github.com/water-pt/water-pt/ptserver/extortest"
	"github.com/water-pt/water-pt/watm/modules"
)

// moduleCases are the two ways a module is chosen: by name, embedded, and
// a file given by absolute path. Both are light transforms: these tests
// load water-pt's plumbing with 200 connections at once. The default
// module, obfs4, has its own tests (TestObfs4Interop: 50 at once, as its
// handshake is costly in WebAssembly; TestTorBridgeAndClient and
// TestStandalone run it with no options at all).
func moduleCases(t *testing.T) map[string][]tortest.KV {
	dir := t.TempDir()
	b, _ := modules.Lookup("reverse")
	path := filepath.Join(dir, "reverse.wasm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string][]tortest.KV{
		"embedded": {{Key: "watm", Value: "plain"}},
		"file":     {{Key: "watm", Value: path}},
	}
}

func startPair(t *testing.T, opts []tortest.KV, mode extortest.Mode, clientEnv ...string) *tortest.Pair {
	t.Helper()
	return tortest.StartPair(t, tortest.PairConfig{
		Binary:        tortest.Build(t),
		Transport:     "water",
		ServerOptions: opts,
		Mode:          mode,
		ClientEnv:     clientEnv,
		ServerArgs:    wazeroCacheArgs(t),
		ClientArgs:    wazeroCacheArgs(t),
		SetupWithin:   2 * time.Minute, // a cold cache: compiling obfs4 under -race
	})
}

func TestManagedPair(t *testing.T) {
	for name, opts := range moduleCases(t) {
		t.Run(name, func(t *testing.T) {
			p := startPair(t, opts, extortest.Echo())
			checkArgs(t, p, opts)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			streamEcho(ctx, t, p, 32<<20)
			concurrentEcho(ctx, t, p, 200, 64<<10)
			sessions, err := p.ExtOR.WaitSessions(ctx, 201)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sessions {
				if !s.AuthOK || s.Transport != "water" || !strings.HasPrefix(s.UserAddr, "127.0.0.1:") {
					t.Fatalf("ExtORPort session: auth %v, TRANSPORT %q, USERADDR %q, err %v", s.AuthOK, s.Transport, s.UserAddr, s.Err)
				}
			}
			if e := p.Server.Stderr() + p.Client.Stderr(); e != "" {
				t.Errorf("stderr in managed mode: %s", e)
			}
		})
	}
}

// checkArgs asserts that the SMETHOD ARGS name the module and pin it.
func checkArgs(t *testing.T, p *tortest.Pair, opts []tortest.KV) {
	t.Helper()
	want := strings.TrimSuffix(filepath.Base(opts[0].Value), ".wasm")
	checkModuleArgs(t, p.ServerMethod.Args, want)
}

// TestManagedV1 runs the v1 module on both sides, and mixed: a client
// asking for the v0 plain module against a v1 plain server (the same wire
// protocol).
func TestManagedV1(t *testing.T) {
	p := startPair(t, []tortest.KV{{Key: "watm", Value: "plain_v1"}}, extortest.Echo())
	checkArgsName(t, p, "plain_v1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	streamEcho(ctx, t, p, 32<<20)
	concurrentEcho(ctx, t, p, 200, 64<<10)

	// Mixed: the client runs v0 plain against the v1 server.
	mc, code, err := tortest.DialSOCKS(ctx, p.ClientMethod.Addr, p.ServerMethod.Addr, []tortest.KV{{Key: "watm", Value: "plain"}})
	if err != nil {
		t.Fatalf("mixed v0 client: reply %d: %v", code, err)
	}
	defer mc.Close()
	if err := tortest.CheckEcho(mc, 4<<20); err != nil {
		t.Fatal(err)
	}
}

func checkArgsName(t *testing.T, p *tortest.Pair, want string) {
	t.Helper()
	for _, kv := range p.ServerMethod.Args {
		if kv.Key == "watm" && kv.Value == want {
			return
		}
	}
	t.Fatalf("SMETHOD ARGS %v: want watm=%s", p.ServerMethod.Args, want)
}

// streamEcho sends n bytes each way on one connection, byte for byte.
func streamEcho(ctx context.Context, t *testing.T, p *tortest.Pair, n int) {
	t.Helper()
	c, err := p.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := tortest.CheckEcho(c, n); err != nil {
		t.Fatal(err)
	}
}

// concurrentEcho opens n connections through the pair at once, each
// echoing size bytes checked byte for byte.
func concurrentEcho(ctx context.Context, t *testing.T, p *tortest.Pair, n, size int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.Dial(ctx)
			if err != nil {
				errs <- fmt.Errorf("conn %d: dial: %w", i, err)
				return
			}
			defer c.Close()
			if err := tortest.CheckEcho(c, size); err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
