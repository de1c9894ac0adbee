package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/query/traceql"
	"github.com/clew-dev/clew/internal/store"
)

// TagsRequest lists attribute names.
type TagsRequest struct {
	// Scope limits the names to one scope: "span", "resource", "event",
	// "link", "instrumentation" or "intrinsic"; "" or "all" for every one.
	Scope string
	// Query, when set, limits the names to the spans its spanset pipeline
	// matches.
	Query      *traceql.Query
	Start, End time.Time
}

// TagsResponse holds attribute names by scope, each list sorted.
type TagsResponse struct {
	Scopes  map[string][]string
	Stats   Stats
	Partial bool
}

// TagScopes are the attribute scopes in the order APIs list them.
var TagScopes = []string{"span", "resource", "event", "link", "instrumentation"}

// TagNames lists the attribute names of the spans in a time range.
func (e *Engine) TagNames(ctx context.Context, req TagsRequest) (*TagsResponse, error) {
	want := map[string]bool{}
	switch req.Scope {
	case "", "all":
		for _, s := range TagScopes {
			want[s] = true
		}
		want["intrinsic"] = true
	case "span", "resource", "event", "link", "instrumentation", "intrinsic":
		want[req.Scope] = true
	default:
		return nil, fmt.Errorf("%w: unknown scope %q: want span, resource, event, link, instrumentation, intrinsic or all", ErrBadRequest, req.Scope)
	}
	var p *plan
	if req.Query != nil && req.Query.Metrics == nil {
		p = compile(req.Query)
	}
	var mu sync.Mutex
	names := map[string]map[string]struct{}{}
	for s := range want {
		names[s] = map[string]struct{}{}
	}
	total := 0
	full := false
	add := func(scope string, attrs model.Attributes) {
		m, ok := names[scope]
		if !ok {
			return
		}
		for i := range attrs {
			if _, dup := m[attrs[i].Key]; dup {
				continue
			}
			if total >= e.o.MaxTagValues {
				full = true
				return
			}
			m[attrs[i].Key] = struct{}{}
			total++
		}
	}
	sreq := store.ScanRequest{StartMin: req.Start, StartMax: req.End}
	if p != nil {
		sreq = p.hints
		sreq.StartMin, sreq.StartMax = req.Start, req.End
	}
	stats, partial, err := e.scan(ctx, kindTags, sreq, func(t *model.Trace) {
		spans := matchedSpans(p, t)
		mu.Lock()
		defer mu.Unlock()
		seenRes := map[*model.Resource]bool{}
		seenScope := map[*model.Scope]bool{}
		for _, s := range spans {
			add("span", s.Attributes)
			if s.Resource != nil && !seenRes[s.Resource] {
				seenRes[s.Resource] = true
				add("resource", s.Resource.Attributes)
			}
			if s.Scope != nil && !seenScope[s.Scope] {
				seenScope[s.Scope] = true
				add("instrumentation", s.Scope.Attributes)
			}
			for i := range s.Events {
				add("event", s.Events[i].Attributes)
			}
			for i := range s.Links {
				add("link", s.Links[i].Attributes)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	resp := &TagsResponse{Scopes: map[string][]string{}, Stats: stats, Partial: partial || full}
	for s, m := range names {
		list := make([]string, 0, len(m))
		for k := range m {
			list = append(list, k)
		}
		slices.Sort(list)
		resp.Scopes[s] = list
	}
	if want["intrinsic"] {
		resp.Scopes["intrinsic"] = traceql.IntrinsicSpellings()
	}
	return resp, nil
}

// matchedSpans returns the spans of t that p matches, or all of t's spans
// when p is nil.
func matchedSpans(p *plan, t *model.Trace) []*model.Span {
	if p == nil {
		return t.Spans
	}
	tc := newTraceCtx(t)
	sets := p.evalTrace(tc)
	var idx []int32
	for _, ss := range sets {
		idx = union(idx, ss.idx)
	}
	out := make([]*model.Span, len(idx))
	for i, j := range idx {
		out[i] = t.Spans[j]
	}
	return out
}

// TagValuesRequest lists the values of one attribute or intrinsic.
type TagValuesRequest struct {
	// Tag is the attribute. An unscoped attribute collects values from
	// spans and resources.
	Tag *traceql.Attribute
	// Query, when set, limits the values to the spans it matches.
	Query      *traceql.Query
	Start, End time.Time
}

// enumerable are the intrinsics whose values TagValues lists.
var enumerable = map[traceql.Intrinsic]bool{
	traceql.IntrinsicName: true, traceql.IntrinsicStatus: true, traceql.IntrinsicStatusMessage: true,
	traceql.IntrinsicKind: true, traceql.IntrinsicRootName: true, traceql.IntrinsicRootServiceName: true,
	traceql.IntrinsicEventName: true, traceql.IntrinsicInstrumentationName: true, traceql.IntrinsicInstrumentationVersion: true,
}

// TagValuesResponse holds distinct values, ordered by type then text.
type TagValuesResponse struct {
	Values  []Value
	Stats   Stats
	Partial bool
}

// TagValues lists the distinct values of an attribute in a time range.
func (e *Engine) TagValues(ctx context.Context, req TagValuesRequest) (*TagValuesResponse, error) {
	if req.Tag == nil {
		return nil, fmt.Errorf("%w: no tag", ErrBadRequest)
	}
	if req.Tag.Scope == traceql.ScopeIntrinsic && !enumerable[req.Tag.Intrinsic] {
		// Ids, durations and tree positions are not worth listing (nor
		// does Tempo list them).
		return &TagValuesResponse{}, nil
	}
	var p *plan
	if req.Query != nil && req.Query.Metrics == nil {
		p = compile(req.Query)
	}
	var cp compiler
	var info exprInfo
	var fns []evalFn
	if req.Tag.Scope == traceql.ScopeNone {
		var i1, i2 exprInfo
		fns = []evalFn{
			cp.attribute(&traceql.Attribute{Scope: traceql.ScopeSpan, Name: req.Tag.Name}, &i1),
			cp.attribute(&traceql.Attribute{Scope: traceql.ScopeResource, Name: req.Tag.Name}, &i2),
		}
	} else {
		fns = []evalFn{cp.attribute(req.Tag, &info)}
	}
	sreq := store.ScanRequest{StartMin: req.Start, StartMax: req.End}
	if p != nil {
		sreq = p.hints
		sreq.StartMin, sreq.StartMax = req.Start, req.End
	}
	var mu sync.Mutex
	values := map[Value]struct{}{}
	full := false
	stats, partial, err := e.scan(ctx, kindTagValues, sreq, func(t *model.Trace) {
		spans := matchedSpans(p, t)
		tc := newTraceCtx(t)
		var local []Value
		for _, s := range spans {
			c := spanCtx{tc: tc, s: s}
			emit := func() {
				for _, f := range fns {
					if v := f(&c); v.Type != traceql.TypeNil {
						local = append(local, v)
					}
				}
			}
			switch {
			case info.events:
				for i := range s.Events {
					c.ev = &s.Events[i]
					emit()
				}
			case info.links:
				for i := range s.Links {
					c.link = &s.Links[i]
					emit()
				}
			default:
				emit()
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, v := range local {
			if _, ok := values[v]; ok {
				continue
			}
			if len(values) >= e.o.MaxTagValues {
				full = true
				return
			}
			values[v] = struct{}{}
		}
	})
	if err != nil {
		return nil, err
	}
	resp := &TagValuesResponse{Stats: stats, Partial: partial || full}
	for v := range values {
		resp.Values = append(resp.Values, v)
	}
	slices.SortFunc(resp.Values, func(a, b Value) int {
		if c := cmp.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		if a.Type == traceql.TypeInt {
			return cmp.Compare(a.I, b.I)
		}
		if a.Type == traceql.TypeFloat {
			return cmp.Compare(a.F, b.F)
		}
		return cmp.Compare(ValueText(a), ValueText(b))
	})
	return resp, nil
}
