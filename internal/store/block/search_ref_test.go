package block

// The search index builder as it was before its per-name attribute
// positions and resource groups (commit 45b78ac), kept as the reference
// that TestSearchBuilderMatchesReference compares the builder's bytes
// with. Only the names differ (a ref prefix); the posting encoders are
// shared.

import (
	"cmp"
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/clew-dev/clew/internal/model"
)

// refFragInfo is what the index keeps of one trace fragment.
type refFragInfo struct {
	start, end, maxDur uint64
}

// refKeyBuilder tracks one tag key across services (or the service or the
// span-name term space): its bounds, and whether it was dropped.
type refKeyBuilder struct {
	name      string
	values    int
	maxValues int
	size      int
	budget    bool
	dropped   bool
	terms     []*refTermBuilder
	svcKeys   []*refSvcKey // the key's terms by service, released on drop
}

// refTermBuilder collects the ordinals of the fragments that have a term:
// uvarint gaps while sparse, a bitmap once that is smaller.
type refTermBuilder struct {
	key  *refKeyBuilder
	text string // a string term's value (a copy: spans' strings may be reused)
	next uint32 // one past the last ordinal added
	n    int
	vb   []byte
	bits []uint64
}

func (t *refTermBuilder) size() int { return len(t.vb) + 8*len(t.bits) }

func (t *refTermBuilder) add(ord uint32) {
	if t.bits != nil {
		w := int(ord / 64)
		for len(t.bits) <= w {
			t.bits = append(t.bits, 0)
		}
		t.bits[w] |= 1 << (ord % 64)
	} else {
		t.vb = binary.AppendUvarint(t.vb, uint64(ord-t.next))
		if len(t.vb) > 8*int(ord/64+1)+16 {
			t.bits = make([]uint64, ord/64+1, ord/64+16)
			t.forEach(func(o uint32) { t.bits[o/64] |= 1 << (o % 64) })
			t.bits[ord/64] |= 1 << (ord % 64)
			t.vb = nil
		}
	}
	t.n++
	t.next = ord + 1
}

// forEach calls fn with each ordinal recorded in vb.
func (t *refTermBuilder) forEach(fn func(uint32)) {
	var next uint32
	for b := t.vb; len(b) > 0; {
		d, k := binary.Uvarint(b)
		b = b[k:]
		o := next + uint32(d)
		fn(o)
		next = o + 1
	}
}

// refSvcKey holds the terms of one tag key of one service, by value, and the
// last value seen (attributes repeat their values from span to span).
type refSvcKey struct {
	key *refKeyBuilder
	// dropped is key.dropped, kept here to skip a dropped key's values
	// without a load of the key.
	dropped bool
	strs    map[string]*refTermBuilder
	ints    map[int64]*refTermBuilder
	bools   [2]*refTermBuilder
	lastStr string
	lastS   *refTermBuilder
	lastInt int64
	lastI   *refTermBuilder
}

// refSvcState is the terms of one service.
type refSvcState struct {
	term    *refTermBuilder
	keys    map[string]*refSvcKey
	slots   []refSlotWays // the keys last seen at each span attribute position
	evSlots []refSlotWays // the same for event attributes
	derived [4]*refSvcKey // span.kind, error, otel.status_code, otel.status_description
	// kinds are the span.kind terms by span kind, once made.
	kinds    [8]*refTermBuilder
	names    map[string]*refTermBuilder
	lastName string
	lastN    *refTermBuilder
}

// refSlotWays are the keys last seen at one attribute position, most recent
// first: a service's spans of different kinds (server, client, internal)
// carry different keys at the same position.
type refSlotWays [4]refSlotWay

type refSlotWay struct {
	name string // sk.key.name, kept here to compare without loads
	sk   *refSvcKey
	// lastStr and lastS are the last string value seen at the position
	// with this key and its term: spans of one kind repeat their values
	// at the same position more often than the key does over all its
	// positions and kinds.
	lastStr string
	lastS   *refTermBuilder
}

type refResScope struct {
	res *model.Resource
	sc  *model.Scope
}

