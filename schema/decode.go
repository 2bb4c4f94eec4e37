package schema

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/schemakv/schemakv/internal/jsonutil"
)

// decodeValue decodes doc, exactly one JSON value with optional whitespace
// around it, into the form the library validates: what encoding/json with
// UseNumber makes of it (map[string]any, []any, string, json.Number, bool,
// nil). It is a plain recursive descent over the bytes, several times
// faster than encoding/json's reflective decoder on the write path.
//
// ok is false when doc is not valid JSON, nests deeper than encoding/json
// allows, or holds a string with escapes or invalid UTF-8 that it leaves to
// encoding/json; Validate then decodes with encoding/json, which gives the
// same value or the error message callers have always seen.
// FuzzDecodeValue checks that whenever ok is true the value is
// encoding/json's.
func decodeValue(doc []byte) (v any, ok bool) {
	d := valueDecoder{b: doc, s: string(doc)}
	d.space()
	v, ok = d.value(0)
	d.space()
	return v, ok && d.i == len(d.b)
}

// maxDecodeDepth is encoding/json's limit of nested arrays and objects.
const maxDecodeDepth = 10000

type valueDecoder struct {
	b []byte
	i int
	// s is a copy of b that the strings and numbers of the value are cut
	// from: one allocation instead of one per string.
	s string
}

func (d *valueDecoder) space() { d.i = jsonutil.SkipSpace(d.b, d.i) }

func (d *valueDecoder) value(depth int) (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.string()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, false
}

func (d *valueDecoder) literal(lit string) bool {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		return false
	}
	d.i += len(lit)
	return true
}

func (d *valueDecoder) object(depth int) (any, bool) {
	if depth > maxDecodeDepth {
		return nil, false
	}
	d.i++ // {
	m := make(map[string]any)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, true
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, false
		}
		k, ok := d.string()
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, false
		}
		d.i++
		d.space()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		d.space()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.space()
		case '}':
			d.i++
			return m, true
		default:
			return nil, false
		}
	}
}

func (d *valueDecoder) array(depth int) (any, bool) {
	if depth > maxDecodeDepth {
		return nil, false
	}
	d.i++ // [
	a := make([]any, 0)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.space()
		case ']':
			d.i++
			return a, true
		default:
			return nil, false
		}
	}
}

// string decodes a string without escapes whose bytes are valid UTF-8; it
// leaves the others to encoding/json (escapes and the replacement of
// invalid UTF-8 are where decoders differ in detail).
func (d *valueDecoder) string() (string, bool) {
	start := d.i + 1
	ascii := true
	for i := start; i < len(d.b); i++ {
		switch c := d.b[i]; {
		case c == '"':
			if !ascii && !utf8.Valid(d.b[start:i]) {
				return "", false
			}
			d.i = i + 1
			return d.s[start:i], true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// number checks the JSON number grammar and keeps the text.
func (d *valueDecoder) number() (any, bool) {
	b, i := d.b, d.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return nil, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	n := json.Number(d.s[d.i:i])
	d.i = i
	return n, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
