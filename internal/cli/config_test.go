package cli

import (
	"os"
	"testing"

	"github.com/clew-dev/clew/internal/config"
	"github.com/clew-dev/clew/internal/store/block"
	"github.com/clew-dev/clew/internal/store/local"
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

// TestCacheDefaults keeps the configuration's cache defaults equal to the
// bounds the storage packages start with.
func TestCacheDefaults(t *testing.T) {
	d := config.Default().Local
	if int64(d.DictionaryCache) != block.DictionaryCacheBytes || int64(d.PageCache) != block.PageCacheBytes || int64(d.SearchCache) != local.SearchCacheBytes {
		t.Errorf("cache defaults %d/%d/%d differ from the storage's", d.DictionaryCache, d.PageCache, d.SearchCache)
	}
}
