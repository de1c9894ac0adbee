package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/local"
	"github.com/clew-dev/clew/internal/store/memstore"
)

// distinctRequest builds request r: its own service, strings and trace
// ids, so that a span showing another request's bytes is told apart.
func distinctRequest(r int) ptraceotlp.ExportRequest {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r%5))
	rs.Resource().Attributes().PutStr("host.name", fmt.Sprintf("host-%d-%s", r, strings.Repeat("h", r%40)))
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(fmt.Sprintf("scope-%d", r))
	for i := 0; i < 60; i++ {
		sp := ss.Spans().AppendEmpty()
		var tid [16]byte
		tid[0], tid[1], tid[2], tid[15] = 9, byte(r), byte(r>>8), byte(i/6)
		sp.SetTraceID(pcommon.TraceID(tid))
		sp.SetSpanID(pcommon.SpanID([8]byte{1, byte(i), byte(r), byte(r >> 8), 5, 6, 7, 8}))
		sp.SetName(fmt.Sprintf("op-%d-%d", r, i%4))
		sp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + uint64(r*1000+i)))
		sp.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + uint64(r*1000+i) + 500))
		sp.Attributes().PutStr("http.route", fmt.Sprintf("/r%d/%d", r, i))
		sp.Attributes().PutStr("req", fmt.Sprintf("request-%d-span-%d-%s", r, i, strings.Repeat("x", i)))
		sp.Attributes().PutInt("n", int64(r*100+i))
		ev := sp.Events().AppendEmpty()
		ev.SetName(fmt.Sprintf("event-%d-%d", r, i))
		ev.Attributes().PutStr("ev.key", fmt.Sprintf("ev-%d-%d", r, i))
		sp.Status().SetMessage(fmt.Sprintf("status-%d-%d", r, i))
	}
	return ptraceotlp.NewExportRequestFromTraces(td)
}

// TestPooledRequestsStoredIntact sends distinct requests concurrently over
// OTLP/gRPC and OTLP/HTTP (request bytes in pooled buffers, spans in the
// pooled arena, both reused once an export returns) to the memory store
// and the durable store (head, then blocks), and checks that every stored
// span is exactly what its request carried: no store keeps memory a later
// request overwrites.
func TestPooledRequestsStoredIntact(t *testing.T) {
	const requests, senders = 120, 4
	stores := map[string]func(t *testing.T) (store.Store, func(context.Context) error){
		"memstore": func(t *testing.T) (store.Store, func(context.Context) error) {
			return memstore.New(memstore.Options{}), nil
		},
		"local": func(t *testing.T) (store.Store, func(context.Context) error) {
			s, err := local.Open(local.Options{Dir: t.TempDir(), NoSync: true, CompactionInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			return s, s.Flush
		},
	}
	transports := map[string]func(t *testing.T, c Consumer) (export func(r int) error){
		"grpc": func(t *testing.T, c Consumer) func(int) error {
			g := NewGRPC("127.0.0.1:0", 16<<20, c, slog.New(slog.DiscardHandler))
			if err := g.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Shutdown(context.Background()) })
			conn, err := grpc.NewClient(g.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			client := ptraceotlp.NewGRPCClient(conn)
			return func(r int) error {
				var opts []grpc.CallOption
				if r%2 == 1 { // decompressed into pooled buffers too
					opts = append(opts, grpc.UseCompressor(grpcgzip.Name))
				}
				_, err := client.Export(context.Background(), distinctRequest(r), opts...)
				return err
			}
		},
		// Every other request gzipped: its length is not known ahead.
		"http": func(t *testing.T, c Consumer) func(int) error {
			mux := http.NewServeMux()
			NewHTTPHandler(c, 16<<20, nil, slog.New(slog.DiscardHandler)).Register(mux)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			return func(r int) error {
				body := mustProto(t, distinctRequest(r))
				req, err := http.NewRequest("POST", srv.URL+"/v1/traces", nil)
				if err != nil {
					return err
				}
				if r%2 == 1 {
					var zb bytes.Buffer
					zw := gzip.NewWriter(&zb)
					zw.Write(body)
					zw.Close()
					body = zb.Bytes()
					req.Header.Set("Content-Encoding", "gzip")
				}
				req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
				req.Header.Set("Content-Type", "application/x-protobuf")
				resp, err := srv.Client().Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("request %d: HTTP %s", r, resp.Status)
				}
				return nil
			}
		},
	}
	for name, open := range stores {
		for tname, dial := range transports {
			t.Run(name+"/"+tname, func(t *testing.T) {
				st, flush := open(t)
				defer st.Close()
				export := dial(t, pipeline.New(st, pipeline.Options{}))
				storedIntact(t, st, flush, export, requests, senders)
			})
		}
	}
}

// storedIntact sends requests 0..requests-1 with export from senders
// goroutines, then checks every stored trace against its request, before
// and after a flush (when the store has one).
func storedIntact(t *testing.T, st store.Store, flush func(context.Context) error, export func(int) error, requests, senders int) {
	var wg sync.WaitGroup
	errs := make(chan error, requests)
	for s := 0; s < senders; s++ {
		wg.Go(func() {
			for r := s; r < requests; r += senders {
				if err := export(r); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		want := map[model.TraceID][]*model.Span{}
		for r := 0; r < requests; r++ {
			b := mustProto(t, distinctRequest(r))
			spans, err := viaPdata(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, sp := range spans {
				want[sp.TraceID] = append(want[sp.TraceID], sp)
			}
		}
		for id, ws := range want {
			tr, err := st.GetTrace(context.Background(), id)
			if err != nil {
				t.Fatalf("%s: trace %v: %v", when, id, err)
			}
			if tr == nil || len(tr.Spans) != len(ws) {
				t.Fatalf("%s: trace %v: %v spans, want %d", when, id, tr, len(ws))
			}
			perSpan := func(spans []*model.Span) []string {
				var out []string
				for _, sp := range spans {
					out = append(out, asJSON(t, []*model.Span{sp}))
				}
				slices.Sort(out)
				return out
			}
			if g, w := perSpan(tr.Spans), perSpan(ws); !slices.Equal(g, w) {
				for i := range g {
					if g[i] != w[i] {
						t.Fatalf("%s: trace %v: stored span\n%s\nwant\n%s", when, id, g[i], w[i])
					}
				}
			}
		}
	}
	check("after the writes")
	if flush != nil {
		if err := flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		check("after the flush")
	}
}
