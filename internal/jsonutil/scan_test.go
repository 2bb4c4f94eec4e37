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
