package schema

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/schemakv/schemakv/api"
)

// Schema is a compiled, closed schema version. It is immutable and safe for
// concurrent use.
type Schema struct {
	sch       *jsonschema.Schema
	maxErrors int
}

// Validate checks doc, the raw bytes of one JSON value. It returns nil if the
// value is valid; otherwise the failing leaves — one api.FieldError per
// failing instance location and keyword, sorted by pointer (array indexes in
// numeric order) and then keyword, at most Config.MaxErrors of them — and
// total, the number before the cap. Numbers are decoded as json.Number, so
// big integers keep their precision.
//
// An unknown property of a closed object is reported at the property's own
// pointer with the keyword "additionalProperties" or
// "unevaluatedProperties" of the object's schema.
//
// err is non-nil only when doc is not exactly one JSON value
// (ErrInvalidValue), or, never for a schema that compiled, when validation
// detects a $ref loop (ErrInvalidSchema).
func (s *Schema) Validate(doc []byte) (errs []api.FieldError, total int, err error) {
	_ = growStack()
	return s.validate(doc)
}

// stackIndex is a variable so that the compiler cannot drop growStack's
// array.
var stackIndex = 0

// growStack makes room on the calling goroutine's stack for a validation, in
// one step while the stack is still shallow.
//
// The library validates by deep recursion and needs a stack of 32 to 64 KiB
// for an ordinary config (schema/testdata/service.*); a request goroutine
// has a few KiB (the garbage collector shrinks the stacks of idle
// goroutines), so without this each validation grew its stack by doubling,
// copying the deepening stack several times: a fifth of the time of that
// validation on a fresh goroutine. A frame of 32 KiB makes the runtime grow
// the stack to 64 KiB at once, copying only the few frames above. When the
// stack is already large it costs zeroing the frame, well under a
// microsecond.
//
//go:noinline
func growStack() byte {
	var room [32 << 10]byte
	return room[stackIndex]
}

func (s *Schema) validate(doc []byte) (errs []api.FieldError, total int, err error) {
	v, ok := decodeValue(doc)
	if !ok {
		if v, err = decodeValueSlow(doc); err != nil {
			return nil, 0, err
		}
	}
	verr := s.sch.Validate(v)
	if verr == nil {
		return nil, 0, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return nil, 0, newError(ErrInvalidSchema, "", strings.TrimPrefix(verr.Error(), "jsonschema: "))
	}
	errs = leafErrors(ve)
	total = len(errs)
	if len(errs) > s.maxErrors {
		errs = errs[:s.maxErrors:s.maxErrors]
	}
	return errs, total, nil
}

// decodeValueSlow decodes doc with encoding/json, for what decodeValue
// leaves to it, and words the errors of a doc that is not one JSON value.
func decodeValueSlow(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not valid JSON: %v", ErrInvalidValue, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: not valid JSON: data after the value", ErrInvalidValue)
	}
	return v, nil
}

// leafErrors flattens a validation error tree to its leaves, with RFC 6901
// pointers, deduplicated by (pointer, keyword) and sorted.
func leafErrors(ve *jsonschema.ValidationError) []api.FieldError {
	var out []api.FieldError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = appendLeaf(out, api.FieldError{
			Pointer: unescapeLocation(e.InstanceLocation),
			Keyword: unescapeLocation(e.KeywordLocation),
			Message: e.Message,
		})
	}
	walk(ve)
	out = dropUnreliableUnknowns(out)

	slices.SortStableFunc(out, func(a, b api.FieldError) int {
		if c := comparePointers(a.Pointer, b.Pointer); c != 0 {
			return c
		}
		return comparePointers(a.Keyword, b.Keyword)
	})
	return slices.CompactFunc(out, func(a, b api.FieldError) bool {
		return a.Pointer == b.Pointer && a.Keyword == b.Keyword
	})
}

// inPlaceApplicators are the keywords whose subschemas apply to the same
// instance and, when they succeed, tell unevaluatedProperties which
// properties they evaluated.
var inPlaceApplicators = map[string]bool{
	"$ref": true, "$dynamicRef": true, "$recursiveRef": true,
	"allOf": true, "anyOf": true, "oneOf": true, "then": true, "else": true,
	"dependentSchemas": true, "dependencies": true,
}

// dropUnreliableUnknowns removes "unknown property" errors of an
// unevaluatedProperties:false whose in-place subschemas failed. A failing
// subschema contributes no evaluated properties (JSON Schema drops the
// annotations of a failed schema), so every property only it declares would
// be reported as unknown next to the real error: {"a": {"street": 1}} would
// say both "expected string" and "unknown property street". The unknown
// properties that are real are reported once the other errors are fixed.
func dropUnreliableUnknowns(leaves []api.FieldError) []api.FieldError {
	failed := map[string]bool{} // schema locations with a failing in-place subschema
	unknowns := false
	for _, fe := range leaves {
		// Every leaf counts, an unknown property too: deep inside a $ref it
		// fails the $ref, which hides what the $ref declared from the
		// unevaluatedProperties of the schemas around it.
		unknowns = unknowns || isUnevaluatedLeaf(fe)
		kw := fe.Keyword
		for i := 0; i < len(kw); i++ {
			if kw[i] != '/' {
				continue
			}
			tok, _ := nextToken(kw[i:])
			if inPlaceApplicators[tok] {
				failed[kw[:i]] = true
			}
		}
	}
	if !unknowns || len(failed) == 0 {
		return leaves
	}
	return slices.DeleteFunc(leaves, func(fe api.FieldError) bool {
		return isUnevaluatedLeaf(fe) && failed[strings.TrimSuffix(fe.Keyword, "/unevaluatedProperties")]
	})
}

