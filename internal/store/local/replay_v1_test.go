package local

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/wal"
)

// TestReplayVersion1Record replays a WAL record of spancodec's version 1
// (its golden batch, testdata/v1.batch: three spans of one trace), then
// reads the trace from the head and, after a flush, from the block: a
// later format must still replay the records of this one.
func TestReplayVersion1Record(t *testing.T) {
	rec, err := os.ReadFile(filepath.Join("..", "spancodec", "testdata", "v1.batch"))
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t.TempDir())
	w, _, err := wal.Open(filepath.Join(o.Dir, "wal"), wal.Options{}, func(int, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s := openT(t, o)
	check := func(when string) {
		t.Helper()
		tr, err := s.GetTrace(context.Background(), model.TraceIDFromUint64s(1, 2))
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var names []string
		for _, sp := range tr.Spans {
			names = append(names, sp.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"", "GET /", "child"}) {
			t.Fatalf("%s: span names %q", when, names)
		}
	}
	check("replayed")
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("flushed")
}
