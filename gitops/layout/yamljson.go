package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseYAML parses one YAML (or JSON, which YAML 1.2 reads too) document and
// returns its root content node. An empty file is an error: every file of the
// layout holds something.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &lineError{line: 1, msg: "empty file"}
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &lineError{line: extra.Line, msg: "a second YAML document: a file holds exactly one"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &lineError{line: 1, msg: "not a YAML document"}
	}
	return doc.Content[0], nil
}

// lineError is a problem at one line of the file being read.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return e.msg }

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// yamlError turns the parser's "yaml: line N: msg" into a lineError.
func yamlError(err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &lineError{line: 1, msg: err.Error()}
	}
	line, _ := strconv.Atoi(m[1])
	// yaml.v3 counts lines from 1 for scanner errors but from 0 for parser
	// errors (decode.go, parser.fail); the parser's messages are the
	// "did not find expected ..." ones.
	if line > 0 && strings.HasPrefix(m[2], "did not find expected") {
		line++
	}
	if line == 0 {
		line = 1
	}
	return &lineError{line: line, msg: m[2]}
}

// NodeToJSON converts a parsed YAML node to compact JSON exactly as the
// layout reads a value: strings are written as UTF-8 without HTML escaping,
// numbers keep their digits. Export writes JSON files through it, so that
// they hold nothing the YAML reader rejects (such as an escaped surrogate
// pair). A failure names the node's line.
func NodeToJSON(n *yaml.Node) (json.RawMessage, error) { return toJSON(n) }

// toJSON converts a YAML node to compact JSON, keeping the order of mapping
// keys. It accepts the JSON-compatible subset of YAML: string keys, no
// infinities or NaN, no merge keys, no duplicate keys; aliases are expanded.
func toJSON(n *yaml.Node) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, n, 0); err != nil {
		return nil, err
	}
	return json.RawMessage(buf.Bytes()), nil
}

// maxAliasDepth bounds alias expansion so that a "billion laughs" document
// fails instead of exhausting memory.
const maxAliasDepth = 64

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// maxExpandedBytes bounds the JSON a file expands to: aliases can make a
// small file describe an enormous value ("billion laughs"), and nothing
// larger than the server's body limit could be applied anyway.
const maxExpandedBytes = 2 * MaxFileBytes

func writeJSON(buf *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > maxAliasDepth {
		return &lineError{line: n.Line, msg: "nested too deeply"}
	}
	if buf.Len() > maxExpandedBytes {
		return &lineError{line: n.Line, msg: fmt.Sprintf("the value expands to more than %d bytes (aliases?)", maxExpandedBytes)}
	}
	switch n.Kind {
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias, depth+1)
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return &lineError{line: k.Line, msg: "mapping keys must be plain strings (no merge keys or complex keys)"}
			}
			if first, dup := seen[k.Value]; dup {
				return &lineError{line: k.Line, msg: fmt.Sprintf("key %q already defined at line %d", k.Value, first)}
			}
			seen[k.Value] = k.Line
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(quoteJSON(k.Value))
			buf.WriteByte(':')
			if err := writeJSON(buf, v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, c, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	default:
		return &lineError{line: n.Line, msg: "unsupported YAML node"}
	}
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return &lineError{line: n.Line, msg: fmt.Sprintf("invalid boolean %q", n.Value)}
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int":
		if jsonNumber.MatchString(n.Value) {
			buf.WriteString(n.Value)
			return nil
		}
		s := strings.ReplaceAll(n.Value, "_", "")
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimLeft(s, "+-")
		base := 10
		switch {
		case strings.HasPrefix(s, "0x"):
			base, s = 16, s[2:]
		case strings.HasPrefix(s, "0o"):
			base, s = 8, s[2:]
		case strings.HasPrefix(s, "0b"):
			base, s = 2, s[2:]
		}
		v, ok := new(big.Int).SetString(s, base)
		if !ok {
			return &lineError{line: n.Line, msg: fmt.Sprintf("invalid integer %q", n.Value)}
		}
		if neg {
			v.Neg(v)
		}
		buf.WriteString(v.String())
	case "!!float":
		if jsonNumber.MatchString(n.Value) {
			buf.WriteString(n.Value)
			return nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return &lineError{line: n.Line, msg: fmt.Sprintf("invalid number %q", n.Value)}
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return &lineError{line: n.Line, msg: fmt.Sprintf("%s is not a JSON number", n.Value)}
		}
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case "!!str":
		buf.WriteString(quoteJSON(n.Value))
	default:
		return &lineError{line: n.Line, msg: fmt.Sprintf("unsupported YAML tag %s (JSON values only)", n.ShortTag())}
	}
	return nil
}

// mapping returns the fields of a YAML mapping node by key.
func mapping(n *yaml.Node) (map[string][2]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, &lineError{line: n.Line, msg: "expected a mapping (key: value pairs)"}
	}
	out := make(map[string][2]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if first, dup := out[k.Value]; dup {
			return nil, &lineError{line: k.Line, msg: fmt.Sprintf("key %q already defined at line %d", k.Value, first[0].Line)}
		}
		out[k.Value] = [2]*yaml.Node{k, n.Content[i+1]}
	}
	return out, nil
}

// lineOf returns the line of the node at a JSON pointer below n, or of the
// deepest node on the way that exists.
func lineOf(n *yaml.Node, pointer string) int {
	if n == nil {
		return 0
	}
	line := n.Line
	if pointer == "" {
		return line
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					// Point at the key: that is where a reader looks.
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// JSONEqual reports whether two JSON texts hold the same value: object key
// order and number spelling (1.0, 1e0, 1) do not matter.
func JSONEqual(a, b []byte) bool {
	va, err1 := decodeJSON(a)
	vb, err2 := decodeJSON(b)
	if err1 != nil || err2 != nil {
		return bytes.Equal(a, b)
	}
	return valueEqual(va, vb)
}

func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func valueEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valueEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		rx, ok1 := new(big.Rat).SetString(string(x))
		ry, ok2 := new(big.Rat).SetString(string(y))
		return ok1 && ok2 && rx.Cmp(ry) == 0
	default:
		return a == b
	}
}

// quoteJSON returns s as a JSON string without HTML escaping, so "<" stays
// readable in files and diffs.
func quoteJSON(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}
