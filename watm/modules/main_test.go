package modules_test

import (
	"os"
	"testing"

	"github.com/water-pt/water-pt/watm/watmtest"
)

// cacheDir is the compilation cache the package's Runtimes share
// (watmtest.MainWithCache): obfs4 is compiled once, not once per test.
var cacheDir string

func TestMain(m *testing.M) { os.Exit(watmtest.MainWithCache(m, &cacheDir)) }
