package block

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/clew-dev/clew/internal/model"
)

// SearchName is the object name of a block's search index (FORMAT.md,
// "search"). Blocks written before it existed have none; readers then fall
// back to scanning.
const SearchName = "search"

// Search index constants; see FORMAT.md.
const (
	searchMagic = "CLEWSRC\x01"
	// searchUnit is the time unit of the fragment table (1 ms): starts are
	// rounded down, ends and durations up, so the table only ever widens a
	// fragment, and candidates are checked on the spans anyway.
	searchUnit = uint64(1e6)
	// Bounds on what the writer indexes. A tag key that passes any of them
	// in a block is dropped from that block's index (listed as dropped, so
	// that a search on it does not prune): values longer than
	// maxSearchValueLen, more than maxSearchValues (service, value) pairs,
	// or postings larger than searchKeyBudget.
	maxSearchValueLen = 128
	maxSearchKeyLen   = 128
	maxSearchValues   = 512
	maxSearchKeys     = 512
	// maxSearchDropped bounds the list of dropped keys; past it the block
	// says that any key may be missing from its index.
	maxSearchDropped = 256
	// Services and span names are bounded by count only.
	maxSearchServices = 4096
	maxSearchNames    = 1 << 16
	// maxSearchStrings bounds the decoder's string table.
	maxSearchStrings = 1 << 20
)

// searchKeyBudget is the most bytes the postings of one tag key may take
// in a block of traces fragments: keys whose values spread over many
// traces (ids, random values) cost more than they prune.
func searchKeyBudget(traces int) int { return 4096 + traces*searchKeyBytesPerTrace }

// searchKeyBytesPerTrace: see searchKeyBudget.
const searchKeyBytesPerTrace = 2

// searchBuildBudget bounds the postings of every tag key together while a
// block is written; the key that passes it is dropped.
func searchBuildBudget(traces int) int { return 1<<16 + traces*16 }

// Term kinds.
const (
	termService = 0 // the span's service
	termName    = 1 // (service, span name)
	termTag     = 2 // (service, tag key, tag value as text)
)

// Posting list encodings.
const (
	postList       = 0 // uvarint gaps between increasing ranks
	postBitmap     = 1 // one bit per rank
	postComplement = 2 // uvarint gaps between the ranks NOT in the list
	postSvcMinus   = 3 // uvarint gaps between the ranks of the term's service NOT in the list
	postSame       = 4 // the same list as an earlier term (its position)
)

// Index flags.
const (
	searchServicesPartial = 1 << 0 // some services are not indexed
	searchNamesPartial    = 1 << 1 // some span names are not indexed
	searchKeysPartial     = 1 << 2 // tag keys neither indexed nor listed as dropped may occur
)

// fragInfo is what the index keeps of one trace fragment.
type fragInfo struct {
	start, end, maxDur uint64
}

// keyBuilder tracks one tag key across services (or the service or the
// span-name term space): its bounds, and whether it was dropped.
type keyBuilder struct {
	name      string
	values    int
	maxValues int
	size      int
	budget    bool
	dropped   bool
	terms     []*termBuilder
	svcKeys   []*svcKey // the key's terms by service, released on drop
}

// termBuilder collects the ordinals of the fragments that have a term:
// uvarint gaps while sparse, a bitmap once that is smaller.
type termBuilder struct {
	key  *keyBuilder
	text string // a string term's value (a copy: spans' strings may be reused)
	// group is set while the term's fragments are exactly those of a
	// (resource, scope) pair's terms (resTerms.post): the term is marked
	// through it, and its own fields are unused.
	group *resTerms
	next  uint32 // one past the last ordinal added
	n     int
	vb    []byte
	bits  []uint64
}

func (t *termBuilder) size() int { return len(t.vb) + 8*len(t.bits) }

// posting returns the termBuilder that holds t's fragments: t, or its
// group's.
func (t *termBuilder) posting() *termBuilder {
	if t.group != nil {
		return &t.group.post
	}
	return t
}

