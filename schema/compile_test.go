package schema

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// TestCompile_Errors checks the sentinel and the message of each way a
// schema is refused.
func TestCompile_Errors(t *testing.T) {
	src := newSource(map[string]string{
		"ns/address@2": `{"type":"object","properties":{"street":{"type":"string"}}}`,
		"ns/broken@1":  `{"type":"objet"}`,
		"ns/evil@1":    `{"$ref":"file:///etc/passwd"}`,
		"ns/loopa@1":   `{"$ref":"loopb@1"}`,
		"ns/loopb@1":   `{"$ref":"loopa@1"}`,
		"other/x@1":    `{}`,
	})
	tests := []struct {
		name   string
		schema string
		want   error
		msg    string // a substring of the message
	}{
		{"not JSON", `{`, ErrInvalidSchema, "schema: invalid schema: not valid JSON"},
		{"trailing data", `{} {}`, ErrInvalidSchema, "data after the schema"},
		{"not a schema", `[1]`, ErrInvalidSchema, "(root): expected object or boolean, but got array"},
		{"bad keyword value", `{"type":"object","properties":{"port":{"minimum":"x"}}}`, ErrInvalidSchema,
			"schema: invalid schema: /properties/port/minimum: expected number, but got string"},
		{"bad type name", `{"type":"objet"}`, ErrInvalidSchema, `/type: value must be one of "array"`},
		{"lookahead pattern", `{"properties":{"x":{"type":"string","pattern":"(?=x)"}}}`, ErrInvalidSchema,
			"/properties/x/pattern: '(?=x)' is not valid 'regex' (patterns use Go RE2 syntax"},
		{"backreference pattern", `{"pattern":"(a)\\1"}`, ErrInvalidSchema, "/pattern:"},
		{"lookahead patternProperties", `{"patternProperties":{"(?!x)":{}}}`, ErrInvalidSchema, "/patternProperties/(?!x):"},
		{"draft 7", `{"$schema":"http://json-schema.org/draft-07/schema#"}`, ErrWrongDraft,
			`schema: unsupported draft: /$schema is "http://json-schema.org/draft-07/schema#"`},
		{"draft 2019", `{"$schema":"https://json-schema.org/draft/2019-09/schema"}`, ErrWrongDraft, "only"},
		{"draft over http", `{"$schema":"http://json-schema.org/draft/2020-12/schema"}`, ErrWrongDraft, "2020-12"},
		{"latest alias", `{"$schema":"https://json-schema.org/schema"}`, ErrWrongDraft, "2020-12"},
		{"$schema not a string", `{"$schema":1}`, ErrWrongDraft, "/$schema is 1"},
		{"nested other draft", `{"$defs":{"a":{"$schema":"http://json-schema.org/draft-07/schema#"}}}`, ErrWrongDraft, "/$defs/a/$schema"},
		{"file ref", `{"$ref":"file:///etc/passwd"}`, ErrRefNotAllowed, `schema: $ref not allowed: /$ref: "file:///etc/passwd"`},
		{"http ref", `{"properties":{"a":{"$ref":"http://example.com/a.json"}}}`, ErrRefNotAllowed, `/properties/a/$ref: "http://example.com/a.json"`},
		{"https meta ref", `{"$ref":"https://json-schema.org/draft/2020-12/schema"}`, ErrRefNotAllowed, "/$ref"},
		{"urn ref", `{"$ref":"urn:example:a"}`, ErrRefNotAllowed, "urn:example:a"},
		{"ref inside not", `{"not":{"$ref":"http://example.com/a.json"}}`, ErrRefNotAllowed, "/not/$ref"},
		{"dynamicRef outside", `{"$dynamicRef":"http://example.com/a.json#x"}`, ErrRefNotAllowed, "/$dynamicRef"},
		{"other namespace", `{"$ref":"//other/x@1"}`, ErrRefNotAllowed, `it names namespace "other"`},
		{"other namespace absolute", `{"$ref":"schemakv://other/x@1"}`, ErrRefNotAllowed, `namespace "other"`},
		{"no version", `{"$ref":"address"}`, ErrRefNotAllowed, `must name a version, like "address@1"`},
		{"bad version", `{"$ref":"address@02"}`, ErrRefNotAllowed, "positive integer"},
		{"path ref", `{"$ref":"/etc/passwd"}`, ErrRefNotAllowed, "/etc/passwd"},
		{"query ref", `{"$ref":"address@2?x=1"}`, ErrRefNotAllowed, "address@2?x=1"},
		{"missing version", `{"$ref":"address@3"}`, ErrRefNotFound, `schema: $ref not found: "address@3" is not registered in namespace "ns"`},
		{"missing fragment", `{"$ref":"address@2#/$defs/nope"}`, ErrRefNotFound, "address@2#/$defs/nope not found"},
		{"missing local fragment", `{"$ref":"#/$defs/nope"}`, ErrRefNotFound, "svc@1#/$defs/nope not found"},
		{"invalid referenced schema", `{"$ref":"broken@1"}`, ErrInvalidSchema, `schema: invalid schema (in $ref "broken@1"): /type:`},
		{"referenced schema refs a file", `{"$ref":"evil@1"}`, ErrRefNotAllowed, `(in $ref "evil@1"): /$ref: "file:///etc/passwd"`},
		{"self loop", `{"$ref":"#"}`, ErrInvalidSchema, "infinite loop svc@1#/$ref"},
		{"self loop by name", `{"$ref":"svc@1"}`, ErrInvalidSchema, "infinite loop"},
		{"allOf loop", `{"$defs":{"a":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}`, ErrInvalidSchema, "loop"},
		{"cross-document loop", `{"$ref":"loopa@1"}`, ErrInvalidSchema, "a $ref loop that never reaches a part of the value: loopa@1# -> loopb@1# -> loopa@1#"},
		{"embedded $id", `{"$defs":{"x":{"$id":"address@2","type":"string"}}}`, ErrInvalidSchema, `/$defs/x/$id: "$id" is only allowed at the root`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCache(DefaultConfig()).Compile(testNamespace, "svc", 1, []byte(tt.schema), src)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Compile(%s) = %v, want %v", tt.schema, err, tt.want)
			}
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("Compile(%s) = %v, want it to match ErrInvalidSchema too", tt.schema, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Compile(%s) message = %q, want it to contain %q", tt.schema, err, tt.msg)
			}
		})
	}
}

