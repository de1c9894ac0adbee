package wal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func openT(t *testing.T, dir string, o Options) (*WAL, []string, Report) {
	t.Helper()
	var got []string
	w, rep, err := Open(dir, o, func(_ int, p []byte) error {
		got = append(got, string(p))
		return nil
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w, got, rep
}

func appendT(t *testing.T, w *WAL, recs ...string) {
	t.Helper()
	for _, r := range recs {
		if err := w.Append(context.Background(), []byte(r)); err != nil {
			t.Fatalf("Append(%q): %v", r, err)
		}
	}
}

func TestAppendReplay(t *testing.T) {
	dir := t.TempDir()
	w, got, _ := openT(t, dir, Options{})
	if len(got) != 0 {
		t.Fatalf("fresh WAL replayed %q", got)
	}
	appendT(t, w, "a", "bb", "ccc")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, got, rep := openT(t, dir, Options{})
	defer w.Close()
	if diff := cmp.Diff([]string{"a", "bb", "ccc"}, got); diff != "" {
		t.Errorf("replay (-want +got):\n%s", diff)
	}
	if rep.Records != 3 || len(rep.Corruptions) != 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestSegmentsRollAndRemoveBefore(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openT(t, dir, Options{SegmentSize: 64})
	var want []string
	for i := 0; i < 20; i++ {
		r := fmt.Sprintf("record-%02d-padding-padding", i)
		want = append(want, r)
		appendT(t, w, r)
	}
	segs, _ := Segments(dir)
	if len(segs) < 5 {
		t.Fatalf("want many segments with a 64-byte limit, got %v", segs)
	}
	n, err := w.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	appendT(t, w, "after")
	if err := w.RemoveBefore(n); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, got, _ := openT(t, dir, Options{})
	defer w.Close()
	if diff := cmp.Diff([]string{"after"}, got); diff != "" {
		t.Errorf("after RemoveBefore (-want +got):\n%s", diff)
	}
}

func TestConcurrentAppends(t *testing.T) {
	for _, o := range []Options{{}, {SyncInterval: 1e6}} {
		dir := t.TempDir()
		w, _, _ := openT(t, dir, o)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					if err := w.Append(context.Background(), []byte(fmt.Sprintf("%d-%d", g, i))); err != nil {
						t.Error(err)
						return
					}
				}
			}(g)
		}
		wg.Wait()
		w.Close()
		w, got, _ := openT(t, dir, Options{})
		w.Close()
		if len(got) != 400 {
			t.Fatalf("%+v: replayed %d records, want 400", o, len(got))
		}
		seen := map[string]bool{}
		for _, r := range got {
			seen[r] = true
		}
		if len(seen) != 400 {
			t.Errorf("%+v: %d distinct records, want 400", o, len(seen))
		}
	}
}

// lastSegment returns the path of the highest segment holding records.
func segmentWithRecords(t *testing.T, dir string) string {
	t.Helper()
	segs, _ := Segments(dir)
	for i := len(segs) - 1; i >= 0; i-- {
		p := SegmentPath(dir, segs[i])
		if fi, _ := os.Stat(p); fi.Size() > int64(len(Magic)) {
			return p
		}
	}
	t.Fatal("no segment with records")
	return ""
}

func TestTornTailIsTruncatedAndReported(t *testing.T) {
	for cut := 1; cut < HeaderSize+5; cut++ {
		dir := t.TempDir()
		w, _, _ := openT(t, dir, Options{NoSync: true})
		appendT(t, w, "first", "second", "third")
		w.Close()
		p := segmentWithRecords(t, dir)
		fi, _ := os.Stat(p)
		if err := os.Truncate(p, fi.Size()-int64(cut)); err != nil {
			t.Fatal(err)
		}
		w, got, rep := openT(t, dir, Options{NoSync: true})
		if diff := cmp.Diff([]string{"first", "second"}, got); diff != "" {
			t.Errorf("cut %d (-want +got):\n%s", cut, diff)
		}
		if len(rep.Corruptions) != 1 {
			t.Errorf("cut %d: corruptions %v, want one", cut, rep.Corruptions)
		}
		// New appends go after the good records and replay cleanly.
		appendT(t, w, "fourth")
		w.Close()
		w, got, rep = openT(t, dir, Options{NoSync: true})
		w.Close()
		if diff := cmp.Diff([]string{"first", "second", "fourth"}, got); diff != "" || len(rep.Corruptions) != 0 {
			t.Errorf("cut %d after repair: %v (-want +got):\n%s", cut, rep.Corruptions, diff)
		}
	}
}

func TestFlippedByteKeepsGoodRecordsAndLaterSegments(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openT(t, dir, Options{NoSync: true})
	appendT(t, w, "aaaa", "bbbb", "cccc")
	if _, err := w.Rotate(); err != nil {
		t.Fatal(err)
	}
	appendT(t, w, "dddd")
	w.Close()
	segs, _ := Segments(dir)
	first := SegmentPath(dir, segs[0])
	data, _ := os.ReadFile(first)
	// Flip a byte in the payload of the second record.
	off := len(Magic) + HeaderSize + 4 + HeaderSize + 1
	data[off] ^= 0xff
	os.WriteFile(first, data, 0o644)

	w, got, rep := openT(t, dir, Options{NoSync: true})
	w.Close()
	if diff := cmp.Diff([]string{"aaaa", "dddd"}, got); diff != "" {
		t.Errorf("replay (-want +got):\n%s", diff)
	}
	if len(rep.Corruptions) != 1 || rep.Corruptions[0].Segment != segs[0] || rep.Corruptions[0].Offset != int64(len(Magic)+HeaderSize+4) {
		t.Errorf("corruptions %v", rep.Corruptions)
	}
}

func TestGarbageSegmentIsDropped(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "0000000001.wal"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, got, rep := openT(t, dir, Options{NoSync: true})
	defer w.Close()
	if len(got) != 0 || len(rep.Corruptions) != 1 {
		t.Errorf("got %q, corruptions %v", got, rep.Corruptions)
	}
}

func TestAppendAfterClose(t *testing.T) {
	w, _, _ := openT(t, t.TempDir(), Options{NoSync: true})
	w.Close()
	if err := w.Append(context.Background(), []byte("x")); err == nil {
		t.Fatal("Append after Close succeeded")
	}
}

func TestRejectsEmptyRecord(t *testing.T) {
	w, _, _ := openT(t, t.TempDir(), Options{NoSync: true})
	defer w.Close()
	if err := w.Append(context.Background(), nil); err == nil {
		t.Fatal("empty record accepted")
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		for _, sync := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/fsync=%v", size, sync), func(b *testing.B) {
				w, _, err := Open(b.TempDir(), Options{NoSync: !sync}, func(int, []byte) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				payload := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := w.Append(context.Background(), payload); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
