package zipkin

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	zipkinmodel "github.com/openzipkin/zipkin-go/model"
)

// The v2 JSON fast path. Profiles of the receiver showed encoding/json's
// reflection over zipkin-go's model (which validates and decodes every span
// twice, once for the list and once in SpanModel.UnmarshalJSON) taking more
// than half of its CPU. parseV2JSON decodes the common shape of a body into
// the very same zipkinmodel.SpanModel values with a direct scan, and reports
// ok=false for anything it is not certain to decode exactly as encoding/json
// would — escapes in keys, keys differing only in case from a field, numbers
// that are not plain unsigned integers, values of an unexpected type, any
// error — so that the caller decodes those bodies with encoding/json, which
// then decides (and words the error). FuzzV2JSONFastPath checks that the
// two paths agree on every body the fast path accepts.

// parseV2JSON decodes b, a Zipkin v2 JSON list of spans, or reports false.
func parseV2JSON(b []byte) ([]*zipkinmodel.SpanModel, bool) {
	if !json.Valid(b) {
		return nil, false
	}
	p := &jsonScan{b: b}
	p.ws()
	if p.lit("null") {
		p.ws()
		return nil, p.i == len(b)
	}
	if !p.byte('[') {
		return nil, false
	}
	var spans []*zipkinmodel.SpanModel
	p.ws()
	if p.byte(']') {
		return []*zipkinmodel.SpanModel{}, true
	}
	for {
		p.ws()
		if p.lit("null") {
			spans = append(spans, nil)
		} else {
			s, ok := p.span()
			if !ok {
				return nil, false
			}
			spans = append(spans, s)
		}
		p.ws()
		if p.byte(',') {
			continue
		}
		if p.byte(']') {
			break
		}
		return nil, false
	}
	p.ws()
	return spans, p.i == len(b)
}

// jsonScan walks a body already checked by json.Valid; it still checks
// bounds everywhere, so a mistake in it cannot read out of range.
type jsonScan struct {
	b []byte
	i int
}

func (p *jsonScan) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonScan) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonScan) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *jsonScan) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// strTok returns the raw string token at the cursor, quotes included, and
// whether it has escapes.
func (p *jsonScan) strTok() (tok []byte, escaped bool, ok bool) {
	if p.peek() != '"' {
		return nil, false, false
	}
	start := p.i
	for j := p.i + 1; j < len(p.b); j++ {
		switch p.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			p.i = j + 1
			return p.b[start:p.i], escaped, true
		}
	}
	return nil, false, false
}

// str decodes a string value as encoding/json does (escapes, and invalid
// UTF-8 replaced) — directly when it is plain.
func (p *jsonScan) str() (string, bool) {
	tok, escaped, ok := p.strTok()
	if !ok {
		return "", false
	}
	inner := tok[1 : len(tok)-1]
	if !escaped && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", false
	}
	return s, true
}

// key reads an object key and the colon after it. Keys with escapes or
// non-ASCII bytes are refused: encoding/json would match them to fields by
// Unicode case folding. The key aliases the body.
func (p *jsonScan) key() ([]byte, bool) {
	tok, escaped, ok := p.strTok()
	if !ok || escaped {
		return nil, false
	}
	inner := tok[1 : len(tok)-1]
	for _, c := range inner {
		if c >= utf8.RuneSelf {
			return nil, false
		}
	}
	p.ws()
	if !p.byte(':') {
		return nil, false
	}
	p.ws()
	return inner, true
}

// uint reads a plain unsigned integer of at most bits bits.
func (p *jsonScan) uint(bits int) (uint64, bool) {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == start {
		return 0, false
	}
	if c := p.peek(); c == '.' || c == 'e' || c == 'E' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[start:p.i]), 10, bits)
	return v, err == nil
}

func (p *jsonScan) bool() (bool, bool) {
	switch {
	case p.lit("true"):
		return true, true
	case p.lit("false"):
		return false, true
	}
	return false, false
}

