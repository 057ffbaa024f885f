package watm

import (
	"os"
	"testing"

	"github.com/water-pt/water-pt/watm/watmtest"
)

// testCacheDir is the compilation cache the package's tests share
// (watmtest.MainWithCache). Tests of compilation itself
// (TestLoadAfterClose, TestLoadDoesNotWaitOnOtherModule) make their
// Runtime without it.
var testCacheDir string

func TestMain(m *testing.M) { os.Exit(watmtest.MainWithCache(m, &testCacheDir)) }

// WithTestCache is the option that gives a test's Runtime the tests'
// shared compilation cache.
func WithTestCache() Option { return WithCompilationCacheDir(testCacheDir) }
