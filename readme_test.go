package waterpt_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeModulesBuild builds every Go code block of README.md's "Write
// your own WATM" section as a WATM, the way the README tells an author to:
// its own module, this repository as a dependency.
func TestReadmeModulesBuild(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Write your own WATM\n")
	if !ok {
		t.Fatal(`README.md has no "## Write your own WATM" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := goBlocks(section)
	if len(blocks) < 2 {
		t.Fatalf("found %d Go blocks in the section, want the byte transform and the stream example", len(blocks))
	}
	repo, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	for i, src := range blocks {
		dir := t.TempDir()
		files := map[string]string{
			"main.go": src,
			"go.mod": "module example.com/watm\n\ngo 1.26.0\n\nrequire github.com/water-pt/water-pt v0.0.0\n\n" +
				"replace github.com/water-pt/water-pt => " + repo + "\n",
			"go.sum": string(sum),
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("go", "build", "-mod=mod", "-buildmode=c-shared", "-trimpath", "-o", "m.wasm", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "GOPROXY=off", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("README Go block %d does not build: %v\n%s\n%s", i+1, err, out, src)
		}
	}
}

// goBlocks returns the bodies of the ```go fences in s.
func goBlocks(s string) []string {
	var blocks []string
	for {
		_, rest, ok := strings.Cut(s, "```go\n")
		if !ok {
			return blocks
		}
		body, after, _ := strings.Cut(rest, "```")
		blocks = append(blocks, body)
		s = after
	}
}
