package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Op is a where-clause operator.
type Op string

// Operators.
const (
	OpEq     Op = "=="
	OpNe     Op = "!="
	OpLt     Op = "<"
	OpLe     Op = "<="
	OpGt     Op = ">"
	OpGe     Op = ">="
	OpIn     Op = "=in="
	OpExists Op = "exists"
)

// Limits of a query.
const (
	// MaxClauses is the most where-clauses one query may combine.
	MaxClauses = 8
	// MaxInValues is the most values one =in= list may hold.
	MaxInValues = 64
	// MaxClauseBytes bounds one where-parameter.
	MaxClauseBytes = 1024
)

// Clause is one parsed where-condition.
type Clause struct {
	Path Path
	Op   Op
	// Values holds the operand: one value, or the distinct values of =in=
	// in encoded order; none for exists.
	Values []Scalar
}

// String returns the clause in the syntax ParseClause reads.
func (c Clause) String() string {
	switch c.Op {
	case OpExists:
		return "exists(" + c.Path.String() + ")"
	case OpIn:
		vs := make([]string, len(c.Values))
		for i, v := range c.Values {
			vs[i] = v.String()
		}
		return c.Path.String() + "=in=(" + strings.Join(vs, ",") + ")"
	}
	return c.Path.String() + string(c.Op) + c.Values[0].String()
}

