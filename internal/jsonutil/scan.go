package jsonutil

import "unicode/utf8"

// maxNesting is encoding/json's limit of nested arrays and objects: deeper
// input is invalid for json.Valid and json.Compact.
const maxNesting = 10000

// valid reports whether b is exactly one JSON value, with whitespace around
// it, nested at most maxDepth deep — what json.Valid accepts (strings may
// hold invalid UTF-8), within the depth. It is a plain recursive descent
// that allocates nothing, several times faster than json.Valid; Check and
// Compact use it on their success path and fall back to encoding/json for
// the wording of an error. FuzzValid keeps it equal to json.Valid.
func valid(b []byte, maxDepth int) bool {
	s := syntax{b: b, maxDepth: min(maxDepth, maxNesting)}
	s.space()
	return s.value(0) && s.end()
}

type syntax struct {
	b        []byte
	i        int
	maxDepth int
}

func (s *syntax) space() { s.i = SkipSpace(s.b, s.i) }

// SkipSpace returns the index of the first byte of b at or after i that is
// not JSON whitespace (len(b) if none is).
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// after reads what follows a member or an element: a comma (and the
// whitespace after it) or the closing byte; closed reports the latter.
func (s *syntax) after(close byte) (closed, ok bool) {
	s.space()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		s.space()
		return false, true
	case close:
		s.i++
		return true, true
	}
	return false, false
}

func (s *syntax) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.string()
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

func (s *syntax) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

func (s *syntax) object(depth int) bool {
	if depth > s.maxDepth {
		return false
	}
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' || !s.string() {
			return false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		if !s.value(depth) {
			return false
		}
		if closed, ok := s.after('}'); !ok || closed {
			return ok
		}
	}
}

func (s *syntax) array(depth int) bool {
	if depth > s.maxDepth {
		return false
	}
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		if closed, ok := s.after(']'); !ok || closed {
			return ok
		}
	}
}

func (s *syntax) string() bool {
	for i := s.i + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(s.b) {
				return false
			}
			switch s.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.b)-i <= 4 {
					return false
				}
				for _, h := range s.b[i+1 : i+5] {
					if !isHex(h) {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *syntax) number() bool {
	b, i := s.b, s.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return false
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
			return false
		}
		i = j
	}
	s.i = i
	return true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// appendCompact appends valid JSON b without the whitespace outside its
// strings, as json.Compact does.
func appendCompact(dst, b []byte) []byte {
	inString := false
	start := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\n', '\r':
			dst = append(dst, b[start:i]...)
			start = i + 1
		}
	}
	return append(dst, b[start:]...)
}

// Members calls fn with the key and the raw value of each member of the JSON
// object b, in order. It is a fast path for decoding a request body: ok is
// false, and fn may have seen some members, when b is not one valid object,
// a key holds an escape or invalid UTF-8, or fn returned false — the cases
// the caller leaves to encoding/json. A value is the member's bytes as they
// are, without the whitespace around them.
//
// depth is the nesting of b in the document it comes from (0 for a whole
// body), so that a document nested deeper than encoding/json allows is not
// ok either.
func Members(b []byte, depth int, fn func(key string, value []byte) bool) (ok bool) {
	s := syntax{b: b, maxDepth: maxNesting - depth}
	s.space()
	if s.i >= len(b) || b[s.i] != '{' || s.maxDepth < 1 {
		return false
	}
	s.i++
	s.space()
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
		return s.end()
	}
	for {
		key, ok := PlainString(s.rest())
		if !ok {
			return false
		}
		s.string()
		s.space()
		if s.i >= len(b) || b[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		start := s.i
		if !s.value(1) {
			return false
		}
		if !fn(key, b[start:s.i]) {
			return false
		}
		if closed, ok := s.after('}'); !ok || closed {
			return ok && s.end()
		}
	}
}

// end reports whether only whitespace is left.
func (s *syntax) end() bool {
	s.space()
	return s.i == len(s.b)
}

func (s *syntax) rest() []byte { return s.b[s.i:] }

// PlainString returns the text of the JSON string at the start of b when it
// holds no escape and is valid UTF-8, so that it decodes to its bytes as
// they are; ok is false otherwise.
func PlainString(b []byte) (string, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", false
	}
	ascii := true
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[1:i]) {
				return "", false
			}
			return string(b[1:i]), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// Elements calls fn with the raw bytes of each element of the JSON array b,
// in order: the array counterpart of Members, with the same meaning of ok
// and depth.
func Elements(b []byte, depth int, fn func(value []byte) bool) (ok bool) {
	s := syntax{b: b, maxDepth: maxNesting - depth}
	s.space()
	if s.i >= len(b) || b[s.i] != '[' || s.maxDepth < 1 {
		return false
	}
	s.i++
	s.space()
	if s.i < len(b) && b[s.i] == ']' {
		s.i++
		return s.end()
	}
	for {
		start := s.i
		if !s.value(1) || !fn(b[start:s.i]) {
			return false
		}
		if closed, ok := s.after(']'); !ok || closed {
			return ok && s.end()
		}
	}
}