type refResTerms struct {
	svc   *refSvcState
	terms []*refTermBuilder
	// marked is one past the fragment whose terms were marked last:
	// marking them again in the same fragment changes nothing.
	marked uint32
}

// refSearchBuilder builds a block's search index from its spans, added in
// block order. Its memory is bounded by the key budgets (searchKeyBudget
// per key, searchBuildBudget in all) plus 24 bytes per fragment.
type refSearchBuilder struct {
	frags    []refFragInfo
	svcs     map[string]*refSvcState
	keys     map[string]*refKeyBuilder
	services refKeyBuilder
	names    refKeyBuilder
	size     int
	flags    uint64
	dropped  []string
	// cache holds the service and the terms a (resource, scope) pair gives
	// every span of it; its keys keep the pointers alive, so they cannot
	// be reused by other resources.
	cache map[refResScope]*refResTerms
	// last is the cache's last hit.
	lastRS refResScope
	lastRT *refResTerms
	ord    uint32
	// slotPositions counts the attribute positions of every service's
	// slots and evSlots, up to refMaxSlotPositions.
	slotPositions int
}

// refMaxSlotPositions bounds the attribute positions the builder remembers
// keys for, over all services (192 bytes each).
const refMaxSlotPositions = 1 << 13

func newRefSearchBuilder() *refSearchBuilder {
	return &refSearchBuilder{
		svcs:     map[string]*refSvcState{},
		keys:     map[string]*refKeyBuilder{},
		services: refKeyBuilder{maxValues: maxSearchServices},
		names:    refKeyBuilder{maxValues: maxSearchNames},
		cache:    map[refResScope]*refResTerms{},
	}
}

// add records a span; newTrace starts a fragment (the next index entry).
func (b *refSearchBuilder) add(sp *model.Span, newTrace bool) {
	end := max(sp.EndTimeUnixNano, sp.StartTimeUnixNano)
	dur := uint64(sp.Duration())
	if newTrace || len(b.frags) == 0 {
		b.frags = append(b.frags, refFragInfo{start: sp.StartTimeUnixNano, end: end, maxDur: dur})
		b.ord = uint32(len(b.frags) - 1)
	} else {
		f := &b.frags[b.ord]
		f.start = min(f.start, sp.StartTimeUnixNano)
		f.end = max(f.end, end)
		f.maxDur = max(f.maxDur, dur)
	}
	rs := refResScope{sp.Resource, sp.Scope}
	rt := b.lastRT
	if rt == nil || b.lastRS != rs {
		if rt = b.cache[rs]; rt == nil {
			rt = b.resourceTerms(sp)
			if len(b.cache) >= 4096 {
				clear(b.cache)
			}
			b.cache[rs] = rt
		}
		b.lastRS, b.lastRT = rs, rt
	}
	if rt.marked != b.ord+1 {
		for _, t := range rt.terms {
			b.mark(t)
		}
		rt.marked = b.ord + 1
	}
	s := rt.svc
	if s.lastN == nil || s.lastName != sp.Name {
		if s.lastN = b.nameTerm(s, sp.Name); s.lastN != nil {
			s.lastName = s.lastN.text
		}
	}
	b.mark(s.lastN)
	for i := range sp.Attributes {
		a := &sp.Attributes[i]
		if sk, w := b.slotKey(s, &s.slots, i, a.Key); sk != nil && !sk.dropped {
			if w != nil && a.Value.Type() == model.ValueString && w.lastS != nil && w.lastStr == a.Value.Str() {
				b.mark(w.lastS)
			} else {
				b.slotValue(sk, w, &a.Value)
			}
		}
	}
	slot := 0
	for i := range sp.Events {
		for j := range sp.Events[i].Attributes {
			a := &sp.Events[i].Attributes[j]
			if sk, w := b.slotKey(s, &s.evSlots, slot, a.Key); sk != nil && !sk.dropped {
				b.slotValue(sk, w, &a.Value)
			}
			slot++
		}
	}
	for i := range sp.Links {
		for _, a := range sp.Links[i].Attributes {
			b.value(b.refSvcKey(s, a.Key), a.Value, nil)
		}
	}
	// The tags store.SpanHasTag derives from span fields.
	if k := sp.Kind; uint(k) < uint(len(s.kinds)) && s.kinds[k] != nil {
		b.mark(s.kinds[k])
	} else if str := k.String(); str != "" {
		sk := b.derivedKey(s, 0, "span.kind")
		b.value(sk, model.StringValue(str), nil)
		if uint(k) < uint(len(s.kinds)) && sk != nil && !sk.dropped {
			// The term value just marked: the same for every span of
			// this kind (mark skips it once its key is dropped).
			s.kinds[k] = sk.lastS
		}
	}
	switch sp.Status.Code {
	case model.StatusError:
		b.value(b.derivedKey(s, 1, "error"), model.StringValue("true"), nil)
		b.value(b.derivedKey(s, 2, "otel.status_code"), model.StringValue("ERROR"), nil)
		b.value(b.derivedKey(s, 3, "otel.status_description"), model.StringValue(sp.Status.Message), nil)
	case model.StatusOK:
		b.value(b.derivedKey(s, 2, "otel.status_code"), model.StringValue("OK"), nil)
	}
}

