package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// crashBatch builds an OTLP request of traces×spansPerTrace spans with
// trace ids derived from (sender, seq).
func crashBatch(sender, seq, traces, spansPerTrace int) ([]byte, []string) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("crash-svc-%d", sender))
	rs.Resource().Attributes().PutStr("host.name", "crash-host")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("crash-test")
	now := time.Now()
	var ids []string
	for t := 0; t < traces; t++ {
		var tid [16]byte
		binary.BigEndian.PutUint64(tid[:8], uint64(sender+1))
		binary.BigEndian.PutUint64(tid[8:], uint64(seq*traces+t+1))
		ids = append(ids, hex.EncodeToString(tid[:]))
		for s := 0; s < spansPerTrace; s++ {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(pcommon.TraceID(tid))
			var sid [8]byte
			binary.BigEndian.PutUint64(sid[:], uint64(s+1))
			sp.SetSpanID(pcommon.SpanID(sid))
			if s > 0 {
				var pid [8]byte
				binary.BigEndian.PutUint64(pid[:], 1)
				sp.SetParentSpanID(pcommon.SpanID(pid))
			}
			sp.SetName(fmt.Sprintf("op-%d", s))
			st := now.Add(time.Duration(s) * time.Millisecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(500 * time.Microsecond)))
			sp.Attributes().PutStr("http.request.method", "GET")
			sp.Attributes().PutInt("n", int64(s))
		}
	}
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		panic(err)
	}
	return b, ids
}

// TestCrashDuringIngest kills clew with SIGKILL while senders are sending,
// restarts it, and checks that every trace whose batch was acknowledged is
// complete. CLEW_CRASH_SPANS scales it (default 60,000 spans).
func TestCrashDuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	total := 60_000
	if v, err := strconv.Atoi(os.Getenv("CLEW_CRASH_SPANS")); err == nil && v > 0 {
		total = v
	}
	const senders, tracesPerBatch, spansPerTrace = 4, 10, 10
	srv := Start(t, "--storage=local", "--local.flush-spans=15000", "--local.compaction-interval=2s")
	url := srv.OTLPHTTPURL()

	var (
		mu    sync.Mutex
		acked []string
		sent  atomic.Int64
		wg    sync.WaitGroup
		stop  atomic.Bool
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < senders; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for seq := 0; !stop.Load() && seq < 1_000_000; seq++ {
				body, ids := crashBatch(w, seq, tracesPerBatch, spansPerTrace)
				resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader(body))
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
					sent.Add(int64(len(ids) * spansPerTrace))
				}
			}
		}(w)
	}
	// Kill once enough has been acknowledged, while the senders still send.
	deadline := time.Now().Add(2 * time.Minute)
	for sent.Load() < int64(total) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	srv.Kill()
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	if len(ids) == 0 {
		t.Fatalf("nothing was acknowledged\n%s", srv.Log())
	}
	t.Logf("killed after %d acknowledged spans in %d traces", sent.Load(), len(ids))

	srv.Restart(t)
	missing := 0
	for _, id := range ids {
		var resp struct {
			Data []struct {
				Spans []struct {
					SpanID string `json:"spanID"`
				} `json:"spans"`
			} `json:"data"`
		}
		code := GetJSON(t, srv.QueryURL()+"/api/traces/"+id, &resp)
		n := 0
		if code == http.StatusOK && len(resp.Data) == 1 {
			n = len(resp.Data[0].Spans)
		}
		if n != spansPerTrace {
			if missing++; missing <= 10 {
				t.Errorf("trace %s: status %d, %d spans, want %d", id, code, n, spansPerTrace)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged traces incomplete after kill -9 and restart", missing, len(ids))
	}
}