func TestCompile_TooLarge(t *testing.T) {
	c := NewCache(Config{MaxSchemaBytes: 32})
	raw := []byte(`{"description":"` + strings.Repeat("x", 32) + `"}`)
	_, err := c.Compile(testNamespace, "svc", 1, raw, nil)
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("got %v, want %v only", err, ErrTooLarge)
	}
	if want := "schema: too large: 50 bytes, at most 32"; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	// Checked before parsing: an over-long non-JSON text is still ErrTooLarge.
	if _, err := c.Compile(testNamespace, "svc", 1, []byte(strings.Repeat("{", 33)), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want %v", err, ErrTooLarge)
	}
}

func TestCompile_Draft(t *testing.T) {
	for _, s := range []string{
		`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}`,
		`{"$schema":"https://json-schema.org/draft/2020-12/schema#","type":"object"}`,
		`{"type":"object"}`,
	} {
		if _, err := NewCache(DefaultConfig()).Compile(testNamespace, "svc", 1, []byte(s), nil); err != nil {
			t.Fatalf("Compile(%s) = %v, want nil", s, err)
		}
	}
}

// TestCompile_NoIO replaces the library's package-level loader, which reads
// file: URLs, and checks that nothing — the meta-schema, refs, refused refs
// — ever reaches it.
func TestCompile_NoIO(t *testing.T) {
	saved := jsonschema.LoadURL
	defer func() { jsonschema.LoadURL = saved }()
	var loaded []string
	jsonschema.LoadURL = func(u string) (io.ReadCloser, error) {
		loaded = append(loaded, u)
		return nil, errors.New("test: no loading")
	}
	src := newSource(map[string]string{"ns/a@1": `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string"}`})
	for _, s := range []string{
		`{"$schema":"https://json-schema.org/draft/2020-12/schema","properties":{"a":{"$ref":"a@1"}}}`,
		`{"$ref":"file:///etc/passwd"}`,
		`{"$ref":"http://127.0.0.1:1/x.json"}`,
		`{"$ref":"https://json-schema.org/draft/2020-12/meta/core"}`,
	} {
		NewCache(DefaultConfig()).Compile(testNamespace, "svc", 1, []byte(s), src)
	}
	if len(loaded) != 0 {
		t.Fatalf("package loader called for %v, want never", loaded)
	}
}

