package jsonutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Errors of this package, matched with errors.Is.
var (
	// ErrInvalidJSON: the input is not exactly one JSON value (syntax error,
	// empty, or data after the value).
	ErrInvalidJSON = errors.New("jsonutil: invalid JSON")
	// ErrTooDeep: arrays and objects are nested deeper than allowed.
	ErrTooDeep = errors.New("jsonutil: JSON nested too deep")
)

// Check verifies that b is exactly one valid JSON value, with insignificant
// whitespace around it allowed, whose arrays and objects are nested at most
// maxDepth deep: a scalar is depth 0, {"a":1} and [1] are depth 1,
// {"a":[1]} is depth 2. A negative maxDepth acts as 0.
//
// It runs in O(len(b)) time and builds no value: a recursive descent checks
// syntax and depth in one pass (stopping at the first level too many, so a
// hostile body costs no more than its length, and recursing at most
// maxDepth deep). Only when that fails does it find the error: a byte
// scanner tracks the depth, then encoding/json words the syntax error.
// Errors wrap ErrTooDeep or ErrInvalidJSON and give the zero-based position
// of the offending byte.
func Check(b []byte, maxDepth int) error {
	if valid(b, maxDepth) {
		return nil
	}
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				return fmt.Errorf("%w: more than %d levels at byte %d", ErrTooDeep, max(maxDepth, 0), i)
			}
		case '}', ']':
			depth--
		}
	}
	if json.Valid(b) {
		return nil
	}
	return invalid(b)
}

// invalid describes why b is not valid JSON; only called on the error path.
// Unmarshal into a RawMessage runs the syntax check that records offsets and
// then only copies bytes.
func invalid(b []byte) error {
	var raw json.RawMessage
	err := json.Unmarshal(b, &raw)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// Offset counts the bytes read when the error was found; report the
		// zero-based position of the offending byte, as ErrTooDeep does.
		return fmt.Errorf("%w: %v at byte %d", ErrInvalidJSON, se, max(se.Offset-1, 0))
	case err != nil:
		return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	return ErrInvalidJSON
}

// Compact returns b without insignificant whitespace, in a new slice. The
// contents of strings are kept byte for byte (no HTML escaping). Invalid
// input is ErrInvalidJSON.
func Compact(b []byte) ([]byte, error) {
	if valid(b, maxNesting) {
		return appendCompact(make([]byte, 0, len(b)), b), nil
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	if err := json.Compact(&buf, b); err != nil {
		return nil, invalid(b)
	}
	return buf.Bytes(), nil
}
