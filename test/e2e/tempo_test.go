package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// tempoTraces builds two traces over OTLP: a checkout whose payment call
// fails (frontend -> payment -> postgres) and a health check.
func tempoTraces(now time.Time) (ptrace.Traces, pcommon.TraceID, pcommon.TraceID) {
	td := ptrace.NewTraces()
	checkout := pcommon.TraceID{0xc1, 0xec, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	health := pcommon.TraceID{0x4e, 0xa1, 0x7d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14}
	type spec struct {
		service, name string
		trace         pcommon.TraceID
		id, parent    byte
		kind          ptrace.SpanKind
		offset, dur   time.Duration
		err           bool
		attrs         map[string]any
	}
	specs := []spec{
		{"frontend", "GET /checkout", checkout, 1, 0, ptrace.SpanKindServer, 0, 900 * time.Millisecond, true, map[string]any{"http.method": "GET", "http.status_code": 500}},
		{"frontend", "payment.Charge", checkout, 2, 1, ptrace.SpanKindClient, 10 * time.Millisecond, 800 * time.Millisecond, true, nil},
		{"payment", "payment.Charge", checkout, 3, 2, ptrace.SpanKindServer, 20 * time.Millisecond, 700 * time.Millisecond, true, map[string]any{"card.type": "visa"}},
		{"payment", "INSERT payments", checkout, 4, 3, ptrace.SpanKindClient, 30 * time.Millisecond, 50 * time.Millisecond, false, map[string]any{"db.system": "postgresql"}},
		{"frontend", "GET /health", health, 5, 0, ptrace.SpanKindServer, 2 * time.Second, time.Millisecond, false, map[string]any{"http.method": "GET", "http.status_code": 200}},
	}
	scopes := map[string]ptrace.ScopeSpans{}
	for _, s := range specs {
		ss, ok := scopes[s.service]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", s.service)
			rs.Resource().Attributes().PutStr("deployment.environment", "e2e")
			ss = rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("e2e-tracer")
			scopes[s.service] = ss
		}
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(s.trace)
		sp.SetSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, s.id})
		if s.parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, s.parent})
		}
		sp.SetName(s.name)
		sp.SetKind(s.kind)
		start := now.Add(-time.Minute).Add(s.offset)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(s.dur)))
		if s.err {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("declined")
		}
		for k, v := range s.attrs {
			switch v := v.(type) {
			case string:
				sp.Attributes().PutStr(k, v)
			case int:
				sp.Attributes().PutInt(k, int64(v))
			}
		}
	}
	return td, checkout, health
}

// tempoGet fetches base+path, checks the status and decodes JSON into v.
func tempoGet(t *testing.T, base, path string, hdr http.Header, wantStatus int, v any) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d: %s", path, resp.StatusCode, wantStatus, truncate(body))
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: decode %q: %v", path, truncate(body), err)
		}
	}
	return body
}

type tempoSearch struct {
	Traces []struct {
		TraceID           string `json:"traceID"`
		RootServiceName   string `json:"rootServiceName"`
		RootTraceName     string `json:"rootTraceName"`
		StartTimeUnixNano string `json:"startTimeUnixNano"`
		DurationMs        int    `json:"durationMs"`
		SpanSets          []struct {
			Matched int `json:"matched"`
			Spans   []struct {
				SpanID            string `json:"spanID"`
				Name              string `json:"name"`
				StartTimeUnixNano string `json:"startTimeUnixNano"`
				DurationNanos     string `json:"durationNanos"`
				Attributes        []struct {
					Key   string         `json:"key"`
					Value map[string]any `json:"value"`
				} `json:"attributes"`
			} `json:"spans"`
			Attributes []struct {
				Key   string         `json:"key"`
				Value map[string]any `json:"value"`
			} `json:"attributes"`
		} `json:"spanSets"`
		SpanSet *struct {
			Matched int `json:"matched"`
		} `json:"spanSet"`
		ServiceStats map[string]struct {
			SpanCount  int `json:"spanCount"`
			ErrorCount int `json:"errorCount"`
		} `json:"serviceStats"`
	} `json:"traces"`
	Metrics struct {
		InspectedTraces int    `json:"inspectedTraces"`
		InspectedBytes  string `json:"inspectedBytes"`
	} `json:"metrics"`
}

