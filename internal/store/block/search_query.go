package block

import (
	"encoding/binary"
	"math/bits"
	"sort"
	"time"
)

// SearchRequest is what one span must satisfy for its trace to be a
// candidate of a search (store.TraceQuery's and store.ScanRequest's
// conditions). Zero fields do not constrain.
type SearchRequest struct {
	// Service and Name, when set, are the span's service and name.
	Service, Name string
	// Tags are tags the span carries (store.SpanMayHaveTag: the text form
	// of an attribute of the span, its resource, scope, events or links,
	// an element of an array attribute, or a tag derived from the span's
	// kind and status).
	Tags map[string]string
	// StartMin and StartMax bound the span's start (Unix nanoseconds,
	// inclusive); StartMax 0 means no upper bound.
	StartMin, StartMax uint64
	// MinDuration is a lower bound on the span's duration.
	MinDuration time.Duration
}

// Candidate is a trace fragment of the block that may have a span
// satisfying a search.
type Candidate struct {
	// Ordinal is the fragment's entry in the block's index (TraceIDAt).
	Ordinal int
	// Start is an upper bound of the fragment's earliest span start:
	// fragments come in decreasing Start, and the trace's start is at
	// most its fragment's.
	Start uint64
}

// Candidates returns the fragments that may have a span satisfying q,
// newest first. Every fragment with such a span is among them; the caller
// checks the spans. Iteration stops early at no cost.
func (x *SearchIndex) Candidates(q *SearchRequest) *Candidates {
	c := &Candidates{x: x, q: q}
	hi := q.StartMax
	if hi == 0 {
		hi = ^uint64(0)
	}
	c.lo, c.hi = q.StartMin, hi
	c.minDur = uint64(max(q.MinDuration, 0))
	// The first rank whose start can be at most hi.
	c.next = uint32(sort.Search(x.n, func(r int) bool { return x.startLo(r) <= hi }))
	var its []postingIter
	add := func(it postingIter) { its = append(its, it) }
	if q.Service != "" {
		if x.flags&searchServicesPartial == 0 {
			add(x.iter(searchTerm{kind: termService, svc: q.Service}))
		}
		if q.Name != "" && x.flags&searchNamesPartial == 0 {
			add(x.iter(searchTerm{kind: termName, svc: q.Service, val: q.Name}))
		}
		for k, v := range q.Tags {
			if x.tagIndexed(k) {
				add(x.iter(searchTerm{kind: termTag, svc: q.Service, key: k, val: v}))
			} else if x.tagAbsent(k) {
				add(emptyIter{})
			}
		}
	} else {
		// Any service: the union of each service's term.
		union := func(t searchTerm) postingIter {
			var u unionIter
			for _, s := range x.services {
				t.svc = s
				if it := x.iter(t); it != (emptyIter{}) {
					u.its = append(u.its, it)
					u.cur = append(u.cur, 0)
					u.ok = append(u.ok, false)
				}
			}
			if len(u.its) == 0 {
				return emptyIter{}
			}
			return &u
		}
		if q.Name != "" && x.flags&searchNamesPartial == 0 && x.flags&searchServicesPartial == 0 {
			add(union(searchTerm{kind: termName, val: q.Name}))
		}
		for k, v := range q.Tags {
			if x.tagIndexed(k) && x.flags&searchServicesPartial == 0 {
				add(union(searchTerm{kind: termTag, key: k, val: v}))
			} else if x.tagAbsent(k) {
				add(emptyIter{})
			}
		}
	}
	c.its = its
	return c
}

// tagIndexed reports whether every value of tag key k is in the index.
func (x *SearchIndex) tagIndexed(k string) bool { return x.keys[k] }

// tagAbsent reports whether no span of the block has tag key k.
func (x *SearchIndex) tagAbsent(k string) bool {
	_, listed := x.keys[k]
	return !listed && x.flags&searchKeysPartial == 0
}

func (x *SearchIndex) startLo(r int) uint64 { return x.base + uint64(x.start[r])*x.unit }

func (x *SearchIndex) iter(t searchTerm) postingIter {
	p, ok := x.terms[t]
	if !ok {
		return emptyIter{}
	}
	switch p.enc {
	case postBitmap:
		return &bitmapIter{b: p.b, n: uint32(x.n)}
	case postComplement:
		return &complementIter{miss: listIter{b: p.b}, n: uint32(x.n)}
	case postSvcMinus:
		return &minusIter{of: x.iter(searchTerm{kind: termService, svc: p.svc}), miss: listIter{b: p.b}}
	}
	return &listIter{b: p.b}
}

