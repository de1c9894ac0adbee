package block

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/parquet-go/parquet-go"
)

// DictionaryCacheBytes bounds the memory of the decoded Parquet
// dictionaries the row reader keeps, over all blocks of the process.
const DictionaryCacheBytes = 32 << 20

// dictionary is a column chunk's decoded dictionary: strings for byte
// arrays (shared by every row read from it), ints or floats otherwise.
type dictionary struct {
	strs []string
	ints []int64
	flts []float64
	size int64 // bytes held, for the cache's budget
}

func (d *dictionary) len() int { return max(len(d.strs), len(d.ints), len(d.flts)) }

// value stores entry i for a setter of kind k.
func (d *dictionary) value(i int, k valueKind, v *leafValue) {
	switch {
	case d.strs != nil:
		if k == kindString {
			v.s = d.strs[i]
		} else {
			v.b = []byte(d.strs[i])
		}
	case d.ints != nil:
		v.i = d.ints[i]
	default:
		v.f = d.flts[i]
	}
}

// dictKey names a column chunk of one row source (not of one block id:
// a block reopened, or a test's block rewritten under the same id, gets
// fresh entries; a closed block's age out).
type dictKey struct {
	source     uint64
	group, col int
}

// dictCache is a least-recently-used cache of dictionaries; one too large
// to keep is decoded for each use.
type dictCache struct {
	lruCache[dictKey, *dictionary]
}

func (c *dictCache) get(k dictKey) *dictionary {
	d, _ := c.lookup(k)
	return d
}

var dicts = &dictCache{newLRU[dictKey](DictionaryCacheBytes, func(d *dictionary) int64 { return d.size })}

// DictionaryCacheUsed returns the bytes of decoded dictionaries the
// process keeps (at most DictionaryCacheBytes, or the bound set by
// SetDictionaryCacheBytes).
func DictionaryCacheUsed() int64 { return dicts.used() }

// SetDictionaryCacheBytes sets the bound of the decoded dictionaries the
// process keeps (DictionaryCacheBytes until set; 0 keeps none), dropping
// the least recently used ones beyond it.
func SetDictionaryCacheBytes(n int64) { dicts.setMax(n) }

// dictionary returns the dictionary of the chunk of lf in ch, from the
// cache or read and decoded.
func (s *rowSource) dictionary(lf *rowLeaf, ch *chunkInfo) (*dictionary, error) {
	k := dictKey{s.seq, ch.group, lf.col}
	if d := dicts.get(k); d != nil {
		return d, nil
	}
	if ch.dictOffset <= 0 || len(ch.pages) == 0 {
		return nil, fmt.Errorf("dictionary-encoded page without a dictionary")
	}
	size := ch.pages[0].offset - ch.dictOffset
	if size <= 0 || size > maxPageBytes {
		return nil, fmt.Errorf("dictionary page of %d bytes", size)
	}
	// Its own buffers: the caller's hold the data page being decoded.
	buf := make([]byte, size)
	var own []byte
	if _, err := s.ra.ReadAt(buf, ch.dictOffset); err != nil {
		return nil, fmt.Errorf("read dictionary: %w", err)
	}
	h, err := decodePageHeader(buf)
	if err != nil {
		return nil, err
	}
	body := buf[h.size:]
	if h.typ != pageDictionary || int(h.compressedSize) != len(body) || h.numValues > maxPageValues ||
		(h.encoding != encPlain && h.encoding != encPlainDict) {
		return nil, fmt.Errorf("bad dictionary page header")
	}
	data, err := decompress(&own, ch.codec, body, int(h.uncompressedSize))
	if err != nil {
		return nil, err
	}
	d, err := decodeDictionary(lf, data, int(h.numValues))
	if err != nil {
		return nil, err
	}
	dicts.put(k, d)
	return d, nil
}

// decodeDictionary decodes n PLAIN values of lf's type.
func decodeDictionary(lf *rowLeaf, data []byte, n int) (*dictionary, error) {
	d := &dictionary{}
	short := fmt.Errorf("dictionary values past the page")
	switch lf.kind {
	case parquet.ByteArray:
		if n > len(data)/4 {
			return nil, short
		}
		all := string(data) // one allocation; entries are substrings
		d.strs = make([]string, n)
		off := 0
		for i := range d.strs {
			if len(all)-off < 4 {
				return nil, short
			}
			l := binary.LittleEndian.Uint32(data[off:])
			off += 4
			if uint64(l) > uint64(len(all)-off) {
				return nil, short
			}
			d.strs[i] = all[off : off+int(l)]
			off += int(l)
		}
		d.size = int64(len(all)) + 16*int64(n)
	case parquet.FixedLenByteArray:
		if lf.typeLen <= 0 || n > len(data)/lf.typeLen {
			return nil, short
		}
		all := string(data[:n*lf.typeLen])
		d.strs = make([]string, n)
		for i := range d.strs {
			d.strs[i] = all[i*lf.typeLen : (i+1)*lf.typeLen]
		}
		d.size = int64(len(all)) + 16*int64(n)
	case parquet.Int32:
		if n > len(data)/4 {
			return nil, short
		}
		d.ints = make([]int64, n)
		for i := range d.ints {
			d.ints[i] = int64(int32(binary.LittleEndian.Uint32(data[4*i:])))
		}
		d.size = 8 * int64(n)
	case parquet.Int64:
		if n > len(data)/8 {
			return nil, short
		}
		d.ints = make([]int64, n)
		for i := range d.ints {
			d.ints[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
		}
		d.size = 8 * int64(n)
	case parquet.Double:
		if n > len(data)/8 {
			return nil, short
		}
		d.flts = make([]float64, n)
		for i := range d.flts {
			d.flts[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
		d.size = 8 * int64(n)
	default:
		return nil, fmt.Errorf("%w: dictionary of %v", errUnsupported, lf.kind)
	}
	if d.len() == 0 {
		// An empty dictionary: any index is out of range.
		d.strs, d.ints, d.flts = nil, nil, []float64{}
	}
	d.size += 64
	return d, nil
}
