package native

import (
	"cmp"
	"slices"

	"github.com/clew-dev/clew/internal/model"
)

// shape is what the API derives from a trace's parent links: each span's
// depth (1 for roots), the spans whose parent is missing, and the root.
type shape struct {
	depth   []int // by index in t.Spans
	orphan  []bool
	root    *model.Span
	maxDep  int
	orphans int
}

// traceShape walks the trace's tree breadth-first from its roots. A span
// whose parent is not in the trace is an orphan and starts a tree of its
// own; so do spans caught in a parent cycle, which no root reaches.
func traceShape(t *model.Trace) shape {
	n := len(t.Spans)
	sh := shape{depth: make([]int, n), orphan: make([]bool, n)}
	index := make(map[model.SpanID]int, n)
	for i, s := range t.Spans {
		if _, dup := index[s.SpanID]; !dup {
			index[s.SpanID] = i
		}
	}
	children := make(map[int][]int, n)
	var queue []int
	for i, s := range t.Spans {
		p, ok := index[s.ParentSpanID]
		switch {
		case s.IsRoot():
			queue = append(queue, i)
		case !ok || p == i:
			sh.orphan[i] = true
			queue = append(queue, i)
		default:
			children[p] = append(children[p], i)
		}
	}
	visit := func(queue []int) {
		for _, i := range queue {
			sh.depth[i] = 1
		}
		for len(queue) > 0 {
			i := queue[0]
			queue = queue[1:]
			sh.maxDep = max(sh.maxDep, sh.depth[i])
			for _, c := range children[i] {
				if sh.depth[c] == 0 {
					sh.depth[c] = sh.depth[i] + 1
					queue = append(queue, c)
				}
			}
		}
	}
	visit(queue)
	// Spans in a parent cycle: none was reached.
	for i := range t.Spans {
		if sh.depth[i] == 0 {
			sh.orphan[i] = true
			visit([]int{i})
		}
	}
	for i, s := range t.Spans {
		if sh.orphan[i] {
			sh.orphans++
		}
		if s.IsRoot() && sh.root == nil {
			sh.root = s
		}
	}
	if sh.root == nil {
		for i, s := range t.Spans {
			if sh.orphan[i] {
				sh.root = s
				break
			}
		}
	}
	return sh
}

// summary describes one trace in a search result.
type summary struct {
	t        *model.Trace
	sh       shape
	start    uint64
	end      uint64
	errors   int
	services []serviceJSON
}

func summarize(t *model.Trace) summary {
	s := summary{t: t, sh: traceShape(t), start: t.Start(), end: t.End()}
	bySvc := map[string]int{}
	for _, sp := range t.Spans {
		name := sp.ServiceName()
		i, ok := bySvc[name]
		if !ok {
			i = len(s.services)
			bySvc[name] = i
			s.services = append(s.services, serviceJSON{Name: name})
		}
		s.services[i].SpanCount++
		if sp.Status.Code == model.StatusError {
			s.services[i].ErrorCount++
			s.errors++
		}
	}
	slices.SortFunc(s.services, func(a, b serviceJSON) int {
		if c := cmp.Compare(b.SpanCount, a.SpanCount); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return s
}

func (s summary) json() summaryJSON {
	out := summaryJSON{
		TraceID:            s.t.TraceID.String(),
		StartTimeUnixMicro: s.start / 1000,
		DurationNano:       durationNano(s.start, s.end),
		SpanCount:          len(s.t.Spans),
		ErrorCount:         s.errors,
		Depth:              s.sh.maxDep,
		OrphanCount:        s.sh.orphans,
		Services:           s.services,
	}
	if r := s.sh.root; r != nil {
		out.RootService = r.ServiceName()
		out.RootOperation = r.Name
		out.RootMissing = !r.IsRoot()
	}
	return out
}

func durationNano(start, end uint64) uint64 {
	if end < start {
		return 0
	}
	return end - start
}
