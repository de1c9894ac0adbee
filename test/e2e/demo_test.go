package e2e

import (
	"fmt"
	"net/url"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The parts of Jaeger API v1's JSON the demo test reads.
type jgTrace struct {
	TraceID   string               `json:"traceID"`
	Spans     []jgSpan             `json:"spans"`
	Processes map[string]jgProcess `json:"processes"`
}

type jgSpan struct {
	TraceID       string  `json:"traceID"`
	SpanID        string  `json:"spanID"`
	OperationName string  `json:"operationName"`
	References    []jgRef `json:"references"`
	StartTime     int64   `json:"startTime"`
	Duration      int64   `json:"duration"`
	Tags          []jgKV  `json:"tags"`
	Logs          []struct {
		Fields []jgKV `json:"fields"`
	} `json:"logs"`
	ProcessID string `json:"processID"`
}

type jgRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jgKV struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type jgProcess struct {
	ServiceName string `json:"serviceName"`
}

func (s jgSpan) tag(key string) (string, bool) {
	for _, kv := range s.Tags {
		if kv.Key == key {
			return fmt.Sprint(kv.Value), true
		}
	}
	return "", false
}

func (s jgSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" && r.TraceID == s.TraceID {
			return r.SpanID
		}
	}
	return ""
}

// event returns the fields of the span's first log whose event is name.
func (s jgSpan) event(name string) (map[string]string, bool) {
	for _, l := range s.Logs {
		f := map[string]string{}
		for _, kv := range l.Fields {
			f[kv.Key] = fmt.Sprint(kv.Value)
		}
		if f["event"] == name {
			return f, true
		}
	}
	return nil, false
}

func (t jgTrace) service(s jgSpan) string { return t.Processes[s.ProcessID].ServiceName }

// startDemo runs `clew demo` with every server listener on a free port, the
// demo's services on free ports and the given extra arguments.
func startDemo(t *testing.T, args ...string) *Server {
	t.Helper()
	bin := Binary(t)
	s := &Server{Addrs: map[string]string{}, log: &syncBuffer{}, done: make(chan struct{}), t: t}
	full := []string{"demo", "--port-base=0", "--log.level=info", "--storage=memory"}
	for _, f := range listenFlags(t, bin) {
		addr := freePort(t, strings.Contains(f, "udp") || strings.Contains(f, "agent"))
		s.Addrs[f] = addr
		full = append(full, "--"+f+"="+addr)
	}
	full = append(full, args...)
	s.start(t, bin, full)
	return s
}

func findTraces(t *testing.T, s *Server, q url.Values) []jgTrace {
	t.Helper()
	var resp struct {
		Data []jgTrace `json:"data"`
	}
	if code := GetJSON(t, s.QueryURL()+"/api/traces?"+q.Encode(), &resp); code != 200 {
		t.Fatalf("GET /api/traces?%s: HTTP %d", q.Encode(), code)
	}
	return resp.Data
}

