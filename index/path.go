package index

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of this package; match them with errors.Is.
var (
	// ErrInvalidPath: a path outside the supported subset.
	ErrInvalidPath = errors.New("index: invalid path")
	// ErrUnknownOperator: a where-clause whose operator is not one of
	// == != < <= > >= =in= exists.
	ErrUnknownOperator = errors.New("index: unknown operator")
	// ErrInvalidQuery: a where-clause that does not parse otherwise (bad
	// value, range on a boolean, too many clauses).
	ErrInvalidQuery = errors.New("index: invalid query")
)

// Limits of a path.
const (
	MaxPathSegments = 16
	MaxPathBytes    = 256
	maxSegmentBytes = 64
)

// Path is a parsed JSON path: the object member names from the root.
type Path []string

// String returns the dotted form.
func (p Path) String() string { return strings.Join(p, ".") }

// ParsePath parses a dotted path such as "owner.team".
func ParsePath(s string) (Path, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty path", ErrInvalidPath)
	}
	if len(s) > MaxPathBytes {
		return nil, fmt.Errorf("%w: path longer than %d bytes", ErrInvalidPath, MaxPathBytes)
	}
	segs := strings.Split(s, ".")
	if len(segs) > MaxPathSegments {
		return nil, fmt.Errorf("%w: %q has more than %d segments", ErrInvalidPath, s, MaxPathSegments)
	}
	for _, seg := range segs {
		if seg == "" {
			return nil, fmt.Errorf("%w: %q has an empty segment", ErrInvalidPath, s)
		}
		if len(seg) > maxSegmentBytes {
			return nil, fmt.Errorf("%w: segment %q longer than %d bytes", ErrInvalidPath, seg, maxSegmentBytes)
		}
		for i := 0; i < len(seg); i++ {
			if !isPathByte(seg[i]) {
				return nil, fmt.Errorf("%w: %q: character %q is not allowed (field names use A-Z a-z 0-9 _ -, separated by dots; no escaping, no array indexes)", ErrInvalidPath, s, seg[i])
			}
		}
	}
	return Path(segs), nil
}

func isPathByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
