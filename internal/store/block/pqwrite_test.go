package block

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"syscall"
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

// BenchmarkWriteGenParquetGo is BenchmarkWriteGen with parquet-go's
// writer, the reference (-bench WriteGen runs both in the same minute).
func BenchmarkWriteGenParquetGo(b *testing.B) {
	benchWriteSink(b, genSpansLoad(b, 5000), newParquetGoRowSink)
}

// benchWriteSink is benchWrite with the sink newSink makes.
func benchWriteSink(b *testing.B, spans []*model.Span, newSink func(io.Writer, WriterOptions) (rowSink, error)) {
	dir := b.TempDir()
	be, _ := NewDir(filepath.Join(dir, "blocks"))
	slices.SortFunc(spans, CompareSpans)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	var size int64
	for i := 0; i < b.N; i++ {
		w, err := newWriter(be, filepath.Join(dir, "tmp"), Meta{}, WriterOptions{}, newSink)
		if err != nil {
			b.Fatal(err)
		}
		for _, sp := range spans {
			if err := w.Add(sp); err != nil {
				b.Fatal(err)
			}
		}
		m, err := w.Finish(context.Background(), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		size = m.Size()
		be.DeleteBlock(context.Background(), m.ID)
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*len(spans)), "cpu-ns/span")
	b.ReportMetric(float64(size)/float64(len(spans)), "bytes/span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}

// genRows returns the rows the block writer makes of the benchmark load
// (attribute columns chosen), in batches of 1,024 as it writes them.
func genRows(tb testing.TB, traces int) [][]Row {
	spans := genSpansLoad(tb, traces)
	slices.SortFunc(spans, CompareSpans)
	var batches [][]Row
	sink := &captureSink{batches: &batches}
	w, err := newWriter(nil, tb.TempDir(), Meta{}, WriterOptions{}, func(io.Writer, WriterOptions) (rowSink, error) { return sink, nil })
	if err != nil {
		tb.Fatal(err)
	}
	for _, sp := range spans {
		if err := w.Add(sp); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.flushRows(); err != nil {
		tb.Fatal(err)
	}
	w.Abort()
	return batches
}

// captureSink keeps deep copies of the rows written to it.
type captureSink struct {
	batches *[][]Row
	meta    map[string]string
}

func (s *captureSink) Write(rows []Row) (int, error) {
	cp := make([]Row, len(rows))
	for i := range rows {
		cp[i] = cloneRow(&rows[i])
	}
	*s.batches = append(*s.batches, cp)
	return len(rows), nil
}
func (s *captureSink) Flush() error { return nil }
func (s *captureSink) Close() error { return nil }
func (s *captureSink) SetKeyValueMetadata(k, v string) {
	if s.meta == nil {
		s.meta = map[string]string{}
	}
	s.meta[k] = v
}

// cloneRow copies r with its slices (strings are immutable).
func cloneRow(r *Row) Row {
	c := *r
	c.AttrsStr = slices.Clone(r.AttrsStr)
	c.AttrsInt = slices.Clone(r.AttrsInt)
	c.AttrsDouble = slices.Clone(r.AttrsDouble)
	c.AttrsBool = slices.Clone(r.AttrsBool)
	c.AttrsOther = cloneOthersNil(r.AttrsOther)
	c.Events = slices.Clone(r.Events)
	for i := range c.Events {
		c.Events[i].AttrsStr = slices.Clone(c.Events[i].AttrsStr)
		c.Events[i].AttrsOther = cloneOthersNil(c.Events[i].AttrsOther)
	}
	c.Links = slices.Clone(r.Links)
	for i := range c.Links {
		c.Links[i].AttrsStr = slices.Clone(c.Links[i].AttrsStr)
		c.Links[i].AttrsOther = cloneOthersNil(c.Links[i].AttrsOther)
	}
	c.ResourceAttrsStr = slices.Clone(r.ResourceAttrsStr)
	c.ResourceAttrsOther = cloneOthersNil(r.ResourceAttrsOther)
	c.ScopeAttrsStr = slices.Clone(r.ScopeAttrsStr)
	c.ScopeAttrsOther = cloneOthersNil(r.ScopeAttrsOther)
	return c
}

func cloneOthersNil(in []OtherAttr) []OtherAttr {
	if in == nil {
		return nil
	}
	return cloneOthers(in)
}

// BenchmarkPQWriter writes the benchmark load's rows with Clew's Parquet
// writer alone (to io.Discard): the Parquet part of a flush.
func BenchmarkPQWriter(b *testing.B) {
	benchParquet(b, func(out io.Writer) (rowSink, error) {
		return newPQRowSink(out, WriterOptions{RowGroupRows: 65536, PageBufferSize: 32 << 10})
	})
}

// BenchmarkPQWriterParquetGo is BenchmarkPQWriter with parquet-go's
// GenericWriter, the reference.
func BenchmarkPQWriterParquetGo(b *testing.B) {
	benchParquet(b, func(out io.Writer) (rowSink, error) {
		return newParquetGoRowSink(out, WriterOptions{RowGroupRows: 65536, PageBufferSize: 32 << 10})
	})
}

func benchParquet(b *testing.B, newSink func(io.Writer) (rowSink, error)) {
	batches := genRows(b, 5000)
	n := 0
	for _, bt := range batches {
		n += len(bt)
	}
	var cw countWriter
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		cw = 0
		s, err := newSink(&cw)
		if err != nil {
			b.Fatal(err)
		}
		for _, bt := range batches {
			if _, err := s.Write(bt); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*n), "cpu-ns/span")
	b.ReportMetric(float64(cw)/float64(n), "bytes/span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
}

// processCPU returns the process's user and system CPU time in
// nanoseconds (garbage collection included): on a shared machine it
// varies less than the elapsed time.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// countWriter counts the bytes written to it.
type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) {
	*w += countWriter(len(p))
	return len(p), nil
}
