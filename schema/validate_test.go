package schema

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/schemakv/schemakv/api"
)

const serverSchema = `{
  "type": "object",
  "required": ["name", "port"],
  "properties": {
    "name": {"type": "string"},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "tls": {"type": "object", "properties": {"cert": {"type": "string"}}},
    "tags": {"type": "array", "items": {"type": "string"}}
  }
}`

func TestValidate_ManyErrors(t *testing.T) {
	s := mustCompile(t, serverSchema, nil)
	errs := mustValidate(t, s, `{"port": 70000, "tls": {"cert": 1, "key": "k"}, "debug": true, "tags": ["a", 2]}`)
	want := []api.FieldError{
		{Pointer: "", Keyword: "/required", Message: "missing properties: 'name'"},
		{Pointer: "/debug", Keyword: "/additionalProperties", Message: `unknown property "debug" is not allowed`},
		{Pointer: "/port", Keyword: "/properties/port/maximum", Message: "must be <= 65535 but found 70000"},
		{Pointer: "/tags/1", Keyword: "/properties/tags/items/type", Message: "expected string, but got number"},
		{Pointer: "/tls/cert", Keyword: "/properties/tls/properties/cert/type", Message: "expected string, but got number"},
		{Pointer: "/tls/key", Keyword: "/properties/tls/additionalProperties", Message: `unknown property "key" is not allowed`},
	}
	if !slices.Equal(errs, want) {
		t.Fatalf("got%s\nwant%s", pointers(errs), pointers(want))
	}
}

func TestValidate_Valid(t *testing.T) {
	s := mustCompile(t, serverSchema, nil)
	errs, total, err := s.Validate([]byte(`{"name":"a","port":443,"tls":{"cert":"c"}}`))
	if errs != nil || total != 0 || err != nil {
		t.Fatalf("got %v, %d, %v, want nil, 0, nil", errs, total, err)
	}
}