// slotKey returns refSvcKey(s, key), remembered by attribute position in
// slots (spans of a service mostly carry the same keys in the same order),
// and the key's way at the position, nil when it is not remembered.
func (b *refSearchBuilder) slotKey(s *refSvcState, slots *[]refSlotWays, i int, key string) (*refSvcKey, *refSlotWay) {
	if i < len(*slots) {
		ws := &(*slots)[i]
		for j := range ws {
			if w := &ws[j]; w.sk != nil && w.name == key {
				return w.sk, w
			}
		}
	}
	sk := b.refSvcKey(s, key)
	if i < 64 && sk != nil && (i < len(*slots) || b.slotPositions+i+1-len(*slots) <= refMaxSlotPositions) {
		for len(*slots) <= i {
			*slots = append(*slots, refSlotWays{})
			b.slotPositions++
		}
		ws := &(*slots)[i]
		copy(ws[1:], ws[:len(ws)-1])
		ws[0] = refSlotWay{name: sk.key.name, sk: sk}
		return sk, &ws[0]
	}
	return sk, nil
}

// slotValue records value v of key sk (not dropped), seen at the attribute
// position of way w (nil when not remembered).
func (b *refSearchBuilder) slotValue(sk *refSvcKey, w *refSlotWay, v *model.Value) {
	if typ := v.Type(); typ == model.ValueInt && sk.lastI != nil && sk.lastInt == v.Int() {
		b.mark(sk.lastI)
		return
	} else if w == nil || typ != model.ValueString {
		b.value(sk, *v, nil)
		return
	}
	if str := v.Str(); w.lastS == nil || w.lastStr != str {
		t := b.strTerm(sk, str)
		if t == nil {
			return
		}
		w.lastStr, w.lastS = t.text, t
	}
	b.mark(w.lastS)
}

// derivedKey returns refSvcKey(s, key) for the derived tag i.
func (b *refSearchBuilder) derivedKey(s *refSvcState, i int, key string) *refSvcKey {
	if s.derived[i] == nil {
		s.derived[i] = b.refSvcKey(s, key)
	}
	return s.derived[i]
}

// resourceTerms returns the service of sp and the terms every span of its
// resource and scope has: the service, the resource and scope attributes,
// the scope's name and version.
func (b *refSearchBuilder) resourceTerms(sp *model.Span) *refResTerms {
	name := sp.ServiceName()
	s := b.svcs[name]
	if s == nil {
		s = &refSvcState{keys: map[string]*refSvcKey{}, names: map[string]*refTermBuilder{}}
		s.term = b.newTerm(&b.services, false)
		b.svcs[strings.Clone(name)] = s
	}
	rt := &refResTerms{svc: s}
	if s.term != nil {
		rt.terms = append(rt.terms, s.term)
	}
	if sp.Resource != nil {
		for _, a := range sp.Resource.Attributes {
			b.value(b.refSvcKey(s, a.Key), a.Value, &rt.terms)
		}
	}
	if sc := sp.Scope; sc != nil {
		for _, a := range sc.Attributes {
			b.value(b.refSvcKey(s, a.Key), a.Value, &rt.terms)
		}
		if sc.Name != "" {
			b.value(b.refSvcKey(s, "otel.scope.name"), model.StringValue(sc.Name), &rt.terms)
		}
		if sc.Version != "" {
			b.value(b.refSvcKey(s, "otel.scope.version"), model.StringValue(sc.Version), &rt.terms)
		}
	}
	return rt
}

