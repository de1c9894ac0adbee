package xray

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Scenarios: datagrams in testdata/ fed in order, then whatever is still
// held is stored. sdk_* are real captures of aws-xray-sdk-go
// (capture_test.go); the others are hand-written from the X-Ray segment
// document reference, for what the Go SDK does not send.
var scenarios = []struct {
	name  string
	files []string
}{
	{"sdk_embedded", []string{"sdk_embedded_1.datagram"}},
	// Two subsegments streamed before their segment: held, then given the
	// segment's service when it arrives.
	{"sdk_streamed", []string{"sdk_streamed_1.datagram", "sdk_streamed_2.datagram", "sdk_streamed_3.datagram"}},
	// An in-progress segment replaced by its completed version.
	{"inprogress", []string{"inprogress_1.datagram", "inprogress_2.datagram"}},
	{"aws_resources", []string{"aws_resources.datagram"}},
}

// runScenario processes datagrams as the receiver's workers do.
func runScenario(t *testing.T, files []string) []*model.Span {
	t.Helper()
	tr := newTranslator(0)
	h := newHolder(tr, 100, time.Minute)
	now := time.Unix(1800000000, 0)
	var out []*model.Span
	for _, f := range files {
		d, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := splitDatagram(d)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		seg, err := parseSegment(doc)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tdoc, orphanOf := tr.translate(seg)
		out = append(out, h.add(tdoc, orphanOf, now)...)
	}
	if h.len() != 0 {
		t.Errorf("%d documents still held after the scenario", h.len())
	}
	return append(out, h.expire(now, true)...)
}

func TestGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			spans := runScenario(t, sc.files)
			got, err := json.MarshalIndent(render(spans), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", sc.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(string(got))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// render turns spans into plain values with typed attributes, for golden
// files a person can review.
func render(spans []*model.Span) []map[string]any {
	out := make([]map[string]any, 0, len(spans))
	for _, s := range spans {
		m := map[string]any{
			"trace_id":   s.TraceID.String(),
			"span_id":    s.SpanID.String(),
			"parent_id":  s.ParentSpanID.String(),
			"name":       s.Name,
			"kind":       s.Kind.String(),
			"start":      s.StartTimeUnixNano,
			"end":        s.EndTimeUnixNano,
			"status":     s.Status.Code.String(),
			"resource":   renderAttrs(s.Resource.Attributes),
			"attributes": renderAttrs(s.Attributes),
		}
		if s.Status.Message != "" {
			m["status_message"] = s.Status.Message
		}
		var events []map[string]any
		for _, e := range s.Events {
			events = append(events, map[string]any{"name": e.Name, "time": e.TimeUnixNano, "attributes": renderAttrs(e.Attributes)})
		}
		if events != nil {
			m["events"] = events
		}
		out = append(out, m)
	}
	return out
}

func renderAttrs(attrs model.Attributes) []string {
	out := make([]string, 0, len(attrs))
	for _, kv := range attrs {
		out = append(out, kv.Key+" ("+kv.Value.Type().String()+") = "+kv.Value.AsString())
	}
	return out
}