func TestValidate_UnknownPropertiesOnePerPointer(t *testing.T) {
	s := mustCompile(t, `{"type":"object","properties":{"a":{}}}`, nil)
	errs := mustValidate(t, s, `{"z":1,"a":1,"b~/c":2,"it's \"q\"":3,"x y":4,"é":5}`)
	var got []string
	for _, e := range errs {
		got = append(got, e.Pointer+" "+e.Message)
	}
	want := []string{
		`/b~0~1c unknown property "b~/c" is not allowed`,
		`/it's "q" unknown property "it's \"q\"" is not allowed`,
		`/x y unknown property "x y" is not allowed`,
		`/z unknown property "z" is not allowed`,
		`/é unknown property "é" is not allowed`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestValidate_UnevaluatedPropertiesPointer(t *testing.T) {
	s := mustCompile(t, `{"allOf":[{"properties":{"a":{}}}],"properties":{"o":{"$ref":"#/$defs/o"}},"$defs":{"o":{"properties":{"p":{}}}}}`, nil)
	errs := mustValidate(t, s, `{"a":1,"x/y":2,"o":{"p":1,"q":2}}`)
	want := []api.FieldError{
		{Pointer: "/o/q", Keyword: "/properties/o/unevaluatedProperties", Message: `unknown property "q" is not allowed`},
		{Pointer: "/x~1y", Keyword: "/unevaluatedProperties", Message: `unknown property "x/y" is not allowed`},
	}
	if !slices.Equal(errs, want) {
		t.Fatalf("got%s\nwant%s", pointers(errs), pointers(want))
	}
}

// TestValidate_FailedRefHidesNoise: a $ref that fails contributes no
// evaluated properties, so its declared properties must not also be
// reported as unknown.
func TestValidate_FailedRefHidesNoise(t *testing.T) {
	src := newSource(map[string]string{
		"ns/address@2": `{"type":"object","required":["street"],"properties":{"street":{"type":"string"},"city":{"type":"string"}}}`,
	})
	s := mustCompile(t, `{"properties":{"a":{"$ref":"address@2"}}}`, src)
	tests := []struct {
		value string
		want  []string // pointers
	}{
		{`{"a":{"street":1,"city":"c"}}`, []string{"/a/street"}},
		{`{"a":{"city":"c"}}`, []string{"/a"}},
		{`{"a":{"street":"s","city":"c","zip":1}}`, []string{"/a/zip"}},
		{`{"a":{"street":"s","zip":1,"x":2}}`, []string{"/a/x", "/a/zip"}},
	}
	for _, tt := range tests {
		errs := mustValidate(t, s, tt.value)
		var got []string
		for _, e := range errs {
			got = append(got, e.Pointer)
		}
		if !slices.Equal(got, tt.want) {
			t.Fatalf("Validate(%s) pointers = %q, want %q; errors:%s", tt.value, got, tt.want, pointers(errs))
		}
	}
}

func TestValidate_SortedNumerically(t *testing.T) {
	s := mustCompile(t, `{"type":"array","items":{"type":"string"}}`, nil)
	var items []string
	for i := 0; i < 12; i++ {
		items = append(items, "1")
	}
	errs := mustValidate(t, s, "["+strings.Join(items, ",")+"]")
	for i, e := range errs {
		if want := fmt.Sprintf("/%d", i); e.Pointer != want {
			t.Fatalf("errs[%d].Pointer = %q, want %q", i, e.Pointer, want)
		}
	}
}

func TestValidate_MaxErrors(t *testing.T) {
	c := NewCache(Config{MaxErrors: 3})
	s, err := c.Compile(testNamespace, "svc", 1, []byte(`{"type":"array","items":{"type":"string"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	errs, total, err := s.Validate([]byte(`[1,2,3,4,5,6,7,8,9,10]`))
	if err != nil || total != 10 || len(errs) != 3 {
		t.Fatalf("got %d errors, total %d, %v, want 3, 10, nil", len(errs), total, err)
	}
	if errs[0].Pointer != "/0" || errs[2].Pointer != "/2" {
		t.Fatalf("got%s, want the first three", pointers(errs))
	}
}

func TestValidate_BigIntegers(t *testing.T) {
	// 2^53+1 and 2^53+2 are the same float64.
	s := mustCompile(t, `{"type":"integer","maximum":9007199254740993}`, nil)
	if errs := mustValidate(t, s, `9007199254740993`); len(errs) != 0 {
		t.Fatalf("got%s, want none", pointers(errs))
	}
	if errs := mustValidate(t, s, `9007199254740994`); len(errs) != 1 {
		t.Fatalf("got%s, want one maximum error", pointers(errs))
	}
	s = mustCompile(t, `{"const":123456789012345678901234567890}`, nil)
	if errs := mustValidate(t, s, `123456789012345678901234567891`); len(errs) != 1 {
		t.Fatalf("got%s, want one const error", pointers(errs))
	}
}

func TestValidate_InvalidValue(t *testing.T) {
	s := mustCompile(t, `{}`, nil)
	for _, v := range []string{``, `{`, `{} {}`, `1 x`, `nul`} {
		errs, total, err := s.Validate([]byte(v))
		if !errors.Is(err, ErrInvalidValue) || errs != nil || total != 0 {
			t.Fatalf("Validate(%q) = %v, %d, %v, want nil, 0, %v", v, errs, total, err, ErrInvalidValue)
		}
	}
}

func TestValidate_Concurrent(t *testing.T) {
	s := mustCompile(t, serverSchema, nil)
	done := make(chan []api.FieldError)
	for i := 0; i < 16; i++ {
		go func() {
			var last []api.FieldError
			for j := 0; j < 50; j++ {
				errs, _, _ := s.Validate([]byte(`{"port":0,"x":1}`))
				last = errs
			}
			done <- last
		}()
	}
	for i := 0; i < 16; i++ {
		if errs := <-done; len(errs) != 3 {
			t.Fatalf("got%s, want 3 errors", pointers(errs))
		}
	}
}

func TestParseQuotedList_Table(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`'a'`, []string{"a"}, true},
		{`'a', 'b c'`, []string{"a", "b c"}, true},
		{`'it\'s', '"q"'`, []string{"it's", `"q"`}, true},
		{`'a\\', 'b'`, []string{`a\`, "b"}, true},
		{`'\t\x00'`, []string{"\t\x00"}, true},
		{`'a\\\'', 'b'`, []string{`a\'`, "b"}, true},
		{`'a', `, nil, false},
		{`a`, nil, false},
		{`'a`, nil, false},
		{`'a';'b'`, nil, false},
	}
	for _, tt := range tests {
		got, ok := parseQuotedList(tt.in)
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Fatalf("parseQuotedList(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestComparePointers_Table(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "/a", -1},
		{"/a", "/a/b", -1},
		{"/a/2", "/a/10", -1},
		{"/a/10", "/a/9", 1},
		{"/a/b", "/a/10", 1},
		{"/a/01", "/a/1", -1},
		{"/x", "/x", 0},
	}
	for _, tt := range tests {
		if got := comparePointers(tt.a, tt.b); got != tt.want {
			t.Fatalf("comparePointers(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
