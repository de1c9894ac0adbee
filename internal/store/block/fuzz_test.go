package block

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
func exercise(be Backend, id string) {
	ctx := context.Background()
	r, err := Open(ctx, be, id)
	if err != nil {
		return
	}
	defer r.Close()
	r.FindTrace(ctx, model.TraceIDFromUint64s(0, 1))
	r.FindTrace(ctx, model.TraceIDFromUint64s(0x9e3779b97f4a7c15, 2))
	r.ScanSummaries(ctx, func(*Summary) bool { return true })
	it := r.Iter()
	for sp := it.Next(); sp != nil; sp = it.Next() {
	}
	it.Close()
	r.Verify(ctx)
}

// FuzzReadData fuzzes the Parquet data file of a block whose other files
// are intact (the meta's size follows the fuzzed data, so the reader gets
// past its first checks).
func FuzzReadData(f *testing.F) {
	be, m := seedBlock(f)
	data, _ := be.get(m.ID, DataName)
	f.Add(data)
	if seeds, _ := filepath.Glob("testdata/*.parquet"); len(seeds) > 0 {
		for _, s := range seeds {
			b, _ := os.ReadFile(s)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		be2 := newMem()
		for k, v := range be.objs {
			be2.objs[k] = v
		}
		meta := m
		meta.DataSize = int64(len(data))
		mj, _ := json.Marshal(meta)
		be2.objs[m.ID+"/"+DataName] = data
		be2.objs[m.ID+"/"+MetaName] = mj
		exercise(be2, m.ID)
	})
}

// FuzzReadSideFiles fuzzes the index, bloom and meta files.
func FuzzReadSideFiles(f *testing.F) {
	be, m := seedBlock(f)
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
		exercise(be2, m.ID)
	})
}

func TestWriteFuzzSeed(t *testing.T) {
	if os.Getenv("UPDATE_SEEDS") == "" {
		t.Skip("set UPDATE_SEEDS=1 to rewrite testdata/small.parquet")
	}
	be, m := seedBlock(t)
	data, _ := be.get(m.ID, DataName)
	os.MkdirAll("testdata", 0o755)
	if err := os.WriteFile("testdata/small.parquet", data, 0o644); err != nil {
		t.Fatal(err)
	}
}
