package jsonutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheck_Table(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		maxDepth int
		want     error
	}{
		{"scalar at depth 0", `1`, 0, nil},
		{"string at depth 0", `"a{[b"`, 0, nil},
		{"null", `null`, 0, nil},
		{"empty object is depth 1", `{}`, 1, nil},
		{"object over depth 0", `{"a":1}`, 0, ErrTooDeep},
		{"object at depth 1", `{"a":1}`, 1, nil},
		{"array in object at depth 2", `{"a":[1]}`, 2, nil},
		{"array in object over depth 1", `{"a":[1]}`, 1, ErrTooDeep},
		{"siblings do not add depth", `[[1],[2],{"a":3}]`, 2, nil},
		{"brackets in strings ignored", `{"a":"[[[[{{{{"}`, 1, nil},
		{"escaped quote in string", `{"a":"\"[[[["}`, 1, nil},
		{"escaped backslash before quote", `{"a":"\\","b":[1]}`, 2, nil},
		{"escaped backslash then bracket", `["\\",[1]]`, 1, ErrTooDeep},
		{"whitespace around", " \n\t{\"a\" : [ 1 , 2 ] }\r\n", 2, nil},
		{"negative depth acts as 0", `[]`, -1, ErrTooDeep},
		{"empty input", ``, 5, ErrInvalidJSON},
		{"only whitespace", `   `, 5, ErrInvalidJSON},
		{"trailing value", `{} {}`, 5, ErrInvalidJSON},
		{"trailing garbage", `1 x`, 5, ErrInvalidJSON},
		{"unclosed object", `{"a":1`, 5, ErrInvalidJSON},
		{"unbalanced close", `{"a":1}}`, 5, ErrInvalidJSON},
		{"trailing comma", `[1,]`, 5, ErrInvalidJSON},
		{"single quotes", `{'a':1}`, 5, ErrInvalidJSON},
		{"invalid utf8 is valid for json.Valid", "\"\xff\"", 5, nil},
		{"control char in string", "\"a\x01\"", 5, ErrInvalidJSON},
		{"deep and invalid reports depth", strings.Repeat("[", 100), 10, ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.in), tt.maxDepth)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Check(%q, %d) = %v, want %v", tt.in, tt.maxDepth, err, tt.want)
			}
		})
	}
}

func TestCheck_DeepBodyFailsFast(t *testing.T) {
	b := []byte(strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20))
	err := Check(b, 64)
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("got %v, want %v", err, ErrTooDeep)
	}
	if want := "more than 64 levels at byte 64"; !strings.Contains(err.Error(), want) {
		t.Fatalf("got %q, want it to contain %q", err, want)
	}
}

func TestCheck_MessageHasOffset(t *testing.T) {
	err := Check([]byte(`{"a":1,}`), 5)
	if err == nil || !strings.Contains(err.Error(), "at byte 7") {
		t.Fatalf("got %v, want a message with byte 7", err)
	}
}

func TestCompact_Table(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"object", "{ \"a\" : [ 1 , 2 ] ,\n \"b\" : { } }", `{"a":[1,2],"b":{}}`, nil},
		{"string spaces kept", `[ "a b  c" ]`, `["a b  c"]`, nil},
		{"no html escaping", `{"h": "<a&b>"}`, `{"h":"<a&b>"}`, nil},
		{"escapes kept", `["\u00e9\n"]`, `["\u00e9\n"]`, nil},
		{"big number kept", `[ 12345678901234567890123 ]`, `[12345678901234567890123]`, nil},
		{"already compact", `{"a":1}`, `{"a":1}`, nil},
		{"invalid", `{"a":}`, "", ErrInvalidJSON},
		{"trailing", `1 2`, "", ErrInvalidJSON},
		{"empty", ``, "", ErrInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compact([]byte(tt.in))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Compact(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("Compact(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

// depthOf is a slow reference: the nesting depth of a valid JSON value.
func depthOf(t *testing.T, b []byte) int {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 1E700 is valid JSON but overflows float64
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("depthOf: %v", err)
	}
	var depth func(v any) int
	depth = func(v any) int {
		d := 0
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				d = max(d, depth(x))
			}
			return d + 1
		case []any:
			for _, x := range v {
				d = max(d, depth(x))
			}
			return d + 1
		}
		return 0
	}
	return depth(v)
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`1`, `"x"`, `{}`, `[]`, `{"a":[1,{"b":null}]}`, `[[[[]]]]`, `{"a":"[\"{"}`,
		`{"a":1,}`, `[`, `]`, `"\\"`, `"\"`, "\"\xff\"", `{} 1`, ` `, ``,
	} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, b []byte, maxDepth int) {
		maxDepth %= 64
		err := Check(b, maxDepth)
		if errors.Is(err, ErrTooDeep) {
			if json.Valid(b) && depthOf(t, b) <= max(maxDepth, 0) {
				t.Fatalf("Check(%q, %d) = %v for a value within the limit", b, maxDepth, err)
			}
			return
		}
		if valid := json.Valid(b); valid != (err == nil) {
			t.Fatalf("Check(%q, %d) = %v, json.Valid = %v", b, maxDepth, err, valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidJSON) {
			t.Fatalf("Check(%q, %d) = %v, want ErrInvalidJSON", b, maxDepth, err)
		}
		if err == nil {
			if d := depthOf(t, b); d > max(maxDepth, 0) {
				t.Fatalf("Check(%q, %d) = nil for depth %d", b, maxDepth, d)
			}
			c, cerr := Compact(b)
			if cerr != nil || !json.Valid(c) {
				t.Fatalf("Compact(%q) = %q, %v", b, c, cerr)
			}
		}
	})
}

func BenchmarkCheck_1KiB(b *testing.B) {
	body := []byte(`{"name":"checkout","replicas":3,"ports":[{"name":"http","port":8080},{"name":"admin","port":9090}],` +
		`"timeouts":{"read":"5s","write":"10s","idle":"60s"},"features":{"newCart":true,"betaSearch":false},` +
		`"upstreams":[{"name":"payments","url":"https://payments.internal:8443","weight":80,"retries":2},` +
		`{"name":"inventory","url":"https://inventory.internal:8443","weight":20,"retries":3}],` +
		`"limits":{"rps":1200,"burst":300,"maxBodyBytes":1048576},"logging":{"level":"info","format":"json",` +
		`"fields":["request_id","user_id","trace_id"]},"description":"` + strings.Repeat("x", 500) + `"}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := Check(body, 32); err != nil {
			b.Fatal(err)
		}
	}
}
