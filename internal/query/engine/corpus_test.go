package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/query/traceql"
	"github.com/clew-dev/clew/internal/store/memstore"
)

// fixture is the decoded testdata/traces.json with name lookups.
type fixture struct {
	Base   time.Time
	spans  []*model.Span
	traces map[model.TraceID]string // id -> trace name
	names  map[model.SpanID]string  // span id -> "trace/span"
}

type fixtureFile struct {
	Base   time.Time `json:"base"`
	Traces []struct {
		Name  string `json:"name"`
		Start string `json:"start"`
		Spans []struct {
			ID            string         `json:"id"`
			Parent        string         `json:"parent"`
			ParentMissing bool           `json:"parent_missing"`
			Service       string         `json:"service"`
			Name          string         `json:"name"`
			Kind          string         `json:"kind"`
			Start         string         `json:"start"`
			Dur           string         `json:"dur"`
			Status        string         `json:"status"`
			Message       string         `json:"message"`
			Attrs         map[string]any `json:"attrs"`
			Res           map[string]any `json:"res"`
			Scope         string         `json:"scope"`
			ScopeVersion  string         `json:"scope_version"`
			ScopeAttrs    map[string]any `json:"scope_attrs"`
			Events        []struct {
				Name  string         `json:"name"`
				At    string         `json:"at"`
				Attrs map[string]any `json:"attrs"`
			} `json:"events"`
			Links []struct {
				Trace string         `json:"trace"`
				Span  string         `json:"span"`
				Attrs map[string]any `json:"attrs"`
			} `json:"links"`
		} `json:"spans"`
	} `json:"traces"`
}

func attrsOf(t testing.TB, m map[string]any) model.Attributes {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out model.Attributes
	for _, k := range keys {
		var v model.Value
		switch x := m[k].(type) {
		case string:
			v = model.StringValue(x)
		case bool:
			v = model.BoolValue(x)
		case json.Number:
			if n, err := x.Int64(); err == nil {
				v = model.IntValue(n)
			} else {
				f, _ := x.Float64()
				v = model.DoubleValue(f)
			}
		case []any:
			var elems []model.Value
			for _, e := range x {
				elems = append(elems, attrsOf(t, map[string]any{"e": e})[0].Value)
			}
			v = model.SliceValue(elems)
		default:
			t.Fatalf("attribute %s: unsupported %T", k, x)
		}
		out = append(out, model.KeyValue{Key: k, Value: v})
	}
	return out
}

