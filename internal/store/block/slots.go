package block

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// A block's attribute columns (attr_0 to attr_7) hold the string span
// attributes of the keys most spans of the block carry, chosen by the
// writer from the block's first rows: a value there costs the bits of its
// index in a dictionary of that key's values alone, where the generic
// attrs_str list pays for the key and for an index into a dictionary of
// every key's values (on the benchmark load, 5.5 instead of 10.4 bytes
// per span).

// slotKeysMeta is the Parquet key-value metadata listing the keys of the
// attribute columns, a JSON array of strings (slot i first).
const slotKeysMeta = "clew.block.attr_columns"

// Limits of the attribute column keys.
const (
	maxSlotKeyLen    = 256      // bytes of a key
	maxSlotKeysBytes = 16 << 10 // the metadata value
	slotShare        = 8        // a key carried by at least 1 in slotShare rows gets a column
)

// chooseSlots picks the attribute columns from the rows buffered so far
// (the block's first rows), records them in the file's metadata and moves
// the buffered rows' values there. It is called once, before the first
// rows are written.
func (w *Writer) chooseSlots() {
	w.slotsChosen = true
	counts := map[string]int{}
	for i := range w.buf {
		for _, a := range w.buf[i].AttrsStr {
			// Keys the metadata cannot carry exactly are left out: an
			// empty key is damage to readers, and JSON turns invalid
			// UTF-8 into U+FFFD (changing the key, or making two equal).
			if a.Value != "" && a.Key != "" && len(a.Key) <= maxSlotKeyLen && utf8.ValidString(a.Key) {
				counts[a.Key]++
			}
		}
	}
	type cand struct {
		key string
		n   int
	}
	var cands []cand
	for k, n := range counts {
		if _, dedicated := spanColIndex[k]; !dedicated && n*slotShare >= len(w.buf) {
			cands = append(cands, cand{k, n})
		}
	}
	if len(cands) == 0 {
		return
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	keys := make([]string, 0, attrSlots)
	for _, c := range cands[:min(len(cands), attrSlots)] {
		keys = append(keys, c.key)
	}
	js, _ := json.Marshal(keys)
	w.pw.SetKeyValueMetadata(slotKeysMeta, string(js))
	w.enc.slots = keys
	for i := range w.buf {
		r := &w.buf[i]
		ps := r.slots()
		out := r.AttrsStr[:0]
		for _, a := range r.AttrsStr {
			if a.Value != "" {
				if k := w.enc.slot(a.Key); k >= 0 && *ps[k] == "" {
					*ps[k] = a.Value
					continue
				}
			}
			out = append(out, a)
		}
		r.AttrsStr = out
	}
}

// decodeSlotKeys returns the keys of f's attribute columns, nil when it
// has none.
func decodeSlotKeys(f *parquet.File) (*slotKeys, error) {
	v, ok := f.Lookup(slotKeysMeta)
	if !ok {
		return nil, nil
	}
	bad := func(why string) error { return fmt.Errorf("%w: data: %s: %s", ErrCorrupt, slotKeysMeta, why) }
	if len(v) > maxSlotKeysBytes {
		return nil, bad("too long")
	}
	var keys []string
	if err := json.Unmarshal([]byte(v), &keys); err != nil {
		return nil, bad(err.Error())
	}
	if len(keys) == 0 || len(keys) > attrSlots {
		return nil, bad(fmt.Sprintf("%d keys", len(keys)))
	}
	var out slotKeys
	for i, k := range keys {
		if k == "" || len(k) > maxSlotKeyLen || slices.Contains(keys[:i], k) {
			return nil, bad(fmt.Sprintf("key %d", i))
		}
		out[i] = k
	}
	return &out, nil
}

// AttrColumns returns the keys of the block's attribute columns, attr_0
// first ("" for an unused column; nil when the block has none).
func (r *Reader) AttrColumns() []string {
	if r.slotKeys == nil {
		return nil
	}
	keys := r.slotKeys[:]
	for len(keys) > 0 && keys[len(keys)-1] == "" {
		keys = keys[:len(keys)-1]
	}
	return slices.Clone(keys)
}