// skip passes over any valid value.
func (p *jsonScan) skip() bool {
	switch c := p.peek(); {
	case c == '"':
		_, _, ok := p.strTok()
		return ok
	case c == '{' || c == '[':
		depth := 0
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				if _, _, ok := p.strTok(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return true
				}
			}
			p.i++
		}
		return false
	default:
		start := p.i
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return p.i > start
			}
			p.i++
		}
		return p.i > start
	}
}

// object calls field for each key of the object at the cursor; field reads
// the value and reports false to give up.
func (p *jsonScan) object(field func(key []byte) bool) bool {
	if !p.byte('{') {
		return false
	}
	p.ws()
	if p.byte('}') {
		return true
	}
	for {
		p.ws()
		k, ok := p.key()
		if !ok || !field(k) {
			return false
		}
		p.ws()
		if p.byte(',') {
			continue
		}
		return p.byte('}')
	}
}

// spanFields are the JSON names of SpanModel as zipkin-go decodes it
// (timestamp and duration through its UnmarshalJSON).
var spanFields = []string{"timestamp", "duration", "traceId", "id", "parentId", "debug",
	"name", "kind", "shared", "localEndpoint", "remoteEndpoint", "annotations", "tags"}

// foldsToOther reports whether k differs from a name of names only in case:
// encoding/json would match it, possibly to another field.
func foldsToOther(k []byte, names []string) bool {
	for _, n := range names {
		if len(k) == len(n) && string(k) != n && asciiEqualFold(k, n) {
			return true
		}
	}
	return false
}

