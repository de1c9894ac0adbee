package block

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// memBackend is an in-memory Backend for tests.
type memBackend struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func newMem() *memBackend { return &memBackend{objs: map[string][]byte{}} }

func (m *memBackend) List(ctx context.Context, name string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objs {
		if b, n, ok := bytes.Cut([]byte(k), []byte("/")); ok && string(n) == name {
			out = append(out, string(b))
		}
	}
	return out, nil
}

func (m *memBackend) get(block, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[block+"/"+name]
	if !ok {
		return nil, fmt.Errorf("%s/%s: %w", block, name, os.ErrNotExist)
	}
	return b, nil
}

func (m *memBackend) Read(ctx context.Context, block, name string) ([]byte, error) {
	return m.get(block, name)
}

func (m *memBackend) ReadRange(ctx context.Context, block, name string, off int64, p []byte) error {
	b, err := m.get(block, name)
	if err != nil {
		return err
	}
	if off < 0 || off+int64(len(p)) > int64(len(b)) {
		return io.ErrUnexpectedEOF
	}
	copy(p, b[off:])
	return nil
}

func (m *memBackend) Size(ctx context.Context, block, name string) (int64, error) {
	b, err := m.get(block, name)
	return int64(len(b)), err
}

func (m *memBackend) Write(ctx context.Context, block, name string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[block+"/"+name] = b
	return nil
}

func (m *memBackend) Delete(ctx context.Context, block, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, block+"/"+name)
	return nil
}

func (m *memBackend) DeleteBlock(ctx context.Context, block string) error {
	for _, n := range []string{DataName, IndexName, BloomName, MetaName} {
		m.Delete(ctx, block, n)
	}
	return nil
}

var _ Backend = (*memBackend)(nil)

// seedBlock writes a small block to a memory backend.
func seedBlock(t testing.TB) (*memBackend, Meta) {
	be := newMem()
	m, err := Write(context.Background(), be, t.TempDir(), Meta{}, WriterOptions{RowGroupRows: 20, PageBufferSize: 512}, genSpans(2, 2), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return be, m
}

// exercise opens the block and reads it every way; damage must give
// errors, never panics.
func exercise(be Backend, id string, traces []model.TraceID) {
	ctx := context.Background()
	r, err := Open(ctx, be, id)
	if err != nil {
		return
	}
	defer r.Close()
	for _, t := range traces {
		r.FindTrace(ctx, t)
	}
	r.ScanSummaries(ctx, func(*Summary) bool { return true })
	it := r.Iter()
	for sp := it.Next(); sp != nil; sp = it.Next() {
	}
	it.Close()
	// Scans in batches smaller than a page go on from where the last
	// read of the page ended (scanCursor).
	if src, err := r.rowSource(); err == nil {
		for _, batch := range []int{1, 2} {
			rs := src.scanner(r.slotKeys)
			rs.buf = rs.buf[:min(batch, len(rs.buf))]
			for {
				if rows, err := rs.batch(); err != nil || len(rows) == 0 {
					break
				}
			}
		}
	}
	r.Verify(ctx)
}

var fuzzBlock struct {
	once   sync.Once
	be     *memBackend
	meta   Meta
	data   []byte
	traces []model.TraceID
}

// fuzzBase returns the block FuzzReadData damages: small (a few row groups
// and pages of every kind) and the same on every run, so that the corpus's
// offsets keep pointing at the same structures.
func fuzzBase(tb testing.TB) (*memBackend, Meta, []byte, []model.TraceID) {
	fuzzBlock.once.Do(func() {
		spans := richSpans(2, 1)
		// Parents in the trace (parent_offset) and an attribute every
		// span carries (an attribute column).
		for i, sp := range spans {
			if i > 0 && spans[i-1].TraceID == sp.TraceID && i%3 != 0 {
				sp.ParentSpanID = spans[i-1].SpanID
			}
			sp.Attributes = append(sp.Attributes, model.KeyValue{Key: "fz", Value: model.StringValue(fmt.Sprint("v", i%3))})
		}
		be := newMem()
		dir, err := os.MkdirTemp("", "clew-fuzz")
		if err != nil {
			tb.Fatal(err)
		}
		defer os.RemoveAll(dir)
		m, err := Write(context.Background(), be, dir, Meta{ID: "0123456789abcdef0123456789abcdef"}, WriterOptions{RowGroupRows: 6, PageBufferSize: 256}, spans, time.Unix(1_700_000_000, 0))
		if err != nil {
			tb.Fatal(err)
		}
		fuzzBlock.be, fuzzBlock.meta = be, m
		fuzzBlock.data, _ = be.get(m.ID, DataName)
		for _, sp := range spans {
			if n := len(fuzzBlock.traces); n == 0 || fuzzBlock.traces[n-1] != sp.TraceID {
				fuzzBlock.traces = append(fuzzBlock.traces, sp.TraceID)
			}
		}
	})
	return fuzzBlock.be, fuzzBlock.meta, fuzzBlock.data, fuzzBlock.traces
}

// damage returns a copy of data cut short by cut bytes, with patch written
// at off (both taken modulo the length).
func damage(data []byte, off uint32, patch []byte, cut uint16) []byte {
	d := append([]byte(nil), data...)
	if len(d) > 0 {
		d = d[:len(d)-int(cut)%len(d)]
	}
	if len(d) > 0 {
		copy(d[int(off)%len(d):], patch)
	}
	return d
}

// FuzzReadData damages the Parquet data file of a small block whose other
// files are intact (the meta's size and checksum follow the damage, so
// the reader gets past its first checks and Verify decodes every row): the
// input is a patch written at an offset and a cut off the end, so inputs
// stay small and every execution reads a nearly valid file, as damage on
// disk looks. Seeds in testdata/fuzz/FuzzReadData point at the footer,
// page headers, dictionaries and the page index.
func FuzzReadData(f *testing.F) {
	be, m, data, traces := fuzzBase(f)
	f.Add(uint32(0), []byte{}, uint16(0))
	f.Add(uint32(len(data)-8), []byte{0xff, 0xff, 0xff, 0x7f}, uint16(0))
	f.Add(uint32(0), []byte{}, uint16(9))
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, cut uint16) {
		d := damage(data, off, patch, cut)
		be2 := newMem()
		for k, v := range be.objs {
			be2.objs[k] = v
		}
		meta := m
		meta.DataSize = int64(len(d))
		meta.DataCRC32C = crc32.Checksum(d, castagnoli)
		mj, _ := json.Marshal(meta)
		be2.objs[m.ID+"/"+DataName] = d
		be2.objs[m.ID+"/"+MetaName] = mj
		exercise(be2, m.ID, traces)
	})
}

