package cli

import (
	"os"
	"strings"
	"testing"
)

// TestGenDocs checks that docs/gen.md lists every flag of clew gen.
func TestGenDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/gen.md")
	if err != nil {
		t.Fatal(err)
	}
	var help strings.Builder
	if code := runGen([]string{"--help"}, Env{Stdout: &help, Stderr: &help, Getenv: os.Getenv}); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	n := 0
	for _, line := range strings.Split(help.String(), "\n") {
		f, ok := strings.CutPrefix(line, "  -")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(f, " ")
		n++
		if !strings.Contains(string(doc), "| `--"+name+"` |") {
			t.Errorf("docs/gen.md does not list --%s", name)
		}
	}
	if n < 20 {
		t.Errorf("found %d flags in --help:\n%s", n, help.String())
	}
}
