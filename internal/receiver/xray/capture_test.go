//go:build capture

// Captures the datagrams the real aws-xray-sdk-go sends to a daemon, into
// testdata/:
//
//	go test -tags capture -run TestCapture ./internal/receiver/xray/
//
// The golden decode tests (golden_test.go) then read those files without
// needing the SDK.
package xray

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"
)

func TestCaptureXRaySDK(t *testing.T) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	mux := http.NewServeMux()
	NewSampler([]Rule{{Name: "all", Priority: 1, ReservoirSize: 100, FixedRate: 1}}, nil, nil).Register(mux)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(tcp, mux)
	defer tcp.Close()

	xray.SetLogger(xraylog.NewDefaultLogger(io.Discard, xraylog.LogLevelError))
	strategy, err := sampling.NewCentralizedStrategy()
	if err != nil {
		t.Fatal(err)
	}
	capture := func(name string, streamAbove int, run func(ctx context.Context)) {
		streaming, err := xray.NewDefaultStreamingStrategyWithMaxSubsegmentCount(streamAbove)
		if err != nil {
			t.Fatal(err)
		}
		if err := xray.Configure(xray.Config{
			DaemonAddr:        fmt.Sprintf("tcp:%s udp:%s", tcp.Addr(), udp.LocalAddr()),
			ServiceVersion:    "1.4.2",
			SamplingStrategy:  strategy,
			StreamingStrategy: streaming,
		}); err != nil {
			t.Fatal(err)
		}
		run(context.Background())
		buf := make([]byte, maxDatagram)
		for i := 1; ; i++ {
			_ = udp.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, _, err := udp.ReadFromUDP(buf)
			if err != nil {
				if i == 1 {
					t.Fatalf("%s: no datagram: %v", name, err)
				}
				return
			}
			file := filepath.Join("testdata", fmt.Sprintf("%s_%d.datagram", name, i))
			if err := os.WriteFile(file, buf[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", file, n)
		}
	}

	capture("sdk_embedded", 20, func(ctx context.Context) {
		ctx, seg := xray.BeginSegment(ctx, "checkout")
		seg.GetHTTP().GetRequest().Method = "POST"
		seg.GetHTTP().GetRequest().URL = "http://shop.example/cart"
		seg.GetHTTP().GetRequest().ClientIP = "10.1.2.3"
		seg.GetHTTP().GetRequest().UserAgent = "curl/8.0"
		seg.User = "alice"
		_ = seg.AddAnnotation("customer", "acme")
		_ = seg.AddAnnotation("items", 3)
		_ = seg.AddAnnotation("vip", true)
		_ = seg.AddAnnotation("ratio", 0.25)
		_ = seg.AddMetadata("cart", map[string]any{"skus": []string{"a-1", "b-2"}, "total": 42.5})

		dbCtx, db := xray.BeginSubsegment(ctx, "orders@db.internal")
		db.Namespace = "remote"
		db.GetSQL().SanitizedQuery = "SELECT * FROM orders WHERE id = ?"
		db.GetSQL().DatabaseType = "PostgreSQL"
		db.GetSQL().URL = "postgresql://db.internal:5432/orders"
		db.GetSQL().User = "shop"
		_ = dbCtx
		time.Sleep(2 * time.Millisecond)
		db.Close(nil)

		_, pay := xray.BeginSubsegment(ctx, "payments")
		pay.Namespace = "remote"
		pay.GetHTTP().GetRequest().Method = "POST"
		pay.GetHTTP().GetRequest().URL = "http://payments/charge"
		pay.GetHTTP().GetResponse().Status = 502
		time.Sleep(3 * time.Millisecond)
		pay.Close(errors.New("card declined"))

		seg.GetHTTP().GetResponse().Status = 502
		seg.GetHTTP().GetResponse().ContentLength = 17
		seg.Close(nil)
	})

	capture("sdk_streamed", 1, func(ctx context.Context) {
		ctx, seg := xray.BeginSegment(ctx, "inventory")
		for _, name := range []string{"lookup", "reserve", "notify"} {
			_, sub := xray.BeginSubsegment(ctx, name)
			time.Sleep(time.Millisecond)
			sub.Close(nil)
		}
		seg.Close(nil)
	})
	_ = strings.TrimSpace
}
