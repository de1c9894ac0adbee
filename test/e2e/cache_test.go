package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadCacheBounds checks that the read caches' settings reach the
// running store: with the three bounds at 0 lookups and searches keep
// nothing and every search reads its blocks' indexes again; with the
// defaults the caches fill and a second search reads no index.
func TestReadCacheBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		off  bool
	}{
		{"off", []string{"--local.dictionary-cache-bytes=0", "--local.search-cache-bytes=0", "--local.page-cache-bytes=0"}, true},
		{"defaults", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, append([]string{"--storage=local", "--local.flush-interval=1s", "--local.compaction-interval=0"}, tc.args...)...)
			ids := filepath.Join(t.TempDir(), "ids.txt")
			out, err := exec.Command(Binary(t), "gen", "--endpoint", s.OTLPGRPCAddr(), "--protocol", "otlp-grpc",
				"--traces", "300", "--interval", "0", "--trace-ids", ids).CombinedOutput()
			if err != nil {
				t.Fatalf("clew gen: %v\n%s", err, out)
			}
			deadline := time.Now().Add(30 * time.Second)
			for s.Metric(t, "clew_local_head_spans") != 0 || s.Metric(t, "clew_local_blocks") < 1 {
				if time.Now().After(deadline) {
					t.Fatalf("head not flushed after 30s\n%s", s.Log())
				}
				time.Sleep(100 * time.Millisecond)
			}
			b, err := os.ReadFile(ids)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range strings.Fields(string(b))[:50] {
				mustGet(t, s.QueryURL()+"/api/traces/"+id)
			}
			search := s.QueryURL() + "/api/traces?service=frontend&limit=20&lookback=1h"
			mustGet(t, search)
			loads := s.Metric(t, "clew_local_search_index_loads_total")
			mustGet(t, search)
			again := s.Metric(t, "clew_local_search_index_loads_total") - loads
			blocks := s.Metric(t, "clew_local_blocks")
			dict, idx, pages := s.Metric(t, "clew_local_dictionary_cache_bytes"), s.Metric(t, "clew_local_search_cache_bytes"), s.Metric(t, "clew_local_page_cache_bytes")
			t.Logf("blocks %v, index loads %v then %v more; cache bytes: dictionaries %v, search %v, pages %v", blocks, loads, again, dict, idx, pages)
			if loads < 1 {
				t.Fatalf("the search read no block index (%v loads)", loads)
			}
			if tc.off {
				if dict != 0 || idx != 0 || pages != 0 {
					t.Errorf("caches of 0 bytes hold dictionaries %v, search %v, pages %v bytes", dict, idx, pages)
				}
				if again < 1 {
					t.Errorf("with no search cache, a second search read %v indexes", again)
				}
				return
			}
			if dict <= 0 || idx <= 0 || pages <= 0 {
				t.Errorf("default caches hold dictionaries %v, search %v, pages %v bytes after lookups and searches", dict, idx, pages)
			}
			if again != 0 {
				t.Errorf("with the search cache, a second search read %v indexes", again)
			}
		})
	}
}

// mustGet fails the test unless url answers 200.
func mustGet(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
}
