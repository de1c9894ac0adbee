package xray

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkDatagram measures one real SDK datagram (a segment with two
// subsegments: HTTP, SQL, annotations, metadata, a cause with a stack)
// from bytes to spans.
func BenchmarkDatagram(b *testing.B) {
	d := datagramB(b, "sdk_embedded_1.datagram")
	tr := newTranslator(0)
	h := newHolder(tr, 10, time.Minute)
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		doc, err := splitDatagram(d)
		if err != nil {
			b.Fatal(err)
		}
		seg, err := parseSegment(doc)
		if err != nil {
			b.Fatal(err)
		}
		tdoc, orphanOf := tr.translate(seg)
		if spans := h.add(tdoc, orphanOf, now); len(spans) != 3 {
			b.Fatal(len(spans))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*3), "ns/span")
}

func datagramB(b *testing.B, name string) []byte {
	b.Helper()
	d, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		b.Fatal(err)
	}
	return d
}
