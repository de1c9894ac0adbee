package model

import (
	"testing"
	"unsafe"
)

// TestDetached checks that a detached span equals the original and keeps
// its values after the buffer the original's strings pointed into is
// overwritten, as a receiver's request buffer may be reused.
func TestDetached(t *testing.T) {
	buf := []byte("namestatekeyvalueevkeyevvallinkstatenestedkeynestedvalelemmessage")
	at := func(i, n int) string { return unsafe.String(&buf[i], n) }
	res := &Resource{}
	sp := &Span{
		Resource:   res,
		TraceID:    TraceID{1},
		SpanID:     SpanID{2},
		Name:       at(0, 4),
		TraceState: at(4, 5),
		Attributes: Attributes{
			{Key: at(9, 3), Value: StringValue(at(12, 5))},
			{Key: "n", Value: IntValue(7)},
			{Key: at(36, 9), Value: MapValue(Attributes{{Key: at(36, 9), Value: StringValue(at(45, 9))}})},
			{Key: "arr", Value: SliceValue([]Value{StringValue(at(54, 4)), DoubleValue(1.5)})},
		},
		Events: []Event{{TimeUnixNano: 3, Name: at(17, 2), Attributes: Attributes{{Key: at(17, 5), Value: StringValue(at(22, 5))}}}},
		Links:  []Link{{TraceID: TraceID{9}, TraceState: at(27, 9), Attributes: Attributes{{Key: "b", Value: BoolValue(true)}}}},
		Status: Status{Code: StatusError, Message: at(58, 7)},
	}
	want := render(sp)
	d := sp.Detached()
	if got := render(d); got != want {
		t.Fatalf("detached span differs:\n got %s\nwant %s", got, want)
	}
	if d.Resource != res {
		t.Error("the detached span has a copy of the resource, want the shared one")
	}
	for i := range buf {
		buf[i] = 'x'
	}
	if got := render(d); got != want {
		t.Fatalf("detached span changed with the original's buffer:\n got %s\nwant %s", got, want)
	}
	d.Attributes[0].Key = "changed"
	if sp.Attributes[0].Key == "changed" {
		t.Error("the detached span shares its attributes slice with the original")
	}
}

// render is a string copy of everything Detached copies.
func render(s *Span) string {
	out := s.Name + "|" + s.TraceState + "|" + s.Status.Message + "|" + renderAttrs(s.Attributes)
	for _, e := range s.Events {
		out += "|ev:" + e.Name + renderAttrs(e.Attributes)
	}
	for _, l := range s.Links {
		out += "|ln:" + l.TraceState + renderAttrs(l.Attributes)
	}
	return string([]byte(out))
}

func renderAttrs(a Attributes) string {
	out := "{"
	for _, kv := range a {
		out += kv.Key + "=" + kv.Value.AsString() + ";"
	}
	return out + "}"
}

func BenchmarkDetached(b *testing.B) {
	sp := &Span{Name: "GET /api/items", Attributes: Attributes{
		{Key: "http.request.method", Value: StringValue("GET")},
		{Key: "url.path", Value: StringValue("/api/items/1234")},
		{Key: "http.response.status_code", Value: IntValue(200)},
		{Key: "user.id", Value: StringValue("u-123456")},
	}, Events: []Event{{Name: "cache miss", Attributes: Attributes{{Key: "key", Value: StringValue("k1")}}}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = sp.Detached()
	}
}
