package cli

import (
	"os"
	"testing"
)

// TestConfigDocsUpToDate keeps docs/configuration.md equal to what the
// config tree generates. Regenerate with: go run ./cmd/clew config docs > docs/configuration.md
func TestConfigDocsUpToDate(t *testing.T) {
	got, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != ConfigDocs() {
		t.Fatal("docs/configuration.md is stale: run `go run ./cmd/clew config docs > docs/configuration.md`")
	}
}
