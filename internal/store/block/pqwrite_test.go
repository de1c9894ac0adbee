package block

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/clew-dev/clew/internal/model"
)

// newParquetGoRowSink is the reference writer: parquet-go's
// GenericWriter[Row] with the options the block writer used before Clew's
// own (pqwrite.go).
func newParquetGoRowSink(out io.Writer, o WriterOptions) (rowSink, error) {
	var skipPageBounds []parquet.WriterOption
	for _, path := range parquet.SchemaOf(Row{}).Columns() {
		if len(path) == 1 && boundedColumns[path[0]] {
			continue
		}
		skipPageBounds = append(skipPageBounds, parquet.SkipPageBounds(path...))
	}
	return parquet.NewGenericWriter[Row](out, append([]parquet.WriterOption{
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.PageBufferSize(o.PageBufferSize),
		parquet.MaxRowsPerRowGroup(int64(o.RowGroupRows) * 64),
		parquet.CreatedBy("clew", "block", fmt.Sprint(FormatVersion)),
		parquet.KeyValueMetadata("clew.block.format_version", fmt.Sprint(FormatVersion)),
		parquet.SortingWriterConfig(parquet.SortingColumns(parquet.Ascending("trace_id"), parquet.Ascending("start_unix_nano"))),
		parquet.DataPageStatistics(false),
	}, skipPageBounds...)...), nil
}

// writeBlockSink writes spans (sorting them) as a block whose rows go to
// the sink newSink makes.
func writeBlockSink(t testing.TB, spans []*model.Span, o WriterOptions, newSink func(io.Writer, WriterOptions) (rowSink, error)) (*Dir, Meta) {
	t.Helper()
	dir := t.TempDir()
	be, err := NewDir(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(spans, CompareSpans)
	w, err := newWriter(be, filepath.Join(dir, "tmp"), Meta{}, o, newSink)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range spans {
		if err := w.Add(sp); err != nil {
			t.Fatal(err)
		}
	}
	m, err := w.Finish(context.Background(), time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return be, m
}

func readData(t testing.TB, be *Dir, id string) []byte {
	t.Helper()
	b, err := be.Read(context.Background(), id, DataName)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestZZPQCompare(t *testing.T) {
	spans := genSpansLoad(t, 2000)
	beRef, mRef := writeBlockSink(t, spans, WriterOptions{}, newParquetGoRowSink)
	be, m := writeBlockSink(t, spans, WriterOptions{}, newPQRowSink)
	ref, got := readData(t, beRef, mRef.ID), readData(t, be, m.ID)
	t.Logf("sizes: ref %d got %d equal %v", len(ref), len(got), bytes.Equal(ref, got))
	for i := range min(len(ref), len(got)) {
		if ref[i] != got[i] {
			t.Logf("first difference at %d: ref % x got % x", i, ref[max(0, i-16):i+16], got[max(0, i-16):i+16])
			break
		}
	}
	fr, err := parquet.OpenFile(bytes.NewReader(ref), int64(len(ref)))
	if err != nil {
		t.Fatal(err)
	}
	fg, err := parquet.OpenFile(bytes.NewReader(got), int64(len(got)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for g := range fr.Metadata().RowGroups {
		for c := range fr.Metadata().RowGroups[g].Columns {
			a, b := fr.Metadata().RowGroups[g].Columns[c].MetaData, fg.Metadata().RowGroups[g].Columns[c].MetaData
			if d := cmp.Diff(a, b); d != "" && n < 4 {
				n++
				t.Errorf("rg %d col %d (-ref +got):\n%s", g, c, d)
			}
		}
	}
	if d := cmp.Diff(fr.ColumnIndexes(), fg.ColumnIndexes()); d != "" {
		t.Errorf("column indexes (-ref +got):\n%s", d[:min(len(d), 5000)])
	}
}
