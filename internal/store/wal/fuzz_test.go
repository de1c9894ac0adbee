package wal

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

func frame(payloads ...string) []byte {
	b := []byte(Magic)
	for _, p := range payloads {
		var h [HeaderSize]byte
		binary.LittleEndian.PutUint32(h[:], uint32(len(p)))
		binary.LittleEndian.PutUint32(h[4:], crc32.Checksum([]byte(p), castagnoli))
		b = append(append(b, h[:]...), p...)
	}
	return b
}

func FuzzReader(f *testing.F) {
	f.Add(frame())
	f.Add(frame("a", "bc"))
	f.Add(frame("hello")[:12])
	seeds, _ := filepath.Glob("testdata/*.wal")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(data)
		for i := 0; ; i++ {
			p, err := r.Next()
			if err != nil {
				if r.Offset() > int64(len(data)) {
					t.Fatalf("offset %d past end %d", r.Offset(), len(data))
				}
				return
			}
			if len(p) == 0 || r.Offset() > int64(len(data)) {
				t.Fatalf("record %d: len %d offset %d", i, len(p), r.Offset())
			}
		}
	})
}