func (t *termBuilder) add(ord uint32) {
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
func (t *termBuilder) forEach(fn func(uint32)) {
	var next uint32
	for b := t.vb; len(b) > 0; {
		d, k := binary.Uvarint(b)
		b = b[k:]
		o := next + uint32(d)
		fn(o)
		next = o + 1
	}
}

// svcKey holds the terms of one tag key of one service, by value, and the
// last value seen (attributes repeat their values from span to span).
type svcKey struct {
	key *keyBuilder
	// dropped is key.dropped, kept here to skip a dropped key's values
	// without a load of the key.
	dropped bool
	strs    map[string]*termBuilder
	ints    map[int64]*termBuilder
	bools   [2]*termBuilder
	lastStr string
	lastS   *termBuilder
	lastInt int64
	lastI   *termBuilder
}

// svcState is the terms of one service.
type svcState struct {
	term    *termBuilder
	keys    map[string]*svcKey
	slots   []slotWays // the keys last seen at each span attribute position, for names without their own
	evSlots []slotWays // the same for event attributes
	derived [4]*svcKey // span.kind, error, otel.status_code, otel.status_description
	// kinds are the span.kind terms by span kind, once made.
	kinds [8]*termBuilder
	names map[string]*nameState
	seed  uint32 // sets the service's names apart in nameHash
	// noName stands for the names without a term (the names key
	// dropped): no term, the service's slots.
	noName nameState
	// prints are the (resource, scope) contents seen last, in turn: the
	// spans of every request bring their own resource and scope
	// pointers, mostly with the same content.
	prints    [4]*resPrint
	printNext uint8
}

// resPrint is the content of a (resource, scope) pair that resourceTerms
// reads, with copies of its strings, and the terms it gives.
type resPrint struct {
	attrs             []model.KeyValue // the resource's, then the scope's attributes
	nres              int              // how many of attrs are the resource's
	scope             bool             // whether there is a scope
	scName, scVersion string
	rt                *resTerms
}

// newResPrint returns the print of res and sc, or nil when an attribute
// value is an array or a map (not compared).
func newResPrint(res *model.Resource, sc *model.Scope, rt *resTerms) *resPrint {
	p := &resPrint{rt: rt, scope: sc != nil}
	var attrs []model.KeyValue
	if res != nil {
		attrs = res.Attributes
	}
	p.nres = len(attrs)
	if sc != nil {
		attrs = append(attrs[:len(attrs):len(attrs)], sc.Attributes...)
		p.scName, p.scVersion = strings.Clone(sc.Name), strings.Clone(sc.Version)
	}
	p.attrs = make([]model.KeyValue, len(attrs))
	for i, a := range attrs {
		v := a.Value
		switch v.Type() {
		case model.ValueString:
			v = model.StringValue(strings.Clone(v.Str()))
		case model.ValueBytes:
			v = model.BytesValue([]byte(v.Str()))
		case model.ValueSlice, model.ValueMap:
			return nil
		}
		p.attrs[i] = model.KeyValue{Key: strings.Clone(a.Key), Value: v}
	}
	return p
}

// matches reports whether res and sc have the content of p.
func (p *resPrint) matches(res *model.Resource, sc *model.Scope) bool {
	var ra, sa model.Attributes
	if res != nil {
		ra = res.Attributes
	}
	if sc != nil {
		if !p.scope || sc.Name != p.scName || sc.Version != p.scVersion {
			return false
		}
		sa = sc.Attributes
	} else if p.scope {
		return false
	}
	if len(ra) != p.nres || len(ra)+len(sa) != len(p.attrs) {
		return false
	}
	for i := range ra {
		if !sameScalar(&ra[i], &p.attrs[i]) {
			return false
		}
	}
	for i := range sa {
		if !sameScalar(&sa[i], &p.attrs[p.nres+i]) {
			return false
		}
	}
	return true
}

// sameScalar reports whether attribute a equals q, whose value is not an
// array or a map (their num and str fields say all).
func sameScalar(a, q *model.KeyValue) bool {
	return a.Value.Type() == q.Value.Type() && a.Value.Int() == q.Value.Int() && a.Key == q.Key && a.Value.Str() == q.Value.Str()
}

// printHash returns the index in searchBuilder.printSeen of a resource and
// scope: a mix of the resource's attribute count and of its first and last
// values' lengths and last bytes (the service name and, mostly, an
// instance's id), and of the scope's name length.
func printHash(res *model.Resource, sc *model.Scope) uint32 {
	var h uint32
	if res != nil && len(res.Attributes) > 0 {
		f, l := res.Attributes[0].Value.Str(), res.Attributes[len(res.Attributes)-1].Value.Str()
		h = uint32(len(res.Attributes)) ^ uint32(len(f))<<4 ^ uint32(len(l))<<12
		if len(f) > 0 {
			h ^= uint32(f[len(f)-1]) << 20
		}
		if len(l) > 0 {
			h ^= uint32(l[len(l)-1]) << 24
		}
	}
	if sc != nil {
		h ^= uint32(len(sc.Name))<<8 + 1
	}
	h *= 0x9e3779b1
	return h >> 24
}

// nameState is a span name of a service: its term and the keys and values
// last seen at each attribute position of its spans (spans of one name
// carry the same keys in the same order, mostly with the same values).
type nameState struct {
	svc   *svcState
	text  string
	term  *termBuilder
	slots *[]slotWays // own, or the service's once maxSlotPositions/2 are taken
	own   []slotWays
}

// slotWays are the keys last seen at one attribute position, most recent
// first: a service's spans of different kinds (server, client, internal)
// carry different keys at the same position.
type slotWays [4]slotWay

type slotWay struct {
	name string // sk.key.name, kept here to compare without loads
	sk   *svcKey
	// lastStr and lastS are the last string value seen at the position
	// with this key and its term: spans of one kind repeat their values
	// at the same position more often than the key does over all its
	// positions and kinds.
	lastStr string
	lastS   *termBuilder
}

type resScope struct {
	res *model.Resource
	sc  *model.Scope
}

// rsWay is a (resource, scope) pair seen recently and its terms.
type rsWay struct {
	rs resScope
	rt *resTerms
}

type resTerms struct {
	svc   *svcState
	terms []*termBuilder
	// marked is one past the fragment whose terms were marked last:
	// marking them again in the same fragment changes nothing.
	marked uint32
	// post is the fragments of the pair, for its grouped terms (those
	// made for it, once each in terms, whose group it is): they are
	// marked by one mark of post (markGroup) instead of one each, with
	// their keys' sizes as if marked one by one. grouped counts them;
	// rest are its other terms, in order.
	post    termBuilder
	grouped int
	rest    []*termBuilder
}

// searchBuilder builds a block's search index from its spans, added in
// block order. Its memory is bounded by the key budgets (searchKeyBudget
// per key, searchBuildBudget in all; a grouped term's list is its pair's,
// counted for each of its terms) plus 24 bytes per fragment, plus its
// caches: maxSlotPositions positions, maxSearchCachedPairs pairs, and a
// state per service and span name, each bounded by maxSearchServices and
// maxSearchNames.
type searchBuilder struct {
	frags    []fragInfo
	svcs     map[string]*svcState
	keys     map[string]*keyBuilder
	services keyBuilder
	names    keyBuilder
	size     int
	flags    uint64
	dropped  []string
	// cache holds the service and the terms a (resource, scope) pair gives
	// every span of it, up to maxSearchCachedPairs; its keys keep the
	// pointers alive, so they cannot be reused by other resources. In a
	// server's head every request has its own pointers, and its traces are
	// spread over the block.
	cache map[resScope]*resTerms
	// rsWays are the pairs seen last, in turn, the first the last one:
	// the spans of a trace come from a few resources in turn, and those
	// of a request share their resources' pointers.
	rsWays [8]rsWay
	rsNext int
	// nameSeen holds names looked up before, by nameHash of their service
	// and text: comparing a span's name with one costs less than a map
	// lookup, and most spans repeat a name seen a few spans before.
	nameSeen [512]*nameState
	// printSeen holds resource and scope contents seen before, by
	// printHash: comparing a pair with one costs less than finding its
	// service.
	printSeen [256]*resPrint
	ord       uint32
	// slotPositions counts the attribute positions of every name's and
	// service's slots and evSlots, up to maxSlotPositions.
	slotPositions int
}

// maxSearchCachedPairs bounds searchBuilder.cache (about 60 bytes each);
// it is emptied when full.
const maxSearchCachedPairs = 1 << 16

// maxSlotPositions bounds the attribute positions the builder remembers
// keys for, over all names and services (192 bytes each). Names made once
// half of them are taken use their service's.
const maxSlotPositions = 1 << 13

func newSearchBuilder() *searchBuilder {
	return &searchBuilder{
		svcs:     map[string]*svcState{},
		keys:     map[string]*keyBuilder{},
		services: keyBuilder{maxValues: maxSearchServices},
		names:    keyBuilder{maxValues: maxSearchNames},
		cache:    map[resScope]*resTerms{},
	}
}

// add records a span; newTrace starts a fragment (the next index entry).
func (b *searchBuilder) add(sp *model.Span, newTrace bool) {
	end := max(sp.EndTimeUnixNano, sp.StartTimeUnixNano)
	dur := uint64(sp.Duration())
	if newTrace || len(b.frags) == 0 {
		b.frags = append(b.frags, fragInfo{start: sp.StartTimeUnixNano, end: end, maxDur: dur})
		b.ord = uint32(len(b.frags) - 1)
	} else {
		f := &b.frags[b.ord]
		f.start = min(f.start, sp.StartTimeUnixNano)
		f.end = max(f.end, end)
		f.maxDur = max(f.maxDur, dur)
	}
	rt := b.rsTerms(resScope{sp.Resource, sp.Scope}, sp)
	if rt.marked != b.ord+1 {
		rt.marked = b.ord + 1
		if rt.grouped > 0 {
			b.markGroup(rt)
		} else {
			for _, t := range rt.rest {
				b.mark(t)
			}
		}
	}
	s := rt.svc
	h := nameHash(s.seed, sp.Name)
	nm := b.nameSeen[h]
	if nm == nil || nm.svc != s || nm.text != sp.Name {
		nm = b.nameState(s, sp.Name, h)
	}
	b.mark(nm.term)
	slots := nm.slots
	ws := *slots
	for i := range sp.Attributes {
		a := &sp.Attributes[i]
		// The key last seen at the position, checked inline.
		var sk *svcKey
		w := (*slotWay)(nil)
		if i < len(ws) && ws[i][0].name == a.Key && ws[i][0].sk != nil {
			w = &ws[i][0]
			sk = w.sk
		} else {
			sk, w = b.slotKey(s, slots, i, a.Key)
			ws = *slots
		}
		if sk == nil || sk.dropped {
			continue
		}
		switch typ := a.Value.Type(); {
		case typ == model.ValueString && w != nil && w.lastS != nil && w.lastStr == a.Value.Str():
			b.mark(w.lastS)
		case typ == model.ValueInt && sk.lastI != nil && sk.lastInt == a.Value.Int():
			b.mark(sk.lastI)
		default:
			b.slotValue(sk, w, &a.Value)
		}
	}
	slot := 0
	for i := range sp.Events {
		for j := range sp.Events[i].Attributes {
			a := &sp.Events[i].Attributes[j]
			// As for span attributes, the last key and int value inline.
			var sk *svcKey
			w := (*slotWay)(nil)
			if slot < len(s.evSlots) && s.evSlots[slot][0].name == a.Key && s.evSlots[slot][0].sk != nil {
				w = &s.evSlots[slot][0]
				sk = w.sk
			} else {
				sk, w = b.slotKey(s, &s.evSlots, slot, a.Key)
			}
			slot++
			if sk == nil || sk.dropped {
				continue
			}
			if a.Value.Type() == model.ValueInt && sk.lastI != nil && sk.lastInt == a.Value.Int() {
				b.mark(sk.lastI)
			} else {
				b.slotValue(sk, w, &a.Value)
			}
		}
	}
	for i := range sp.Links {
		for _, a := range sp.Links[i].Attributes {
			b.value(b.svcKey(s, a.Key), a.Value, nil)
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

// rsTerms returns the terms of the (resource, scope) pair rs of span sp.
func (b *searchBuilder) rsTerms(rs resScope, sp *model.Span) *resTerms {
	if w := &b.rsWays[0]; w.rt != nil && w.rs == rs {
		return w.rt
	}
	for i := 1; i < len(b.rsWays); i++ {
		if w := &b.rsWays[i]; w.rt != nil && w.rs == rs {
			b.rsWays[0], *w = *w, b.rsWays[0]
			return b.rsWays[0].rt
		}
	}
	rt := b.cache[rs]
	if rt == nil {
		ph := printHash(rs.res, rs.sc)
		if p := b.printSeen[ph]; p != nil && p.matches(rs.res, rs.sc) {
			rt = p.rt
		} else {
			rt = b.rsTermsSlow(rs, sp, ph)
		}
		if len(b.cache) >= maxSearchCachedPairs {
			clear(b.cache)
		}
		b.cache[rs] = rt
	}
	// The new pair goes first; the first goes to a way in turn.
	b.rsNext = b.rsNext%(len(b.rsWays)-1) + 1
	b.rsWays[b.rsNext] = b.rsWays[0]
	b.rsWays[0] = rsWay{rs, rt}
	return rt
}

// rsTermsSlow is rsTerms for a pair whose pointers and print hash are not
// remembered: it looks for its content among its service's last, then
// makes its terms.
func (b *searchBuilder) rsTermsSlow(rs resScope, sp *model.Span, ph uint32) *resTerms {
	name := sp.ServiceName()
	s := b.svcs[name]
	if s != nil {
		for _, p := range s.prints {
			if p != nil && p.matches(rs.res, rs.sc) {
				b.printSeen[ph] = p
				return p.rt
			}
		}
	}
	rt := b.resourceTerms(sp, name, s)
	if p := newResPrint(rs.res, rs.sc, rt); p != nil {
		s := rt.svc
		s.printNext = (s.printNext + 1) % uint8(len(s.prints))
		s.prints[s.printNext] = p
		b.printSeen[ph] = p
	}
	return rt
}

// nameHash returns the index in searchBuilder.nameSeen of span name of
// the service of seed: a mix of the seed, the name's length and four of
// its bytes (Writer's opHash).
func nameHash(seed uint32, name string) uint32 {
	h := seed ^ uint32(len(name))
	if n := len(name); n > 0 {
		h ^= uint32(name[0]) | uint32(name[n/2])<<8 | uint32(name[n-1])<<16 | uint32(name[(n-1)/4*3])<<24
	}
	h *= 0x9e3779b1
	return h >> 23
}

// nameState returns the state of span name name of service s, and keeps it
// in nameSeen at h.
func (b *searchBuilder) nameState(s *svcState, name string, h uint32) *nameState {
	nm, ok := s.names[name]
	if !ok {
		t := b.newTerm(&b.names, false)
		if t == nil {
			// Not remembered: the names key is dropped.
			return &s.noName
		}
		t.text = strings.Clone(name)
		nm = &nameState{svc: s, text: t.text, term: t}
		nm.slots = &nm.own
		if b.slotPositions >= maxSlotPositions/2 {
			nm.slots = &s.slots
		}
		s.names[t.text] = nm
	}
	b.nameSeen[h] = nm
	return nm
}

// slotKey returns svcKey(s, key), remembered by attribute position in
// slots (spans of a service mostly carry the same keys in the same order),
// and the key's way at the position, nil when it is not remembered.
func (b *searchBuilder) slotKey(s *svcState, slots *[]slotWays, i int, key string) (*svcKey, *slotWay) {
	if i < len(*slots) {
		ws := &(*slots)[i]
		for j := range ws {
			if w := &ws[j]; w.sk != nil && w.name == key {
				return w.sk, w
			}
		}
	}
	sk := b.svcKey(s, key)
	if i < 64 && sk != nil && (i < len(*slots) || b.slotPositions+i+1-len(*slots) <= maxSlotPositions) {
		for len(*slots) <= i {
			*slots = append(*slots, slotWays{})
			b.slotPositions++
		}
		ws := &(*slots)[i]
		copy(ws[1:], ws[:len(ws)-1])
		ws[0] = slotWay{name: sk.key.name, sk: sk}
		return sk, &ws[0]
	}
	return sk, nil
}

// slotValue records value v of key sk (not dropped), seen at the attribute
// position of way w (nil when not remembered).
func (b *searchBuilder) slotValue(sk *svcKey, w *slotWay, v *model.Value) {
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

// derivedKey returns svcKey(s, key) for the derived tag i.
func (b *searchBuilder) derivedKey(s *svcState, i int, key string) *svcKey {
	if s.derived[i] == nil {
		s.derived[i] = b.svcKey(s, key)
	}
	return s.derived[i]
}

// resourceTerms returns the service of sp (name, and s unless new) and the
// terms every span of its resource and scope has: the service, the
// resource and scope attributes, the scope's name and version.
func (b *searchBuilder) resourceTerms(sp *model.Span, name string, s *svcState) *resTerms {
	if s == nil {
		s = &svcState{keys: map[string]*svcKey{}, names: map[string]*nameState{}, seed: uint32(len(b.svcs)) * 0x85ebca6b}
		s.noName.slots = &s.slots
		s.term = b.newTerm(&b.services, false)
		b.svcs[strings.Clone(name)] = s
	}
	rt := &resTerms{svc: s}
	if s.term != nil {
		rt.terms = append(rt.terms, s.term)
	}
	if sp.Resource != nil {
		for _, a := range sp.Resource.Attributes {
			b.value(b.svcKey(s, a.Key), a.Value, &rt.terms)
		}
	}
	if sc := sp.Scope; sc != nil {
		for _, a := range sc.Attributes {
			b.value(b.svcKey(s, a.Key), a.Value, &rt.terms)
		}
		if sc.Name != "" {
			b.value(b.svcKey(s, "otel.scope.name"), model.StringValue(sc.Name), &rt.terms)
		}
		if sc.Version != "" {
			b.value(b.svcKey(s, "otel.scope.version"), model.StringValue(sc.Version), &rt.terms)
		}
	}
	// The terms made for the pair, once each in its list, are its group.
	for i, t := range rt.terms {
		if t.n == 0 && t.group == nil && !t.key.dropped && !slices.Contains(rt.terms[i+1:], t) {
			t.group = rt
			rt.grouped++
		}
	}
	rt.setRest()
	return rt
}

// svcKey returns service s's terms of tag key, or nil when the key cannot
// be indexed.
func (b *searchBuilder) svcKey(s *svcState, key string) *svcKey {
	if sk, ok := s.keys[key]; ok {
		return sk
	}
	k := b.keys[key]
	if k == nil {
		if len(b.keys) >= maxSearchKeys || len(key) > maxSearchKeyLen {
			b.flags |= searchKeysPartial
			return nil
		}
		k = &keyBuilder{name: strings.Clone(key), maxValues: maxSearchValues, budget: true}
		b.keys[k.name] = k
	}
	sk := &svcKey{key: k, dropped: k.dropped}
	k.svcKeys = append(k.svcKeys, sk)
	s.keys[k.name] = sk
	return sk
}

// value records (out nil) or collects (into out) the terms of attribute
// value v of key sk: its text form and, for an array, the text form of
// each element (store.SpanMayHaveTag).
func (b *searchBuilder) value(sk *svcKey, v model.Value, out *[]*termBuilder) {
	if sk == nil || sk.dropped {
		return
	}
	var t *termBuilder
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
					sk.ints = map[int64]*termBuilder{}
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

func (b *searchBuilder) collect(t *termBuilder, out *[]*termBuilder) {
	if t == nil {
		return
	}
	if out != nil {
		*out = append(*out, t)
		return
	}
	b.mark(t)
}

func (b *searchBuilder) strTerm(sk *svcKey, str string) *termBuilder {
	if sk.dropped {
		return nil
	}
	t, ok := sk.strs[str]
	if !ok {
		if t = b.newTerm(sk.key, len(str) > maxSearchValueLen); t == nil {
			return nil
		}
		if sk.strs == nil {
			sk.strs = map[string]*termBuilder{}
		}
		t.text = strings.Clone(str)
		sk.strs[t.text] = t
	}
	sk.lastStr, sk.lastS = t.text, t
	return t
}

// newTerm returns a new term of key k, or nil when k is (or, over its
// bounds, gets) dropped.
func (b *searchBuilder) newTerm(k *keyBuilder, long bool) *termBuilder {
	if k.dropped {
		return nil
	}
	if k.values >= k.maxValues || long {
		b.drop(k)
		return nil
	}
	t := &termBuilder{key: k}
	k.values++
	k.terms = append(k.terms, t)
	return t
}

// mark records that the current fragment has term t.
func (b *searchBuilder) mark(t *termBuilder) {
	// Inlined: most marks find the term marked already in this fragment
	// (next is 0 until a first mark).
	if t == nil || t.next == b.ord+1 {
		return
	}
	b.markNew(t)
}

// markNew is mark of a term not yet marked in the current fragment.
func (b *searchBuilder) markNew(t *termBuilder) {
	if w := b.ord / 64; t.bits != nil && int(w) < len(t.bits) {
		// A bit in a word the bitmap has: its size does not change, and
		// the key stays within its budget, which only grows. (A dropped
		// key's terms and grouped terms have no bitmap.)
		t.bits[w] |= 1 << (b.ord % 64)
		t.n++
		t.next = b.ord + 1
		b.checkBuildBudget()
		return
	}
	k := t.key
	if k.dropped {
		return
	}
	if t.group != nil {
		b.ungroup(t)
		if t.next == b.ord+1 {
			return
		}
		if w := b.ord / 64; t.bits != nil && int(w) < len(t.bits) {
			t.bits[w] |= 1 << (b.ord % 64)
			t.n++
			t.next = b.ord + 1
			b.checkBuildBudget()
			return
		}
	}
	before := t.size()
	t.add(b.ord)
	b.charge(k, t.size()-before)
	b.checkBuildBudget()
}

// charge charges key k the growth of one of its posting lists, dropping it
// when it goes over its budget.
func (b *searchBuilder) charge(k *keyBuilder, grown int) {
	k.size += grown
	if k.budget {
		b.size += grown
		if k.size > searchKeyBudget(len(b.frags)) {
			b.drop(k)
		}
	}
}

// checkBuildBudget drops the largest key while the keys' postings are over
// searchBuildBudget (one key per mark).
func (b *searchBuilder) checkBuildBudget() {
	if b.size > searchBuildBudget(len(b.frags)) {
		b.dropLargest()
	}
}

// dropLargest drops the key of the largest postings.
func (b *searchBuilder) dropLargest() {
	var big *keyBuilder
	for _, k := range b.keys {
		if !k.dropped && (big == nil || k.size > big.size) {
			big = k
		}
	}
	if big != nil {
		b.drop(big)
	}
}

// markGroup marks the terms of rt (grouped > 0) in the current fragment:
// its post and each of its rest, with the keys' sizes and drops of marking
// each grouped term as markNew would, in the order of rt.terms.
func (b *searchBuilder) markGroup(rt *resTerms) {
	p := &rt.post
	grown, same := 0, false
	if w := b.ord / 64; p.bits != nil && int(w) < len(p.bits) {
		p.bits[w] |= 1 << (b.ord % 64)
		p.n++
		p.next = b.ord + 1
		same = true
	} else {
		before := p.size()
		p.add(b.ord)
		grown = p.size() - before
	}
	if same && b.size <= searchBuildBudget(len(b.frags)) {
		// Marking the grouped terms one by one would change no size and
		// drop nothing.
		for _, t := range rt.rest {
			b.mark(t)
		}
		return
	}
	for _, t := range rt.terms {
		if t.group != rt {
			b.mark(t)
			continue
		}
		if !same {
			b.charge(t.key, grown)
		}
		b.checkBuildBudget()
	}
}

// ungroup gives grouped term t its own copy of its group's fragments, to
// be marked on its own from now on.
func (b *searchBuilder) ungroup(t *termBuilder) {
	rt := t.group
	t.group = nil
	t.n, t.next = rt.post.n, rt.post.next
	t.vb, t.bits = slices.Clone(rt.post.vb), slices.Clone(rt.post.bits)
	rt.ungrouped()
}

// ungrouped updates rt once one of its terms has left its group.
func (rt *resTerms) ungrouped() {
	if rt.grouped--; rt.grouped == 0 {
		rt.post = termBuilder{}
	}
	rt.setRest()
}

// setRest sets rt.rest to the terms of rt not in its group, in order.
func (rt *resTerms) setRest() {
	rt.rest = rt.rest[:0]
	for _, t := range rt.terms {
		if t.group != rt {
			rt.rest = append(rt.rest, t)
		}
	}
}

// drop removes a key from the index; its terms stay as tombstones.
func (b *searchBuilder) drop(k *keyBuilder) {
	k.dropped = true
	for _, t := range k.terms {
		t.vb, t.bits = nil, nil
		if rt := t.group; rt != nil {
			t.group = nil
			rt.ungrouped()
		}
	}
	for _, sk := range k.svcKeys {
		*sk = svcKey{key: k, dropped: true}
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

// termRanks appends to out the sorted ranks of the fragments that have
// any of the terms tbs (several when terms merge), each once. rb is a
// bitmap of at least as many bits as fragments, all clear; it is left
// clear.
func termRanks(out []uint32, tbs []*termBuilder, rankOf []uint32, rb []uint64) []uint32 {
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
func (t *termBuilder) appendRanks(out []uint32, rankOf []uint32) []uint32 {
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

// encodedTerm is a term ready to encode: its strings and sorted ranks.
type encodedTerm struct {
	kind          uint8
	svc, key, val string
	tb            *termBuilder
	more          []*termBuilder // the other terms merged into it
}

// encode returns the search file. The fragments must be the index's, in
// the same order.
func (b *searchBuilder) encode() []byte {
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
	var terms []encodedTerm
	for svc, st := range b.svcs {
		if t := st.term; t != nil && !t.key.dropped && t.posting().n > 0 {
			terms = append(terms, encodedTerm{kind: termService, svc: svc, tb: t.posting()})
		}
		for name, nm := range st.names {
			if t := nm.term.posting(); !nm.term.key.dropped && t.n > 0 {
				terms = append(terms, encodedTerm{kind: termName, svc: svc, val: name, tb: t})
			}
		}
		for key, sk := range st.keys {
			if sk.key.dropped {
				continue
			}
			add := func(val string, t *termBuilder) {
				if t != nil && t.posting().n > 0 {
					terms = append(terms, encodedTerm{kind: termTag, svc: svc, key: key, val: val, tb: t.posting()})
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
	slices.SortFunc(terms, compareTerms)
	terms = mergeTerms(terms)

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
	var tbs []*termBuilder
	rb := make([]uint64, (n+63)/64)
	for i, t := range terms {
		tbs = append(append(tbs[:0], t.tb), t.more...)
		ranks = termRanks(ranks[:0], tbs, rankOf, rb)
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

func ceilDiv(a, b uint64) uint64 { return a/b + min(a%b, 1) }

func compareTerms(a, b encodedTerm) int {
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

// mergeTerms unites adjacent equal terms of a sorted list.
func mergeTerms(terms []encodedTerm) []encodedTerm {
	out := terms[:0]
	for _, t := range terms {
		if len(out) > 0 && compareTerms(out[len(out)-1], t) == 0 {
			last := &out[len(out)-1]
			last.more = append(append(last.more, t.tb), t.more...)
			continue
		}
		out = append(out, t)
	}
	return out
}

// encodePosting appends the smallest encoding of sorted ranks out of n to
// dst; it returns the encoding, the count it records (ranks in the list,
// or missing from it for a complement) and dst.
func encodePosting(dst []byte, ranks []uint32, n int) (uint8, int, []byte) {
	bitmap := (n + 7) / 8
	missing := n - len(ranks)
	// The list takes at least a byte per rank, the complement a byte per
	// missing rank: most terms need only one of their sizes, or none.
	switch {
	case len(ranks) > bitmap && missing > bitmap:
		return postBitmap, len(ranks), appendBitmap(dst, ranks, bitmap)
	case len(ranks) > bitmap:
		if complementSize(ranks, n, bitmap) <= bitmap {
			return postComplement, missing, appendComplement(dst, ranks, n)
		}
		return postBitmap, len(ranks), appendBitmap(dst, ranks, bitmap)
	case missing > bitmap:
		if bitmap < gapsSize(ranks, bitmap) {
			return postBitmap, len(ranks), appendBitmap(dst, ranks, bitmap)
		}
		return postList, len(ranks), appendGaps(dst, ranks)
	}
	list := gapsSize(ranks, math.MaxInt)
	compl := missing * 3 // an estimate, refined below when it matters
	if missing < len(ranks) {
		compl = complementSize(ranks, n, math.MaxInt)
	}
	switch {
	case compl <= list && compl <= bitmap:
		return postComplement, missing, appendComplement(dst, ranks, n)
	case bitmap < list:
		return postBitmap, len(ranks), appendBitmap(dst, ranks, bitmap)
	}
	return postList, len(ranks), appendGaps(dst, ranks)
}

// appendGaps appends the gaps between sorted ranks, as uvarints.
func appendGaps(dst []byte, ranks []uint32) []byte {
	var next uint32
	for _, r := range ranks {
		dst = binary.AppendUvarint(dst, uint64(r-next))
		next = r + 1
	}
	return dst
}

// appendComplement appends the gaps between the ordinals below n missing
// from sorted ranks, as uvarints: for each run of missing ordinals
// [lo, hi), the gap to its first, then gaps of 0.
func appendComplement(dst []byte, ranks []uint32, n int) []byte {
	var next, lo uint32
	for i := 0; i <= len(ranks); i++ {
		hi := uint32(n)
		if i < len(ranks) {
			hi = ranks[i]
		}
		if lo < hi {
			dst = binary.AppendUvarint(dst, uint64(lo-next))
			dst = append(dst, make([]byte, hi-lo-1)...)
			next = hi
		}
		lo = hi + 1
	}
	return dst
}

// appendBitmap appends a bitmap of size bytes with the bits of ranks set.
func appendBitmap(dst []byte, ranks []uint32, size int) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, size)...)
	for _, r := range ranks {
		dst[start+int(r/8)] |= 1 << (r % 8)
	}
	return dst
}

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// gapsSize returns the size appendGaps gives ranks, or a size past limit
// once it passes it.
func gapsSize(ranks []uint32, limit int) int {
	size := 0
	var next uint32
	for _, r := range ranks {
		size += uvarintLen(uint64(r - next))
		next = r + 1
		if size > limit {
			break
		}
	}
	return size
}

// complementSize returns the size appendComplement gives ranks out of n,
// or a size past limit once it passes it.
func complementSize(ranks []uint32, n int, limit int) int {
	size := 0
	var next, lo uint32
	for i := 0; i <= len(ranks); i++ {
		hi := uint32(n)
		if i < len(ranks) {
			hi = ranks[i]
		}
		if lo < hi {
			size += uvarintLen(uint64(lo-next)) + int(hi-lo-1)
			next = hi
			if size > limit {
				break
			}
		}
		lo = hi + 1
	}
	return size
}

// appendPacked appends vs, width bits each, least significant bit first.
func appendPacked(dst []byte, vs []uint32, width int) []byte {
	var acc uint64
	nb := 0
	for _, v := range vs {
		acc |= uint64(v) << nb
		nb += width
		for nb >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			nb -= 8
		}
	}
	if nb > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// SearchIndex is a block's decoded search index: for every trace fragment
// of the block, its time range, its longest span, and its rank in time
// order; and for every term (service, service and span name, service and
// tag), the ranks of the fragments that have a span with it. See
// SearchIndex.Candidates. It is immutable and safe for concurrent use.
type SearchIndex struct {
	n          int
	unit, base uint64
	flags      uint64
	ord        []uint32 // by rank: the fragment's ordinal (index entry)
	start      []uint32 // by rank: start, units from base, rounded down
	dur        []uint32 // by rank: end minus start, units, rounded up
	maxDur     []uint32 // by rank: the longest span, units, rounded up
	keys       map[string]bool
	terms      map[searchTerm]posting
	services   []string
	size       int64
}

type searchTerm struct {
	kind          uint8
	svc, key, val string
}

type posting struct {
	enc   uint8
	count int
	b     []byte
	svc   string // postSvcMinus: the service whose list it is relative to
}

// Traces returns the number of trace fragments the index covers.
func (x *SearchIndex) Traces() int { return x.n }

// Size returns an estimate of the memory the index holds.
func (x *SearchIndex) Size() int64 { return x.size }

// searchDecoder reads the search file's fields, remembering the first
// error.
type searchDecoder struct {
	b   []byte
	err error
}

func (d *searchDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: search: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *searchDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail("bad %s", what)
		return 0
	}
	d.b = d.b[k:]
	return v
}

// count reads a count of items of at least minSize bytes each.
func (d *searchDecoder) count(what string, minSize int) int {
	v := d.uvarint(what)
	if d.err == nil && v > uint64(len(d.b)/max(minSize, 1)) {
		d.fail("%s %d does not fit", what, v)
		return 0
	}
	return int(v)
}

func (d *searchDecoder) byte1(what string) byte {
	b := d.bytes(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

// sized reads a uvarint length and that many bytes.
func (d *searchDecoder) sized(what string) []byte {
	n := d.uvarint(what + " length")
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("%s past the end", what)
	}
	return d.bytes(int(n), what)
}

func (d *searchDecoder) bytes(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("%s past the end", what)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

// decodeSearch checks and decodes a search file. The index keeps
// references into b.
func decodeSearch(b []byte) (*SearchIndex, error) {
	if len(b) < len(searchMagic)+4 || string(b[:len(searchMagic)]) != searchMagic {
		return nil, fmt.Errorf("%w: search: bad header", ErrCorrupt)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: search: checksum mismatch", ErrCorrupt)
	}
	return decodeSearchBody(body[len(searchMagic):])
}

func decodeSearchBody(b []byte) (*SearchIndex, error) {
	d := &searchDecoder{b: b}
	x := &SearchIndex{size: int64(len(b)) + 256}
	x.n = d.count("trace count", 3)
	x.unit = d.uvarint("unit")
	x.base = d.uvarint("base")
	x.flags = d.uvarint("flags")
	if d.err == nil && (x.unit == 0 || x.unit > 1e15) {
		d.fail("unit %d", x.unit)
	}
	if d.err == nil && x.flags >= 1<<3 {
		d.fail("unknown flags %#x", x.flags)
	}
	if d.err != nil {
		return nil, d.err
	}
	width := int(d.byte1("width"))
	if d.err == nil && (width > 32 || width < bits.Len32(uint32(max(x.n-1, 0)))) {
		d.fail("ordinal width %d for %d traces", width, x.n)
	}
	packed := d.bytes((x.n*width+7)/8, "ordinals")
	if d.err != nil {
		return nil, d.err
	}
	x.ord = make([]uint32, x.n)
	x.start = make([]uint32, x.n)
	x.dur = make([]uint32, x.n)
	x.maxDur = make([]uint32, x.n)
	x.size += int64(x.n) * 16
	seen := make([]uint64, (x.n+63)/64)
	var acc uint64
	nb, pi := 0, 0
	mask := uint64(1)<<width - 1
	for r := range x.ord {
		for nb < width {
			acc |= uint64(packed[pi]) << nb
			pi++
			nb += 8
		}
		o := uint32(acc & mask)
		acc >>= width
		nb -= width
		if int(o) >= x.n || seen[o/64]&(1<<(o%64)) != 0 {
			return nil, fmt.Errorf("%w: search: ordinals are not a permutation", ErrCorrupt)
		}
		seen[o/64] |= 1 << (o % 64)
		x.ord[r] = o
	}
	var prev uint64
	for r := 0; r < x.n && d.err == nil; r++ {
		s := d.uvarint("start")
		if r > 0 {
			if s > prev {
				d.fail("starts out of order")
				break
			}
			s = prev - s
		}
		e := d.uvarint("duration")
		g := d.uvarint("gap")
		if s >= math.MaxUint32 || e >= math.MaxUint32-s || g > e {
			d.fail("times out of range")
			break
		}
		prev = s
		x.start[r], x.dur[r], x.maxDur[r] = uint32(s), uint32(e), uint32(e-g)
	}
	nstr := d.count("string count", 1)
	if d.err == nil && nstr > maxSearchStrings {
		d.fail("%d strings", nstr)
	}
	strs := make([]string, 0, nstr)
	for i := 0; i < nstr && d.err == nil; i++ {
		s := string(d.sized("string"))
		if i > 0 && s <= strs[i-1] {
			d.fail("strings out of order")
		}
		strs = append(strs, s)
	}
	str := func(what string) string {
		i := d.uvarint(what)
		if d.err == nil && i >= uint64(len(strs)) {
			d.fail("%s id %d of %d", what, i, len(strs))
		}
		if d.err != nil {
			return ""
		}
		return strs[i]
	}
	nk := d.count("key count", 1)
	x.keys = make(map[string]bool, nk)
	for i := 0; i < nk && d.err == nil; i++ {
		x.keys[str("key")] = true
	}
	nd := d.count("dropped key count", 1)
	for i := 0; i < nd && d.err == nil; i++ {
		x.keys[str("dropped key")] = false
	}
	nt := d.count("term count", 4)
	x.terms = make(map[searchTerm]posting, nt)
	postings := make([]posting, 0, nt)
	var last searchTerm
	for i := 0; i < nt && d.err == nil; i++ {
		var t searchTerm
		t.kind = d.byte1("term kind")
		if t.kind > termTag {
			d.fail("term kind %d", t.kind)
			break
		}
		t.svc = str("service")
		if t.kind == termTag {
			t.key = str("key")
		}
		if t.kind != termService {
			t.val = str("value")
		}
		if i > 0 && compareSearchTerms(last, t) >= 0 {
			d.fail("terms out of order")
			break
		}
		last = t
		var p posting
		p.enc = d.byte1("encoding")
		if p.enc == postSame {
			j := d.uvarint("same term")
			if d.err == nil && j >= uint64(len(postings)) {
				d.fail("same term %d of %d", j, len(postings))
			}
			if d.err != nil {
				break
			}
			p = postings[j]
		} else {
			p.count = int(min(d.uvarint("posting count"), uint64(x.n)+1))
			p.b = d.sized("posting")
			if d.err != nil {
				break
			}
			if p.enc == postSvcMinus {
				if t.kind == termService {
					d.fail("service term relative to a service")
					break
				}
				if _, ok := x.terms[searchTerm{kind: termService, svc: t.svc}]; !ok {
					d.fail("term relative to a missing service")
					break
				}
				p.svc = t.svc
			}
			if err := checkPosting(p, x.n); err != nil {
				return nil, err
			}
		}
		postings = append(postings, p)
		if t.kind == termService {
			x.services = append(x.services, t.svc)
		}
		if t.kind == termTag && !x.keys[t.key] {
			d.fail("term of a key not indexed")
			break
		}
		x.terms[t] = p
		x.size += int64(len(t.svc)+len(t.key)+len(t.val)) + 96
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the terms", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return x, nil
}

func compareSearchTerms(a, b searchTerm) int {
	return compareTerms(encodedTerm{kind: a.kind, svc: a.svc, key: a.key, val: a.val},
		encodedTerm{kind: b.kind, svc: b.svc, key: b.key, val: b.val})
}

// checkPosting validates a posting list of ranks below n, so that queries
// can walk it without checks.
func checkPosting(p posting, n int) error {
	bad := func(what string) error { return fmt.Errorf("%w: search: posting: %s", ErrCorrupt, what) }
	switch p.enc {
	case postList, postComplement, postSvcMinus:
		if p.count > n {
			return bad("count")
		}
		next, got := uint64(0), 0
		for b := p.b; len(b) > 0; got++ {
			v, k := binary.Uvarint(b)
			if k <= 0 || v >= uint64(n)-next || next+v >= uint64(n) {
				return bad("rank out of range")
			}
			b = b[k:]
			next += v + 1
		}
		if got != p.count {
			return bad("count mismatch")
		}
	case postBitmap:
		if len(p.b) != (n+7)/8 {
			return bad("bitmap size")
		}
		ones := 0
		for _, c := range p.b {
			ones += bits.OnesCount8(c)
		}
		if n%8 != 0 && p.b[len(p.b)-1]>>(n%8) != 0 {
			return bad("bits past the end")
		}
		if ones != p.count {
			return bad("count mismatch")
		}
	default:
		return bad("unknown encoding")
	}
	return nil
}