// ParseQuery parses several where-parameters, combined with AND.
func ParseQuery(params []string) ([]Clause, error) {
	if len(params) > MaxClauses {
		return nil, fmt.Errorf("%w: %d where-clauses, at most %d", ErrInvalidQuery, len(params), MaxClauses)
	}
	out := make([]Clause, 0, len(params))
	for _, p := range params {
		c, err := ParseClause(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseClause parses one where-parameter (see the package documentation).
func ParseClause(s string) (Clause, error) {
	if len(s) > MaxClauseBytes {
		return Clause{}, fmt.Errorf("%w: clause longer than %d bytes", ErrInvalidQuery, MaxClauseBytes)
	}
	if !utf8.ValidString(s) {
		return Clause{}, fmt.Errorf("%w: clause is not valid UTF-8", ErrInvalidQuery)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return Clause{}, fmt.Errorf("%w: empty where-clause", ErrInvalidQuery)
	}
	if inner, ok := strings.CutPrefix(s, "exists("); ok {
		p, ok := strings.CutSuffix(inner, ")")
		if !ok {
			return Clause{}, fmt.Errorf("%w: %q: exists( without a closing )", ErrInvalidQuery, s)
		}
		path, err := ParsePath(strings.TrimSpace(p))
		if err != nil {
			return Clause{}, err
		}
		return Clause{Path: path, Op: OpExists}, nil
	}
	i := 0
	for i < len(s) && (isPathByte(s[i]) || s[i] == '.') {
		i++
	}
	path, err := ParsePath(s[:i])
	if err != nil {
		if i == 0 {
			return Clause{}, fmt.Errorf("%w: %q does not start with a path", ErrInvalidPath, s)
		}
		return Clause{}, err
	}
	rest := s[i:]
	if strings.TrimSpace(rest) == "" {
		return Clause{Path: path, Op: OpExists}, nil
	}
	var op Op
	for _, cand := range []Op{OpIn, OpEq, OpNe, OpLe, OpGe, OpLt, OpGt} {
		if strings.HasPrefix(rest, string(cand)) {
			op = cand
			break
		}
	}
	if op == "" {
		return Clause{}, fmt.Errorf("%w: %q: after the path %q comes %q; operators are == != < <= > >= =in=(...) and exists(path)",
			ErrUnknownOperator, s, path, opHint(rest))
	}
	operand := strings.TrimSpace(rest[len(op):])
	c := Clause{Path: path, Op: op}
	if op == OpIn {
		vals, err := parseList(operand)
		if err != nil {
			return Clause{}, fmt.Errorf("%w: %q: %v", ErrInvalidQuery, s, err)
		}
		c.Values = vals
		return c, nil
	}
	v, err := ParseValue(operand)
	if err != nil {
		return Clause{}, fmt.Errorf("%w: %q: %v", ErrInvalidQuery, s, err)
	}
	if op != OpEq && op != OpNe && v.Kind != KindNumber && v.Kind != KindString {
		return Clause{}, fmt.Errorf("%w: %q: %s compares numbers or strings, not %s", ErrInvalidQuery, s, op, v)
	}
	c.Values = []Scalar{v}
	return c, nil
}

// opHint is the operator-looking start of rest, for the error message.
func opHint(rest string) string {
	n := 0
	for n < len(rest) && n < 4 && strings.IndexByte("=!<>~^$*%&|:?@#([{ ", rest[n]) >= 0 {
		n++
	}
	if n == 0 {
		n = min(len(rest), 4)
	}
	return rest[:n]
}

// ParseValue reads a value literal: JSON scalar, or a bare word as a string.
func ParseValue(s string) (Scalar, error) {
	if s == "" {
		return Scalar{}, fmt.Errorf(`missing value (write "" for the empty string)`)
	}
	if s[0] == '{' || s[0] == '[' {
		return Scalar{}, fmt.Errorf("value %s is not a scalar (objects and arrays are not indexed)", s)
	}
	if s[0] == '"' {
		if v, ok := parseScalarJSON([]byte(s)); ok {
			return v, nil
		}
		return Scalar{}, fmt.Errorf("value %s is not a valid JSON string", s)
	}
	if json.Valid([]byte(s)) {
		if v, ok := parseScalarJSON([]byte(s)); ok {
			return v, nil
		}
	}
	return Scalar{Kind: KindString, Str: s}, nil
}

// parseList reads "(v1,v2,...)"; commas inside quoted strings do not split.
func parseList(s string) ([]Scalar, error) {
	inner, ok := strings.CutPrefix(s, "(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	if !ok {
		return nil, fmt.Errorf("=in= takes a list in parentheses: path=in=(a,b)")
	}
	var parts []string
	start, inStr, esc := 0, false, false
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case c == ',' && !inStr:
			parts = append(parts, inner[start:i])
			start = i + 1
		}
	}
	parts = append(parts, inner[start:])
	if len(parts) > MaxInValues {
		return nil, fmt.Errorf("=in= list of %d values, at most %d", len(parts), MaxInValues)
	}
	vals := make([]Scalar, 0, len(parts))
	for _, p := range parts {
		v, err := ParseValue(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	slices.SortFunc(vals, Compare)
	return slices.CompactFunc(vals, func(a, b Scalar) bool { return Compare(a, b) == 0 }), nil
}

// Match reports whether a value whose scalar at the clause's path is s (ok
// false: no scalar there) satisfies the clause.
func (c Clause) Match(s Scalar, ok bool) bool {
	if !ok {
		return false
	}
	if c.Op == OpExists {
		return true
	}
	if c.Op == OpIn {
		for _, v := range c.Values {
			if Compare(s, v) == 0 {
				return true
			}
		}
		return false
	}
	v := c.Values[0]
	cmp := Compare(s, v)
	switch c.Op {
	case OpEq:
		return cmp == 0
	case OpNe:
		return cmp != 0
	}
	if s.Kind != v.Kind {
		return false
	}
	switch c.Op {
	case OpLt:
		return cmp < 0
	case OpLe:
		return cmp <= 0
	case OpGt:
		return cmp > 0
	default:
		return cmp >= 0
	}
}

// MatchValue extracts the clause's path from a JSON value and matches it.
func (c Clause) MatchValue(v json.RawMessage) bool {
	s, ok := Extract(v, c.Path)
	return c.Match(s, ok)
}

// Range is a half-open range [Lo, Hi) of encoded values; a nil Lo is the
// start of the index, a nil Hi its end.
type Range struct {
	Lo, Hi []byte
}

// Contains reports whether the encoded value e is in the range.
func (r Range) Contains(e []byte) bool {
	return (r.Lo == nil || bytes.Compare(e, r.Lo) >= 0) && (r.Hi == nil || bytes.Compare(e, r.Hi) < 0)
}

// Ranges returns the ranges of encoded values that satisfy the clause, in
// ascending order and disjoint.
func (c Clause) Ranges() []Range {
	switch c.Op {
	case OpExists:
		return []Range{{}}
	case OpIn:
		out := make([]Range, 0, len(c.Values))
		for _, v := range c.Values {
			e := EncodeScalar(v)
			out = append(out, Range{Lo: e, Hi: PrefixEnd(e)})
		}
		return out
	}
	v := c.Values[0]
	e := EncodeScalar(v)
	kindLo, kindHi := []byte{byte(v.Kind)}, []byte{byte(v.Kind) + 1}
	switch c.Op {
	case OpEq:
		return []Range{{Lo: e, Hi: PrefixEnd(e)}}
	case OpNe:
		return []Range{{Hi: e}, {Lo: PrefixEnd(e)}}
	case OpLt:
		return []Range{{Lo: kindLo, Hi: e}}
	case OpLe:
		return []Range{{Lo: kindLo, Hi: PrefixEnd(e)}}
	case OpGt:
		return []Range{{Lo: PrefixEnd(e), Hi: kindHi}}
	default:
		return []Range{{Lo: e, Hi: kindHi}}
	}
}

// Selectivity ranks how few entries a clause is likely to match, lower
// first; the store drives a query from the most selective indexed clause.
func (c Clause) Selectivity() int {
	switch c.Op {
	case OpEq:
		return 0
	case OpIn:
		return 1
	case OpLt, OpLe, OpGt, OpGe:
		return 2
	default:
		return 3
	}
}
