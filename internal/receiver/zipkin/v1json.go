package zipkin

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Zipkin v1 JSON lets a binary annotation's value be a JSON boolean or
// number: address annotations ("ca", "sa", "ma") carry true, and typed
// annotations (BOOL, I16, I32, I64, DOUBLE) their value. The Collector's v1
// decoder takes only strings and refuses the whole request otherwise. Clew
// turns such values into their text ("true", "42") and then applies the
// Collector's rules, under which every binary annotation is a string tag.

// stringifyV1Values rewrites non-string binary annotation values of a v1
// JSON body as strings. It reports false when there was nothing to rewrite.
func stringifyV1Values(body []byte) ([]byte, bool, error) {
	var spans []map[string]json.RawMessage
	if err := json.Unmarshal(body, &spans); err != nil {
		return nil, false, err
	}
	changed := false
	for _, s := range spans {
		raw, ok := s["binaryAnnotations"]
		if !ok {
			continue
		}
		var bas []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &bas); err != nil {
			return nil, false, err
		}
		touched := false
		for _, ba := range bas {
			v := bytes.TrimSpace(ba["value"])
			if len(v) == 0 || v[0] == '"' || bytes.Equal(v, []byte("null")) {
				continue
			}
			if v[0] == '{' || v[0] == '[' {
				return nil, false, errors.New("binary annotation value is an object or array")
			}
			// A literal (true, false or a number) becomes its text.
			text, err := json.Marshal(string(v))
			if err != nil {
				return nil, false, err
			}
			ba["value"] = text
			touched = true
		}
		if touched {
			b, err := json.Marshal(bas)
			if err != nil {
				return nil, false, err
			}
			s["binaryAnnotations"] = b
			changed = true
		}
	}
	if !changed {
		return nil, false, nil
	}
	out, err := json.Marshal(spans)
	return out, err == nil, err
}
