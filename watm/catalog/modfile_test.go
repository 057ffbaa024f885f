package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/water-pt/water-pt/watm"
	"github.com/water-pt/water-pt/watm/catalog"
	"github.com/water-pt/water-pt/watm/modules"
)

func newRuntime(t *testing.T) *watm.Runtime {
	rt, err := watm.NewRuntime(context.Background(), watm.WithCompilationCacheDir(cacheDir), watm.WithPoolSize(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

func newCatalog(t *testing.T) *catalog.Catalog {
	return catalog.New(newRuntime(t), catalog.WithEmbedded(modules.Lookup, modules.Names(), modules.Default))
}

// loadPath asks the catalog for the module file at path, as watm=/abs/path
// on a bridge line does.
func loadPath(c *catalog.Catalog, path string) error {
	_, err := c.Load(context.Background(), catalog.Spec{Name: path})
	return err
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

func TestCatalogRefusesLargeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.wasm")
	if err := os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 1<<30); err != nil { // sparse: nothing written
		t.Fatal(err)
	}
	c := newCatalog(t)
	start := time.Now()
	err := loadPath(c, path)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("refusing a 1 GiB file took %v, want under 100 ms (no read)", d)
	}
	wantErr(t, err, path, "1073741824 bytes", "limit of 33554432", "-watm-max-size")
}

func TestCatalogRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.wasm")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCatalog(t)
	done := make(chan error, 1)
	go func() { done <- loadPath(c, fifo) }()
	select {
	case err := <-done:
		wantErr(t, err, fifo, "not a regular file", "watm=")
	case <-time.After(5 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
	wantErr(t, loadPath(c, dir), dir, "not a regular file")
	wantErr(t, loadPath(c, "/dev/zero"), "/dev/zero", "not a regular file")
}

func TestCatalogChecksHeaderFirst(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"text", "#!/bin/sh\n" + strings.Repeat("x", 1<<20)},
		{"version 2", "\x00asm\x02\x00\x00\x00" + strings.Repeat("\x00", 100)},
		{"short", "\x00as"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.wasm")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			wantErr(t, loadPath(newCatalog(t), path), path, "not a WebAssembly module", "watm=")
		})
	}
}

// TestCatalogRemembersFailure: a file that failed is not read again while
// its size and modification time stay the same. The test swaps a good
// module in under the same size and time: the failure must come back, then
// a new time makes the catalog read it.
func TestCatalogRemembersFailure(t *testing.T) {
	good := okPlain(t)
	bad := append([]byte("\x00asm\x02\x00\x00\x00"), good[8:]...)
	path := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c := newCatalog(t)
	wantErr(t, loadPath(c, path), "not a WebAssembly module")
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	wantErr(t, loadPath(c, path), "not a WebAssembly module")
	if err := os.Chtimes(path, st.ModTime(), st.ModTime().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := loadPath(c, path); err != nil {
		t.Fatalf("after the file changed: %v", err)
	}
}
