package schema

import (
	"reflect"
	"strings"
	"testing"
)

// decodeSamples are values the fast decoder must take (ok) and values it
// must leave to encoding/json or refuse.
var decodeSamples = []struct {
	doc  string
	fast bool
}{
	{`{"a":[1,-0,0.5,-1.25e-7,1E+400,12345678901234567890123],"b":{"c":null,"d":true,"e":false},"":""}`, true},
	{" \t\r\n[ ] ", true},
	{`{"a":1,"a":2}`, true},
	{`"é 😀 <a&b>"`, true},
	{`[[[[[]]]]]`, true},
	{`"a\nb"`, false},   // escapes go to encoding/json
	{"\"\xff\"", false}, // so does invalid UTF-8
	{"\"a\x01\"", false},
	{``, false}, {` `, false}, {`{`, false}, {`{"a"}`, false}, {`{"a":}`, false}, {`{"a":1,}`, false},
	{`[1,]`, false}, {`[1 2]`, false}, {`01`, false}, {`1.`, false}, {`.5`, false}, {`1e`, false},
	{`-`, false}, {`+1`, false}, {`tru`, false}, {`nul`, false}, {`{} {}`, false}, {`1 x`, false},
	{`{a:1}`, false}, {`'a'`, false}, {strings.Repeat("[", maxDecodeDepth+1) + strings.Repeat("]", maxDecodeDepth+1), false},
}

func TestDecodeValue_MatchesEncodingJSON(t *testing.T) {
	for _, s := range decodeSamples {
		got, ok := decodeValue([]byte(s.doc))
		if ok != s.fast {
			t.Errorf("decodeValue(%.40q): ok = %v, want %v", s.doc, ok, s.fast)
		}
		checkDecode(t, s.doc, got, ok)
	}
	if _, ok := decodeValue(readTestdata(t, "service.value.json")); !ok {
		t.Error("service.value.json does not take the fast path")
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, s := range decodeSamples {
		f.Add(s.doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, ok := decodeValue([]byte(doc))
		checkDecode(t, doc, got, ok)
	})
}

// checkDecode fails if decodeValue accepted doc (ok) and encoding/json
// refuses it or decodes another value.
func checkDecode(t *testing.T, doc string, got any, ok bool) {
	t.Helper()
	if !ok {
		return
	}
	want, err := decodeValueSlow([]byte(doc))
	if err != nil {
		t.Fatalf("decodeValue(%.60q) accepted what encoding/json refuses: %v", doc, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeValue(%.60q) = %#v, encoding/json: %#v", doc, got, want)
	}
}

func BenchmarkDecodeValue(b *testing.B) {
	value := readTestdata(b, "service.value.json")
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodeValue(value); !ok {
				b.Fatal("not decoded")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeValueSlow(value); err != nil {
				b.Fatal(err)
			}
		}
	})
}
