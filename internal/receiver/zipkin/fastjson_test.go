package zipkin

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"
)

// randomV2Body writes a valid JSON list of span-like objects mixing the
// shapes clients send with the odd ones: case variants, nulls, escapes,
// unknown fields, repeated keys, numbers of every kind, wrong types.
func randomV2Body(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	str := func() string {
		return pick(`"a"`, `""`, `"GET /x"`, `"caf\u00e9"`, `"tab\there"`, `"\ud83d\ude00"`, `"1"`, `"0"`, `"ff"`,
			`"0000000000000001"`, `"00000000000000010000000000000002"`, `"zz"`, `"10.0.0.1"`, `"::1"`, `"SERVER"`, `"x\"y"`)
	}
	num := func() string {
		return pick(`0`, `1`, `42`, `1700000000000000`, `65535`, `65536`, `-1`, `1.5`, `1e3`, `18446744073709551615`, `18446744073709551616`)
	}
	val := func() string {
		return pick(str(), num(), `null`, `true`, `false`, `{}`, `[]`, `{"k":"v"}`, `[1,"a",null]`)
	}
	endpoint := func() string {
		var kv []string
		for i := r.IntN(4); i >= 0; i-- {
			k := pick(`"serviceName"`, `"ServiceName"`, `"ipv4"`, `"IPv4"`, `"ipv6"`, `"port"`, `"Port"`, `"other"`)
			v := val()
			switch k {
			case `"serviceName"`, `"ServiceName"`:
				v = pick(str(), `null`, val())
			case `"ipv4"`, `"IPv4"`, `"ipv6"`:
				v = pick(`"10.0.0.1"`, `"::1"`, `""`, `null`, `"bad"`, val())
			case `"port"`, `"Port"`:
				v = pick(`8080`, `0`, `null`, `70000`, val())
			}
			kv = append(kv, k+":"+v)
		}
		return "{" + strings.Join(kv, ",") + "}"
	}
	span := func() string {
		var kv []string
		kv = append(kv, `"traceId":`+pick(`"1"`, `"0000000000000001"`, `"00000000000000010000000000000002"`, str(), `null`, `1`))
		kv = append(kv, `"id":`+pick(`"2"`, `"00000000000000a2"`, `"0"`, `""`, str(), `null`))
		for i := r.IntN(8); i >= 0; i-- {
			k := pick(`"parentId"`, `"name"`, `"kind"`, `"timestamp"`, `"duration"`, `"debug"`, `"shared"`,
				`"localEndpoint"`, `"remoteEndpoint"`, `"annotations"`, `"tags"`, `"Name"`, `"TIMESTAMP"`, `"unknown"`, `"id"`, `"traceId"`)
			var v string
			switch k {
			case `"parentId"`:
				v = pick(`"1"`, `""`, `null`, str(), `5`)
			case `"name"`, `"kind"`, `"Name"`:
				v = pick(str(), `null`, `5`)
			case `"timestamp"`, `"duration"`, `"TIMESTAMP"`:
				v = pick(num(), `null`, `"1"`)
			case `"debug"`, `"shared"`:
				v = pick(`true`, `false`, `null`, `1`)
			case `"localEndpoint"`, `"remoteEndpoint"`:
				v = pick(endpoint(), endpoint(), `null`, `"x"`)
			case `"annotations"`:
				var as []string
				for j := r.IntN(3); j > 0; j-- {
					as = append(as, pick(`{"timestamp":`+num()+`,"value":`+pick(str(), `null`)+`}`, `{"value":"v","timestamp":5}`,
						`{"Value":"v","timestamp":5}`, `{"Timestamp":5,"value":"v"}`, `null`, `{"timestamp":5}`, `{"timestamp":5,"value":"v","x":[]}`))
				}
				v = pick("["+strings.Join(as, ",")+"]", `null`, `{}`)
			case `"tags"`:
				var ts []string
				for j := r.IntN(3); j > 0; j-- {
					ts = append(ts, str()+":"+pick(str(), str(), `null`, `1`))
				}
				v = pick("{"+strings.Join(ts, ",")+"}", `null`, `[]`)
			default:
				v = val()
			}
			kv = append(kv, k+":"+v)
		}
		r.Shuffle(len(kv), func(i, j int) { kv[i], kv[j] = kv[j], kv[i] })
		return "{" + strings.Join(kv, ",") + "}"
	}
	var spans []string
	for i := r.IntN(4); i >= 0; i-- {
		spans = append(spans, pick(span(), span(), span(), `null`))
	}
	return "[" + strings.Join(spans, ", ") + "]"
}

var (
	fastIterations = flag.Int("fast-iterations", 20000, "bodies TestFastPathAgreesWithEncodingJSON generates")
	fastSeed       = flag.Uint64("fast-seed", 1, "seed of TestFastPathAgreesWithEncodingJSON")
)

// TestFastPathAgreesWithEncodingJSON compares the fast path with
// encoding/json on many generated bodies (FuzzV2JSONFastPath does the same
// on the fuzzer's).
func TestFastPathAgreesWithEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(*fastSeed, 2))
	iterations := *fastIterations
	accepted := 0
	for i := 0; i < iterations; i++ {
		body := randomV2Body(r)
		if !json.Valid([]byte(body)) {
			t.Fatalf("generator wrote invalid JSON: %s", body)
		}
		fast, ok := parseV2JSON([]byte(body))
		if !ok {
			continue
		}
		accepted++
		var lib []*zipkinmodel.SpanModel
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			err = json.Unmarshal([]byte(body), &lib)
		}()
		if err != nil {
			t.Fatalf("fast path accepted %s\nencoding/json: %v", body, err)
		}
		if diff := cmp.Diff(lib, fast); diff != "" {
			t.Fatalf("fast path differs on %s (-encoding/json +fast):\n%s", body, diff)
		}
	}
	if accepted < iterations/40 {
		t.Errorf("fast path took only %d of %d bodies; the generator or the fast path is off", accepted, iterations)
	}
	t.Logf("fast path took %d of %d bodies", accepted, iterations)
}
