package block

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// This file reads the Thrift compact protocol that Parquet uses for its
// footer, page index and page headers: a walker that checks a structure
// before parquet-go decodes it (parquet-go trusts list sizes and would
// allocate whatever a damaged file claims), and a decoder of page headers
// that allocates nothing.

// Thrift compact protocol types.
const (
	tStop   = 0
	tTrue   = 1
	tFalse  = 2
	tByte   = 3
	tI16    = 4
	tI32    = 5
	tI64    = 6
	tDouble = 7
	tBinary = 8
	tList   = 9
	tSet    = 10
	tMap    = 11
	tStruct = 12
)

// maxThriftDepth bounds the nesting of structures and containers.
const maxThriftDepth = 32

var errThrift = errors.New("malformed thrift")

// thriftReader reads compact protocol values from a byte slice.
type thriftReader struct {
	b   []byte
	off int
}

func (r *thriftReader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errThrift
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *thriftReader) uvarint() (uint64, error) {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, errThrift
}

func (r *thriftReader) varint() (int64, error) {
	u, err := r.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

// i32 reads a zigzag varint that must fit in an int32.
func (r *thriftReader) i32() (int32, error) {
	v, err := r.varint()
	if err != nil || v != int64(int32(v)) {
		return 0, errThrift
	}
	return int32(v), nil
}

// fieldHeader reads a field header, returning the field's type (tStop at
// the end of the structure) and id.
func (r *thriftReader) fieldHeader(last int16) (typ byte, id int16, err error) {
	c, err := r.byte()
	if err != nil || c == tStop {
		return tStop, 0, err
	}
	typ = c & 0x0f
	if d := c >> 4; d != 0 {
		return typ, last + int16(d), nil
	}
	v, err := r.varint()
	if err != nil || v != int64(int16(v)) {
		return 0, 0, errThrift
	}
	return typ, int16(v), nil
}

// listHeader reads a list or set header; the size is checked against the
// bytes left, every element taking at least one byte.
// fields calls fn with the type and id of each field of the structure at
// r, up to its stop field; fn must read or skip the field's value.
func (r *thriftReader) fields(fn func(t byte, id int16) error) error {
	var last int16
	for {
		t, id, err := r.fieldHeader(last)
		if err != nil {
			return err
		}
		if t == tStop {
			return nil
		}
		last = id
		if err := fn(t, id); err != nil {
			return err
		}
	}
}

func (r *thriftReader) listHeader() (elem byte, n int, err error) {
	c, err := r.byte()
	if err != nil {
		return 0, 0, err
	}
	elem, size := c&0x0f, uint64(c>>4)
	if size == 15 {
		if size, err = r.uvarint(); err != nil {
			return 0, 0, err
		}
	}
	if size > uint64(len(r.b)-r.off) {
		return 0, 0, fmt.Errorf("%w: list of %d elements in %d bytes", errThrift, size, len(r.b)-r.off)
	}
	return elem, int(size), nil
}

// skip skips a value of type typ (the value of a boolean field is in its
// type and takes no bytes; inList says the boolean is a list element, one
// byte).
func (r *thriftReader) skip(typ byte, depth int, inList bool) error {
	if depth > maxThriftDepth {
		return fmt.Errorf("%w: nested too deep", errThrift)
	}
	switch typ {
	case tTrue, tFalse:
		if inList {
			_, err := r.byte()
			return err
		}
		return nil
	case tByte:
		_, err := r.byte()
		return err
	case tI16, tI32, tI64:
		_, err := r.uvarint()
		return err
	case tDouble:
		if len(r.b)-r.off < 8 {
			return errThrift
		}
		r.off += 8
		return nil
	case tBinary:
		n, err := r.uvarint()
		if err != nil {
			return err
		}
		if n > uint64(len(r.b)-r.off) {
			return fmt.Errorf("%w: binary of %d bytes in %d", errThrift, n, len(r.b)-r.off)
		}
		r.off += int(n)
		return nil
	case tList, tSet:
		elem, n, err := r.listHeader()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skip(elem, depth+1, true); err != nil {
				return err
			}
		}
		return nil
	case tMap:
		n, err := r.uvarint()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n > uint64(len(r.b)-r.off) {
			return fmt.Errorf("%w: map of %d entries in %d bytes", errThrift, n, len(r.b)-r.off)
		}
		kv, err := r.byte()
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := r.skip(kv>>4, depth+1, true); err != nil {
				return err
			}
			if err := r.skip(kv&0x0f, depth+1, true); err != nil {
				return err
			}
		}
		return nil
	case tStruct:
		return r.fields(func(t byte, _ int16) error { return r.skip(t, depth+1, false) })
	}
	return fmt.Errorf("%w: type %d", errThrift, typ)
}

