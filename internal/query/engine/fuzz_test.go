package engine

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/query/traceql"
)

// FuzzEvaluate runs arbitrary queries that parse over the fixture traces:
// evaluation must not panic, and must finish.
func FuzzEvaluate(f *testing.F) {
	for _, name := range []string{"queries.txt", "../../traceql/testdata/valid.txt"} {
		file, err := os.Open("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			line := sc.Text()
			if q, ok := strings.CutPrefix(line, "query: "); ok {
				f.Add(q)
			} else if q, ok := strings.CutPrefix(line, "metrics: "); ok {
				f.Add(q)
			} else if !strings.HasPrefix(line, "#") && strings.HasPrefix(strings.TrimSpace(line), "{") {
				f.Add(line)
			}
		}
		file.Close()
	}
	e, fx := newFixtureEngine(f, Options{Timeout: 5 * time.Second})
	f.Fuzz(func(t *testing.T, q string) {
		query, err := traceql.Parse(q)
		if err != nil {
			return
		}
		ctx := context.Background()
		if query.Metrics != nil {
			_, err = e.QueryRange(ctx, MetricsRequest{Query: query, Start: fx.Base, End: fx.Base.Add(5 * time.Minute), Step: time.Minute})
		} else {
			_, err = e.Search(ctx, SearchRequest{Query: query, Limit: 10})
			if err == nil {
				_, err = e.TagValues(ctx, TagValuesRequest{Tag: &traceql.Attribute{Scope: traceql.ScopeIntrinsic, Intrinsic: traceql.IntrinsicName}, Query: query})
			}
		}
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
	})
}
