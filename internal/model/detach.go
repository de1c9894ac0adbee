package model

import "unsafe"

// Detached returns a deep copy of the span that shares no memory with the
// original but its Resource and Scope: its strings are copied into one
// allocation, its attribute, event and link slices into fresh ones.
//
// Receivers decode without copying: a span's strings may point into the
// request's buffer and its attributes into a slab shared by the request's
// spans, so a store that keeps model spans for long (the memory store)
// would otherwise keep whole requests alive, beyond what its byte
// accounting (Size) counts.
func (s *Span) Detached() *Span {
	d := *s
	a := arena{buf: make([]byte, 0, s.stringBytes())}
	d.TraceState = a.str(s.TraceState)
	d.Name = a.str(s.Name)
	d.Status.Message = a.str(s.Status.Message)
	d.Attributes = a.attrs(s.Attributes)
	if s.Events != nil {
		d.Events = make([]Event, len(s.Events))
		for i, e := range s.Events {
			e.Name = a.str(e.Name)
			e.Attributes = a.attrs(e.Attributes)
			d.Events[i] = e
		}
	}
	if s.Links != nil {
		d.Links = make([]Link, len(s.Links))
		for i, l := range s.Links {
			l.TraceState = a.str(l.TraceState)
			l.Attributes = a.attrs(l.Attributes)
			d.Links[i] = l
		}
	}
	return &d
}

// stringBytes is the length of every string the span holds (but its
// resource's and scope's).
func (s *Span) stringBytes() int {
	n := len(s.TraceState) + len(s.Name) + len(s.Status.Message) + attrStringBytes(s.Attributes)
	for i := range s.Events {
		n += len(s.Events[i].Name) + attrStringBytes(s.Events[i].Attributes)
	}
	for i := range s.Links {
		n += len(s.Links[i].TraceState) + attrStringBytes(s.Links[i].Attributes)
	}
	return n
}

func attrStringBytes(attrs Attributes) int {
	n := 0
	for i := range attrs {
		n += len(attrs[i].Key) + attrs[i].Value.stringBytes()
	}
	return n
}

func (v Value) stringBytes() int {
	n := len(v.str)
	if v.comp != nil {
		for _, e := range v.comp.slice {
			n += e.stringBytes()
		}
		n += attrStringBytes(v.comp.kvs)
	}
	return n
}

// arena hands out strings copied into one buffer, sized in advance so that
// it never grows (strings already handed out point into it).
type arena struct{ buf []byte }

func (a *arena) str(s string) string {
	if s == "" {
		return ""
	}
	if len(a.buf)+len(s) > cap(a.buf) {
		// Only if stringBytes missed a string: copy on its own.
		return string([]byte(s))
	}
	start := len(a.buf)
	a.buf = append(a.buf, s...)
	return unsafe.String(&a.buf[start], len(s))
}

func (a *arena) attrs(attrs Attributes) Attributes {
	if attrs == nil {
		return nil
	}
	out := make(Attributes, len(attrs))
	for i, kv := range attrs {
		out[i] = KeyValue{Key: a.str(kv.Key), Value: a.value(kv.Value)}
	}
	return out
}

func (a *arena) value(v Value) Value {
	v.str = a.str(v.str)
	if v.comp != nil {
		c := &composite{}
		if v.comp.slice != nil {
			c.slice = make([]Value, len(v.comp.slice))
			for i, e := range v.comp.slice {
				c.slice[i] = a.value(e)
			}
		}
		c.kvs = a.attrs(v.comp.kvs)
		v.comp = c
	}
	return v
}