// checkThriftStruct checks that b holds exactly one well-formed structure
// whose containers fit in b.
func checkThriftStruct(b []byte) error {
	r := thriftReader{b: b}
	if err := r.skip(tStruct, 0, false); err != nil {
		return err
	}
	if r.off != len(b) {
		return fmt.Errorf("%w: %d bytes after the structure", errThrift, len(b)-r.off)
	}
	return nil
}

// Parquet page types.
const (
	pageData       = 0
	pageDictionary = 2
	pageDataV2     = 3
)

// pageHeader is the part of a Parquet PageHeader the row reader uses.
type pageHeader struct {
	typ              int32
	uncompressedSize int32
	compressedSize   int32
	numValues        int32 // data pages and dictionary pages
	numNulls         int32 // v2 only
	numRows          int32 // v2 only
	encoding         int32
	defLength        int32 // v2: byte length of the definition levels
	repLength        int32 // v2: byte length of the repetition levels
	defEncoding      int32 // v1
	repEncoding      int32 // v1
	compressed       bool  // v2: whether the values section is compressed
	size             int   // bytes of the header itself
}

// decodePageHeader decodes the page header at the start of b.
func decodePageHeader(b []byte) (pageHeader, error) {
	h := pageHeader{typ: -1, compressed: true}
	r := thriftReader{b: b}
	err := r.fields(func(t byte, id int16) (err error) {
		switch {
		case id == 1 && t == tI32:
			h.typ, err = r.i32()
		case id == 2 && t == tI32:
			h.uncompressedSize, err = r.i32()
		case id == 3 && t == tI32:
			h.compressedSize, err = r.i32()
		case (id == 5 || id == 7 || id == 8) && t == tStruct:
			err = r.subHeader(&h, id)
		default:
			err = r.skip(t, 1, false)
		}
		return err
	})
	if err != nil {
		return h, err
	}
	h.size = r.off
	if h.uncompressedSize < 0 || h.compressedSize < 0 || h.numValues < 0 || h.numNulls < 0 || h.numRows < 0 ||
		h.defLength < 0 || h.repLength < 0 {
		return h, fmt.Errorf("%w: negative size in page header", errThrift)
	}
	return h, nil
}

// subHeader decodes a data page (5), dictionary page (7) or data page v2
// (8) header into h.
func (r *thriftReader) subHeader(h *pageHeader, which int16) error {
	return r.fields(func(t byte, id int16) (err error) {
		var dst *int32
		switch {
		case t != tI32:
		case id == 1:
			dst = &h.numValues
		case which == 5 && id == 2, which == 7 && id == 2, which == 8 && id == 4:
			dst = &h.encoding
		case which == 5 && id == 3:
			dst = &h.defEncoding
		case which == 5 && id == 4:
			dst = &h.repEncoding
		case which == 8 && id == 2:
			dst = &h.numNulls
		case which == 8 && id == 3:
			dst = &h.numRows
		case which == 8 && id == 5:
			dst = &h.defLength
		case which == 8 && id == 6:
			dst = &h.repLength
		}
		if which == 8 && id == 7 && (t == tTrue || t == tFalse) {
			h.compressed = t == tTrue
			return nil
		}
		if dst == nil {
			return r.skip(t, 2, false)
		}
		*dst, err = r.i32()
		return err
	})
}

// maxFooterBytes bounds a Parquet footer.
const maxFooterBytes = 64 << 20

