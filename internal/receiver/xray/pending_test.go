package xray

import (
	"fmt"
	"testing"
	"time"
)

func docFor(t *testing.T, tr *translator, json string) (document, bool) {
	t.Helper()
	seg, err := parseSegment([]byte(json))
	if err != nil {
		t.Fatal(err)
	}
	d, orphan := tr.translate(seg)
	return d, orphan != nil
}

func TestHolderTimeoutStoresInProgress(t *testing.T) {
	tr := newTranslator(0)
	h := newHolder(tr, 10, time.Minute)
	t0 := time.Unix(1000, 0)
	d, _ := docFor(t, tr, `{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"70de5b6f19ff9a0a","name":"slow","start_time":10,"in_progress":true}`)
	if out := h.add(d, nil, t0); len(out) != 0 || h.len() != 1 {
		t.Fatalf("in-progress segment not held: %d out, %d held", len(out), h.len())
	}
	if out := h.expire(t0.Add(59*time.Second), false); len(out) != 0 {
		t.Fatalf("expired early")
	}
	out := h.expire(t0.Add(61*time.Second), false)
	if len(out) != 1 || h.len() != 0 {
		t.Fatalf("after the timeout: %d out, %d held", len(out), h.len())
	}
	if v, _ := out[0].Attributes.Get(AttrInProgress); !v.Bool() {
		t.Errorf("stored in-progress span lacks %s", AttrInProgress)
	}
}

func TestHolderOrphanTimeoutAndCapacity(t *testing.T) {
	tr := newTranslator(0)
	h := newHolder(tr, 3, time.Minute)
	t0 := time.Unix(1000, 0)
	for i := range 5 {
		d, orphan := docFor(t, tr, fmt.Sprintf(`{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"00000000000000%02x","name":"sub","type":"subsegment","parent_id":"1111111111111111","start_time":%d,"end_time":11}`, i+1, 10))
		if !orphan {
			t.Fatal("subsegment with an unseen parent not an orphan")
		}
		out := h.add(d, &d.spans[0].ParentSpanID, t0.Add(time.Duration(i)*time.Second))
		// The first three fit; each later one evicts the oldest.
		if want := max(0, i-2); len(out) != min(want, 1) {
			t.Errorf("add %d: %d spans out, want %d", i, len(out), min(want, 1))
		}
	}
	if h.len() != 3 {
		t.Errorf("held %d, want the capacity 3", h.len())
	}
	out := h.expire(t0.Add(time.Hour), false)
	if len(out) != 3 || h.len() != 0 {
		t.Errorf("expire: %d out, %d held", len(out), h.len())
	}
	if out[0].ServiceName() != "unknown_service" {
		t.Errorf("unresolved orphan service %q", out[0].ServiceName())
	}
}

func TestHolderResolvesNestedOrphans(t *testing.T) {
	tr := newTranslator(0)
	h := newHolder(tr, 10, time.Minute)
	t0 := time.Unix(1000, 0)
	// grandchild → child (both streamed) → segment.
	gc, _ := docFor(t, tr, `{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"3333333333333333","name":"gc","type":"subsegment","parent_id":"2222222222222222","start_time":10,"end_time":11}`)
	c, _ := docFor(t, tr, `{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"2222222222222222","name":"c","type":"subsegment","parent_id":"1111111111111111","start_time":10,"end_time":11}`)
	if out := append(h.add(gc, &gc.spans[0].ParentSpanID, t0), h.add(c, &c.spans[0].ParentSpanID, t0)...); len(out) != 0 {
		t.Fatalf("orphans stored early: %d", len(out))
	}
	seg, _ := docFor(t, tr, `{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"1111111111111111","name":"root-svc","start_time":10,"end_time":11}`)
	out := h.add(seg, nil, t0)
	if len(out) != 3 || h.len() != 0 {
		t.Fatalf("%d spans out, %d held; want 3 and 0", len(out), h.len())
	}
	for _, s := range out {
		if s.ServiceName() != "root-svc" {
			t.Errorf("span %s: service %q", s.Name, s.ServiceName())
		}
	}
}

// Two workers: one translates a subsegment before its parent is known,
// the other translates and adds the parent before the first adds the
// subsegment. The subsegment must not wait for a parent already seen.
func TestHolderOrphanWhoseParentArrivedMeanwhile(t *testing.T) {
	tr := newTranslator(0)
	h := newHolder(tr, 10, time.Minute)
	t0 := time.Unix(1000, 0)
	child, orphan := docFor(t, tr, `{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"2222222222222222","name":"c","type":"subsegment","parent_id":"1111111111111111","start_time":10,"end_time":11}`)
	if !orphan {
		t.Fatal("child not an orphan")
	}
	parent, _ := docFor(t, tr, `{"trace_id":"1-581cf771-a006649127e371903a2de979","id":"1111111111111111","name":"svc","start_time":10,"end_time":11}`)
	if out := h.add(parent, nil, t0); len(out) != 1 {
		t.Fatalf("parent: %d spans out", len(out))
	}
	out := h.add(child, &child.spans[0].ParentSpanID, t0)
	if len(out) != 1 || h.len() != 0 || out[0].ServiceName() != "svc" {
		t.Fatalf("child: %d spans out, %d held", len(out), h.len())
	}
}