// Candidates iterates over the candidates of a search, newest first. It is
// not safe for concurrent use.
type Candidates struct {
	x      *SearchIndex
	q      *SearchRequest
	its    []postingIter
	next   uint32
	lo, hi uint64
	minDur uint64
	done   bool
}

// Next returns the next candidate, or false at the end.
func (c *Candidates) Next() (Candidate, bool) {
	x := c.x
	for !c.done {
		r, ok := c.nextRank()
		if !ok {
			c.done = true
			break
		}
		start := x.startLo(int(r))
		end := start + uint64(x.dur[r])*x.unit
		if start > c.hi || end < c.lo || uint64(x.maxDur[r])*x.unit < c.minDur {
			continue
		}
		return Candidate{Ordinal: int(x.ord[r]), Start: start + x.unit - 1}, true
	}
	return Candidate{}, false
}

// nextRank returns the next rank that every posting list has.
func (c *Candidates) nextRank() (uint32, bool) {
	r := c.next
	if r >= uint32(c.x.n) {
		return 0, false
	}
again:
	for _, it := range c.its {
		v, ok := it.seek(r)
		if !ok {
			c.next = uint32(c.x.n)
			return 0, false
		}
		if v != r {
			r = v
			goto again
		}
	}
	c.next = r + 1
	return r, true
}

// postingIter walks a posting list forwards: seek returns the first rank
// at least r, or false when there is none. Successive calls never go back.
type postingIter interface {
	seek(r uint32) (uint32, bool)
}

type emptyIter struct{}

func (emptyIter) seek(uint32) (uint32, bool) { return 0, false }

// listIter walks uvarint gaps (checked by checkPosting).
type listIter struct {
	b    []byte
	cur  uint32
	next uint32 // one past cur
	have bool
}

func (it *listIter) seek(r uint32) (uint32, bool) {
	for !it.have || it.cur < r {
		if len(it.b) == 0 {
			it.have = false
			it.cur = ^uint32(0)
			return 0, false
		}
		v, k := binary.Uvarint(it.b)
		it.b = it.b[k:]
		it.cur = it.next + uint32(v)
		it.next = it.cur + 1
		it.have = true
	}
	return it.cur, true
}

type bitmapIter struct {
	b []byte
	n uint32
}

func (it *bitmapIter) seek(r uint32) (uint32, bool) {
	for r < it.n {
		i := r / 8
		if r%8 == 0 && i+8 <= uint32(len(it.b)) {
			w := binary.LittleEndian.Uint64(it.b[i:])
			if w == 0 {
				r += 64
				continue
			}
			return r + uint32(bits.TrailingZeros64(w)), true
		}
		c := it.b[i] >> (r % 8)
		if c == 0 {
			r = (i + 1) * 8
			continue
		}
		return r + uint32(bits.TrailingZeros8(c)), true
	}
	return 0, false
}

// complementIter walks the ranks missing from a list.
type complementIter struct {
	miss listIter
	n    uint32
}

func (it *complementIter) seek(r uint32) (uint32, bool) {
	for r < it.n {
		m, ok := it.miss.seek(r)
		if !ok || m != r {
			return r, true
		}
		r++
	}
	return 0, false
}

// minusIter walks the ranks of a list missing from another.
type minusIter struct {
	of   postingIter
	miss listIter
}

func (it *minusIter) seek(r uint32) (uint32, bool) {
	for {
		v, ok := it.of.seek(r)
		if !ok {
			return 0, false
		}
		if m, ok := it.miss.seek(v); !ok || m != v {
			return v, true
		}
		r = v + 1
	}
}

// unionIter walks the union of lists.
type unionIter struct {
	its []postingIter
	cur []uint32
	ok  []bool
}

func (u *unionIter) seek(r uint32) (uint32, bool) {
	best, found := uint32(0), false
	for i, it := range u.its {
		if !u.ok[i] || u.cur[i] < r {
			u.cur[i], u.ok[i] = it.seek(r)
			if !u.ok[i] {
				u.its[i] = emptyIter{}
			}
		}
		if u.ok[i] && (!found || u.cur[i] < best) {
			best, found = u.cur[i], true
		}
	}
	return best, found
}
