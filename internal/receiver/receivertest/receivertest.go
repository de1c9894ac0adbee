// Package receivertest helps the receivers' tests: a Consumer that records
// what it is given, and a stable, typed JSON rendering of spans for golden
// files.
package receivertest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// Sink is a Consumer that keeps every span and counts refusals. Err, when
// set, is returned by Consume instead of storing. It is safe for concurrent
// use.
type Sink struct {
	mu      sync.Mutex
	spans   []*model.Span
	refused map[string]int
	Err     error
}

// Consume records spans.
func (s *Sink) Consume(_ context.Context, _ string, spans []*model.Span) (pipeline.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return pipeline.Result{}, s.Err
	}
	s.spans = append(s.spans, spans...)
	return pipeline.Result{Accepted: len(spans)}, nil
}

// Refuse counts a refusal under "receiver/reason".
func (s *Sink) Refuse(receiver, reason string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]int{}
	}
	if n <= 0 {
		n = 1
	}
	s.refused[receiver+"/"+reason] += n
}

// Spans returns the spans consumed so far.
func (s *Sink) Spans() []*model.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*model.Span(nil), s.spans...)
}

// Refused returns the refusal counts by "receiver/reason".
func (s *Sink) Refused() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.refused {
		out[k] = v
	}
	return out
}

// Span is the rendering of one span.
type Span struct {
	TraceID  string  `json:"trace_id"`
	SpanID   string  `json:"span_id"`
	Parent   string  `json:"parent_span_id,omitempty"`
	Name     string  `json:"name"`
	Kind     string  `json:"kind,omitempty"`
	Start    uint64  `json:"start_unix_nano"`
	End      uint64  `json:"end_unix_nano"`
	Resource []Attr  `json:"resource,omitempty"`
	Scope    string  `json:"scope,omitempty"`
	Attrs    []Attr  `json:"attributes,omitempty"`
	Events   []Event `json:"events,omitempty"`
	Links    []Link  `json:"links,omitempty"`
	Status   string  `json:"status,omitempty"`
	Message  string  `json:"status_message,omitempty"`
	State    string  `json:"trace_state,omitempty"`
	Dropped  uint32  `json:"dropped_attributes,omitempty"`
}

// Attr is one attribute with its type.
type Attr struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Event is the rendering of one event.
type Event struct {
	Time  uint64 `json:"time_unix_nano"`
	Name  string `json:"name"`
	Attrs []Attr `json:"attributes,omitempty"`
}

// Link is the rendering of one link.
type Link struct {
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	Attrs   []Attr `json:"attributes,omitempty"`
}

// Render returns spans in a stable order (trace, start, span id) with
// attributes sorted by key, ready to compare or to write as JSON.
func Render(spans []*model.Span) []Span {
	out := make([]Span, 0, len(spans))
	for _, s := range spans {
		r := Span{
			TraceID: s.TraceID.String(),
			SpanID:  s.SpanID.String(),
			Name:    s.Name,
			Kind:    s.Kind.String(),
			Start:   s.StartTimeUnixNano,
			End:     s.EndTimeUnixNano,
			Attrs:   attrs(s.Attributes),
			State:   s.TraceState,
			Dropped: s.DroppedAttributesCount,
		}
		if !s.ParentSpanID.IsZero() {
			r.Parent = s.ParentSpanID.String()
		}
		if s.Resource != nil {
			r.Resource = attrs(s.Resource.Attributes)
		}
		if s.Scope != nil && (s.Scope.Name != "" || s.Scope.Version != "") {
			r.Scope = s.Scope.Name + "@" + s.Scope.Version
		}
		if s.Status.Code != model.StatusUnset {
			r.Status = s.Status.Code.String()
			r.Message = s.Status.Message
		}
		for _, e := range s.Events {
			r.Events = append(r.Events, Event{Time: e.TimeUnixNano, Name: e.Name, Attrs: attrs(e.Attributes)})
		}
		for _, l := range s.Links {
			r.Links = append(r.Links, Link{TraceID: l.TraceID.String(), SpanID: l.SpanID.String(), Attrs: attrs(l.Attributes)})
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.TraceID != b.TraceID {
			return a.TraceID < b.TraceID
		}
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		return a.SpanID < b.SpanID
	})
	return out
}

func attrs(kvs model.Attributes) []Attr {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]Attr, len(kvs))
	for i, kv := range kvs {
		out[i] = Attr{Key: kv.Key, Type: kv.Value.Type().String(), Value: value(kv.Value)}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func value(v model.Value) any {
	switch v.Type() {
	case model.ValueString:
		return v.Str()
	case model.ValueBool:
		return v.Bool()
	case model.ValueInt:
		return v.Int()
	case model.ValueDouble:
		return v.Double()
	case model.ValueBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case model.ValueSlice:
		var out []any
		for _, e := range v.Slice() {
			out = append(out, map[string]any{"type": e.Type().String(), "value": value(e)})
		}
		return out
	case model.ValueMap:
		return attrs(v.Map())
	}
	return nil
}

// Golden compares the JSON rendering of spans with the file at path,
// rewriting the file instead when the test runs with -update.
func Golden(t testing.TB, path string, spans []*model.Span) {
	t.Helper()
	got, err := json.MarshalIndent(Render(spans), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, diff)
	}
}

// Update reports whether the test runs with -update.
func Update() bool { return *update }
