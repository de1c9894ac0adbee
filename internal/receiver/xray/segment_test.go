package xray

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/clew-dev/clew/internal/model"
)

func TestParseSeconds(t *testing.T) {
	f := func(in string, want uint64) {
		t.Helper()
		got, err := parseSeconds(json.Number(in))
		if err != nil || got != want {
			t.Errorf("parseSeconds(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	f("1795241229.0990784", 1795241229099078400)
	f("1478293361.271", 1478293361271000000)
	f("1478293361", 1478293361000000000)
	f("1478293361.000001", 1478293361000001000)
	f("1478293361.1234567894", 1478293361123456789)
	f("1478293361.1234567895", 1478293361123456790)
	f("1.602537377E9", 1602537377000000000)
	f("0.5", 500000000)
	for _, bad := range []string{"", "abc", "1.2.3", "-5", "12345678901.5", "1.x", "1e99"} {
		if _, err := parseSeconds(json.Number(bad)); err == nil {
			t.Errorf("parseSeconds(%q) accepted", bad)
		}
	}
}

func TestParseTraceID(t *testing.T) {
	got, err := parseTraceID("1-5759e988-bd862e3fe1be46a994272793")
	if err != nil || got.String() != "5759e988bd862e3fe1be46a994272793" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "2-5759e988-bd862e3fe1be46a994272793", "1-5759e988bd862e3fe1be46a994272793", "1-5759e98x-bd862e3fe1be46a994272793", "1-5759e988-bd862e3fe1be46a99427279"} {
		if _, err := parseTraceID(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("parseTraceID(%q): %v, want ErrMalformed", bad, err)
		}
	}
}

func TestSplitDatagram(t *testing.T) {
	for _, h := range []string{`{"format":"json","version":1}`, `{"format": "json", "version": 1}`, ` { "version" : 1 , "format" : "json" } `} {
		doc, err := splitDatagram([]byte(h + "\n{}"))
		if err != nil || string(doc) != "{}" {
			t.Errorf("header %q: %q, %v", h, doc, err)
		}
	}
	for _, d := range []string{"", "{}", `{"format":"json","version":1}`, `{"format":"xml","version":1}` + "\n{}", `{"format":"json","version":2}` + "\n{}", "garbage\n{}"} {
		if _, err := splitDatagram([]byte(d)); !errors.Is(err, ErrMalformed) {
			t.Errorf("datagram %q: %v, want ErrMalformed", d, err)
		}
	}
}

func TestParseSegmentRejects(t *testing.T) {
	const ok = `"trace_id":"1-581cf771-a006649127e371903a2de979","id":"70de5b6f19ff9a0a","name":"a","start_time":1478293361.271`
	if _, err := parseSegment([]byte("{" + ok + "}")); err != nil {
		t.Fatalf("valid segment rejected: %v", err)
	}
	f := func(doc, want string) {
		t.Helper()
		_, err := parseSegment([]byte(doc))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrMalformed mentioning %q", doc, err, want)
		}
	}
	f(`[1]`, "cannot unmarshal")
	f(`{"id":"70de5b6f19ff9a0a","name":"a","start_time":1}`, "no trace_id")
	f(`{"trace_id":"1-581cf771-a006649127e371903a2de979","name":"a","start_time":1}`, "no id")
	f(`{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"70de5b6f19ff9a0a","start_time":1}`, "no name")
	f(`{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"70de5b6f19ff9a0a","name":"a"}`, "no start_time")
	f(`{"trace_id":"x","id":"70de5b6f19ff9a0a","name":"a","start_time":1}`, "trace_id")
	f(`{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"70de5b","name":"a","start_time":1}`, "16 hex digits")
	f(`{`+ok+`,"parent_id":"zz"}`, "parent_id")
	f(`{`+ok+`,"end_time":"soon"}`, "Number")
	f(`{`+ok+`,"end_time":12345678901}`, "end_time")
	f(`{`+ok+`,"subsegments":[{"id":"70de5b6f19ff9a0b","start_time":1}]}`, "no name")
	deep := strings.Repeat(`{"name":"s","id":"70de5b6f19ff9a0b","start_time":1,"subsegments":[`, 70) + strings.Repeat("]}", 70)
	f(`{`+ok+`,"subsegments":[`+deep+`]}`, "nested deeper")
}

func TestTranslateRules(t *testing.T) {
	doc := func(extra string) *model.Span {
		t.Helper()
		seg, err := parseSegment([]byte(`{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"70de5b6f19ff9a0a","name":"svc","start_time":10,"end_time":11` + extra + `}`))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := newTranslator(0).translate(seg)
		return d.spans[0]
	}
	if s := doc(`,"http":{"response":{"status":404}}`); s.Status.Code != model.StatusError {
		t.Errorf("404 status: %v", s.Status)
	}
	if s := doc(`,"http":{"response":{"status":302}}`); s.Status.Code != model.StatusUnset {
		t.Errorf("302 status: %v", s.Status)
	}
	if s := doc(`,"fault":false,"error":false`); s.Status.Code != model.StatusUnset || len(s.Attributes) != 0 {
		t.Errorf("false flags: %v %v", s.Status, s.Attributes)
	}
	if s := doc(`,"namespace":"something-new"`); s.Kind != model.SpanKindClient {
		t.Errorf("unknown namespace: kind %v, want client", s.Kind)
	}
	if s := doc(`,"annotations":{"n":null,"o":{"a":1},"big":12345678901234,"f":1e3}`); true {
		big, _ := s.Attributes.Get("big")
		f, _ := s.Attributes.Get("f")
		keys, _ := s.Attributes.Get(AttrAnnotations)
		if big.Type() != model.ValueInt || big.Int() != 12345678901234 || f.Type() != model.ValueDouble || keys.AsString() != `["big","f"]` {
			t.Errorf("annotations: big %v f %v keys %s", big, f, keys.AsString())
		}
	}
	if s := doc(`,"in_progress":true`); s.EndTimeUnixNano != 11e9 {
		t.Errorf("in_progress with an end_time: end %d", s.EndTimeUnixNano)
	}
	seg, _ := parseSegment([]byte(`{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"70de5b6f19ff9a0a","name":"svc","start_time":10,"in_progress":true}`))
	d, _ := newTranslator(0).translate(seg)
	if !d.inProgress || d.spans[0].EndTimeUnixNano != d.spans[0].StartTimeUnixNano {
		t.Errorf("in-progress document: %+v", d)
	}
}
