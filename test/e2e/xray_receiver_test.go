package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"
)

const xrayRules = `
receivers:
  xray:
    sampling_rules:
      - name: checkout-all
        priority: 1
        reservoir_size: 10
        fixed_rate: 1
        service_name: checkout
      - name: never
        priority: 2
        reservoir_size: 0
        fixed_rate: 0
        service_name: skipped
`

// xrayTraceID converts an X-Ray trace id to the 32 hex digits Clew uses.
func xrayTraceID(id string) string { return strings.ReplaceAll(strings.TrimPrefix(id, "1-"), "-", "") }

// xrayMicros is the time the SDK sent (float seconds, as its JSON encoder
// writes them) in µs, computed from the decimal digits.
func xrayMicros(t *testing.T, sec float64) uint64 {
	t.Helper()
	b, _ := json.Marshal(sec)
	return decimalNanos(t, string(b)) / 1000
}

func xrayDuration(t *testing.T, start, end float64) uint64 {
	t.Helper()
	b1, _ := json.Marshal(start)
	b2, _ := json.Marshal(end)
	return (decimalNanos(t, string(b2)) - decimalNanos(t, string(b1))) / 1000
}

func decimalNanos(t *testing.T, s string) uint64 {
	t.Helper()
	ip, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	sec, err1 := strconv.ParseUint(ip, 10, 64)
	ns, err2 := strconv.ParseUint(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("time %s", s)
	}
	return sec*1e9 + ns
}