func asciiEqualFold(k []byte, n string) bool {
	if len(k) != len(n) {
		return false
	}
	for i := range k {
		a, b := k[i], n[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

func (p *jsonScan) span() (*zipkinmodel.SpanModel, bool) {
	s := &zipkinmodel.SpanModel{}
	var ts, dur uint64
	ok := p.object(func(k []byte) bool {
		if p.lit("null") {
			// null leaves a field as it is, but sets the slice, map and
			// pointer fields to nil, and goes to UnmarshalJSON for the ids.
			switch string(k) {
			case "parentId":
				s.ParentID = nil
			case "localEndpoint":
				s.LocalEndpoint = nil
			case "remoteEndpoint":
				s.RemoteEndpoint = nil
			case "annotations":
				s.Annotations = nil
			case "tags":
				s.Tags = nil
			case "traceId", "id":
				return false
			default:
				return !foldsToOther(k, spanFields)
			}
			return true
		}
		switch string(k) {
		case "timestamp":
			v, ok := p.uint(64)
			ts = v
			return ok
		case "duration":
			v, ok := p.uint(64)
			dur = v
			return ok
		case "traceId":
			tok, escaped, ok := p.strTok()
			return ok && !escaped && s.TraceID.UnmarshalJSON(tok) == nil
		case "id":
			tok, escaped, ok := p.strTok()
			return ok && !escaped && s.ID.UnmarshalJSON(tok) == nil
		case "parentId":
			tok, escaped, ok := p.strTok()
			if !ok || escaped {
				return false
			}
			if s.ParentID == nil {
				s.ParentID = new(zipkinmodel.ID)
			}
			return s.ParentID.UnmarshalJSON(tok) == nil
		case "debug":
			v, ok := p.bool()
			s.Debug = v
			return ok
		case "shared":
			v, ok := p.bool()
			s.Shared = v
			return ok
		case "name":
			v, ok := p.str()
			s.Name = v
			return ok
		case "kind":
			v, ok := p.str()
			s.Kind = zipkinmodel.Kind(v)
			return ok
		case "localEndpoint":
			if s.LocalEndpoint == nil {
				s.LocalEndpoint = &zipkinmodel.Endpoint{}
			}
			return p.endpoint(s.LocalEndpoint)
		case "remoteEndpoint":
			if s.RemoteEndpoint == nil {
				s.RemoteEndpoint = &zipkinmodel.Endpoint{}
			}
			return p.endpoint(s.RemoteEndpoint)
		case "annotations":
			return p.annotations(s)
		case "tags":
			return p.tags(s)
		}
		return !foldsToOther(k, spanFields) && p.skip()
	})
	if !ok || s.ID < 1 {
		return nil, false
	}
	// As zipkin-go's SpanModel.UnmarshalJSON.
	if ts > 0 {
		s.Timestamp = time.Unix(0, int64(ts)*1e3)
	}
	s.Duration = time.Duration(dur*1e3) * time.Nanosecond
	if s.LocalEndpoint.Empty() {
		s.LocalEndpoint = nil
	}
	if s.RemoteEndpoint.Empty() {
		s.RemoteEndpoint = nil
	}
	return s, true
}

// endpoint decodes into e. Endpoint's fields have no JSON tags, so
// encoding/json matches them without regard to case.
func (p *jsonScan) endpoint(e *zipkinmodel.Endpoint) bool {
	return p.object(func(k []byte) bool {
		var name string
		for _, n := range [...]string{"servicename", "ipv4", "ipv6", "port"} {
			if asciiEqualFold(k, n) {
				name = n
			}
		}
		if p.lit("null") {
			// null empties the IP slices and leaves the others.
			switch name {
			case "ipv4":
				e.IPv4 = nil
			case "ipv6":
				e.IPv6 = nil
			}
			return true
		}
		switch name {
		case "servicename":
			v, ok := p.str()
			e.ServiceName = v
			return ok
		case "ipv4", "ipv6":
			v, ok := p.str()
			if !ok {
				return false
			}
			ip := &e.IPv4
			if name == "ipv6" {
				ip = &e.IPv6
			}
			return ip.UnmarshalText([]byte(v)) == nil
		case "port":
			v, ok := p.uint(16)
			e.Port = uint16(v)
			return ok
		}
		return p.skip()
	})
}

// annotations decodes a list of annotations, replacing s.Annotations.
func (p *jsonScan) annotations(s *zipkinmodel.SpanModel) bool {
	if !p.byte('[') {
		return false
	}
	s.Annotations = s.Annotations[:0]
	if s.Annotations == nil {
		s.Annotations = []zipkinmodel.Annotation{}
	}
	p.ws()
	if p.byte(']') {
		return true
	}
	for {
		p.ws()
		var a zipkinmodel.Annotation
		var ts uint64
		ok := p.object(func(k []byte) bool {
			switch {
			case string(k) == "timestamp":
				if p.lit("null") {
					return true
				}
				v, ok := p.uint(64)
				ts = v
				return ok
			case asciiEqualFold(k, "value"):
				if p.lit("null") {
					return true
				}
				v, ok := p.str()
				a.Value = v
				return ok
			case asciiEqualFold(k, "timestamp"):
				return false // another field of zipkin-go's decoding struct
			}
			return p.skip()
		})
		if !ok || ts < 1 {
			return false
		}
		a.Timestamp = time.Unix(0, int64(ts)*1e3)
		s.Annotations = append(s.Annotations, a)
		p.ws()
		if p.byte(',') {
			continue
		}
		return p.byte(']')
	}
}

// tags decodes an object of string values into s.Tags, adding to it.
func (p *jsonScan) tags(s *zipkinmodel.SpanModel) bool {
	if p.peek() != '{' {
		return false
	}
	if s.Tags == nil {
		s.Tags = map[string]string{}
	}
	// Keys of tags are data, not field names: any string goes.
	if !p.byte('{') {
		return false
	}
	p.ws()
	if p.byte('}') {
		return true
	}
	for {
		p.ws()
		k, ok := p.str()
		if !ok {
			return false
		}
		p.ws()
		if !p.byte(':') {
			return false
		}
		p.ws()
		v, ok := p.str()
		if !ok {
			return false
		}
		s.Tags[k] = v
		p.ws()
		if p.byte(',') {
			continue
		}
		return p.byte('}')
	}
}
