package jsonutil

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var syntaxSamples = []string{
	`1`, `-0`, `0.5e-7`, `1E+400`, `"x"`, `{}`, `[]`, ` {"a" : [1, {"b":null}] } `, `[[[[]]]]`, `{"a":"[\"{"}`,
	`"\u00e9\ud83d\ude00\/\b\f\n\r\t"`, "\"\xff\"", `true`, `false`, `null`,
	`{"a":1,}`, `[`, `]`, `"\\"`, `"\"`, `{} 1`, ` `, ``, `01`, `1.`, `.5`, `1e`, `-`, `+1`, `"\x"`, `"\u12"`,
	`"\u12g4"`, "\"a\x01\"", `tru`, `nul`, `{a:1}`, `{"a" 1}`, `[1 2]`, `[1,]`, "\xef\xbb\xbf1",
	strings.Repeat("[", maxNesting) + strings.Repeat("]", maxNesting),
	strings.Repeat("[", maxNesting+1) + strings.Repeat("]", maxNesting+1),
}

func TestValid_MatchesEncodingJSON(t *testing.T) {
	for _, s := range syntaxSamples {
		checkSyntax(t, []byte(s))
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range syntaxSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(checkSyntax)
}

// checkSyntax fails unless valid agrees with json.Valid on b and, for valid
// b, appendCompact with json.Compact.
func checkSyntax(t *testing.T, b []byte) {
	if got, want := valid(b, maxNesting), json.Valid(b); got != want {
		t.Fatalf("valid(%.60q) = %v, json.Valid = %v", b, got, want)
	}
	if !json.Valid(b) {
		return
	}
	var want bytes.Buffer
	if err := json.Compact(&want, b); err != nil {
		t.Fatal(err)
	}
	if got := appendCompact(nil, b); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("appendCompact(%.60q) = %.60q, json.Compact: %.60q", b, got, want.Bytes())
	}
}

func TestMembersAndElements(t *testing.T) {
	var got []string
	ok := Members([]byte(` {"a" : [1, {"b":2}] ,"é":"x", "c":null} `), 0, func(k string, v []byte) bool {
		got = append(got, k+"="+string(v))
		return true
	})
	if want := []string{`a=[1, {"b":2}]`, `é="x"`, `c=null`}; !ok || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Members = %v, %q; want true, %q", ok, got, want)
	}
	got = nil
	ok = Elements([]byte(`[ 1 ,"a", {} ]`), 0, func(v []byte) bool {
		got = append(got, string(v))
		return true
	})
	if want := []string{`1`, `"a"`, `{}`}; !ok || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Elements = %v, %q; want true, %q", ok, got, want)
	}
	for _, b := range []string{`[]`, `{"a\n":1}`, `{"a":1,}`, `{"a":1} x`, "{\"\xff\":1}", `{"a":1`} {
		if Members([]byte(b), 0, func(string, []byte) bool { return true }) {
			t.Errorf("Members(%q) = true", b)
		}
	}
	if Members([]byte(`{"a":1,"b":2}`), 0, func(k string, _ []byte) bool { return k == "a" }) {
		t.Error("Members = true after fn returned false")
	}
	for _, b := range []string{`{}`, `[1,]`, `[1 2]`, `[1] 2`} {
		if Elements([]byte(b), 0, func([]byte) bool { return true }) {
			t.Errorf("Elements(%q) = true", b)
		}
	}
	if ok := Elements([]byte(`[]`), 0, func([]byte) bool { return false }); !ok {
		t.Error("Elements([]) = false")
	}
	// Nesting counts from the document b came from.
	deep := []byte(`[[1]]`)
	if !Elements(deep, maxNesting-2, func([]byte) bool { return true }) || Elements(deep, maxNesting-1, func([]byte) bool { return true }) {
		t.Errorf("Elements(%s) at depths %d and %d: want ok, then not", deep, maxNesting-2, maxNesting-1)
	}
}
