package block

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/parquet-go/parquet-go/bloom"
	"github.com/parquet-go/parquet-go/bloom/xxhash"

	"github.com/clew-dev/clew/internal/model"
)

// Index and bloom file constants; see FORMAT.md.
const (
	indexMagic = "CLEWIDX\x02"
	bloomMagic = "CLEWBLM\x01"
	// IndexEntrySize is the size of one trace-id index entry: the trace id
	// and the trace's first row. The whole id is kept: 64-bit ids of Jaeger,
	// Zipkin and Datadog all share a zero high half, so no prefix of the id
	// tells traces apart.
	IndexEntrySize = 20
	// FenceEvery is how many index entries one in-memory fence covers: a
	// lookup reads at most this many entries (3 KiB) of the index, plus
	// one for the row count of the last.
	FenceEvery = 256
	// BloomBitsPerTrace sizes the bloom filter (about 1% false positives).
	BloomBitsPerTrace = 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by errors about damaged block files.
var ErrCorrupt = errors.New("corrupt block")

// IndexEntry locates one trace's rows: rows [FirstRow, FirstRow+Rows) of
// the data file.
type IndexEntry struct {
	TraceID  model.TraceID
	FirstRow uint32
	Rows     uint32
}

// encodeIndex returns the index file for entries sorted by trace id:
// magic, entries (trace id, first row), then count and CRC-32C of
// everything before.
func encodeIndex(entries []IndexEntry) []byte {
	b := make([]byte, 0, len(indexMagic)+len(entries)*IndexEntrySize+8)
	b = append(b, indexMagic...)
	for _, e := range entries {
		b = append(b, e.TraceID[:]...)
		b = binary.LittleEndian.AppendUint32(b, e.FirstRow)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// checkIndex verifies an index file's framing and checksum and returns its
// entry count.
func checkIndex(b []byte) (int, error) {
	if len(b) < len(indexMagic)+8 || string(b[:len(indexMagic)]) != indexMagic {
		return 0, fmt.Errorf("%w: index: bad header", ErrCorrupt)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return 0, fmt.Errorf("%w: index: checksum mismatch", ErrCorrupt)
	}
	n := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	if len(indexMagic)+n*IndexEntrySize+8 != len(b) {
		return 0, fmt.Errorf("%w: index: %d entries do not fit %d bytes", ErrCorrupt, n, len(b))
	}
	return n, nil
}

// indexEntries decodes every entry of a checked index; rows is the data
// file's row count.
func indexEntries(b []byte, n int, rows int64) []IndexEntry {
	out := make([]IndexEntry, n)
	for i := range out {
		e := b[len(indexMagic)+i*IndexEntrySize:]
		copy(out[i].TraceID[:], e)
		out[i].FirstRow = binary.LittleEndian.Uint32(e[16:])
	}
	for i := range out {
		next := rows
		if i+1 < n {
			next = int64(out[i+1].FirstRow)
		}
		out[i].Rows = uint32(max(next-int64(out[i].FirstRow), 0))
	}
	return out
}

// fences returns every FenceEvery-th trace id of a checked index.
func fences(b []byte, n int) []model.TraceID {
	out := make([]model.TraceID, 0, (n+FenceEvery-1)/FenceEvery)
	for i := 0; i < n; i += FenceEvery {
		var p model.TraceID
		copy(p[:], b[len(indexMagic)+i*IndexEntrySize:])
		out = append(out, p)
	}
	return out
}

// searchChunk returns the row range [first, end) of id's entry in a chunk
// of the index, end being the next entry's first row (or after when id's
// entry is the chunk's last), and whether the chunk has the entry.
func searchChunk(chunk []byte, after int64, id model.TraceID) (int64, int64, bool) {
	n := len(chunk) / IndexEntrySize
	key := func(i int) []byte { return chunk[i*IndexEntrySize : i*IndexEntrySize+16] }
	lo, hi := 0, n
	for lo < hi {
		m := (lo + hi) / 2
		if bytes.Compare(key(m), id[:]) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == n || !bytes.Equal(key(lo), id[:]) {
		return 0, 0, false
	}
	first := int64(binary.LittleEndian.Uint32(chunk[lo*IndexEntrySize+16:]))
	end := after
	if lo+1 < n {
		end = int64(binary.LittleEndian.Uint32(chunk[(lo+1)*IndexEntrySize+16:]))
	}
	return first, end, true
}

func traceHash(id model.TraceID) uint64 { return xxhash.Sum64(id[:]) }

// encodeBloom returns the bloom file for the trace ids: magic, CRC-32C of
// the filter, the filter (Parquet's split-block bloom filter layout).
func encodeBloom(ids []model.TraceID) []byte {
	f := make(bloom.SplitBlockFilter, bloom.NumSplitBlocksOf(int64(max(len(ids), 1)), BloomBitsPerTrace))
	for _, id := range ids {
		f.Insert(traceHash(id))
	}
	data := f.Bytes()
	b := make([]byte, 0, len(bloomMagic)+4+len(data))
	b = append(b, bloomMagic...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(data, castagnoli))
	return append(b, data...)
}

func decodeBloom(b []byte) (bloom.SplitBlockFilter, error) {
	if len(b) < len(bloomMagic)+4 || string(b[:len(bloomMagic)]) != bloomMagic {
		return nil, fmt.Errorf("%w: bloom: bad header", ErrCorrupt)
	}
	data := b[len(bloomMagic)+4:]
	if len(data) == 0 || len(data)%bloom.BlockSize != 0 {
		return nil, fmt.Errorf("%w: bloom: size %d", ErrCorrupt, len(data))
	}
	if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(b[len(bloomMagic):]) {
		return nil, fmt.Errorf("%w: bloom: checksum mismatch", ErrCorrupt)
	}
	return bloom.MakeSplitBlockFilter(bytes.Clone(data)), nil
}
