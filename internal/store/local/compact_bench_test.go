package local

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCompactLoad merges 4 flushed blocks of 50,000 spans of the
// benchmark load (whole traces, ids at random, so that the merge
// interleaves the blocks trace by trace, as in `make bench`) into one. The
// blocks are written once; each iteration copies them into a fresh store.
// It reports the process's CPU time per merged span (getrusage, around
// Compact only).
func BenchmarkCompactLoad(b *testing.B) {
	const blocks, perBlock = 4, 50_000
	tmpl := b.TempDir()
	o := testOptions(tmpl)
	s := openT(b, o)
	spans, inHead := 0, 0
	for _, bt := range genLoad(b, blocks*perBlock/10) {
		if err := s.WriteSpans(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
		spans += len(bt)
		if inHead += len(bt); inHead >= perBlock {
			if err := s.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			inHead = 0
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if n := len(s.blocks); n != blocks {
		b.Fatalf("%d blocks, want %d", n, blocks)
	}
	s.Close()
	b.ReportAllocs()
	var cpu int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		copyTree(b, filepath.Join(tmpl, "blocks"), filepath.Join(dir, "blocks"))
		o := testOptions(dir)
		o.CompactionMinBlocks = blocks
		o.CompactionWindow = 1 << 62
		s := openT(b, o)
		b.StartTimer()
		c0 := rusageCPU()
		did, err := s.Compact(context.Background())
		cpu += rusageCPU() - c0
		if err != nil || !did {
			b.Fatal(did, err)
		}
		b.StopTimer()
		if len(s.blocks) != 1 || s.blocks[0].meta.Spans != int64(spans) {
			b.Fatalf("after compaction: %d blocks, first of %d spans; want 1 of %d", len(s.blocks), s.blocks[0].meta.Spans, spans)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/float64(b.N*spans), "cpu-ns/span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
}

// copyTree copies the regular files of the directory tree src to dst.
func copyTree(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, in); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
}