// FuzzReadSideFiles fuzzes the index, bloom and meta files.
func FuzzReadSideFiles(f *testing.F) {
	be, m, _, traces := fuzzBase(f)
	for i, name := range []string{IndexName, BloomName, MetaName} {
		b, _ := be.get(m.ID, name)
		f.Add(uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		name := []string{IndexName, BloomName, MetaName}[int(which)%3]
		be2 := newMem()
		for k, v := range be.objs {
			be2.objs[k] = v
		}
		be2.objs[m.ID+"/"+name] = b
		exercise(be2, m.ID, traces)
	})
}

// FuzzRowReaderDecoders feeds bytes to the row reader's decoders of
// Parquet structures: Thrift structures (footer, page index, page
// headers), the RLE/bit-packed hybrid and DELTA_BINARY_PACKED. Each must
// return (an error or a result within its limits), never panic.
func FuzzRowReaderDecoders(f *testing.F) {
	f.Add(uint8(1), []byte{0x03, 0x88, 0x10, 0x69})
	f.Add(uint8(0), []byte{0x80, 0x01, 0x04, 0x0a, 0x02, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, width uint8, b []byte) {
		checkThriftStruct(b)
		decodePageHeader(b)
		if pages, err := decodeOffsetIndex(b, nil); err == nil {
			decodeNullPages(b, pages)
		}
		decodeIDBounds(b, make([][2][16]byte, width%8))
		w := uint(width % 33)
		const n = 1 << 12
		h := newHybrid(b, w)
		h.skip(int(width))
		h.countEq(17, 1)
		for i := 0; i < 64; i++ {
			if _, err := h.next(); err != nil {
				break
			}
		}
		// countEq (which reads words across runs) agrees with next.
		for _, eq := range []uint32{0, 1, 3} {
			h1, h2 := newHybrid(b, w), newHybrid(b, w)
			want := 0
			k := 0
			for ; k < 300; k++ {
				x, err := h1.next()
				if err != nil {
					break
				}
				if x == eq {
					want++
				}
			}
			if got, err := h2.countEq(k, eq); err != nil || got != want {
				t.Fatalf("width %d: countEq(%d, %d) = %d, %v; next finds %d", w, k, eq, got, err, want)
			}
		}
		// readU32 and readBytes (a run at a time) agree with next, and
		// unread steps back over one value.
		{
			h1, h2 := newHybrid(b, w), newHybrid(b, w)
			k := int(width)%70 + 1
			got := make([]uint32, k)
			err2 := h2.readU32(got)
			for i := 0; i < k; i++ {
				x, err := h1.next()
				if err != nil {
					break
				}
				if err2 == nil && got[i] != x {
					t.Fatalf("width %d: readU32 value %d = %d, next %d", w, i, got[i], x)
				}
				if i == k/2 {
					h1.unread()
					if y, err := h1.next(); err != nil || y != x {
						t.Fatalf("width %d: after unread %d, %v; want %d", w, y, err, x)
					}
				}
			}
			if w <= 8 {
				h3 := newHybrid(b, w)
				bs := make([]byte, k)
				if err := h3.readBytes(bs); err == nil && err2 == nil {
					for i := range bs {
						if uint32(bs[i]) != got[i]&0xff {
							t.Fatalf("width %d: readBytes value %d = %d, readU32 %d", w, i, bs[i], got[i])
						}
					}
				}
			}
		}
		h = newHybrid(b, w)
		h.seekZero(int(width), n)
		ints, _, _, err := deltaInts(nil, b, n, int(width), -1, true)
		if err == nil && len(ints) > n {
			t.Fatalf("%d delta values past the limit %d", len(ints), n)
		}
		// A zstd frame the row reader decodes itself must read as the
		// decoder reads it.
		if raw, v, ok := zstdSingleBlock(b, int(width)*8); ok {
			want, err := zstdDecoder.DecodeAll(b, make([]byte, 0, int(width)*8))
			got := raw
			if raw == nil {
				got = bytes.Repeat([]byte{v}, int(width)*8)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("single-block frame: %x, decoder %x", got, want)
			}
		}
	})
}

