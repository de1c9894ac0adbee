package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
)

// emitDatadogTrace sends one known trace through dd-trace-go's tracer to
// the agent at addr, and returns the 128-bit trace id and both span ids:
//
//	http.request "GET /checkout" (checkout, server, 45ms, tags of each kind)
//	└── payments.charge "charge card" (payments, client, 30ms, error)
func emitDatadogTrace(t *testing.T, addr string, start time.Time) (traceID string, rootID, childID uint64) {
	t.Helper()
	for k, v := range map[string]string{
		"DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
		"DD_REMOTE_CONFIGURATION_ENABLED":      "false",
		"DD_TRACE_STARTUP_LOGS":                "false",
		"DD_RUNTIME_METRICS_ENABLED":           "false",
	} {
		t.Setenv(k, v)
	}
	if err := tracer.Start(
		tracer.WithAgentAddr(addr),
		tracer.WithService("checkout"),
		tracer.WithEnv("e2e"),
		tracer.WithServiceVersion("1.2.3"),
		tracer.WithLogStartup(false),
	); err != nil {
		t.Fatal(err)
	}
	at := func(us int) time.Time { return start.Add(time.Duration(us) * time.Microsecond) }
	root := tracer.StartSpan("http.request",
		tracer.ResourceName("GET /checkout"),
		tracer.SpanType("web"),
		tracer.Tag("span.kind", "server"),
		tracer.Tag("http.method", "GET"),
		tracer.Tag("cart.items", 3),
		tracer.Tag("cart.total", 42.5),
		tracer.StartTime(start),
	)
	child := tracer.StartSpan("payments.charge",
		tracer.ChildOf(root.Context()),
		tracer.ServiceName("payments"),
		tracer.ResourceName("charge card"),
		tracer.Tag("span.kind", "client"),
		tracer.StartTime(at(1500)),
	)
	child.Finish(tracer.FinishTime(at(31500)), tracer.WithError(errors.New("card declined")))
	root.Finish(tracer.FinishTime(at(45000)))
	traceID, rootID, childID = root.Context().TraceID(), root.Context().SpanID(), child.Context().SpanID()
	tracer.Flush()
	tracer.Stop()
	return traceID, rootID, childID
}

func TestDatadogReceiverWithDDTraceGo(t *testing.T) {
	s := Start(t)
	start := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	id, rootID, childID := emitDatadogTrace(t, s.Addr("receivers.datadog.addr"), start)
	if len(id) != 32 || strings.HasPrefix(id, "0000000000000000") {
		t.Fatalf("want a 128-bit trace id from dd-trace-go, got %q", id)
	}
	tr := getJaegerTrace(t, s, id, 2)
	if tr.TraceID != id {
		t.Errorf("trace id %s, want %s", tr.TraceID, id)
	}
	for _, sp := range tr.Spans {
		service := tr.Processes[sp.ProcessID].ServiceName
		switch sp.SpanID {
		case fmt.Sprintf("%016x", rootID):
			if sp.OperationName != "http.request" || service != "checkout" || len(sp.References) != 0 {
				t.Errorf("root: %s of %s, refs %v", sp.OperationName, service, sp.References)
			}
			if sp.StartTime != uint64(start.UnixMicro()) || sp.Duration != 45000 {
				t.Errorf("root: start %d duration %d, want %d and 45000µs", sp.StartTime, sp.Duration, start.UnixMicro())
			}
			wantTags(t, "root", sp.Tags, map[string]string{
				"span.kind":        "string:server",
				"dd.span.Resource": "string:GET /checkout",
				"http.method":      "string:GET",
				"cart.items":       "float64:3",
				"cart.total":       "float64:42.5",
				"datadog.span.id":  fmt.Sprintf("string:%d", rootID),
			})
			if m := tagMap(sp.Tags); m["error"] != "" {
				t.Errorf("root has an error tag: %v", m)
			}
		case fmt.Sprintf("%016x", childID):
			if sp.OperationName != "payments.charge" || service != "payments" {
				t.Errorf("child: %s of %s", sp.OperationName, service)
			}
			if len(sp.References) != 1 || sp.References[0].SpanID != fmt.Sprintf("%016x", rootID) || sp.References[0].TraceID != id {
				t.Errorf("child references %+v", sp.References)
			}
			if sp.StartTime != uint64(start.UnixMicro())+1500 || sp.Duration != 30000 {
				t.Errorf("child: start %d duration %d", sp.StartTime, sp.Duration)
			}
			wantTags(t, "child", sp.Tags, map[string]string{
				"span.kind":        "string:client",
				"dd.span.Resource": "string:charge card",
				"error":            "bool:true",
				"otel.status_code": "string:ERROR",
			})
			if len(sp.Logs) != 1 {
				t.Fatalf("child logs %+v, want one exception event", sp.Logs)
			}
			fields := tagMap(sp.Logs[0].Fields)
			if fields["event"] != "string:exception" || fields["exception.message"] != "string:card declined" || fields["exception.type"] != "string:*errors.errorString" {
				t.Errorf("exception event %v", fields)
			}
			if sp.Logs[0].Timestamp != uint64(start.UnixMicro())+31500 {
				t.Errorf("exception event at %d, want the span end", sp.Logs[0].Timestamp)
			}
		default:
			t.Errorf("unexpected span %s", sp.SpanID)
		}
	}
	resTags := map[string]string{}
	for _, p := range tr.Processes {
		if p.ServiceName == "checkout" {
			resTags = tagMap(p.Tags)
		}
	}
	for k, want := range map[string]string{"deployment.environment": "string:e2e", "service.version": "string:1.2.3", "telemetry.sdk.language": "string:go", "telemetry.sdk.name": "string:Datadog"} {
		if resTags[k] != want {
			t.Errorf("process tag %s = %q, want %q (all %v)", k, resTags[k], want, resTags)
		}
	}
	if got := s.Metric(t, `clew_receiver_spans_stored_total{receiver="datadog"}`); got != 2 {
		t.Errorf("datadog stored %v spans, want 2", got)
	}
}