func TestXRayReceiverWithSDK(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "clew.yaml")
	if err := os.WriteFile(cfg, []byte(xrayRules), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Start(t, "--config="+cfg)
	udp, tcp := s.Addr("receivers.xray.udp-addr"), s.Addr("receivers.xray.tcp-addr")

	xray.SetLogger(xraylog.NewDefaultLogger(io.Discard, xraylog.LogLevelError))
	strategy, err := sampling.NewCentralizedStrategy()
	if err != nil {
		t.Fatal(err)
	}
	configure := func(streamAbove int) {
		streaming, err := xray.NewDefaultStreamingStrategyWithMaxSubsegmentCount(streamAbove)
		if err != nil {
			t.Fatal(err)
		}
		if err := xray.Configure(xray.Config{
			DaemonAddr:        fmt.Sprintf("tcp:%s udp:%s", tcp, udp),
			ServiceVersion:    "1.4.2",
			SamplingStrategy:  strategy,
			StreamingStrategy: streaming,
		}); err != nil {
			t.Fatal(err)
		}
	}
	configure(20)

	// The SDK polls the rules from Clew's TCP endpoint and applies them.
	Eventually(t, 10*time.Second, func() error {
		d := strategy.ShouldTrace(&sampling.Request{ServiceName: "skipped", Host: "h", Method: "GET", URL: "/"})
		if d.Rule == nil || *d.Rule != "never" || d.Sample {
			return fmt.Errorf("decision for service skipped: %+v (rules not fetched from Clew yet)", d)
		}
		return nil
	})
	if d := strategy.ShouldTrace(&sampling.Request{ServiceName: "checkout", Host: "h", Method: "POST", URL: "/cart"}); d.Rule == nil || *d.Rule != "checkout-all" || !d.Sample {
		t.Fatalf("decision for service checkout: %+v", d)
	}

	t.Run("segment with embedded subsegments", func(t *testing.T) {
		ctx, seg := xray.BeginSegment(context.Background(), "checkout")
		seg.GetHTTP().GetRequest().Method = "POST"
		seg.GetHTTP().GetRequest().URL = "http://shop.example/cart"
		seg.GetHTTP().GetRequest().ClientIP = "10.1.2.3"
		_ = seg.AddAnnotation("customer", "acme")
		_ = seg.AddAnnotation("items", 3)
		_ = seg.AddAnnotation("vip", true)
		_ = seg.AddMetadata("cart", map[string]any{"total": 42.5})

		_, db := xray.BeginSubsegment(ctx, "orders@db.internal")
		db.Namespace = "remote"
		db.GetSQL().SanitizedQuery = "SELECT * FROM orders WHERE id = ?"
		db.GetSQL().DatabaseType = "PostgreSQL"
		time.Sleep(2 * time.Millisecond)
		db.Close(nil)

		_, pay := xray.BeginSubsegment(ctx, "payments")
		pay.Namespace = "remote"
		time.Sleep(3 * time.Millisecond)
		pay.Close(errors.New("card declined"))

		seg.GetHTTP().GetResponse().Status = 502
		seg.Close(nil)
		if !seg.Sampled {
			t.Fatal("segment not sampled by rule checkout-all")
		}

		tr := getJaegerTrace(t, s, xrayTraceID(seg.TraceID), 3)
		for _, sp := range tr.Spans {
			if svc := tr.Processes[sp.ProcessID].ServiceName; svc != "checkout" {
				t.Errorf("span %s: service %q, want checkout (embedded subsegments inherit it)", sp.OperationName, svc)
			}
			switch sp.OperationName {
			case "checkout":
				if sp.SpanID != seg.ID || len(sp.References) != 0 {
					t.Errorf("segment: id %s refs %v", sp.SpanID, sp.References)
				}
				if sp.StartTime != xrayMicros(t, seg.StartTime) || sp.Duration != xrayDuration(t, seg.StartTime, seg.EndTime) {
					t.Errorf("segment: start %d duration %d, want %d and %d", sp.StartTime, sp.Duration, xrayMicros(t, seg.StartTime), xrayDuration(t, seg.StartTime, seg.EndTime))
				}
				wantTags(t, "segment", sp.Tags, map[string]string{
					"span.kind":                 "string:server",
					"http.method":               "string:POST",
					"http.status_code":          "int64:502",
					"customer":                  "string:acme",
					"items":                     "int64:3",
					"vip":                       "bool:true",
					"error":                     "bool:true",
					"aws.xray.metadata.default": `string:{"cart":{"total":42.5}}`,
				})
			case "orders@db.internal":
				if sp.SpanID != db.ID || len(sp.References) != 1 || sp.References[0].SpanID != seg.ID {
					t.Errorf("db subsegment: id %s refs %v", sp.SpanID, sp.References)
				}
				if sp.Duration != xrayDuration(t, db.StartTime, db.EndTime) {
					t.Errorf("db subsegment duration %d, want %d", sp.Duration, xrayDuration(t, db.StartTime, db.EndTime))
				}
				wantTags(t, "db subsegment", sp.Tags, map[string]string{
					"span.kind":    "string:client",
					"db.statement": "string:SELECT * FROM orders WHERE id = ?",
					"db.system":    "string:PostgreSQL",
				})
			case "payments":
				wantTags(t, "payments subsegment", sp.Tags, map[string]string{
					"span.kind":        "string:client",
					"error":            "bool:true",
					"otel.status_code": "string:ERROR",
					"aws.xray.fault":   "bool:true",
				})
				if len(sp.Logs) != 1 {
					t.Fatalf("payments logs %+v, want one exception event", sp.Logs)
				}
				f := tagMap(sp.Logs[0].Fields)
				if f["event"] != "string:exception" || f["exception.message"] != "string:card declined" || !strings.HasPrefix(f["exception.stacktrace"], "string:errors.errorString: card declined\n\tat ") {
					t.Errorf("exception event %v", f)
				}
			default:
				t.Errorf("unexpected span %q", sp.OperationName)
			}
		}
		procTags := tagMap(tr.Processes[tr.Spans[0].ProcessID].Tags)
		if procTags["service.version"] != "string:1.4.2" || procTags["telemetry.sdk.language"] != "string:go" {
			t.Errorf("process tags %v", procTags)
		}
	})

	t.Run("streamed subsegments before their segment", func(t *testing.T) {
		configure(1)
		ctx, seg := xray.BeginSegment(context.Background(), "checkout")
		for _, name := range []string{"lookup", "reserve", "notify"} {
			_, sub := xray.BeginSubsegment(ctx, name)
			time.Sleep(time.Millisecond)
			sub.Close(nil)
		}
		seg.Close(nil)
		tr := getJaegerTrace(t, s, xrayTraceID(seg.TraceID), 4)
		for _, sp := range tr.Spans {
			if svc := tr.Processes[sp.ProcessID].ServiceName; svc != "checkout" {
				t.Errorf("span %s: service %q, want checkout", sp.OperationName, svc)
			}
			if sp.OperationName != "checkout" && (len(sp.References) != 1 || sp.References[0].SpanID != seg.ID) {
				t.Errorf("span %s refs %v", sp.OperationName, sp.References)
			}
		}
	})

	// The SDK reports statistics every ~10s; Clew answers with targets
	// and counts them.
	Eventually(t, 25*time.Second, func() error {
		if got := s.Metric(t, `clew_xray_sampling_requests_total{rule="checkout-all"}`); got < 1 {
			return fmt.Errorf("sampling statistics for checkout-all: %v", got)
		}
		return nil
	})
}

