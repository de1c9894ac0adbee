package datadog

import (
	"testing"
)

// fuzzDecode feeds a body to Decode and the translator: neither may panic,
// and a decoded payload must translate.
func fuzzDecode(f *testing.F, v Version, contentType string, seeds ...string) {
	for _, s := range seeds {
		f.Add(readTestdata(f, s))
	}
	f.Add([]byte{})
	f.Add([]byte{0x90})
	tr := NewTranslator(16)
	f.Fuzz(func(t *testing.T, body []byte) {
		traces, err := Decode(v, contentType, body)
		if err != nil {
			return
		}
		for _, s := range tr.ToModel(traces, Tracer{}) {
			if s == nil || s.Resource == nil || s.Scope == nil {
				t.Fatalf("incomplete span %+v", s)
			}
		}
	})
}

func FuzzDecodeV04Msgpack(f *testing.F) {
	fuzzDecode(f, V04, "application/msgpack", "v04_ddtracego.msgpack")
}

func FuzzDecodeV03Msgpack(f *testing.F) {
	fuzzDecode(f, V03, "application/msgpack", "v04_ddtracego.msgpack")
}

func FuzzDecodeV05(f *testing.F) {
	fuzzDecode(f, V05, "application/msgpack", "v05_ddtracejs.msgpack")
}

func FuzzDecodeJSON(f *testing.F) {
	fuzzDecode(f, V03, "application/json", "v03_tracer.json")
}
