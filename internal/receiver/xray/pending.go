package xray

import (
	"sync"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// holder keeps documents that should not be stored yet:
//
//   - in-progress segments (in_progress true, no end_time), until their
//     completed version with the same ids arrives, which replaces them;
//   - independent subsegments whose parent is not known yet (SDKs stream
//     subsegments before the segment that names the service), until a
//     document of the same trace brings the parent, whose resource they
//     then take.
//
// A document held longer than the timeout is stored as it is, so nothing is
// lost when the completion never comes; when the holder is full, the oldest
// document is stored at once. It is safe for concurrent use.
type holder struct {
	tr      *translator
	max     int
	timeout time.Duration

	mu         sync.Mutex
	inProgress map[docKey]*held
	orphans    map[model.TraceID][]*held
	n          int
}

type held struct {
	doc    document
	parent model.SpanID // orphans: the parent whose resource is awaited
	since  time.Time
}

func newHolder(tr *translator, max int, timeout time.Duration) *holder {
	return &holder{
		tr: tr, max: max, timeout: timeout,
		inProgress: make(map[docKey]*held),
		orphans:    make(map[model.TraceID][]*held),
	}
}

// len returns the number of documents held.
func (h *holder) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// add takes a translated document at now and returns the spans to store at
// once: none when the document is held, its own spans otherwise, plus the
// spans of held orphans it resolved and of documents evicted for room.
func (h *holder) add(doc document, orphanOf *model.SpanID, now time.Time) []*model.Span {
	h.mu.Lock()
	defer h.mu.Unlock()
	// A document replaces the in-progress version it completes (or an
	// earlier in-progress update).
	if _, ok := h.inProgress[doc.key]; ok {
		delete(h.inProgress, doc.key)
		h.n--
	}
	var out []*model.Span
	switch {
	case doc.inProgress:
		out = h.makeRoom(out)
		h.inProgress[doc.key] = &held{doc: doc, since: now}
		h.n++
		return h.resolve(doc.key.trace, out)
	case orphanOf != nil:
		// Another worker may have brought the parent since translate
		// looked; the check and the holding happen under one lock.
		if res, ok := h.tr.resources.get(*orphanOf); ok {
			for _, sp := range doc.spans {
				sp.Resource = res
				h.tr.resources.put(sp.SpanID, res)
			}
			break
		}
		out = h.makeRoom(out)
		h.orphans[doc.key.trace] = append(h.orphans[doc.key.trace], &held{doc: doc, parent: *orphanOf, since: now})
		h.n++
		return out
	}
	out = append(out, doc.spans...)
	return h.resolve(doc.key.trace, out)
}

// resolve stores the orphans of trace whose parent's resource is now
// known, repeating while resolving one makes another resolvable.
func (h *holder) resolve(trace model.TraceID, out []*model.Span) []*model.Span {
	for {
		list := h.orphans[trace]
		progress := false
		for i := 0; i < len(list); i++ {
			o := list[i]
			res, ok := h.tr.resources.get(o.parent)
			if !ok {
				continue
			}
			for _, sp := range o.doc.spans {
				sp.Resource = res
				h.tr.resources.put(sp.SpanID, res)
			}
			out = append(out, o.doc.spans...)
			list = append(list[:i], list[i+1:]...)
			i--
			h.n--
			progress = true
		}
		if len(list) == 0 {
			delete(h.orphans, trace)
		} else {
			h.orphans[trace] = list
		}
		if !progress || len(list) == 0 {
			return out
		}
	}
}

// makeRoom evicts the oldest document when the holder is full. Called
// with h.mu held.
func (h *holder) makeRoom(out []*model.Span) []*model.Span {
	if h.n < h.max {
		return out
	}
	var oldest *held
	for _, d := range h.inProgress {
		if oldest == nil || d.since.Before(oldest.since) {
			oldest = d
		}
	}
	for _, list := range h.orphans {
		for _, d := range list {
			if oldest == nil || d.since.Before(oldest.since) {
				oldest = d
			}
		}
	}
	if oldest == nil {
		return out
	}
	h.remove(oldest)
	return append(out, oldest.doc.spans...)
}

func (h *holder) remove(d *held) {
	if cur, ok := h.inProgress[d.doc.key]; ok && cur == d {
		delete(h.inProgress, d.doc.key)
		h.n--
		return
	}
	list := h.orphans[d.doc.key.trace]
	for i, x := range list {
		if x == d {
			list = append(list[:i], list[i+1:]...)
			h.n--
			break
		}
	}
	if len(list) == 0 {
		delete(h.orphans, d.doc.key.trace)
	} else {
		h.orphans[d.doc.key.trace] = list
	}
}

// expire returns the spans of documents held since before now-timeout (all
// of them when all is set), removing them.
func (h *holder) expire(now time.Time, all bool) []*model.Span {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*model.Span
	deadline := now.Add(-h.timeout)
	for k, d := range h.inProgress {
		if all || d.since.Before(deadline) {
			delete(h.inProgress, k)
			h.n--
			out = append(out, d.doc.spans...)
		}
	}
	for trace, list := range h.orphans {
		kept := list[:0]
		for _, d := range list {
			if all || d.since.Before(deadline) {
				h.n--
				out = append(out, d.doc.spans...)
			} else {
				kept = append(kept, d)
			}
		}
		if len(kept) == 0 {
			delete(h.orphans, trace)
		} else {
			h.orphans[trace] = kept
		}
	}
	return out
}
