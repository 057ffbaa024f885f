package integration

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/water-pt/water-pt/integration/tortest"
)

// "water-pt check" with its default sizes (64 MiB each way, 100
// concurrent connections, 50 set-ups, 50 held) passes a shipped module, and
// exits 1 on a broken one.
func TestCheckCommand(t *testing.T) {
	bin := tortest.Build(t)
	module := writeEmbeddedModule(t, "plain_v1")
	cmd := exec.Command(bin, "check", module)
	cmd.Env = standaloneEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("water-pt check %s: %v\n%s", module, err, out)
	}
	for _, re := range []string{
		`(?m)^PASS load +valid WATER v1 module`,
		`(?m)^PASS set-up +p50 .* over 50 connections`,
		`(?m)^PASS stream +64 MiB each way at once, intact: dialer->listener \d+ MB/s, listener->dialer \d+ MB/s$`,
		`(?m)^PASS connections +100 at once, 64 KiB each way each, intact`,
		`(?m)^PASS memory +\d+ KiB PSS per instance \(growth of the process holding 50 connections, 100 instances\)$`,
		`(?m)^PASS stop +through the cancel channel \(watm_ctrlpipe_v1\)`,
		`(?m)^PASS: every check passed, (0 warnings|1 warning)$`,
	} {
		if !regexp.MustCompile(re).Match(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	// The one warning a correct module may get: whether the kernel ever
	// takes part of a write depends on the load.
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "WARN") && !strings.HasPrefix(l, "WARN short writes ") {
			t.Errorf("unexpected warning: %s", l)
		}
	}
	t.Logf("%s", out)

	cmd = exec.Command(bin, "check", "../watm/testdata/missing_worker.wasm")
	cmd.Env = standaloneEnv(t)
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "_water_worker missing") {
		t.Fatalf("check of a broken module: %v; want exit 1 naming _water_worker\n%s", err, out)
	}
}
