package layout

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestYAMLParseErrorLines(t *testing.T) {
	for _, tt := range []struct {
		doc  string
		line int
	}{
		{"a: 1\nb:\n  c: [1, 2\n", 3},
		{"a: 1\n  b: 2\n", 2},
		{"a: 1\nb: 2\n- c\n", 3},
		{"{\n \"a\": 1\n \"b\": 2\n}\n", 3},
		{"a: 1\nb: 'open\n", 2},
	} {
		_, err := parseYAML([]byte(tt.doc))
		var le *lineError
		if !errors.As(err, &le) || le.line != tt.line {
			t.Errorf("parseYAML(%q) = %v (line %v), want line %d", tt.doc, err, le, tt.line)
		}
	}
}

func TestToJSON_AliasBomb(t *testing.T) {
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		doc += name + ": &" + name + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 10), ", ") + "]\n"
		prev = name
	}
	n, err := parseYAML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toJSON(n); err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("toJSON(alias bomb) = %v, want a size error", err)
	}
}

// FuzzYAMLToJSON checks that any input either fails with a line or converts
// to valid JSON, and never panics.
func FuzzYAMLToJSON(f *testing.F) {
	for _, s := range []string{"a: 1", "[1, 2, {b: c}]", "x: &a [1]\ny: *a", "0x1F", "'str'", "{\"j\": [true, null]}", "a: .inf", "<<: {a: 1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := parseYAML(data)
		if err != nil {
			return
		}
		raw, err := toJSON(n)
		if err != nil {
			var le *lineError
			if !errors.As(err, &le) {
				t.Fatalf("toJSON error without a line: %v", err)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("toJSON(%q) = %q, not valid JSON", data, raw)
		}
	})
}

func TestJSONEqual(t *testing.T) {
	if !JSONEqual([]byte(`{"a":1,"b":[1.0,"x"]}`), []byte(`{"b":[1,"x"],"a":1e0}`)) {
		t.Error("equal values compare unequal")
	}
	if JSONEqual([]byte(`{"a":1}`), []byte(`{"a":"1"}`)) || JSONEqual([]byte(`[1,2]`), []byte(`[2,1]`)) {
		t.Error("different values compare equal")
	}
}