// isUnevaluatedLeaf reports whether fe is an unknown property refused by
// "unevaluatedProperties": false.
func isUnevaluatedLeaf(fe api.FieldError) bool {
	return isKeyword(fe.Keyword, "unevaluatedProperties") && strings.HasPrefix(fe.Message, "unknown property ")
}

// appendLeaf appends one leaf, rewriting the library's unknown-property
// errors: additionalProperties:false reports every unknown name in one
// message at the object; it becomes one error per property, at the property.
func appendLeaf(out []api.FieldError, fe api.FieldError) []api.FieldError {
	switch {
	case isKeyword(fe.Keyword, "additionalProperties"):
		list, ok := strings.CutPrefix(fe.Message, "additionalProperties ")
		if !ok {
			break
		}
		list, ok = strings.CutSuffix(list, " not allowed")
		if !ok {
			break
		}
		names, ok := parseQuotedList(list)
		if !ok {
			break
		}
		for _, name := range names {
			out = append(out, api.FieldError{
				Pointer: fe.Pointer + "/" + escapePointerToken(name),
				Keyword: fe.Keyword,
				Message: unknownProperty(name),
			})
		}
		return out
	case isKeyword(fe.Keyword, "unevaluatedProperties") && fe.Message == "not allowed":
		i := strings.LastIndexByte(fe.Pointer, '/')
		if i < 0 {
			break
		}
		fe.Message = unknownProperty(unescapePointerToken(fe.Pointer[i+1:]))
	}
	return append(out, fe)
}

func unknownProperty(name string) string {
	return fmt.Sprintf("unknown property %q is not allowed", name)
}

// isKeyword reports whether the keyword location loc ends in keyword kw.
func isKeyword(loc, kw string) bool {
	return strings.HasSuffix(loc, "/"+kw)
}

// parseQuotedList parses the library's list of property names: each quoted
// by jsonschema's quote (Go %q, then `\"` → `"` and `'` → `\'`, wrapped in
// single quotes), joined by ", ". ok is false if s has another shape.
func parseQuotedList(s string) (names []string, ok bool) {
	for {
		if s == "" || s[0] != '\'' {
			return nil, false
		}
		s = s[1:]
		var lit strings.Builder // the body of a Go double-quoted literal
		closed := false
		i := 0
		for i < len(s) && !closed {
			switch c := s[i]; c {
			case '\\':
				if i+1 == len(s) {
					return nil, false
				}
				if s[i+1] == '\'' {
					lit.WriteByte('\'')
				} else {
					lit.WriteString(s[i : i+2])
				}
				i += 2
			case '\'':
				closed = true
				i++
			case '"':
				lit.WriteString(`\"`)
				i++
			default:
				lit.WriteByte(c)
				i++
			}
		}
		if !closed {
			return nil, false
		}
		name, err := strconv.Unquote(`"` + lit.String() + `"`)
		if err != nil {
			return nil, false
		}
		names = append(names, name)
		s = s[i:]
		if s == "" {
			return names, true
		}
		if s, ok = strings.CutPrefix(s, ", "); !ok {
			return nil, false
		}
	}
}

// unescapeLocation turns the library's locations, whose tokens are JSON
// pointer tokens additionally percent-encoded (url.PathEscape), into plain
// RFC 6901 pointers.
func unescapeLocation(loc string) string {
	if !strings.Contains(loc, "%") {
		return loc
	}
	if u, err := url.PathUnescape(loc); err == nil {
		return u
	}
	return loc
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
var pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")

func escapePointerToken(s string) string   { return pointerEscaper.Replace(s) }
func unescapePointerToken(s string) string { return pointerUnescaper.Replace(s) }

// comparePointers orders JSON pointers token by token, comparing tokens that
// are both array indexes numerically, so /a/2 sorts before /a/10 and a
// parent before its children.
func comparePointers(a, b string) int {
	for a != "" && b != "" {
		var ta, tb string
		ta, a = nextToken(a)
		tb, b = nextToken(b)
		if c := compareTokens(ta, tb); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// nextToken splits "/tok/rest" into "tok" and "/rest".
func nextToken(p string) (tok, rest string) {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

func compareTokens(a, b string) int {
	if isIndex(a) && isIndex(b) {
		if c := cmp.Compare(len(a), len(b)); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func isIndex(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
