package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/water-pt/water-pt/watm/catalog"
	"github.com/water-pt/water-pt/watm/modules"
)

// okPlain is a small valid module (watm/testdata/ok_plain.wat): these tests
// are about finding modules, and compiling a shipped one takes a minute
// under the race detector.
func okPlain(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/ok_plain.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// embedded is a WithEmbedded lookup that has every one of names, as b.
func embedded(b []byte, names ...string) func(string) ([]byte, bool) {
	return func(name string) ([]byte, bool) {
		for _, n := range names {
			if n == name {
				return b, true
			}
		}
		return nil, false
	}
}

// TestOptions checks that each option reaches the catalog: a directory is
// searched before the embedded modules, the default is the one given, the
// size limit is the one given, and a name found nowhere lists where it was
// looked for.
func TestOptions(t *testing.T) {
	dir := t.TempDir()
	wasm := okPlain(t)
	if err := os.WriteFile(filepath.Join(dir, "reverse.wasm"), wasm, 0o600); err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t)
	c := catalog.New(rt, catalog.WithDirs(dir),
		catalog.WithEmbedded(embedded(wasm, "plain", "reverse"), []string{"plain", "reverse"}, "plain"))
	r, err := c.Load(context.Background(), catalog.Spec{Name: "reverse"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "reverse.wasm"); r.Source != want || r.Name != "reverse" || r.Module.Trusted() {
		t.Errorf("reverse resolved to %s (%s, trusted %v), want the file %s, untrusted", r.Name, r.Source, r.Module.Trusted(), want)
	}
	r, err = c.Load(context.Background(), catalog.Spec{})
	if err != nil || r.Name != "plain" || r.Source != catalog.SourceEmbedded || !r.Module.Trusted() {
		t.Errorf("default: %s (%s), %v; want the embedded plain, trusted", r.Name, r.Source, err)
	}
	_, err = c.Load(context.Background(), catalog.Spec{Name: "nope"})
	want := `watm: no module named "nope": looked in ` + dir + ` and the embedded modules (plain, reverse); ` +
		"put nope.wasm in a WATM directory (-watm-dir) or give an absolute path"
	if err == nil || err.Error() != want {
		t.Errorf("missing module: %v\nwant %s", err, want)
	}

	trusting := catalog.New(rt, catalog.WithDirs(dir), catalog.WithTrustedFiles(true))
	if r, err := trusting.Load(context.Background(), catalog.Spec{Name: "reverse"}); err != nil || !r.Module.Trusted() {
		t.Errorf("WithTrustedFiles(true): %v, want the file loaded trusted", err)
	}
	small := catalog.New(rt, catalog.WithDirs(dir), catalog.WithMaxFileSize(1000))
	_, err = small.Load(context.Background(), catalog.Spec{Name: "reverse"})
	wantErr(t, err, "1408 bytes, more than the limit of 1000", "-watm-max-size")
}

// TestCheckArgs: with WithModuleArgs the catalog refuses a key the embedded
// module does not take; without it, it cannot tell and lets the module
// check.
func TestCheckArgs(t *testing.T) {
	rt := newRuntime(t)
	water := catalog.Transport{Name: "water"}
	args := map[string]string{"crt": "x"}
	lookup := embedded(okPlain(t), "obfs4")
	with := catalog.New(rt, catalog.WithEmbedded(lookup, []string{"obfs4"}, "obfs4"), catalog.WithModuleArgs(modules.Args))
	r, err := with.Load(context.Background(), catalog.Spec{Name: "obfs4"})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, with.CheckArgs(water, false, r, args), `unknown argument "crt"`, `module "obfs4" takes: cert`)
	without := catalog.New(rt, catalog.WithEmbedded(lookup, []string{"obfs4"}, "obfs4"))
	if err := without.CheckArgs(water, false, r, args); err != nil {
		t.Errorf("without WithModuleArgs: %v, want nil", err)
	}
}
