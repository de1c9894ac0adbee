package zipkin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/receiver/receivertest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenPayloads decodes the captured zipkin-go payloads (v2 JSON and
// proto3) and a v1 JSON body written after the Zipkin v1 API, and compares
// the spans with their golden renderings.
func TestGoldenPayloads(t *testing.T) {
	for _, tc := range []struct {
		file  string
		f     Format
		spans int
	}{
		{"v2.json", V2JSON, 5},
		{"v2.pb", V2Proto, 5},
		{"v1.json", V1JSON, 3},
	} {
		t.Run(tc.file, func(t *testing.T) {
			spans, err := NewDecoder(false).Decode(tc.f, readTestdata(t, tc.file), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(spans) != tc.spans {
				t.Fatalf("got %d spans, want %d", len(spans), tc.spans)
			}
			name := strings.ReplaceAll(tc.file, ".", "_")
			receivertest.Golden(t, filepath.Join("testdata", name+".want.json"), spans)
		})
	}
}

// TestSharedSpans checks that the server half of a shared span gets its own
// id, is the child of the client half, and is the parent of its local
// children.
func TestSharedSpans(t *testing.T) {
	spans, err := NewDecoder(false).Decode(V2JSON, readTestdata(t, "v2.json"), false)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*model.Span{}
	ids := map[model.SpanID]bool{}
	for _, s := range spans {
		byName[s.ServiceName()+" "+s.Name+" "+s.Kind.String()] = s
		if ids[s.SpanID] {
			t.Errorf("span id %v appears twice", s.SpanID)
		}
		ids[s.SpanID] = true
	}
	client := byName["frontend get /stock client"]
	server := byName["inventory get /stock server"]
	cache := byName["inventory cache lookup "]
	if client == nil || server == nil || cache == nil {
		t.Fatalf("missing spans: %v", byName)
	}
	if server.ParentSpanID != client.SpanID {
		t.Errorf("server parent %v, want the client %v", server.ParentSpanID, client.SpanID)
	}
	if server.SpanID != SharedServerSpanID(client.TraceID, client.SpanID) {
		t.Errorf("server id %v, want SharedServerSpanID", server.SpanID)
	}
	if cache.ParentSpanID != server.SpanID {
		t.Errorf("cache lookup parent %v, want the server half %v", cache.ParentSpanID, server.SpanID)
	}
	// The same body decodes to the same ids: a retried request dedupes.
	again, _ := NewDecoder(false).Decode(V2JSON, readTestdata(t, "v2.json"), false)
	for i := range spans {
		if spans[i].SpanID != again[i].SpanID {
			t.Fatal("decoding is not deterministic")
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	d := NewDecoder(false)
	f := func(name string, fm Format, body string) {
		t.Helper()
		if _, err := d.Decode(fm, []byte(body), false); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	f("v2 not JSON", V2JSON, "nope")
	f("v2 object", V2JSON, `{"traceId":"1"}`)
	f("v2 bad trace id", V2JSON, `[{"traceId":"xyz","id":"1"}]`)
	f("v2 bad proto", V2Proto, "\x0a\xff\xff")
	f("v1 not JSON", V1JSON, "[")
	f("v1 bad id", V1JSON, `[{"traceId":"1","id":"zz"}]`)
	f("v1 thrift garbage", V1Thrift, "garbage")
}

func TestV1Thrift(t *testing.T) {
	spans, err := NewDecoder(false).Decode(V1Thrift, v1ThriftSeed(t), false)
	if err != nil {
		t.Fatal(err)
	}
	receivertest.Golden(t, "testdata/v1_thrift.want.json", spans)
	// A list header claiming more spans than the body could hold is
	// refused before the Collector's decoder runs.
	if _, err := NewDecoder(false).Decode(V1Thrift, []byte{0x0c, 0x7f, 0xff, 0xff, 0xff}, false); err == nil {
		t.Error("huge list accepted")
	}
	if got := Format(42).String(); got != "format 42" {
		t.Errorf("Format(42) = %q", got)
	}
}

func TestSharedSpanAlone(t *testing.T) {
	// The server half arrives without its client half, with a local child
	// and a span of another service naming the shared id as parent.
	body := `[
	  {"traceId":"00000000000000aa","id":"00000000000000bb","parentId":"00000000000000a0","name":"s","kind":"SERVER","shared":true,
	   "timestamp":1700000000000000,"duration":10,"localEndpoint":{"serviceName":"api"}},
	  {"traceId":"00000000000000aa","id":"00000000000000cc","parentId":"00000000000000bb","name":"local",
	   "timestamp":1700000000000001,"duration":5,"localEndpoint":{"serviceName":"api"}},
	  {"traceId":"00000000000000aa","id":"00000000000000dd","parentId":"00000000000000bb","name":"elsewhere",
	   "timestamp":1700000000000001,"duration":5,"localEndpoint":{"serviceName":"other"}},
	  {"traceId":"00000000000000aa","id":"00000000000000ee","name":"not shared","kind":"SERVER",
	   "timestamp":1700000000000000,"duration":10,"localEndpoint":{"serviceName":"api"}}]`
	spans, err := NewDecoder(false).Decode(V2JSON, []byte(body), false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, s := range spans {
		got[s.Name] = [2]string{s.SpanID.String(), s.ParentSpanID.String()}
	}
	tid, _ := model.ParseTraceID("aa")
	bb, _ := model.ParseSpanID("bb")
	moved := SharedServerSpanID(tid, bb).String()
	want := map[string][2]string{
		"s":          {moved, "00000000000000bb"},
		"local":      {"00000000000000cc", moved},
		"elsewhere":  {"00000000000000dd", "00000000000000bb"},
		"not shared": {"00000000000000ee", "0000000000000000"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

// TestNullElements: zipkin-go and the Collector's v1 decoder dereference
// null list elements; Decode turns that into an error.
func TestNullElements(t *testing.T) {
	for _, c := range []struct {
		f    Format
		body string
	}{
		{V2JSON, `[{"traceId":"1","id":"1","annotations":[null]}]`},
		{V1JSON, `[null]`},
		{V1JSON, `[{"traceId":"0000000000000001","id":"0000000000000001","binaryAnnotations":[null]}]`},
	} {
		_, err := NewDecoder(false).Decode(c.f, []byte(c.body), false)
		if !errors.Is(err, ErrDecoderPanic) {
			t.Errorf("%s %s: err = %v, want ErrDecoderPanic", c.f, c.body, err)
		}
	}
}

// TestFastPathTakesCommonBodies makes sure the v2 JSON fast path is used
// for what clients send, and leaves the odd cases to encoding/json.
func TestFastPathTakesCommonBodies(t *testing.T) {
	f := func(body string, want bool) {
		t.Helper()
		if _, ok := parseV2JSON([]byte(body)); ok != want {
			t.Errorf("parseV2JSON(%.60q) ok = %v, want %v", body, ok, want)
		}
	}
	f(string(readTestdata(t, "v2.json")), true)
	f(`[]`, true)
	f(`null`, true)
	f(`[{"traceId":"1","id":"1","name":"caf\u00e9","tags":{"a\nb":"c"}}]`, true)
	f(`[{"traceId":"1","id":"1","localEndpoint":{"SERVICENAME":"x"}}]`, true)
	f(`[{"traceId":"1","id":"1","TraceId":"2"}]`, false)        // a case variant of a field
	f(`[{"traceId":"1","id":"1","timestamp":1.5}]`, false)      // not an unsigned integer
	f(`[{"traceId":"1","id":"0"}]`, false)                      // zipkin-go's error
	f(`[{"traceId":"1","id":"1","annotations":[null]}]`, false) // zipkin-go's panic
	f(`[{"traceId":"1","id":"1","tags":{"a":1}}]`, false)       // a tag that is not a string
	f(`[{"traceId":"1","id":"1","localEndpoint":{"ipv4":"x"}}]`, false)
	f(`[{"traceId":"1","id":"1"}`, false) // invalid JSON
}
