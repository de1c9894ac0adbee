package tempo

import (
	"math"
	"strconv"

	"github.com/clew-dev/clew/internal/query/engine"
	"github.com/clew-dev/clew/internal/query/traceql"
)

// The JSON shapes below are those of Tempo's tempopb messages as Tempo
// renders them (proto3 JSON: camelCase names, 64-bit integers as strings).

type searchResponse struct {
	Traces  []traceSearchMetadata `json:"traces"`
	Metrics searchMetrics         `json:"metrics"`
}

type searchMetrics struct {
	InspectedTraces uint32 `json:"inspectedTraces"`
	InspectedBytes  string `json:"inspectedBytes"`
	InspectedSpans  string `json:"inspectedSpans,omitempty"`
	TotalBlocks     uint32 `json:"totalBlocks"`
	CompletedJobs   uint32 `json:"completedJobs"`
	TotalJobs       uint32 `json:"totalJobs"`
	TotalBlockBytes string `json:"totalBlockBytes"`
}

type traceSearchMetadata struct {
	TraceID           string                  `json:"traceID"`
	RootServiceName   string                  `json:"rootServiceName"`
	RootTraceName     string                  `json:"rootTraceName"`
	StartTimeUnixNano string                  `json:"startTimeUnixNano"`
	DurationMs        uint32                  `json:"durationMs"`
	SpanSet           *spanSetJSON            `json:"spanSet,omitempty"`
	SpanSets          []spanSetJSON           `json:"spanSets"`
	ServiceStats      map[string]serviceStats `json:"serviceStats,omitempty"`
}

type serviceStats struct {
	SpanCount  uint32 `json:"spanCount"`
	ErrorCount uint32 `json:"errorCount,omitempty"`
}

type spanSetJSON struct {
	Spans      []spanJSON     `json:"spans"`
	Matched    uint32         `json:"matched"`
	Attributes []keyValueJSON `json:"attributes,omitempty"`
}

type spanJSON struct {
	SpanID            string         `json:"spanID"`
	Name              string         `json:"name"`
	StartTimeUnixNano string         `json:"startTimeUnixNano"`
	DurationNanos     string         `json:"durationNanos"`
	Attributes        []keyValueJSON `json:"attributes,omitempty"`
}

type keyValueJSON struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

// anyValue is OTLP's AnyValue in proto3 JSON: exactly one field set.
type anyValue struct {
	StringValue *string  `json:"stringValue,omitempty"`
	BoolValue   *bool    `json:"boolValue,omitempty"`
	IntValue    *string  `json:"intValue,omitempty"`
	DoubleValue *float64 `json:"doubleValue,omitempty"`
}

// toAnyValue renders a TraceQL value: strings, booleans, integers and
// floats keep their type; durations, statuses and kinds become strings
// ("1.5s", "error", "server"), as Tempo returns them.
func toAnyValue(v engine.Value) (anyValue, bool) {
	switch v.Type {
	case traceql.TypeNil:
		return anyValue{}, false
	case traceql.TypeBool:
		b := v.B
		return anyValue{BoolValue: &b}, true
	case traceql.TypeInt:
		s := strconv.FormatInt(v.I, 10)
		return anyValue{IntValue: &s}, true
	case traceql.TypeFloat:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			s := strconv.FormatFloat(v.F, 'g', -1, 64)
			return anyValue{StringValue: &s}, true
		}
		f := v.F
		return anyValue{DoubleValue: &f}, true
	}
	s := engine.ValueText(v)
	return anyValue{StringValue: &s}, true
}

func keyValues(attrs []engine.Attr) []keyValueJSON {
	var out []keyValueJSON
	for _, a := range attrs {
		if v, ok := toAnyValue(a.Value); ok {
			out = append(out, keyValueJSON{Key: a.Key, Value: v})
		}
	}
	return out
}

func renderSearch(resp *engine.SearchResponse) searchResponse {
	out := searchResponse{Traces: make([]traceSearchMetadata, 0, len(resp.Traces)), Metrics: metricsOf(resp.Stats)}
	for _, m := range resp.Traces {
		t := traceSearchMetadata{
			TraceID:           m.TraceID.String(),
			RootServiceName:   m.RootServiceName,
			RootTraceName:     m.RootName,
			StartTimeUnixNano: strconv.FormatUint(m.Start, 10),
			DurationMs:        uint32(min(m.Duration.Milliseconds(), math.MaxUint32)),
			SpanSets:          make([]spanSetJSON, 0, len(m.SpanSets)),
			ServiceStats:      map[string]serviceStats{},
		}
		for svc, st := range m.ServiceStats {
			t.ServiceStats[svc] = serviceStats{SpanCount: uint32(st.SpanCount), ErrorCount: uint32(st.ErrorCount)}
		}
		for _, ss := range m.SpanSets {
			js := spanSetJSON{Matched: uint32(ss.Matched), Spans: make([]spanJSON, 0, len(ss.Spans)), Attributes: keyValues(ss.Attributes)}
			for _, sp := range ss.Spans {
				js.Spans = append(js.Spans, spanJSON{
					SpanID:            sp.Span.SpanID.String(),
					Name:              sp.Span.Name,
					StartTimeUnixNano: strconv.FormatUint(sp.Span.StartTimeUnixNano, 10),
					DurationNanos:     strconv.FormatInt(int64(sp.Span.Duration()), 10),
					Attributes:        keyValues(sp.Attributes),
				})
			}
			t.SpanSets = append(t.SpanSets, js)
		}
		if len(t.SpanSets) > 0 {
			first := t.SpanSets[0]
			t.SpanSet = &first
		}
		out.Traces = append(out.Traces, t)
	}
	return out
}