// TestWriteFuzzSeeds writes the seed corpus of the fuzz targets to
// testdata/fuzz: damage at the footer, at page headers, dictionary pages
// and the page index of the base block, and the bytes of those structures
// for the decoders.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("UPDATE_SEEDS") == "" {
		t.Skip("set UPDATE_SEEDS=1 to rewrite testdata/fuzz seeds")
	}
	_, m, data, _ := fuzzBase(t)
	rd, err := Open(context.Background(), fuzzBlock.be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	src, err := rd.rowSource()
	if err != nil {
		t.Fatal(err)
	}
	write := func(target, name string, args ...any) {
		dir := filepath.Join("testdata", "fuzz", target)
		os.MkdirAll(dir, 0o755)
		s := "go test fuzz v1\n"
		for _, a := range args {
			if b, ok := a.([]byte); ok {
				s += fmt.Sprintf("[]byte(%q)\n", b)
			} else {
				s += fmt.Sprintf("%T(%d)\n", a, a)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := []byte{0xff, 0xff, 0xff, 0x7f}
	footer := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	write("FuzzReadData", "footer-length", uint32(len(data)-8), big, uint16(0))
	write("FuzzReadData", "footer-list", uint32(len(data)-8-footer+40), []byte{0xf9, 0xff, 0xff, 0xff, 0x0f}, uint16(0))
	write("FuzzReadData", "truncated", uint32(0), []byte{}, uint16(100))
	md := rd.file.Metadata()
	// ids, strings, lists, events, links, parent offsets, attribute columns
	for _, c := range []int{0, 5, 25, 26, 36, 38, 44, v1Columns, v1Columns + 1} {
		ch := &src.groups[0].chunks[c]
		loc := ch.pages[0]
		name := rowLeaves[c].path
		write("FuzzReadData", "page-header-"+name, uint32(loc.offset+2), big, uint16(0))
		write("FuzzReadData", "page-body-"+name, uint32(loc.offset+int64(loc.size)-3), []byte{0x55, 0xaa}, uint16(0))
		if ch.dictOffset > 0 {
			write("FuzzReadData", "dictionary-"+name, uint32(ch.dictOffset+3), big, uint16(0))
		}
		cc := &md.RowGroups[0].Columns[c]
		write("FuzzReadData", "offset-index-"+name, uint32(cc.OffsetIndexOffset+1), []byte{0xfc, 0xff, 0xff, 0x0f}, uint16(0))
		write("FuzzReadData", "column-index-"+name, uint32(cc.ColumnIndexOffset+1), []byte{0x01, 0x01}, uint16(0))
		b := make([]byte, loc.size)
		rd.file.ReadAt(b, loc.offset)
		h, _ := decodePageHeader(b)
		write("FuzzRowReaderDecoders", "page-"+name, uint8(1), b[:h.size])
		write("FuzzRowReaderDecoders", "levels-"+name, uint8(2), b[h.size:min(len(b), h.size+256)])
		ob := make([]byte, cc.OffsetIndexLength)
		rd.file.ReadAt(ob, cc.OffsetIndexOffset)
		write("FuzzRowReaderDecoders", "offset-index-"+name, uint8(0), ob[:min(len(ob), 256)])
	}
	// The attribute columns' keys in the footer's key-value metadata.
	if k := bytes.Index(data, []byte(slotKeysMeta)); k >= 0 {
		at := uint32(k + len(slotKeysMeta) + 2)
		write("FuzzReadData", "attr-columns-json", at, []byte(`{"`), uint16(0))
		write("FuzzReadData", "attr-columns-length", at-1, big, uint16(0))
	} else {
		t.Fatal("the base block has no attribute columns")
	}
	// The footer's start (its schema); the whole footer is tens of KB.
	fb := data[len(data)-8-footer : len(data)-8-footer+min(footer, 2048)]
	write("FuzzRowReaderDecoders", "footer", uint8(0), fb)
}
