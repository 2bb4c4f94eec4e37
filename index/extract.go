package index

import (
	"bytes"
	"encoding/json"
)

// Extract returns the scalar at p in the JSON value v. ok is false when the
// path is missing, runs through a non-object, ends at an object or an
// array, or v is not valid JSON: such a value is not indexed.
func Extract(v json.RawMessage, p Path) (s Scalar, ok bool) {
	cur := []byte(v)
	for _, seg := range p {
		cur = bytes.TrimLeft(cur, " \t\r\n")
		if len(cur) == 0 || cur[0] != '{' {
			return Scalar{}, false
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			return Scalar{}, false
		}
		next, found := m[seg]
		if !found {
			return Scalar{}, false
		}
		cur = next
	}
	return parseScalarJSON(cur)
}

// parseScalarJSON decodes a JSON scalar.
func parseScalarJSON(b []byte) (Scalar, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return Scalar{}, false
	}
	switch b[0] {
	case '{', '[':
		return Scalar{}, false
	case 'n':
		if string(b) == "null" {
			return Scalar{Kind: KindNull}, true
		}
	case 't':
		if string(b) == "true" {
			return Scalar{Kind: KindTrue}, true
		}
	case 'f':
		if string(b) == "false" {
			return Scalar{Kind: KindFalse}, true
		}
	case '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			return Scalar{Kind: KindString, Str: s}, true
		}
	default:
		var f float64
		if json.Unmarshal(b, &f) == nil {
			return Scalar{Kind: KindNumber, Num: f}, true
		}
	}
	return Scalar{}, false
}