func TestXRayReceiverBadInputAndInProgress(t *testing.T) {
	s := Start(t)
	conn, err := net.Dial("udp", s.Addr("receivers.xray.udp-addr"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range []string{
		"garbage",
		`{"format":"json","version":1}` + "\n{",
		`{"format":"json","version":1}` + "\n" + `{"name":"x","id":"short","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1}`,
	} {
		conn.Write([]byte(d))
	}
	Eventually(t, 5*time.Second, func() error {
		if got := s.Metric(t, `clew_receiver_spans_refused_total{reason="malformed",receiver="xray"}`); got != 3 {
			return fmt.Errorf("refused malformed = %v, want 3", got)
		}
		return nil
	})

	// An in-progress segment is held; its completion replaces it.
	start := time.Now().Add(-time.Minute)
	startS := fmt.Sprintf("%d.250000", start.Unix())
	begin := `{"format":"json","version":1}` + "\n" + `{"name":"orders-api","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":` + startS + `,"in_progress":true}`
	done := `{"format":"json","version":1}` + "\n" + `{"name":"orders-api","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":` + startS + `,"end_time":` + fmt.Sprintf("%d.261234", start.Unix()) + `,"fault":true,"cause":{"exceptions":[{"id":"0123456789abcdef","type":"IOError","message":"disk gone","stack":[{"path":"app.py","line":12,"label":"save"}]}]}}`
	conn.Write([]byte(begin))
	Eventually(t, 5*time.Second, func() error {
		if got := s.Metric(t, `clew_xray_pending_documents`); got != 1 {
			return fmt.Errorf("pending documents = %v, want 1", got)
		}
		return nil
	})
	if code := GetJSON(t, s.QueryURL()+"/api/traces/581cf771a006649127e371903a2de979", nil); code != http.StatusNotFound {
		t.Errorf("in-progress segment visible before completion: %d", code)
	}
	conn.Write([]byte(done))
	tr := getJaegerTrace(t, s, "581cf771a006649127e371903a2de979", 1)
	sp := tr.Spans[0]
	if sp.Duration != 11234 {
		t.Errorf("duration %dµs, want 11234", sp.Duration)
	}
	if m := tagMap(sp.Tags); m["error"] != "bool:true" || m["aws.xray.inprogress"] != "" {
		t.Errorf("tags %v", m)
	}
	if len(sp.Logs) != 1 || tagMap(sp.Logs[0].Fields)["exception.stacktrace"] != "string:IOError: disk gone\n\tat save(app.py: 12)\n" {
		t.Errorf("logs %+v", sp.Logs)
	}

	// The sampling endpoint answers malformed requests with 400.
	resp, err := http.Post("http://"+s.Addr("receivers.xray.tcp-addr")+"/GetSamplingRules", "application/json", strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("malformed GetSamplingRules: %d", resp.StatusCode)
	}
}

func TestXRayReceiverSwitchedOff(t *testing.T) {
	s := Start(t, "--receivers.xray.enabled=false")
	if _, err := http.Post("http://"+s.Addr("receivers.xray.tcp-addr")+"/GetSamplingRules", "application/json", strings.NewReader("{}")); err == nil {
		t.Error("the switched-off X-Ray sampling port answers")
	}
}

// TestXRayReceiverOverload floods a tiny queue: every datagram is either
// stored or counted as dropped (by Clew's queue or by the kernel's socket
// buffer), and the receiver keeps working afterwards.
func TestXRayReceiverOverload(t *testing.T) {
	s := Start(t, "--receivers.xray.queue-size=4", "--receivers.xray.workers=1", "--receivers.xray.socket-buffer=64KiB")
	conn, err := net.Dial("udp", s.Addr("receivers.xray.udp-addr"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now().Add(-time.Minute).Unix()
	send := func(i int) {
		d := fmt.Sprintf(`{"format":"json","version":1}`+"\n"+`{"name":"flood","id":"%016x","trace_id":"1-%08x-%024x","start_time":%d.5,"end_time":%d.75}`, i+1, start, i+1, start, start)
		conn.Write([]byte(d))
	}
	const flood = 20000
	for i := range flood {
		send(i)
	}
	// Datagrams read after the flood carry the kernel's final drop count.
	time.Sleep(500 * time.Millisecond)
	for i := flood; i < flood+10; i++ {
		send(i)
		time.Sleep(10 * time.Millisecond)
	}
	const total = flood + 10
	Eventually(t, 10*time.Second, func() error {
		stored := s.Metric(t, `clew_receiver_spans_stored_total{receiver="xray"}`)
		queue := max(0, s.Metric(t, `clew_receiver_spans_refused_total{reason="queue_full",receiver="xray"}`))
		kernel := max(0, s.Metric(t, `clew_receiver_spans_refused_total{reason="kernel_dropped",receiver="xray"}`))
		if stored+queue+kernel != total {
			return fmt.Errorf("stored %v + queue_full %v + kernel_dropped %v != %d sent", stored, queue, kernel, total)
		}
		if queue+kernel == 0 {
			return fmt.Errorf("no drop counted with a queue of 4")
		}
		t.Logf("stored %v, queue_full %v, kernel_dropped %v of %d", stored, queue, kernel, total)
		return nil
	})
	// Still serving.
	tr := getJaegerTrace(t, s, fmt.Sprintf("%08x%024x", start, flood+10), 1)
	if tr.Spans[0].Duration != 250000 {
		t.Errorf("duration %d", tr.Spans[0].Duration)
	}
}