func TestDemo(t *testing.T) {
	s := startDemo(t, "--rate=20")
	base := s.QueryURL()

	// Every service reports.
	want := []string{"auth", "donut-cache", "matchmaker", "orders", "orders-worker", "taster"}
	Eventually(t, 20*time.Second, func() error {
		var resp struct {
			Data []string `json:"data"`
		}
		GetJSON(t, base+"/api/services", &resp)
		for _, w := range want {
			if !slices.Contains(resp.Data, w) {
				return fmt.Errorf("services %v lack %q", resp.Data, w)
			}
		}
		return nil
	})

	t.Run("slow pairing route with sequential taster calls", func(t *testing.T) {
		Eventually(t, 20*time.Second, func() error {
			traces := findTraces(t, s, url.Values{"service": {"matchmaker"}, "operation": {"GET /pair/beer"}, "limit": {"20"}})
			var why []string
			for _, tr := range traces {
				if err := checkSequentialTasting(tr); err != nil {
					why = append(why, err.Error())
					continue
				}
				return nil
			}
			return fmt.Errorf("%d pairing traces, none with sequential tastings: %v", len(traces), why)
		})
	})

	t.Run("auth errors", func(t *testing.T) {
		Eventually(t, 20*time.Second, func() error {
			traces := findTraces(t, s, url.Values{"service": {"auth"}, "tags": {`{"error":"true"}`}, "limit": {"20"}})
			for _, tr := range traces {
				for _, sp := range tr.Spans {
					if tr.service(sp) != "auth" || sp.OperationName != "POST /validate" {
						continue
					}
					if code, _ := sp.tag("http.response.status_code"); code != "401" {
						continue
					}
					if e, _ := sp.tag("error"); e != "true" {
						return fmt.Errorf("401 span %s is not an error span", sp.SpanID)
					}
					ev, ok := sp.event("exception")
					if !ok {
						return fmt.Errorf("401 span %s has no exception event", sp.SpanID)
					}
					if !strings.Contains(ev["exception.type"], "TokenExpiredError") || !strings.Contains(ev["exception.message"], "expired") {
						return fmt.Errorf("exception event %v", ev)
					}
					// The caller's client span fails too.
					for _, c := range tr.Spans {
						if c.SpanID == sp.parent() {
							if code, _ := c.tag("http.response.status_code"); code != "401" {
								return fmt.Errorf("caller span %s has status %q", c.OperationName, code)
							}
							return nil
						}
					}
					return fmt.Errorf("401 span %s has no caller span in its trace", sp.SpanID)
				}
			}
			return fmt.Errorf("no auth span with HTTP 401 among %d error traces", len(traces))
		})
	})

	t.Run("linked producer and consumer", func(t *testing.T) {
		var failed bool
		Eventually(t, 20*time.Second, func() error {
			traces := findTraces(t, s, url.Values{"service": {"orders-worker"}, "operation": {"process orders"}, "limit": {"50"}})
			linked := 0
			for _, tr := range traces {
				for _, sp := range tr.Spans {
					if sp.OperationName != "process orders" {
						continue
					}
					if kind, _ := sp.tag("span.kind"); kind != "consumer" {
						return fmt.Errorf("process span kind %q", kind)
					}
					if _, ok := sp.event("exception"); ok {
						if ev, _ := sp.event("exception"); strings.Contains(ev["exception.type"], "ValidationError") {
							failed = true
						}
					}
					for _, ref := range sp.References {
						if ref.RefType != "FOLLOWS_FROM" || ref.TraceID == sp.TraceID {
							continue
						}
						if err := checkProducer(t, s, ref); err != nil {
							return err
						}
						linked++
					}
				}
			}
			if linked == 0 {
				return fmt.Errorf("no consumer span links to a producer among %d traces", len(traces))
			}
			if !failed {
				return fmt.Errorf("no consumer span failed with a ValidationError yet")
			}
			return nil
		})
	})

	t.Run("SQL spans", func(t *testing.T) {
		traces := findTraces(t, s, url.Values{"service": {"matchmaker"}, "tags": {`{"db.system":"sqlite"}`}, "limit": {"5"}})
		for _, tr := range traces {
			for _, sp := range tr.Spans {
				if stmt, ok := sp.tag("db.statement"); ok && strings.HasPrefix(stmt, "SELECT") && sp.OperationName == "SELECT beers" {
					return
				}
			}
		}
		t.Errorf("no SELECT beers span with db.system=sqlite and db.statement among %d traces", len(traces))
	})

	t.Run("service map", func(t *testing.T) {
		Eventually(t, 10*time.Second, func() error {
			var resp struct {
				Data []struct {
					Parent    string `json:"parent"`
					Child     string `json:"child"`
					CallCount int    `json:"callCount"`
				} `json:"data"`
			}
			GetJSON(t, base+"/api/dependencies?lookback=3600000", &resp)
			got := map[string]bool{}
			for _, d := range resp.Data {
				got[d.Parent+"→"+d.Child] = d.CallCount > 0
			}
			for _, w := range []string{"matchmaker→auth", "matchmaker→taster", "matchmaker→donut-cache", "orders→auth"} {
				if !got[w] {
					return fmt.Errorf("no %s among %v", w, got)
				}
			}
			return nil
		})
	})

	s.Stop(t)
	if !strings.Contains(s.Log(), "Demo traffic:") {
		t.Errorf("demo did not print its traffic summary on exit:\n%s", s.Log())
	}
}

