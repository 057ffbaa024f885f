package watmtest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/tetratelabs/wazero/experimental"
)

// CacheDirEnv names an environment variable that, when set, names the
// compilation cache directory every test binary of a run shares (.ci/run
// sets it, and removes the directory after the run); unset, each test
// binary makes its own (MainWithCache).
const CacheDirEnv = "WATERPT_TEST_WAZERO_CACHE"

// MainWithCache runs m's tests with *dir naming a compilation cache
// directory for the test binary's Runtimes (watm.WithCompilationCacheDir):
// $WATERPT_TEST_WAZERO_CACHE if set, else a temporary directory removed
// after the tests. Under -race, compiling a shipped module (1.9-4.2 MB of
// Go-built WebAssembly) takes from seconds to tens of seconds, and each
// test makes its own Runtime: with the cache, a module is compiled once.
// dir is the test package's variable, set here before any test runs. Use
// it as os.Exit(watmtest.MainWithCache(m, &cacheDir)) in TestMain.
func MainWithCache(m *testing.M, dir *string) int {
	if d := os.Getenv(CacheDirEnv); d != "" {
		*dir = d
		return m.Run()
	}
	d, err := os.MkdirTemp("", "waterpt-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "watmtest: compilation cache:", err)
		return 1
	}
	defer os.RemoveAll(d)
	*dir = d
	return m.Run()
}

// CompileContext is ctx with one wazero compilation worker per CPU, for a
// Load in a test: a module the cache does not hold yet compiles on every
// CPU rather than one. What the module does is the same; only the compile
// runs in parallel.
func CompileContext(ctx context.Context) context.Context {
	return experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
}