// refSvcKey returns service s's terms of tag key, or nil when the key cannot
// be indexed.
func (b *refSearchBuilder) refSvcKey(s *refSvcState, key string) *refSvcKey {
	if sk, ok := s.keys[key]; ok {
		return sk
	}
	k := b.keys[key]
	if k == nil {
		if len(b.keys) >= maxSearchKeys || len(key) > maxSearchKeyLen {
			b.flags |= searchKeysPartial
			return nil
		}
		k = &refKeyBuilder{name: strings.Clone(key), maxValues: maxSearchValues, budget: true}
		b.keys[k.name] = k
	}
	sk := &refSvcKey{key: k, dropped: k.dropped}
	k.svcKeys = append(k.svcKeys, sk)
	s.keys[k.name] = sk
	return sk
}

func (b *refSearchBuilder) nameTerm(s *refSvcState, name string) *refTermBuilder {
	if t, ok := s.names[name]; ok {
		return t
	}
	t := b.newTerm(&b.names, false)
	if t != nil {
		t.text = strings.Clone(name)
		s.names[t.text] = t
	}
	return t
}

// value records (out nil) or collects (into out) the terms of attribute
// value v of key sk: its text form and, for an array, the text form of
// each element (store.SpanMayHaveTag).
func (b *refSearchBuilder) value(sk *refSvcKey, v model.Value, out *[]*refTermBuilder) {
	if sk == nil || sk.dropped {
		return
	}
	var t *refTermBuilder
	switch v.Type() {
	case model.ValueString:
		str := v.Str()
		if sk.lastS != nil && sk.lastStr == str {
			t = sk.lastS
		} else {
			t = b.strTerm(sk, str)
		}
	case model.ValueInt:
		n := v.Int()
		if sk.lastI != nil && sk.lastInt == n {
			t = sk.lastI
		} else if t = sk.ints[n]; t == nil {
			if t = b.newTerm(sk.key, false); t != nil {
				if sk.ints == nil {
					sk.ints = map[int64]*refTermBuilder{}
				}
				sk.ints[n] = t
				sk.lastInt, sk.lastI = n, t
			}
		} else {
			sk.lastInt, sk.lastI = n, t
		}
	case model.ValueBool:
		i := 0
		if v.Bool() {
			i = 1
		}
		if sk.bools[i] == nil {
			sk.bools[i] = b.newTerm(sk.key, false)
		}
		t = sk.bools[i]
	case model.ValueSlice:
		for _, e := range v.Slice() {
			b.collect(b.strTerm(sk, e.AsString()), out)
		}
		t = b.strTerm(sk, v.AsString())
	default:
		t = b.strTerm(sk, v.AsString())
	}
	if out == nil {
		b.mark(t) // collect, with mark's check inlined
		return
	}
	b.collect(t, out)
}

func (b *refSearchBuilder) collect(t *refTermBuilder, out *[]*refTermBuilder) {
	if t == nil {
		return
	}
	if out != nil {
		*out = append(*out, t)
		return
	}
	b.mark(t)
}

func (b *refSearchBuilder) strTerm(sk *refSvcKey, str string) *refTermBuilder {
	if sk.dropped {
		return nil
	}
	t, ok := sk.strs[str]
	if !ok {
		if t = b.newTerm(sk.key, len(str) > maxSearchValueLen); t == nil {
			return nil
		}
		if sk.strs == nil {
			sk.strs = map[string]*refTermBuilder{}
		}
		t.text = strings.Clone(str)
		sk.strs[t.text] = t
	}
	sk.lastStr, sk.lastS = t.text, t
	return t
}