// TestLoader_RefusesOutside checks the compiler's loader itself, behind the
// $ref check of prepare.
func TestLoader_RefusesOutside(t *testing.T) {
	src := newSource(map[string]string{"ns/a@1": `{}`, "other/a@1": `{}`})
	tests := []struct {
		url  string
		want error
	}{
		{"file:///etc/passwd", ErrRefNotAllowed},
		{"http://example.com/a.json", ErrRefNotAllowed},
		{"https://json-schema.org/draft/2020-12/schema", ErrRefNotAllowed},
		{"schemakv://other/a@1", ErrRefNotAllowed},
		{"schemakv://ns/a", ErrRefNotAllowed},
		{"schemakv://ns/a@1/b", ErrRefNotAllowed},
		{"schemakv://user@ns/a@1", ErrRefNotAllowed},
		{"schemakv://ns:80/a@1", ErrRefNotAllowed},
		{"schemakv://ns/a@2", ErrRefNotFound},
		{"schemakv://ns/a@1", nil},
	}
	for _, tt := range tests {
		l := &loader{namespace: testNamespace, src: src}
		r, err := l.load(tt.url)
		if !errors.Is(err, tt.want) || tt.want == nil && err != nil {
			t.Fatalf("load(%q) = %v, want %v", tt.url, err, tt.want)
		}
		if err == nil {
			r.Close()
		}
	}
	if n := src.callsOf("other/a@1"); n != 0 {
		t.Fatalf("Source read other/a@1 %d times, want 0", n)
	}
}