// checkFooter checks the structure of the Parquet footer of the size
// bytes of ra.
func checkFooter(ra io.ReaderAt, size int64) error {
	var tail [8]byte
	if size < 12 {
		return fmt.Errorf("file of %d bytes", size)
	}
	if _, err := ra.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("read footer: %w", err)
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("no parquet magic at the end")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 || n > maxFooterBytes {
		return fmt.Errorf("footer of %d bytes in a file of %d", n, size)
	}
	footer := make([]byte, n)
	if _, err := ra.ReadAt(footer, size-8-n); err != nil {
		return fmt.Errorf("read footer: %w", err)
	}
	if err := checkThriftStruct(footer); err != nil {
		return fmt.Errorf("footer: %w", err)
	}
	return nil
}

// decodeOffsetIndex decodes a Parquet OffsetIndex: the location of each
// page (field 1: list of PageLocation {1: offset, 2: compressed size with
// header, 3: first row}).
func decodeOffsetIndex(b []byte, dst []pageLoc) ([]pageLoc, error) {
	r := thriftReader{b: b}
	err := r.fields(func(t byte, id int16) error {
		if id != 1 || t != tList {
			return r.skip(t, 1, false)
		}
		elem, n, err := r.listHeader()
		if err != nil {
			return err
		}
		if elem != tStruct {
			return fmt.Errorf("%w: page locations of type %d", errThrift, elem)
		}
		for i := 0; i < n; i++ {
			var loc pageLoc
			err := r.fields(func(ft byte, fid int16) (err error) {
				switch {
				case fid == 1 && ft == tI64:
					loc.offset, err = r.varint()
				case fid == 2 && ft == tI32:
					loc.size, err = r.i32()
				case fid == 3 && ft == tI64:
					loc.firstRow, err = r.varint()
				default:
					err = r.skip(ft, 2, false)
				}
				return err
			})
			if err != nil {
				return err
			}
			dst = append(dst, loc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: bytes after the offset index", errThrift)
	}
	return dst, nil
}

// decodeNullPages decodes the null_pages of a Parquet ColumnIndex (field 1:
// list of bool) into the pages' allNull; the list must have one entry per
// page, else it is ignored.
func decodeNullPages(b []byte, pages []pageLoc) error {
	r := thriftReader{b: b}
	err := r.fields(func(t byte, id int16) error {
		if id != 1 || t != tList {
			return r.skip(t, 1, false)
		}
		elem, n, err := r.listHeader()
		if err != nil {
			return err
		}
		if elem != tTrue && elem != tFalse {
			return fmt.Errorf("%w: null pages of type %d", errThrift, elem)
		}
		for i := 0; i < n; i++ {
			c, err := r.byte()
			if err != nil {
				return err
			}
			if n == len(pages) {
				pages[i].allNull = c == tTrue
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if r.off != len(b) {
		return fmt.Errorf("%w: bytes after the column index", errThrift)
	}
	return nil
}

// decodeIDBounds decodes the min and max values (fields 2 and 3) of a
// column index of 16-byte values with one entry per page, into bounds
// (len(bounds) pages). ok is false when the index has no such bounds (a
// list of another length, values of another size): the caller then does
// without them.
func decodeIDBounds(b []byte, bounds [][2][16]byte) (ok bool, err error) {
	r := thriftReader{b: b}
	seen := 0
	err = r.fields(func(t byte, id int16) error {
		if (id != 2 && id != 3) || t != tList {
			return r.skip(t, 1, false)
		}
		elem, n, err := r.listHeader()
		if err != nil {
			return err
		}
		if elem != tBinary {
			return fmt.Errorf("%w: bounds of type %d", errThrift, elem)
		}
		good := n == len(bounds)
		for i := 0; i < n; i++ {
			l, err := r.uvarint()
			if err != nil {
				return err
			}
			if l > uint64(len(r.b)-r.off) {
				return fmt.Errorf("%w: binary of %d bytes in %d", errThrift, l, len(r.b)-r.off)
			}
			if l != 16 {
				good = false
			}
			if good {
				copy(bounds[i][id-2][:], r.b[r.off:])
			}
			r.off += int(l)
		}
		if good {
			seen |= int(id - 1) // 1 for min, 2 for max
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if r.off != len(b) {
		return false, fmt.Errorf("%w: bytes after the column index", errThrift)
	}
	return seen == 3, nil
}