// newTerm returns a new term of key k, or nil when k is (or, over its
// bounds, gets) dropped.
func (b *refSearchBuilder) newTerm(k *refKeyBuilder, long bool) *refTermBuilder {
	if k.dropped {
		return nil
	}
	if k.values >= k.maxValues || long {
		b.drop(k)
		return nil
	}
	t := &refTermBuilder{key: k}
	k.values++
	k.terms = append(k.terms, t)
	return t
}

// mark records that the current fragment has term t.
func (b *refSearchBuilder) mark(t *refTermBuilder) {
	// Inlined: most marks find the term marked already in this fragment.
	if t == nil || (t.n > 0 && t.next == b.ord+1) {
		return
	}
	b.markNew(t)
}

// markNew is mark of a term not yet marked in the current fragment.
func (b *refSearchBuilder) markNew(t *refTermBuilder) {
	k := t.key
	if k.dropped {
		return
	}
	if w := b.ord / 64; t.bits != nil && int(w) < len(t.bits) {
		// A bit in a word the bitmap has: its size does not change, and
		// the key stays within its budget, which only grows.
		t.bits[w] |= 1 << (b.ord % 64)
		t.n++
		t.next = b.ord + 1
	} else {
		before := t.size()
		t.add(b.ord)
		grown := t.size() - before
		k.size += grown
		if k.budget {
			b.size += grown
			if k.size > searchKeyBudget(len(b.frags)) {
				b.drop(k)
			}
		}
	}
	if b.size > searchBuildBudget(len(b.frags)) {
		// Drop the largest key.
		var big *refKeyBuilder
		for _, k := range b.keys {
			if !k.dropped && (big == nil || k.size > big.size) {
				big = k
			}
		}
		if big != nil {
			b.drop(big)
		}
	}
}

// drop removes a key from the index; its terms stay as tombstones.
func (b *refSearchBuilder) drop(k *refKeyBuilder) {
	k.dropped = true
	for _, t := range k.terms {
		t.vb, t.bits = nil, nil
	}
	for _, sk := range k.svcKeys {
		*sk = refSvcKey{key: k, dropped: true}
	}
	k.svcKeys = nil
	if k.budget {
		b.size -= k.size
	}
	k.terms, k.size = nil, 0
	switch {
	case k == &b.services:
		b.flags |= searchServicesPartial
	case k == &b.names:
		b.flags |= searchNamesPartial
	case len(b.dropped) < maxSearchDropped:
		b.dropped = append(b.dropped, k.name)
	default:
		b.flags |= searchKeysPartial
	}
}

// refTermRanks appends to out the sorted ranks of the fragments that have
// any of the terms tbs (several when terms merge), each once. rb is a
// bitmap of at least as many bits as fragments, all clear; it is left
// clear.
func refTermRanks(out []uint32, tbs []*refTermBuilder, rankOf []uint32, rb []uint64) []uint32 {
	total := 0
	for _, t := range tbs {
		total += t.n
	}
	start := len(out)
	if total*16 < len(rb) {
		// Sparse: the ranks, sorted.
		for _, t := range tbs {
			out = t.appendRanks(out, rankOf)
		}
		slices.Sort(out[start:])
		if len(tbs) > 1 {
			out = append(out[:start], slices.Compact(out[start:])...)
		}
		return out
	}
	// Set the ranks' bits, then read them in order, clearing them.
	for _, t := range tbs {
		if t.bits != nil {
			for w, word := range t.bits {
				for word != 0 {
					r := rankOf[w*64+bits.TrailingZeros64(word)]
					rb[r/64] |= 1 << (r % 64)
					word &= word - 1
				}
			}
			continue
		}
		var next uint32
		for b := t.vb; len(b) > 0; {
			d, k := binary.Uvarint(b)
			b = b[k:]
			o := next + uint32(d)
			r := rankOf[o]
			rb[r/64] |= 1 << (r % 64)
			next = o + 1
		}
	}
	for w, word := range rb {
		if word == 0 {
			continue
		}
		rb[w] = 0
		for word != 0 {
			out = append(out, uint32(w*64+bits.TrailingZeros64(word)))
			word &= word - 1
		}
	}
	return out
}

