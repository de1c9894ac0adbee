package xray

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDatagram feeds datagrams through header parsing, segment parsing,
// translation and the holder: nothing may panic, and every span handed on
// must be complete.
func FuzzDatagram(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.datagram"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("{\"format\":\"json\",\"version\":1}\n{}"))
	tr := newTranslator(64)
	h := newHolder(tr, 16, time.Minute)
	now := time.Unix(1000, 0)
	f.Fuzz(func(t *testing.T, d []byte) {
		doc, err := splitDatagram(d)
		if err != nil {
			return
		}
		seg, err := parseSegment(doc)
		if err != nil {
			return
		}
		tdoc, orphanOf := tr.translate(seg)
		out := h.add(tdoc, orphanOf, now)
		out = append(out, h.expire(now.Add(time.Hour), false)...)
		for _, s := range out {
			if s.Resource == nil || s.Scope == nil || s.TraceID.IsZero() && seg.TraceID == nil {
				t.Fatalf("incomplete span %+v", s)
			}
		}
	})
}