func TestCompile_Refs(t *testing.T) {
	src := newSource(map[string]string{
		"ns/address@2": `{"type":"object","required":["street"],"properties":{"street":{"$ref":"#/$defs/street"},"geo":{"type":"object","properties":{"lat":{"type":"number"}}}},"$defs":{"street":{"type":"string","minLength":3}}}`,
		"ns/chain-a@1": `{"type":"object","properties":{"b":{"$ref":"chain-b@1"}}}`,
		"ns/chain-b@1": `{"type":"object","properties":{"c":{"$ref":"chain-c@1"}}}`,
		"ns/chain-c@1": `{"type":"integer","maximum":10}`,
		"ns/tree@1":    `{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"tree@1"}}}}`,
		"ns/ping@1":    `{"type":"object","properties":{"pong":{"$ref":"pong@1"},"n":{"type":"integer"}}}`,
		"ns/pong@1":    `{"type":"object","properties":{"ping":{"$ref":"ping@1"}}}`,
		"ns/base@1":    `{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`,
		"ns/withid@1":  `{"$id":"https://example.com/withid.json","type":"object","properties":{"a":{"$ref":"address@2"}}}`,
	})
	tests := []struct {
		name   string
		schema string
		value  string
		valid  bool
	}{
		{"relative ref", `{"properties":{"home":{"$ref":"address@2"}}}`, `{"home":{"street":"Main"}}`, true},
		{"relative ref checks", `{"properties":{"home":{"$ref":"address@2"}}}`, `{"home":{"street":"M"}}`, false},
		{"ref target closed at use", `{"properties":{"home":{"$ref":"address@2"}}}`, `{"home":{"street":"Main","zip":1}}`, false},
		{"ref target nested closed", `{"properties":{"home":{"$ref":"address@2"}}}`, `{"home":{"street":"Main","geo":{"lat":1,"x":2}}}`, false},
		{"dot-slash ref", `{"properties":{"home":{"$ref":"./address@2"}}}`, `{"home":{"street":"Main"}}`, true},
		{"absolute same namespace", `{"properties":{"home":{"$ref":"schemakv://ns/address@2"}}}`, `{"home":{"street":"Main"}}`, true},
		{"fragment ref", `{"properties":{"s":{"$ref":"address@2#/$defs/street"}}}`, `{"s":"Main"}`, true},
		{"fragment ref checks", `{"properties":{"s":{"$ref":"address@2#/$defs/street"}}}`, `{"s":"M"}`, false},
		{"chain a-b-c", `{"$ref":"chain-a@1"}`, `{"b":{"c":5}}`, true},
		{"chain a-b-c checks", `{"$ref":"chain-a@1"}`, `{"b":{"c":11}}`, false},
		{"chain a-b-c closed", `{"$ref":"chain-a@1"}`, `{"b":{"c":5,"x":1}}`, false},
		{"recursive tree", `{"$ref":"tree@1"}`, `{"value":1,"children":[{"value":2,"children":[{"value":3}]}]}`, true},
		{"recursive tree checks deep", `{"$ref":"tree@1"}`, `{"value":1,"children":[{"value":2,"children":[{"value":"x"}]}]}`, false},
		{"mutual recursion", `{"$ref":"ping@1"}`, `{"pong":{"ping":{"pong":{"ping":{"n":1}}}}}`, true},
		{"mutual recursion closed", `{"$ref":"ping@1"}`, `{"pong":{"ping":{"pong":{"x":1}}}}`, false},
		{"allOf extends a registered schema", `{"allOf":[{"$ref":"base@1"}],"properties":{"port":{"type":"integer"}}}`, `{"name":"a","port":1}`, true},
		{"allOf extension closed", `{"allOf":[{"$ref":"base@1"}],"properties":{"port":{"type":"integer"}}}`, `{"name":"a","x":1}`, false},
		{"root $id dropped", `{"$ref":"withid@1"}`, `{"a":{"street":"Main"}}`, true},
		{"own root $id dropped", `{"$id":"https://example.com/x.json","properties":{"a":{"$ref":"address@2"}}}`, `{"a":{"street":"Main"}}`, true},
		{"local defs", `{"properties":{"p":{"$ref":"#/$defs/port"}},"$defs":{"port":{"type":"integer","maximum":65535}}}`, `{"p":70000}`, false},
		{"anchor", `{"properties":{"p":{"$ref":"#port"}},"$defs":{"port":{"$anchor":"port","type":"integer"}}}`, `{"p":1}`, true},
		{"self recursion by #", `{"type":"object","properties":{"next":{"$ref":"#"}}}`, `{"next":{"next":{}}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, tt.schema, src)
			errs := mustValidate(t, s, tt.value)
			if valid := len(errs) == 0; valid != tt.valid {
				t.Fatalf("valid = %v, want %v; errors:%s", valid, tt.valid, pointers(errs))
			}
		})
	}
}

// TestCompile_SelfReferenceUsesNewText: a version referring to itself by
// name@version gets the text being compiled, not the Source's.
func TestCompile_SelfReferenceUsesNewText(t *testing.T) {
	src := newSource(map[string]string{"ns/svc@1": `{"type":"string"}`})
	s := mustCompile(t, `{"type":"object","properties":{"next":{"$ref":"svc@1"},"v":{"type":"integer"}}}`, src)
	if errs := mustValidate(t, s, `{"next":{"v":1}}`); len(errs) != 0 {
		t.Fatalf("got errors:%s, want none", pointers(errs))
	}
	if n := src.callsOf("ns/svc@1"); n != 0 {
		t.Fatalf("Source read svc@1 %d times, want 0", n)
	}
}

func TestCompile_FormatAsserted(t *testing.T) {
	s := mustCompile(t, `{"properties":{"e":{"type":"string","format":"email"},"u":{"type":"string","format":"uri"}}}`, nil)
	errs := mustValidate(t, s, `{"e":"not-an-email","u":"::"}`)
	if len(errs) != 2 || errs[0].Pointer != "/e" || errs[1].Pointer != "/u" {
		t.Fatalf("got errors:%s, want format errors at /e and /u", pointers(errs))
	}
}

func TestCompile_BadIdentity(t *testing.T) {
	c := NewCache(DefaultConfig())
	for _, id := range []struct {
		ns, name string
		version  int
	}{{"NS", "svc", 1}, {"ns", "a/b", 1}, {"ns", "svc", 0}, {"", "svc", 1}} {
		_, err := c.Compile(id.ns, id.name, id.version, []byte(`{}`), nil)
		if err == nil || errors.Is(err, ErrInvalidSchema) {
			t.Fatalf("Compile(%q, %q, %d) = %v, want a non-sentinel error", id.ns, id.name, id.version, err)
		}
	}
}

// FuzzCompile: no schema text panics the compiler or escapes the sentinels.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`{}`, `true`, `{"type":"object","properties":{"a":{"pattern":"(?=x)"}}}`,
		`{"$ref":"a@1"}`, `{"$ref":"#/$defs/x","$defs":{"x":{"allOf":[{"$ref":"#"}]}}}`,
		`{"patternProperties":{"[":{}}}`, `{"$dynamicRef":"#x","$dynamicAnchor":"x"}`,
		`{"items":{"$ref":"#/items"}}`, `{"$defs":{"a":{"$id":"x"}}}`,
	} {
		f.Add([]byte(s))
	}
	src := newSource(map[string]string{"ns/a@1": `{"$ref":"svc@1"}`})
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := NewCache(DefaultConfig()).Compile(testNamespace, "svc", 1, raw, src)
		if err != nil {
			if !errors.Is(err, ErrInvalidSchema) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Compile(%q) = %v, want a sentinel", raw, err)
			}
			return
		}
		for _, v := range []string{`null`, `{}`, `{"a":[1,{"b":"c"}]}`, `[1,"x"]`} {
			if _, _, err := s.Validate([]byte(v)); err != nil && !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("Validate(%s) under %q = %v", v, raw, err)
			}
		}
	})
}