// appendRanks appends the ranks of t's fragments to out, unsorted.
func (t *refTermBuilder) appendRanks(out []uint32, rankOf []uint32) []uint32 {
	if t.bits != nil {
		for w, word := range t.bits {
			for word != 0 {
				out = append(out, rankOf[w*64+bits.TrailingZeros64(word)])
				word &= word - 1
			}
		}
		return out
	}
	var next uint32
	for b := t.vb; len(b) > 0; {
		d, k := binary.Uvarint(b)
		b = b[k:]
		o := next + uint32(d)
		out = append(out, rankOf[o])
		next = o + 1
	}
	return out
}

// refEncodedTerm is a term ready to encode: its strings and sorted ranks.
type refEncodedTerm struct {
	kind          uint8
	svc, key, val string
	tb            *refTermBuilder
	more          []*refTermBuilder // the other terms merged into it
}

// encode returns the search file. The fragments must be the index's, in
// the same order.
func (b *refSearchBuilder) encode() []byte {
	n := len(b.frags)
	// Ranks: fragments by start, newest first (ties by ordinal).
	byRank := make([]uint32, n)
	for i := range byRank {
		byRank[i] = uint32(i)
	}
	slices.SortFunc(byRank, func(x, y uint32) int {
		if c := cmp.Compare(b.frags[y].start, b.frags[x].start); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	rankOf := make([]uint32, n)
	for r, o := range byRank {
		rankOf[o] = uint32(r)
	}
	var base, maxEnd uint64
	if n > 0 {
		base = b.frags[byRank[n-1]].start
		for i := range b.frags {
			maxEnd = max(maxEnd, b.frags[i].end)
		}
	}
	unit := searchUnit
	for (maxEnd-base)/unit+2 >= math.MaxUint32 {
		unit *= 10
	}

	out := make([]byte, 0, 64+n*8)
	out = append(out, searchMagic...)
	out = binary.AppendUvarint(out, uint64(n))
	out = binary.AppendUvarint(out, unit)
	out = binary.AppendUvarint(out, base)
	out = binary.AppendUvarint(out, b.flags)
	width := bits.Len32(uint32(max(n-1, 0)))
	out = append(out, byte(width))
	out = appendPacked(out, byRank, width)
	var prev uint64
	for r, o := range byRank {
		f := &b.frags[o]
		s := (f.start - base) / unit
		e := ceilDiv(f.end-base, unit)
		d := ceilDiv(f.maxDur, unit)
		if r == 0 {
			out = binary.AppendUvarint(out, s)
		} else {
			out = binary.AppendUvarint(out, prev-s)
		}
		prev = s
		out = binary.AppendUvarint(out, e-s)
		out = binary.AppendUvarint(out, e-s-min(d, e-s))
	}

	// Terms, merged by their text form (an int 200 and a string "200" of
	// the same key are one term), sorted.
	var terms []refEncodedTerm
	for svc, st := range b.svcs {
		if t := st.term; t != nil && !t.key.dropped && t.n > 0 {
			terms = append(terms, refEncodedTerm{kind: termService, svc: svc, tb: t})
		}
		for name, t := range st.names {
			if !t.key.dropped && t.n > 0 {
				terms = append(terms, refEncodedTerm{kind: termName, svc: svc, val: name, tb: t})
			}
		}
		for key, sk := range st.keys {
			if sk.key.dropped {
				continue
			}
			add := func(val string, t *refTermBuilder) {
				if t != nil && t.n > 0 {
					terms = append(terms, refEncodedTerm{kind: termTag, svc: svc, key: key, val: val, tb: t})
				}
			}
			for v, t := range sk.strs {
				add(v, t)
			}
			for v, t := range sk.ints {
				add(strconv.FormatInt(v, 10), t)
			}
			add("false", sk.bools[0])
			add("true", sk.bools[1])
		}
	}
	slices.SortFunc(terms, refCompareTerms)
	terms = refMergeTerms(terms)

	// The string table: every distinct string, sorted.
	var strs []string
	for _, t := range terms {
		strs = append(strs, t.svc, t.key, t.val)
	}
	var indexed []string
	for name, k := range b.keys {
		if !k.dropped {
			indexed = append(indexed, name)
		}
	}
	slices.Sort(indexed)
	dropped := slices.Sorted(slices.Values(b.dropped))
	strs = append(strs, indexed...)
	strs = append(strs, dropped...)
	slices.Sort(strs)
	strs = slices.Compact(strs)
	id := func(s string) uint64 {
		i, _ := slices.BinarySearch(strs, s)
		return uint64(i)
	}
	out = binary.AppendUvarint(out, uint64(len(strs)))
	for _, s := range strs {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	out = binary.AppendUvarint(out, uint64(len(indexed)))
	for _, s := range indexed {
		out = binary.AppendUvarint(out, id(s))
	}
	out = binary.AppendUvarint(out, uint64(len(dropped)))
	for _, s := range dropped {
		out = binary.AppendUvarint(out, id(s))
	}
	out = binary.AppendUvarint(out, uint64(len(terms)))
	var pb, alt, sameKey []byte
	svcRanks := map[string][]uint32{}
	same := map[string]int{}
	// Each term's ranks are computed as it is written: all at once they
	// would take 4 bytes per posting entry.
	var ranks []uint32
	var tbs []*refTermBuilder
	rb := make([]uint64, (n+63)/64)
	for i, t := range terms {
		tbs = append(append(tbs[:0], t.tb), t.more...)
		ranks = refTermRanks(ranks[:0], tbs, rankOf, rb)
		out = append(out, t.kind)
		out = binary.AppendUvarint(out, id(t.svc))
		if t.kind == termTag {
			out = binary.AppendUvarint(out, id(t.key))
		}
		if t.kind != termService {
			out = binary.AppendUvarint(out, id(t.val))
		}
		var enc uint8
		var count int
		enc, count, pb = encodePosting(pb[:0], ranks, n)
		if t.kind == termService {
			svcRanks[t.svc] = slices.Clone(ranks)
		} else if sr, ok := svcRanks[t.svc]; ok && len(sr)-len(ranks) < len(pb) {
			// The service's fragments that lack the term, when smaller.
			alt = alt[:0]
			var next uint32
			missing, j := 0, 0
			for _, r := range sr {
				if j < len(ranks) && ranks[j] == r {
					j++
					continue
				}
				alt = binary.AppendUvarint(alt, uint64(r-next))
				next = r + 1
				missing++
			}
			if len(alt) < len(pb) {
				enc, count, pb, alt = postSvcMinus, missing, alt, pb
			}
		}
		// A list of more than 2 bytes the same as an earlier term's is
		// written as a reference to it.
		if len(pb) > 2 {
			sameKey = append(append(sameKey[:0], enc), pb...)
			if enc == postSvcMinus {
				sameKey = append(append(sameKey, 0), t.svc...)
			}
			if j, ok := same[string(sameKey)]; ok {
				out = append(out, postSame)
				out = binary.AppendUvarint(out, uint64(j))
				continue
			}
			same[string(sameKey)] = i
		}
		out = append(out, enc)
		out = binary.AppendUvarint(out, uint64(count))
		out = binary.AppendUvarint(out, uint64(len(pb)))
		out = append(out, pb...)
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}
func refCompareTerms(a, b refEncodedTerm) int {
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	if c := cmp.Compare(a.svc, b.svc); c != 0 {
		return c
	}
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.val, b.val)
}

// refMergeTerms unites adjacent equal terms of a sorted list.
func refMergeTerms(terms []refEncodedTerm) []refEncodedTerm {
	out := terms[:0]
	for _, t := range terms {
		if len(out) > 0 && refCompareTerms(out[len(out)-1], t) == 0 {
			last := &out[len(out)-1]
			last.more = append(append(last.more, t.tb), t.more...)
			continue
		}
		out = append(out, t)
	}
	return out
}
