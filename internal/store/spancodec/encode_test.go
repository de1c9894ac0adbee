package spancodec

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
)

// TestManyResourcesAndScopes round-trips a batch whose spans alternate
// between more resources and scopes than the encoder searches linearly,
// so that both its linear search and its map number them, and checks that
// spans of one resource (scope) decode sharing one resource (scope).
func TestManyResourcesAndScopes(t *testing.T) {
	const n = 3 * batchIndexLinear
	var spans []*model.Span
	res := make([]*model.Resource, n)
	scopes := make([]*model.Scope, n)
	for i := range res {
		res[i] = &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue(fmt.Sprint("svc-", i))}}}
		scopes[i] = &model.Scope{Name: fmt.Sprint("scope-", i)}
	}
	for i := range 4 * n {
		// Resources in a stride, scopes backwards: every lookup misses
		// the previous span's.
		sp := &model.Span{TraceID: model.TraceIDFromUint64s(1, uint64(i)), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
			Name: "op", StartTimeUnixNano: 1, EndTimeUnixNano: 2,
			Resource: res[(i*5)%n], Scope: scopes[n-1-(i*7)%n]}
		if i%11 == 3 {
			sp.Resource, sp.Scope = nil, nil
		}
		spans = append(spans, sp)
	}
	got, err := DecodeBatch(AppendBatch(nil, spans))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(spans) {
		t.Fatalf("%d spans decoded, want %d", len(got), len(spans))
	}
	resOf := map[*model.Resource]*model.Resource{}
	scopeOf := map[*model.Scope]*model.Scope{}
	for i, sp := range got {
		want := spans[i]
		if diff := cmp.Diff(want.Resource, sp.Resource); diff != "" {
			t.Fatalf("span %d resource (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(want.Scope, sp.Scope); diff != "" {
			t.Fatalf("span %d scope (-want +got):\n%s", i, diff)
		}
		if want.Resource != nil {
			if r, ok := resOf[want.Resource]; ok && r != sp.Resource {
				t.Fatalf("span %d: resource not shared with the earlier spans of the same resource", i)
			}
			resOf[want.Resource] = sp.Resource
		}
		if want.Scope != nil {
			if s, ok := scopeOf[want.Scope]; ok && s != sp.Scope {
				t.Fatalf("span %d: scope not shared with the earlier spans of the same scope", i)
			}
			scopeOf[want.Scope] = sp.Scope
		}
	}
	if len(resOf) != n || len(scopeOf) != n {
		t.Fatalf("%d resources and %d scopes seen, want %d", len(resOf), len(scopeOf), n)
	}
}