// checkSequentialTasting checks that a pairing trace calls the taster at
// least twice, one call after the other, from the matchmaker.
func checkSequentialTasting(tr jgTrace) error {
	byID := map[string]jgSpan{}
	var root jgSpan
	for _, sp := range tr.Spans {
		byID[sp.SpanID] = sp
		if sp.OperationName == "GET /pair/beer" && tr.service(sp) == "matchmaker" {
			root = sp
		}
	}
	if root.SpanID == "" {
		return fmt.Errorf("trace %s has no matchmaker GET /pair/beer span", tr.TraceID)
	}
	var tastings []jgSpan
	for _, sp := range tr.Spans {
		if tr.service(sp) != "taster" || sp.OperationName != "GET /taste" {
			continue
		}
		// taster server span ← matchmaker client span ← the route.
		client, ok := byID[sp.parent()]
		if !ok || tr.service(client) != "matchmaker" || client.parent() != root.SpanID {
			return fmt.Errorf("trace %s: taster span %s is not called by the pairing route", tr.TraceID, sp.SpanID)
		}
		tastings = append(tastings, client)
	}
	if len(tastings) < 2 {
		return fmt.Errorf("trace %s: %d taster calls", tr.TraceID, len(tastings))
	}
	sort.Slice(tastings, func(i, j int) bool { return tastings[i].StartTime < tastings[j].StartTime })
	var total int64
	for i, c := range tastings {
		total += c.Duration
		if i > 0 && c.StartTime < tastings[i-1].StartTime+tastings[i-1].Duration {
			return fmt.Errorf("trace %s: taster calls overlap", tr.TraceID)
		}
	}
	if root.Duration < total {
		return fmt.Errorf("trace %s: route took %dµs, less than its taster calls (%dµs)", tr.TraceID, root.Duration, total)
	}
	if total < 60_000 {
		return fmt.Errorf("trace %s: taster calls took only %dµs", tr.TraceID, total)
	}
	return nil
}

// checkProducer fetches the trace a consumer links to and checks that the
// linked span is the orders service's producer span.
func checkProducer(t *testing.T, s *Server, ref jgRef) error {
	var resp struct {
		Data []jgTrace `json:"data"`
	}
	if code := GetJSON(t, s.QueryURL()+"/api/traces/"+ref.TraceID, &resp); code != 200 || len(resp.Data) != 1 {
		return fmt.Errorf("linked trace %s: HTTP %d", ref.TraceID, code)
	}
	tr := resp.Data[0]
	for _, sp := range tr.Spans {
		if sp.SpanID != ref.SpanID {
			continue
		}
		kind, _ := sp.tag("span.kind")
		dest, _ := sp.tag("messaging.destination.name")
		if sp.OperationName != "publish orders" || kind != "producer" || tr.service(sp) != "orders" || dest != "orders" {
			return fmt.Errorf("linked span is %s %q (%s) of %s", kind, sp.OperationName, dest, tr.service(sp))
		}
		return nil
	}
	return fmt.Errorf("linked span %s not in trace %s", ref.SpanID, ref.TraceID)
}

// TestDemoNoServer runs the demo against a separate server with
// --no-server --endpoint.
func TestDemoNoServer(t *testing.T) {
	srv := Start(t)
	cmd := exec.Command(Binary(t), "demo", "--no-server", "--endpoint="+srv.OTLPGRPCAddr(), "--port-base=0", "--rate=10", "--duration=3s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("clew demo --no-server: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Clew UI") {
		t.Errorf("--no-server printed the URL of a server it did not start:\n%s", out)
	}
	var resp struct {
		Data []string `json:"data"`
	}
	// Stop flushed every span before the demo exited.
	GetJSON(t, srv.QueryURL()+"/api/services", &resp)
	if !slices.Contains(resp.Data, "matchmaker") || !slices.Contains(resp.Data, "orders-worker") {
		t.Errorf("services after the demo: %v\n%s", resp.Data, out)
	}
}
