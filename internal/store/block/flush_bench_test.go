package block

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/spancodec"
)

// discardSink is a rowSink that drops its rows: the block writer's work
// without the Parquet encoder's.
type discardSink struct{ rows int }

func (s *discardSink) Write(rows []Row) (int, error)   { s.rows += len(rows); return len(rows), nil }
func (s *discardSink) Flush() error                    { return nil }
func (s *discardSink) SetKeyValueMetadata(_, _ string) {}
func (s *discardSink) Close() error                    { return nil }

// headSpans returns the spans of the benchmark load as a flush of the head
// sees them: each span's own fields in spancodec's encoding (in one
// buffer, as WAL records hold them), its resource and scope as pointers.
func headSpans(tb testing.TB, traces int) (enc [][]byte, res []*model.Resource, scopes []*model.Scope) {
	spans := genSpansLoad(tb, traces)
	slices.SortFunc(spans, CompareSpans)
	var buf []byte
	var bounds []int
	for _, sp := range spans {
		bounds = append(bounds, len(buf))
		buf = spancodec.AppendSpan(buf, sp)
		res = append(res, sp.Resource)
		scopes = append(scopes, sp.Scope)
	}
	bounds = append(bounds, len(buf))
	for i := range spans {
		enc = append(enc, buf[bounds[i]:bounds[i+1]:bounds[i+1]])
	}
	return enc, res, scopes
}

// headReplay decodes head encodings (headSpans) as local.flushHead does:
// one trace at a time into reused spans, their strings sharing the
// records' bytes, resources and scopes shared by pointer.
type headReplay struct {
	enc    [][]byte
	res    []*model.Resource
	scopes []*model.Scope
	dec    spancodec.SpanDecoder
	buf    []model.Span
}

func newHeadReplay(enc [][]byte, res []*model.Resource, scopes []*model.Scope) *headReplay {
	return &headReplay{enc: enc, res: res, scopes: scopes, buf: make([]model.Span, 64)}
}

// each decodes every span and calls fn with it and whether it starts a
// trace; the span is valid until the next trace starts.
func (h *headReplay) each(tb testing.TB, fn func(sp *model.Span, newTrace bool)) {
	k := 0
	for j, enc := range h.enc {
		newTrace := j == 0 || model.TraceID(enc[:16]) != model.TraceID(h.enc[j-1][:16])
		if newTrace {
			h.dec.Reset()
			k = 0
		}
		sp := &h.buf[k%len(h.buf)]
		k++
		sp.Resource, sp.Scope = h.res[j], h.scopes[j]
		if err := h.dec.Decode(enc, sp); err != nil {
			tb.Fatal(err)
		}
		fn(sp, newTrace)
	}
}

// genHeadRows returns the rows the block writer makes of the benchmark
// load in a flush of the head (genRows with the spans decoded from
// headSpans' records, as in BenchmarkFlushAdd), in batches of 1,024.
func genHeadRows(tb testing.TB, traces int) [][]Row {
	enc, res, scopes := headSpans(tb, traces)
	var batches [][]Row
	sink := &captureSink{batches: &batches}
	w, err := newWriter(nil, tb.TempDir(), Meta{}, WriterOptions{}, func(io.Writer, WriterOptions) (rowSink, error) { return sink, nil })
	if err != nil {
		tb.Fatal(err)
	}
	newHeadReplay(enc, res, scopes).each(tb, func(sp *model.Span, _ bool) {
		if err := w.Add(sp); err != nil {
			tb.Fatal(err)
		}
	})
	if err := w.flushRows(); err != nil {
		tb.Fatal(err)
	}
	w.Abort()
	return batches
}

// BenchmarkFlushAdd is a flush's per-span work outside the Parquet
// encoder: decoding the head's spans (one trace at a time, into reused
// spans, as local.flushHead does), the block writer's Add (rows, index,
// search index) and Finish, with the rows dropped instead of encoded. It
// reports the process's CPU time per span (getrusage), steadier than wall
// time on a shared machine.
func BenchmarkFlushAdd(b *testing.B) {
	benchFlush(b, func(_ io.Writer, _ WriterOptions) (rowSink, error) { return &discardSink{}, nil })
}

// BenchmarkFlushGen is a whole flush of the head as local.flushHead does
// it, Parquet encoder included: unlike BenchmarkWriteGen, the spans'
// strings point into their own spancodec records, as they do in a flush,
// so that equal values of different spans have different addresses.
// BenchmarkFlushGen minus BenchmarkFlushAdd is the Parquet part.
func BenchmarkFlushGen(b *testing.B) { benchFlush(b, newPQRowSink) }

func benchFlush(b *testing.B, newSink func(io.Writer, WriterOptions) (rowSink, error)) {
	enc, res, scopes := headSpans(b, 5000)
	dir := b.TempDir()
	be, _ := NewDir(filepath.Join(dir, "blocks"))
	var size int64
	b.ReportAllocs()
	b.ResetTimer()
	c0 := rusageCPU()
	replay := newHeadReplay(enc, res, scopes)
	for i := 0; i < b.N; i++ {
		w, err := newWriter(be, filepath.Join(dir, "tmp"), Meta{}, WriterOptions{}, newSink)
		if err != nil {
			b.Fatal(err)
		}
		replay.each(b, func(sp *model.Span, _ bool) {
			if err := w.Add(sp); err != nil {
				b.Fatal(err)
			}
		})
		m, err := w.Finish(context.Background(), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		size = m.Size()
		be.DeleteBlock(context.Background(), m.ID)
	}
	b.ReportMetric(float64(rusageCPU()-c0)/float64(b.N*len(enc)), "cpu-ns/span")
	b.ReportMetric(float64(size)/float64(len(enc)), "bytes/span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(enc)), "ns/span")
}

// rusageCPU returns the process's user and system CPU time in nanoseconds.
func rusageCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
