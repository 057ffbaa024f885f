package tortest

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
)

// WaterPTPackage is the import path of the PT binary that Build builds.
const WaterPTPackage = "github.com/water-pt/water-pt/cmd/water-pt"

// BinaryEnv names an environment variable that, when set, makes Build skip
// building and use that binary instead (e.g. to run the integration tests or
// benchmarks against an installed or differently built PT).
const BinaryEnv = "WATERPT_BINARY"

// Builder builds a Go main package once and hands out the binary's path.
// The zero value is not usable: set Package. A Builder is safe for concurrent
// use; the binary lives in a temporary directory until Close.
type Builder struct {
	Package string   // import path of the main package
	Flags   []string // extra "go build" flags; -race is added when this test binary has it

	once sync.Once
	dir  string
	path string
	err  error
}

// Build builds the package on the first call and returns the binary's path;
// later calls return the same result.
func (b *Builder) Build() (string, error) {
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "tortest-build-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, path.Base(b.Package))
		args := []string{"build", "-o", b.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(append(args, b.Flags...), b.Package)
		out, err := exec.Command(goCommand(), args...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
		}
	})
	return b.path, b.err
}

// Path is Build in a test: a build failure is fatal.
func (b *Builder) Path(t testing.TB) string {
	t.Helper()
	p, err := b.Build()
	if err != nil {
		t.Fatalf("tortest: building %s: %v", b.Package, err)
	}
	return p
}

// Close removes the built binary. The Builder must not be used afterwards.
func (b *Builder) Close() error {
	b.once.Do(func() {}) // no build after Close
	if b.dir == "" {
		return nil
	}
	return os.RemoveAll(b.dir)
}

// goCommand returns the go command that runs this test: "go test" puts its
// own GOROOT/bin first in PATH.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// waterPT is the one build of cmd/water-pt per test process. It is the only
// package-level state of tortest: a build artifact, written once through
// sync.Once and removed by Main.
var waterPT = &Builder{Package: WaterPTPackage}

// Build returns the path of cmd/water-pt built for this test process (once,
// whatever the number of callers), or the binary named by $WATERPT_BINARY.
// The binary is removed when Main returns; a package that calls Build should
// therefore have
//
//	func TestMain(m *testing.M) { os.Exit(tortest.Main(m)) }
//
// (without it the binary is left in the temporary directory).
func Build(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(BinaryEnv); p != "" {
		return p
	}
	return waterPT.Path(t)
}

// Main runs the tests and then removes the binary built by Build. Use it as
// os.Exit(tortest.Main(m)) in TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	waterPT.Close()
	return code
}

// RaceEnabled reports whether Build makes -race binaries (this test binary
// was built with -race): they run slower and their memory counts the race
// detector's shadow of the heap.
func RaceEnabled() bool { return raceEnabled }
