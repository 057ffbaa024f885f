package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/water-pt/water-pt/integration/tortest"
)

// TestUnwritableCache points both PTs' compiled-module cache at a path
// that cannot be a directory: the cache is optional, so each must warn
// (a LOG line to tor) and serve without it.
func TestUnwritableCache(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(file, "cache")
	p := startWaterPair(t, tortest.PairConfig{
		ServerArgs: []string{"-watm-cache", bad},
		ClientArgs: []string{"-watm-cache", bad},
	})
	for _, pt := range []*tortest.PT{p.Client, p.Server} {
		l, err := waitLogContaining(ctxTimeout(t, 10*time.Second), pt, 0, "compiled-module cache unusable; running without it")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"SEVERITY=warning", bad, "not a directory", "-watm-cache off"} {
			if !strings.Contains(l.Text, want) {
				t.Errorf("LOG line does not say %q: %s", want, l.Text)
			}
		}
	}
	echoOnceWithin(t, p, 64<<10, 5*time.Minute)
	stopPair(t, p)
}

// TestServerTransportWithoutBindaddr: tor asks for water but lists no bind
// address for it (goptlib drops such a transport silently); the PT must
// answer SMETHOD-ERROR, as tor waits for a word about every transport.
func TestServerTransportWithoutBindaddr(t *testing.T) {
	dir := t.TempDir()
	env := tortest.ServerEnv(filepath.Join(dir, "pt_state"), []string{"water"}, nil, "", "", "127.0.0.1:9", filepath.Join(dir, "cookie"))
	env = append(env, "TOR_PT_SERVER_BINDADDR=other-127.0.0.1:0")
	pt := tortest.Start(t, tortest.Build(t), env, wazeroCacheArgs(t)...)
	if code := waitExit(t, pt, time.Minute); code != 1 {
		t.Errorf("exit status %d, want 1 (no method to serve)", code)
	}
	wantExactly(t, pt, []string{
		"VERSION 1",
		"SMETHOD-ERROR water no bind address for it in TOR_PT_SERVER_BINDADDR: tor passes one for every transport it asks for (ServerTransportListenAddr, or 0.0.0.0:0)",
		"SMETHODS DONE",
	}, tortest.KindLog)
	noStderr(t, pt)
}