func ddDo(t *testing.T, method, url, contentType string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDatadogReceiverV05AndBadInput(t *testing.T) {
	s := Start(t, "--limits.max-request-bytes=64KiB")
	base := "http://" + s.Addr("receivers.datadog.addr")

	// dd-trace-js's v0.5 payload (string table), as captured.
	v05, err := os.ReadFile(filepath.Join(repoRoot(), "internal/receiver/datadog/testdata/v05_ddtracejs.msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	code, body := ddDo(t, "PUT", base+"/v0.5/traces", "application/msgpack", v05)
	if code != 200 || !strings.Contains(body, `"rate_by_service"`) {
		t.Fatalf("v0.5: %d %q", code, body)
	}
	tr := getJaegerTrace(t, s, "6b0133550000000049414cfaa4e699b1", 2)
	services := map[string]string{}
	for _, sp := range tr.Spans {
		services[sp.OperationName] = tr.Processes[sp.ProcessID].ServiceName
		if sp.OperationName == "redis.command" && sp.Duration != 5500 {
			t.Errorf("redis.command duration %dµs, want 5500", sp.Duration)
		}
	}
	if services["express.request"] != "frontend" || services["redis.command"] != "frontend-redis" {
		t.Errorf("services %v", services)
	}

	// /info advertises the trace endpoints.
	var info struct {
		Endpoints []string `json:"endpoints"`
	}
	if code := GetJSON(t, base+"/info", &info); code != 200 || !contains(info.Endpoints, "/v0.5/traces") || !contains(info.Endpoints, "/v0.4/traces") {
		t.Errorf("/info: %d %v", code, info.Endpoints)
	}
	// Side endpoints answer calmly.
	for path, want := range map[string]int{"/v0.6/stats": 200, "/telemetry/proxy/api/v2/apmtelemetry": 202, "/dogstatsd/v2/proxy": 200, "/v0.7/config": 404} {
		if code, _ := ddDo(t, "POST", base+path, "application/json", []byte("{}")); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
	// Bad bodies: 400 with a message, 413; counted per reason.
	if code, msg := ddDo(t, "PUT", base+"/v0.4/traces", "application/msgpack", []byte{0x91, 0x91, 0xc1}); code != 400 || !strings.Contains(msg, "msgpack") {
		t.Errorf("malformed: %d %q", code, msg)
	}
	if code, msg := ddDo(t, "PUT", base+"/v0.4/traces", "application/msgpack", make([]byte, 65<<10)); code != 413 {
		t.Errorf("oversized: %d %q", code, msg)
	}
	if got := s.Metric(t, `clew_receiver_spans_refused_total{reason="malformed",receiver="datadog"}`); got != 1 {
		t.Errorf("refused malformed = %v, want 1", got)
	}
	if got := s.Metric(t, `clew_receiver_spans_refused_total{reason="too_large",receiver="datadog"}`); got != 1 {
		t.Errorf("refused too_large = %v, want 1", got)
	}
	// The receiver still serves after bad input.
	if code, _ := ddDo(t, "PUT", base+"/v0.4/traces", "application/msgpack", []byte{0x90}); code != 200 {
		t.Errorf("after bad input: %d", code)
	}
}

func TestDatadogReceiverSwitchedOff(t *testing.T) {
	s := Start(t, "--receivers.datadog.enabled=false")
	if _, err := http.Get("http://" + s.Addr("receivers.datadog.addr") + "/info"); err == nil {
		t.Error("the switched-off Datadog port answers")
	}
}