func metricsOf(st engine.Stats) searchMetrics {
	return searchMetrics{
		InspectedTraces: uint32(min(st.Traces, math.MaxUint32)),
		InspectedBytes:  strconv.FormatInt(st.Bytes, 10),
		InspectedSpans:  strconv.FormatInt(st.Spans, 10),
		TotalBlocks:     0,
		CompletedJobs:   1,
		TotalJobs:       1,
		TotalBlockBytes: "0",
	}
}

type tagNamesResponse struct {
	TagNames []string      `json:"tagNames"`
	Metrics  searchMetrics `json:"metrics"`
}

type tagScope struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type tagsV2Response struct {
	Scopes  []tagScope    `json:"scopes"`
	Metrics searchMetrics `json:"metrics"`
}

type tagValuesResponse struct {
	TagValues []string      `json:"tagValues"`
	Metrics   searchMetrics `json:"metrics"`
}

type tagValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type tagValuesV2Response struct {
	TagValues []tagValue    `json:"tagValues"`
	Metrics   searchMetrics `json:"metrics"`
}

// tagValueType names a value's type as Tempo's v2 tag-values API does.
func tagValueType(v engine.Value) string {
	switch v.Type {
	case traceql.TypeString:
		return "string"
	case traceql.TypeInt:
		return "int"
	case traceql.TypeFloat:
		return "float"
	case traceql.TypeBool:
		return "bool"
	case traceql.TypeDuration:
		return "duration"
	case traceql.TypeStatus, traceql.TypeKind:
		return "keyword"
	}
	return "string"
}

type queryRangeResponse struct {
	Series  []timeSeries  `json:"series"`
	Metrics searchMetrics `json:"metrics"`
}

type timeSeries struct {
	Labels     []keyValueJSON `json:"labels"`
	Samples    []sample       `json:"samples"`
	PromLabels string         `json:"promLabels"`
	Exemplars  []exemplarJSON `json:"exemplars,omitempty"`
}

type exemplarJSON struct {
	Labels      []keyValueJSON `json:"labels"`
	Value       float64        `json:"value"`
	TimestampMs string         `json:"timestampMs"`
}

type sample struct {
	TimestampMs string  `json:"timestampMs"`
	Value       float64 `json:"value"`
}

type queryInstantResponse struct {
	Series  []instantSeries `json:"series"`
	Metrics searchMetrics   `json:"metrics"`
}

type instantSeries struct {
	Labels     []keyValueJSON `json:"labels"`
	Value      float64        `json:"value"`
	PromLabels string         `json:"promLabels"`
}

func renderQueryRange(resp *engine.MetricsResponse) queryRangeResponse {
	out := queryRangeResponse{Series: make([]timeSeries, 0, len(resp.Series)), Metrics: metricsOf(resp.Stats)}
	for _, s := range resp.Series {
		ts := timeSeries{Labels: keyValues(s.Labels), PromLabels: engine.PromLabels(s.Labels), Samples: make([]sample, 0, len(s.Samples))}
		if ts.Labels == nil {
			ts.Labels = []keyValueJSON{}
		}
		for _, smp := range s.Samples {
			ts.Samples = append(ts.Samples, sample{TimestampMs: strconv.FormatInt(smp.TimestampMs, 10), Value: finite(smp.Value)})
		}
		for _, ex := range s.Exemplars {
			tid, sid := ex.TraceID.String(), ex.SpanID.String()
			ts.Exemplars = append(ts.Exemplars, exemplarJSON{
				Labels: []keyValueJSON{
					{Key: "trace:id", Value: anyValue{StringValue: &tid}},
					{Key: "span:id", Value: anyValue{StringValue: &sid}},
				},
				Value:       finite(ex.Value),
				TimestampMs: strconv.FormatInt(ex.TimestampMs, 10),
			})
		}
		out.Series = append(out.Series, ts)
	}
	return out
}

func renderInstant(resp *engine.MetricsResponse) queryInstantResponse {
	out := queryInstantResponse{Series: make([]instantSeries, 0, len(resp.Series)), Metrics: metricsOf(resp.Stats)}
	for _, s := range resp.Series {
		if len(s.Samples) == 0 {
			continue
		}
		is := instantSeries{Labels: keyValues(s.Labels), PromLabels: engine.PromLabels(s.Labels), Value: finite(s.Samples[0].Value)}
		if is.Labels == nil {
			is.Labels = []keyValueJSON{}
		}
		out.Series = append(out.Series, is)
	}
	return out
}

// finite keeps JSON encodable: NaN and infinities become 0.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
