package ptserver

import (
	"os"
	"testing"

	"github.com/water-pt/water-pt/watm/watmtest"
)

// cacheDir is the compilation cache the package's Runtimes share
// (watmtest.MainWithCache): each test's catalog would otherwise compile
// its modules again.
var cacheDir string

func TestMain(m *testing.M) { os.Exit(watmtest.MainWithCache(m, &cacheDir)) }
