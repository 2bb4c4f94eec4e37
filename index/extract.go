package index

import (
	"bytes"
	"encoding/json"
)

// Extract returns the scalar at p in the JSON value v. ok is false when the
// path is missing, runs through a non-object, ends at an object or an
// array, or v is not valid JSON on the way: such a value is not indexed.
//
// It scans v without decoding what it does not need (values are stored as
// validated JSON text; a full decode per write and per build step was most
// of an index's cost). Where an object repeats a member name, the last one
// counts, as encoding/json decodes it.
func Extract(v json.RawMessage, p Path) (s Scalar, ok bool) {
	cur := []byte(v)
	for _, seg := range p {
		next, found := member(cur, seg)
		if !found {
			return Scalar{}, false
		}
		cur = next
	}
	return parseScalarJSON(cur)
}

// member returns the raw value of member name of the JSON object at the
// start of b.
func member(b []byte, name string) ([]byte, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, false
	}
	var found []byte
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		end := skipString(b, i)
		if end < 0 {
			return nil, false
		}
		key := b[i:end]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipWS(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 {
			return nil, false
		}
		if keyEquals(key, name) {
			found = b[i:vend]
		}
		i = skipWS(b, vend)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return found, found != nil
		default:
			return nil, false
		}
	}
}

// keyEquals compares a quoted JSON string with name.
func keyEquals(quoted []byte, name string) bool {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var s string
	return json.Unmarshal(quoted, &s) == nil && s == name
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"',
// or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
// Nested objects and arrays are skipped by bracket depth; their contents are
// checked only as far as strings go (a scalar found later is parsed fully).
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := skipString(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
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
		if bytes.IndexByte(b, '\\') < 0 && len(b) >= 2 && b[len(b)-1] == '"' && validPlainString(b[1:len(b)-1]) {
			return Scalar{Kind: KindString, Str: string(b[1 : len(b)-1])}, true
		}
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

// validPlainString reports whether s (a string's contents without escapes)
// holds no quote or control character and is valid UTF-8, so that it is
// its own decoded value.
func validPlainString(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '"' || c >= 0x80 {
			if c >= 0x80 {
				var x string
				return json.Unmarshal(append(append([]byte{'"'}, s...), '"'), &x) == nil && x == string(s)
			}
			return false
		}
	}
	return true
}