// TestTempoAPI calls every Tempo endpoint the way Grafana's Tempo data
// source does, on the Tempo port and under /tempo of the query port, with
// the memory store and with the durable local store.
func TestTempoAPI(t *testing.T) {
	for _, storage := range []string{"memory", "local"} {
		t.Run(storage, func(t *testing.T) { testTempoAPI(t, storage) })
	}
}

func testTempoAPI(t *testing.T, storage string) {
	s := Start(t, "--storage="+storage)
	now := time.Now()
	td, checkout, health := tempoTraces(now)
	body, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	resp, respBody := post(t, s.OTLPHTTPURL(), "application/x-protobuf", body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP export: %d %s", resp.StatusCode, respBody)
	}
	checkoutHex := fmt.Sprintf("%x", checkout[:])
	start, end := strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), strconv.FormatInt(now.Add(time.Minute).Unix(), 10)
	window := "&start=" + start + "&end=" + end

	for _, base := range []string{"http://" + s.Addr("tempo.addr"), s.QueryURL() + "/tempo"} {
		t.Run(strings.TrimPrefix(base, "http://"), func(t *testing.T) {
			// Health check and feature detection.
			if b := tempoGet(t, base, "/api/echo", nil, 200, nil); string(b) != "echo" {
				t.Errorf("/api/echo = %q", b)
			}
			var bi map[string]string
			tempoGet(t, base, "/api/status/buildinfo", nil, 200, &bi)
			if !strings.HasPrefix(bi["version"], "2.") || bi["goVersion"] == "" {
				t.Errorf("buildinfo %v", bi)
			}

			// TraceQL search (Grafana's search and TraceQL editor).
			var sr tempoSearch
			Eventually(t, 10*time.Second, func() error {
				sr = tempoSearch{}
				tempoGet(t, base, "/api/search?q="+url.QueryEscape(`{ resource.service.name = "payment" && status = error }`)+"&limit=20&spss=3"+window, nil, 200, &sr)
				if len(sr.Traces) != 1 {
					return fmt.Errorf("%d traces", len(sr.Traces))
				}
				return nil
			})
			tr := sr.Traces[0]
			if tr.TraceID != checkoutHex || tr.RootServiceName != "frontend" || tr.RootTraceName != "GET /checkout" || tr.DurationMs != 900 {
				t.Errorf("search trace %+v", tr)
			}
			if len(tr.SpanSets) != 1 || tr.SpanSets[0].Matched != 1 || tr.SpanSet == nil || tr.SpanSet.Matched != 1 {
				t.Fatalf("spansets %+v", tr.SpanSets)
			}
			sp := tr.SpanSets[0].Spans[0]
			if sp.Name != "payment.Charge" || sp.SpanID != "0000000000000003" || sp.DurationNanos != "700000000" {
				t.Errorf("span %+v", sp)
			}
			attrs := map[string]any{}
			for _, a := range sp.Attributes {
				attrs[a.Key] = a.Value["stringValue"]
			}
			if attrs["service.name"] != "payment" || attrs["status"] != "error" {
				t.Errorf("span attributes %v", attrs)
			}
			if st := tr.ServiceStats["frontend"]; st.SpanCount != 2 || st.ErrorCount != 2 {
				t.Errorf("serviceStats %+v", tr.ServiceStats)
			}
			if sr.Metrics.InspectedTraces < 1 || sr.Metrics.InspectedBytes == "" {
				t.Errorf("metrics %+v", sr.Metrics)
			}
			// A search the store's index answers, most recent first.
			sr = tempoSearch{}
			tempoGet(t, base, "/api/search?q="+url.QueryEscape(`{ resource.service.name = "frontend" && duration > 500ms }`)+window, nil, 200, &sr)
			if len(sr.Traces) != 1 || sr.Traces[0].TraceID != checkoutHex || sr.Traces[0].SpanSets[0].Matched != 2 {
				t.Errorf("index search: %+v", sr.Traces)
			}
			sr = tempoSearch{}
			tempoGet(t, base, "/api/search?q="+url.QueryEscape(`{}`)+"&limit=1"+window, nil, 200, &sr)
			if len(sr.Traces) != 1 || sr.Traces[0].TraceID != fmt.Sprintf("%x", health[:]) {
				t.Errorf("most recent trace: %+v", sr.Traces)
			}
			// Structural query, pipeline with by(), and the legacy tags search.
			sr = tempoSearch{}
			tempoGet(t, base, "/api/search?q="+url.QueryEscape(`{ kind = server } >> { .db.system = "postgresql" }`)+window, nil, 200, &sr)
			if len(sr.Traces) != 1 || sr.Traces[0].SpanSets[0].Spans[0].Name != "INSERT payments" {
				t.Errorf("structural search: %+v", sr.Traces)
			}
			sr = tempoSearch{}
			tempoGet(t, base, "/api/search?q="+url.QueryEscape(`{ } | by(resource.service.name) | count() > 1`)+window, nil, 200, &sr)
			if len(sr.Traces) != 1 || len(sr.Traces[0].SpanSets) != 2 || len(sr.Traces[0].SpanSets[0].Attributes) == 0 {
				t.Errorf("by() search: %+v", sr.Traces)
			}
			sr = tempoSearch{}
			tempoGet(t, base, "/api/search?tags="+url.QueryEscape(`service.name=frontend http.status_code=200`)+"&minDuration=0ms&maxDuration=10ms&limit=5", nil, 200, &sr)
			if len(sr.Traces) != 1 || sr.Traces[0].TraceID != fmt.Sprintf("%x", health[:]) {
				t.Errorf("tags search: %+v", sr.Traces)
			}
			// Errors as Tempo gives them: 400 with the parser's message.
			if b := tempoGet(t, base, "/api/search?q="+url.QueryEscape(`{ .a = }`), nil, 400, nil); !strings.Contains(string(b), "parse error at line 1, col 8") {
				t.Errorf("parse error body %q", b)
			}
			tempoGet(t, base, "/api/search?limit=x", nil, 400, nil)

			// Trace by id: JSON (v1 "batches", v2 "trace") and protobuf as
			// Grafana's backend asks for it.
			var v1 struct {
				Batches []struct {
					Resource   map[string]any `json:"resource"`
					ScopeSpans []struct {
						Spans []map[string]any `json:"spans"`
					} `json:"scopeSpans"`
				} `json:"batches"`
			}
			tempoGet(t, base, "/api/traces/"+checkoutHex, nil, 200, &v1)
			if n := countSpans(len(v1.Batches), func(i int) int {
				n := 0
				for _, ss := range v1.Batches[i].ScopeSpans {
					n += len(ss.Spans)
				}
				return n
			}); n != 4 {
				t.Errorf("v1 trace has %d spans, want 4", n)
			}
			var v2 struct {
				Trace struct {
					ResourceSpans []json.RawMessage `json:"resourceSpans"`
				} `json:"trace"`
			}
			tempoGet(t, base, "/api/v2/traces/"+checkoutHex, nil, 200, &v2)
			if len(v2.Trace.ResourceSpans) != 2 {
				t.Errorf("v2 trace has %d resource spans, want 2", len(v2.Trace.ResourceSpans))
			}
			pb := http.Header{"Accept": {"application/protobuf"}}
			raw := tempoGet(t, base, "/api/traces/"+checkoutHex, pb, 200, nil)
			got, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(raw)
			if err != nil || got.SpanCount() != 4 {
				t.Errorf("v1 protobuf: %v, %d spans", err, got.SpanCount())
			}
			raw = tempoGet(t, base, "/api/v2/traces/"+checkoutHex, pb, 200, nil)
			num, typ, n := protowire.ConsumeTag(raw)
			if num != 1 || typ != protowire.BytesType || n < 0 {
				t.Fatalf("v2 protobuf: field %d type %d", num, typ)
			}
			inner, m := protowire.ConsumeBytes(raw[n:])
			if m < 0 {
				t.Fatal("v2 protobuf: bad length")
			}
			if got, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(inner); err != nil || got.SpanCount() != 4 {
				t.Errorf("v2 protobuf trace: %v", err)
			}
			tempoGet(t, base, "/api/traces/0000000000000000000000000000dead", nil, 404, nil)
			tempoGet(t, base, "/api/v2/traces/not-hex", nil, 400, nil)

			// Tag autocomplete: v2 scoped names and typed values, v1 lists.
			var tags struct {
				Scopes []struct {
					Name string   `json:"name"`
					Tags []string `json:"tags"`
				} `json:"scopes"`
			}
			tempoGet(t, base, "/api/v2/search/tags?scope=resource"+window, nil, 200, &tags)
			if len(tags.Scopes) != 1 || tags.Scopes[0].Name != "resource" || !contains(tags.Scopes[0].Tags, "service.name") {
				t.Errorf("v2 resource tags %+v", tags)
			}
			tags.Scopes = nil
			tempoGet(t, base, "/api/v2/search/tags"+strings.Replace(window, "&", "?", 1), nil, 200, &tags)
			scopes := map[string][]string{}
			for _, sc := range tags.Scopes {
				scopes[sc.Name] = sc.Tags
			}
			if !contains(scopes["span"], "http.status_code") || !contains(scopes["intrinsic"], "duration") || !contains(scopes["intrinsic"], "status") {
				t.Errorf("v2 tags %v", scopes)
			}
			var v1tags struct {
				TagNames []string `json:"tagNames"`
			}
			tempoGet(t, base, "/api/search/tags", nil, 200, &v1tags)
			if !contains(v1tags.TagNames, "service.name") || !contains(v1tags.TagNames, "db.system") {
				t.Errorf("v1 tags %v", v1tags.TagNames)
			}
			var vals struct {
				TagValues []struct {
					Type  string `json:"type"`
					Value string `json:"value"`
				} `json:"tagValues"`
			}
			tempoGet(t, base, "/api/v2/search/tag/resource.service.name/values?q="+url.QueryEscape(`{ status = error }`)+window, nil, 200, &vals)
			if len(vals.TagValues) != 2 || vals.TagValues[0] != (struct {
				Type  string `json:"type"`
				Value string `json:"value"`
			}{"string", "frontend"}) {
				t.Errorf("v2 values of resource.service.name %+v", vals.TagValues)
			}
			vals.TagValues = nil
			tempoGet(t, base, "/api/v2/search/tag/span.http.status_code/values", nil, 200, &vals)
			if len(vals.TagValues) != 2 || vals.TagValues[0].Type != "int" || vals.TagValues[0].Value != "200" {
				t.Errorf("v2 int values %+v", vals.TagValues)
			}
			vals.TagValues = nil
			tempoGet(t, base, "/api/v2/search/tag/status/values", nil, 200, &vals)
			if len(vals.TagValues) != 2 || vals.TagValues[0].Type != "keyword" {
				t.Errorf("v2 status values %+v", vals.TagValues)
			}
			var v1vals struct {
				TagValues []string `json:"tagValues"`
			}
			tempoGet(t, base, "/api/search/tag/service.name/values", nil, 200, &v1vals)
			if strings.Join(v1vals.TagValues, ",") != "frontend,payment" {
				t.Errorf("v1 values %v", v1vals.TagValues)
			}
			tempoGet(t, base, "/api/v2/search/tag/"+url.PathEscape("{{")+"/values", nil, 400, nil)

			// TraceQL metrics: range and instant.
			var qr struct {
				Series []struct {
					Labels []struct {
						Key   string         `json:"key"`
						Value map[string]any `json:"value"`
					} `json:"labels"`
					Samples []struct {
						TimestampMs string  `json:"timestampMs"`
						Value       float64 `json:"value"`
					} `json:"samples"`
					PromLabels string `json:"promLabels"`
					Exemplars  []struct {
						Labels []struct {
							Key   string         `json:"key"`
							Value map[string]any `json:"value"`
						} `json:"labels"`
						Value       float64 `json:"value"`
						TimestampMs string  `json:"timestampMs"`
					} `json:"exemplars"`
				} `json:"series"`
			}
			mstart, mend := strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10), strconv.FormatInt(now.Unix(), 10)
			tempoGet(t, base, "/api/metrics/query_range?q="+url.QueryEscape(`{ status = error } | count_over_time() by (resource.service.name)`)+"&start="+mstart+"&end="+mend+"&step=60s", nil, 200, &qr)
			if len(qr.Series) != 2 || qr.Series[0].PromLabels != `{resource.service.name="frontend"}` {
				t.Fatalf("query_range series %+v", qr.Series)
			}
			total := 0.0
			for _, smp := range qr.Series[0].Samples {
				if _, err := strconv.ParseInt(smp.TimestampMs, 10, 64); err != nil {
					t.Errorf("timestampMs %q", smp.TimestampMs)
				}
				total += smp.Value
			}
			// Ten minutes in steps of a minute; the start is aligned down to
			// the step, which may add one sample.
			if n := len(qr.Series[0].Samples); total != 2 || n < 10 || n > 11 {
				t.Errorf("frontend errors: total %v over %d samples, want 2 over 10 or 11", total, n)
			}
			// Exemplars lead Grafana from a point of the graph to a trace.
			if ex := qr.Series[0].Exemplars; len(ex) != 1 || len(ex[0].Labels) == 0 || ex[0].Labels[0].Key != "trace:id" ||
				ex[0].Labels[0].Value["stringValue"] != checkoutHex || ex[0].Value != 2 {
				t.Errorf("exemplars %+v", ex)
			}
			qr.Series = nil
			tempoGet(t, base, "/api/metrics/query_range?q="+url.QueryEscape(`{ kind = server } | quantile_over_time(duration, 0.9)`)+"&start="+mstart+"&end="+mend+"&step=5m", nil, 200, &qr)
			if len(qr.Series) != 1 || len(qr.Series[0].Labels) != 1 || qr.Series[0].Labels[0].Key != "p" {
				t.Errorf("quantile series %+v", qr.Series)
			}
			var qi struct {
				Series []struct {
					Value      float64 `json:"value"`
					PromLabels string  `json:"promLabels"`
				} `json:"series"`
			}
			tempoGet(t, base, "/api/metrics/query?q="+url.QueryEscape(`{ } | count_over_time()`)+"&start="+mstart+"&end="+mend, nil, 200, &qi)
			if len(qi.Series) != 1 || qi.Series[0].Value != 5 {
				t.Errorf("instant %+v", qi.Series)
			}
			tempoGet(t, base, "/api/metrics/query_range?q="+url.QueryEscape(`{ }`), nil, 400, nil)
			tempoGet(t, base, "/api/metrics/query_range?q="+url.QueryEscape(`{ } | rate()`)+"&step=1ms", nil, 400, nil)
		})
	}
	// The engine counts its queries.
	for _, kind := range []string{"search", "metrics", "tags", "tag_values"} {
		if n := s.Metric(t, `clew_query_engine_queries_total{kind="`+kind+`",outcome="ok"}`); n < 2 {
			t.Errorf("clew_query_engine_queries_total{kind=%q,outcome=ok} = %v, want at least 2", kind, n)
		}
	}
}

func countSpans(n int, per func(int) int) int {
	total := 0
	for i := 0; i < n; i++ {
		total += per(i)
	}
	return total
}