func mustDur(t testing.TB, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func loadFixture(t testing.TB) *fixture {
	t.Helper()
	raw, err := os.ReadFile("testdata/traces.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var ff fixtureFile
	if err := dec.Decode(&ff); err != nil {
		t.Fatal(err)
	}
	fx := &fixture{Base: ff.Base, traces: map[model.TraceID]string{}, names: map[model.SpanID]string{}}
	traceIDs := map[string]model.TraceID{}
	spanIDs := map[string]model.SpanID{}
	next := uint64(1)
	for i, tr := range ff.Traces {
		tid := model.TraceIDFromUint64s(0, uint64(i+1))
		traceIDs[tr.Name] = tid
		fx.traces[tid] = tr.Name
		for _, s := range tr.Spans {
			spanIDs[tr.Name+"/"+s.ID] = model.SpanIDFromUint64(next)
			fx.names[model.SpanIDFromUint64(next)] = tr.Name + "/" + s.ID
			next++
		}
	}
	for _, tr := range ff.Traces {
		tstart := ff.Base.Add(mustDur(t, tr.Start))
		for _, s := range tr.Spans {
			start := tstart.Add(mustDur(t, s.Start))
			sp := &model.Span{
				Resource:          &model.Resource{Attributes: append(model.Attributes{{Key: "service.name", Value: model.StringValue(s.Service)}}, attrsOf(t, s.Res)...)},
				TraceID:           traceIDs[tr.Name],
				SpanID:            spanIDs[tr.Name+"/"+s.ID],
				Name:              s.Name,
				StartTimeUnixNano: uint64(start.UnixNano()),
				EndTimeUnixNano:   uint64(start.Add(mustDur(t, s.Dur)).UnixNano()),
				Attributes:        attrsOf(t, s.Attrs),
				Status:            model.Status{Message: s.Message},
			}
			if s.Parent != "" {
				sp.ParentSpanID = spanIDs[tr.Name+"/"+s.Parent]
			}
			if s.ParentMissing {
				sp.ParentSpanID = model.SpanIDFromUint64(0xdead)
			}
			k, ok := model.ParseSpanKind(s.Kind)
			if !ok {
				t.Fatalf("kind %q", s.Kind)
			}
			sp.Kind = k
			switch s.Status {
			case "error":
				sp.Status.Code = model.StatusError
			case "ok":
				sp.Status.Code = model.StatusOK
			}
			if s.Scope != "" {
				sp.Scope = &model.Scope{Name: s.Scope, Version: s.ScopeVersion, Attributes: attrsOf(t, s.ScopeAttrs)}
			}
			for _, e := range s.Events {
				sp.Events = append(sp.Events, model.Event{Name: e.Name, TimeUnixNano: uint64(tstart.Add(mustDur(t, e.At)).UnixNano()), Attributes: attrsOf(t, e.Attrs)})
			}
			for _, l := range s.Links {
				sp.Links = append(sp.Links, model.Link{TraceID: traceIDs[l.Trace], SpanID: spanIDs[l.Trace+"/"+l.Span], Attributes: attrsOf(t, l.Attrs)})
			}
			fx.spans = append(fx.spans, sp)
		}
	}
	return fx
}

func newFixtureEngine(t testing.TB, o Options) (*Engine, *fixture) {
	fx := loadFixture(t)
	st := memstore.New(memstore.Options{})
	if err := st.WriteSpans(context.Background(), fx.spans); err != nil {
		t.Fatal(err)
	}
	return New(st, o), fx
}

type corpusCase struct {
	line     int
	kind     string // query, metrics, instant
	query    string
	spans    []string
	hasSpans bool
	spansets []string
	series   []string
}

func readCorpus(t *testing.T) []*corpusCase {
	f, err := os.Open("testdata/queries.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []*corpusCase
	var cur *corpusCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("queries.txt:%d: no key", n)
		}
		val = strings.TrimSpace(val)
		switch key {
		case "query", "metrics", "instant":
			cur = &corpusCase{line: n, kind: key, query: val}
			cases = append(cases, cur)
		case "spans":
			cur.spans, cur.hasSpans = strings.Fields(val), true
		case "spansets":
			cur.spansets = strings.Fields(val)
		case "series":
			cur.series = append(cur.series, val)
		default:
			t.Fatalf("queries.txt:%d: unknown key %q", n, key)
		}
	}
	return cases
}

func fmtSample(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func TestCorpus(t *testing.T) {
	// Parallelism 1 answers what it can from the store's index
	// (indexSearch); parallelism 4 scans everything.
	for _, par := range []int{1, 4} {
		e, fx := newFixtureEngine(t, Options{Parallelism: par})
		e.noIndex = par > 1
		cases := readCorpus(t)
		if len(cases) < 80 {
			t.Fatalf("corpus has only %d cases", len(cases))
		}
		for _, c := range cases {
			name := fmt.Sprintf("p%d/line%d", par, c.line)
			q, err := traceql.Parse(c.query)
			if err != nil {
				t.Errorf("%s: %q: %v", name, c.query, err)
				continue
			}
			switch c.kind {
			case "query":
				if !c.hasSpans {
					t.Fatalf("%s: no spans line", name)
				}
				checkSearch(t, name, e, fx, q, c)
			default:
				checkMetrics(t, name, e, fx, q, c)
			}
		}
	}
}

func checkSearch(t *testing.T, name string, e *Engine, fx *fixture, q *traceql.Query, c *corpusCase) {
	t.Helper()
	resp, err := e.Search(context.Background(), SearchRequest{Query: q, Limit: 100, SpansPerSpanSet: 100})
	if err != nil {
		t.Errorf("%s: %q: %v", name, c.query, err)
		return
	}
	var got, gotSets []string
	wantTraces := map[string]bool{}
	for _, s := range c.spans {
		tr, _, _ := strings.Cut(s, "/")
		wantTraces[tr] = true
	}
	for _, m := range resp.Traces {
		seen := map[string]bool{}
		for _, ss := range m.SpanSets {
			if ss.Matched != len(ss.Spans) {
				t.Errorf("%s: matched %d but %d spans returned", name, ss.Matched, len(ss.Spans))
			}
			for _, sp := range ss.Spans {
				n := fx.names[sp.Span.SpanID]
				if !seen[n] {
					seen[n] = true
					got = append(got, n)
				}
			}
		}
		gotSets = append(gotSets, fmt.Sprintf("%s:%d", fx.traces[m.TraceID], len(m.SpanSets)))
		if !wantTraces[fx.traces[m.TraceID]] {
			t.Errorf("%s: %q: unexpected trace %s", name, c.query, fx.traces[m.TraceID])
		}
	}
	if len(resp.Traces) != len(wantTraces) {
		t.Errorf("%s: %q: %d traces, want %d", name, c.query, len(resp.Traces), len(wantTraces))
	}
	want := slices.Clone(c.spans)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: %q:\n got spans %v\nwant spans %v", name, c.query, got, want)
	}
	if c.spansets != nil {
		w := slices.Clone(c.spansets)
		slices.Sort(w)
		slices.Sort(gotSets)
		if !slices.Equal(gotSets, w) {
			t.Errorf("%s: %q: spansets %v, want %v", name, c.query, gotSets, w)
		}
	}
	// Results come most recent first.
	for i := 1; i < len(resp.Traces); i++ {
		if resp.Traces[i-1].Start < resp.Traces[i].Start {
			t.Errorf("%s: traces not ordered by start, most recent first", name)
		}
	}
}

func checkMetrics(t *testing.T, name string, e *Engine, fx *fixture, q *traceql.Query, c *corpusCase) {
	t.Helper()
	req := MetricsRequest{Query: q, Start: fx.Base, End: fx.Base.Add(300 * time.Second), Step: time.Minute}
	var resp *MetricsResponse
	var err error
	if c.kind == "instant" {
		resp, err = e.QueryInstant(context.Background(), req)
	} else {
		resp, err = e.QueryRange(context.Background(), req)
	}
	if err != nil {
		t.Errorf("%s: %q: %v", name, c.query, err)
		return
	}
	n := 5
	if c.kind == "instant" {
		n = 1
	}
	var got []string
	for _, s := range resp.Series {
		vals := make([]string, n)
		for i := range vals {
			vals[i] = "_"
		}
		for _, smp := range s.Samples {
			b := int((smp.TimestampMs - fx.Base.UnixMilli()) / (req.Step.Milliseconds()))
			if c.kind == "instant" {
				b = 0
			}
			if b < 0 || b >= n || math.IsNaN(smp.Value) {
				t.Errorf("%s: sample at %d out of range or NaN", name, smp.TimestampMs)
				continue
			}
			vals[b] = fmtSample(smp.Value)
		}
		got = append(got, PromLabels(s.Labels)+" "+strings.Join(vals, " "))
	}
	if !slices.Equal(got, c.series) {
		t.Errorf("%s: %q:\n got %q\nwant %q", name, c.query, got, c.series)
	}
}
