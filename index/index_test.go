package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	good := map[string]Path{
		"a":                     {"a"},
		"owner.team":            {"owner", "team"},
		"feature_flags.enabled": {"feature_flags", "enabled"},
		"limits.max-rps.0":      {"limits", "max-rps", "0"},
	}
	for in, want := range good {
		got, err := ParsePath(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParsePath(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	long := bytes.Repeat([]byte("a."), 17)
	for _, in := range []string{"", ".", "a.", ".a", "a..b", "a b", "a[0]", "a/b", `a\.b`, "é", string(long[:len(long)-1]), string(bytes.Repeat([]byte("x"), 65)), string(bytes.Repeat([]byte("abcd."), 60)) + "a"} {
		if _, err := ParsePath(in); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("ParsePath(%q) = %v; want ErrInvalidPath", in, err)
		}
	}
}

func TestExtract(t *testing.T) {
	v := json.RawMessage(`{"owner":{"team":"payments","n":3},"flags":{"on":true,"off":false,"nil":null},"arr":[1,2],"obj":{}, "s":"x"}`)
	cases := []struct {
		path string
		want Scalar
		ok   bool
	}{
		{"owner.team", Scalar{Kind: KindString, Str: "payments"}, true},
		{"owner.n", Scalar{Kind: KindNumber, Num: 3}, true},
		{"flags.on", Scalar{Kind: KindTrue}, true},
		{"flags.off", Scalar{Kind: KindFalse}, true},
		{"flags.nil", Scalar{Kind: KindNull}, true},
		{"arr", Scalar{}, false},
		{"arr.0", Scalar{}, false},
		{"obj", Scalar{}, false},
		{"owner", Scalar{}, false},
		{"missing", Scalar{}, false},
		{"s.x", Scalar{}, false},
	}
	for _, c := range cases {
		got, ok := Extract(v, mustPath(t, c.path))
		if ok != c.ok || (ok && Compare(got, c.want) != 0) {
			t.Errorf("Extract(%s) = %v, %v; want %v, %v", c.path, got, ok, c.want, c.ok)
		}
	}
	if _, ok := Extract(json.RawMessage(`{"a":`), Path{"a"}); ok {
		t.Error("Extract of invalid JSON found a value")
	}
}

func mustPath(t testing.TB, s string) Path {
	t.Helper()
	p, err := ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// randScalar draws scalars with many ties and edge values.
func randScalar(r *rand.Rand) Scalar {
	switch r.IntN(5) {
	case 0:
		return Scalar{Kind: Kind(r.IntN(3) + 1)}
	case 1, 2:
		nums := []float64{0, math.Copysign(0, -1), 1, -1, 1.5, -1.5, 1e300, -1e300, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 42, 100, float64(r.IntN(20) - 10)}
		return Scalar{Kind: KindNumber, Num: nums[r.IntN(len(nums))]}
	default:
		strs := []string{"", "a", "ab", "a\x00", "a\x00b", "\x00", "\xff", "b", "payments", "zz"}
		return Scalar{Kind: KindString, Str: strs[r.IntN(len(strs))]}
	}
}

// naiveCompare is the intended order, written independently of the encoding.
func naiveCompare(a, b Scalar) int {
	if a.Kind != b.Kind {
		return int(a.Kind) - int(b.Kind)
	}
	switch a.Kind {
	case KindNumber:
		switch {
		case a.Num < b.Num:
			return -1
		case a.Num > b.Num:
			return 1
		}
		return 0
	case KindString:
		return bytes.Compare([]byte(a.Str), []byte(b.Str))
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestEncodeScalar_OrderAndPrefixFree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a, b := randScalar(r), randScalar(r)
		ea, eb := EncodeScalar(a), EncodeScalar(b)
		if got, want := sign(bytes.Compare(ea, eb)), sign(naiveCompare(a, b)); got != want {
			t.Fatalf("order of %v, %v: encoded %d, want %d", a, b, got, want)
		}
		if !bytes.Equal(ea, eb) && (bytes.HasPrefix(ea, eb) || bytes.HasPrefix(eb, ea)) {
			t.Fatalf("encodings of %v and %v: one is a prefix of the other", a, b)
		}
		if n := EncodedLen(append(bytes.Clone(ea), 0, 'k', 'e', 'y')); n != len(ea) {
			t.Fatalf("EncodedLen(%v) = %d, want %d", a, n, len(ea))
		}
	}
}

func TestParseClause(t *testing.T) {
	good := map[string]string{
		"owner.team==payments":       `owner.team=="payments"`,
		`owner.team=="a b"`:          `owner.team=="a b"`,
		"flags.on==true":             "flags.on==true",
		"flags.on!=true":             "flags.on!=true",
		"x==null":                    "x==null",
		"limits.max_rps>=100":        "limits.max_rps>=100",
		"limits.max_rps<1.5e3":       "limits.max_rps<1500",
		"n<=-2":                      "n<=-2",
		"name>m":                     `name>"m"`,
		"name==42abc":                `name=="42abc"`,
		"owner.team":                 "exists(owner.team)",
		"exists(owner.team)":         "exists(owner.team)",
		"owner.team=in=(b,a,b,1)":    `owner.team=in=(1,"a","b")`,
		`owner.team=in=("x,y",true)`: `owner.team=in=(true,"x,y")`,
		`s==""`:                      `s==""`,
	}
	for in, want := range good {
		c, err := ParseClause(in)
		if err != nil {
			t.Errorf("ParseClause(%q): %v", in, err)
			continue
		}
		if c.String() != want {
			t.Errorf("ParseClause(%q) = %s, want %s", in, c, want)
		}
		again, err := ParseClause(c.String())
		if err != nil || again.String() != c.String() {
			t.Errorf("round trip of %s: %v, %v", c, again, err)
		}
	}
	bad := map[string]error{
		"":                 ErrInvalidQuery,
		"a=b":              ErrUnknownOperator,
		"a~=b":             ErrUnknownOperator,
		"a=>b":             ErrUnknownOperator,
		"a<>b":             ErrInvalidQuery, // < then ">b" is a string, then range on string is fine? see below
		"a..b==1":          ErrInvalidPath,
		"==1":              ErrInvalidPath,
		"a==":              ErrInvalidQuery,
		"a=={}":            ErrInvalidQuery,
		"a==[1]":           ErrInvalidQuery,
		`a=="unterminated`: ErrInvalidQuery,
		"a<true":           ErrInvalidQuery,
		"a>=null":          ErrInvalidQuery,
		"a=in=1,2":         ErrInvalidQuery,
		"exists(a":         ErrInvalidQuery,
		"exists(a..b)":     ErrInvalidPath,
	}
	delete(bad, "a<>b") // "a<>b" parses as a < ">b": a string range, which is valid
	for in, want := range bad {
		if _, err := ParseClause(in); !errors.Is(err, want) {
			t.Errorf("ParseClause(%q) = %v; want %v", in, err, want)
		}
	}
	if _, err := ParseQuery(make([]string, MaxClauses+1)); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("too many clauses: %v", err)
	}
}

// TestRanges_MatchAgree checks that the byte ranges of every operator select
// exactly the values Match accepts.
func TestRanges_MatchAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ops := []Op{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpIn, OpExists}
	for range 5000 {
		c := Clause{Path: Path{"x"}, Op: ops[r.IntN(len(ops))]}
		switch c.Op {
		case OpExists:
		case OpIn:
			for range r.IntN(4) + 1 {
				c.Values = append(c.Values, randScalar(r))
			}
			slices.SortFunc(c.Values, Compare)
			c.Values = slices.CompactFunc(c.Values, func(a, b Scalar) bool { return Compare(a, b) == 0 })
		default:
			v := randScalar(r)
			if c.Op != OpEq && c.Op != OpNe && v.Kind != KindNumber && v.Kind != KindString {
				continue
			}
			c.Values = []Scalar{v}
		}
		s := randScalar(r)
		e := EncodeScalar(s)
		inRange := false
		for _, rg := range c.Ranges() {
			inRange = inRange || rg.Contains(e)
		}
		if inRange != c.Match(s, true) {
			t.Fatalf("%s on %v: ranges say %v, Match says %v", c, s, inRange, !inRange)
		}
	}
}

func FuzzParseClause(f *testing.F) {
	for _, s := range []string{"a==1", "owner.team=in=(a,\"b,c\")", "exists(x.y)", "x", "a<=\"z\"", "a!=null", "a=b", "=in=()", "a=in=(\"\\\",\")"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClause(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPath) && !errors.Is(err, ErrUnknownOperator) && !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("ParseClause(%q): untyped error %v", s, err)
			}
			return
		}
		again, err := ParseClause(c.String())
		if err != nil {
			t.Fatalf("ParseClause(%q) = %s, which does not parse again: %v", s, c, err)
		}
		if again.String() != c.String() {
			t.Fatalf("round trip %q: %s then %s", s, c, again)
		}
		_ = c.Ranges()
	})
}

// TestExtract_AgreesWithDecode compares the scanner with a full decode on
// random JSON documents.
func TestExtract_AgreesWithDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	leaves := []string{`1`, `-2.5e3`, `"x"`, `"a\"b"`, `"\u00e9"`, `"é"`, `true`, `false`, `null`, `[]`, `[1,{"a":2}]`, `{}`, `"}"`, `"\\"`}
	var gen func(depth int) string
	gen = func(depth int) string {
		if depth == 0 || r.IntN(3) == 0 {
			return leaves[r.IntN(len(leaves))]
		}
		var parts []string
		for range r.IntN(4) {
			k := []string{"a", "b", "c", `a\u0062`}[r.IntN(4)]
			ws := []string{"", " ", "\n\t"}[r.IntN(3)]
			parts = append(parts, ws+`"`+k+`"`+ws+":"+ws+gen(depth-1)+ws)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	for range 20000 {
		doc := gen(3)
		if !json.Valid([]byte(doc)) {
			t.Fatalf("generator made invalid JSON %s", doc)
		}
		p := Path{[]string{"a", "b", "c"}[r.IntN(3)]}
		if r.IntN(2) == 0 {
			p = append(p, []string{"a", "b", "c"}[r.IntN(3)])
		}
		got, gotOK := Extract(json.RawMessage(doc), p)
		want, wantOK := decodeExtract(doc, p)
		if gotOK != wantOK || (gotOK && Compare(got, want) != 0) {
			t.Fatalf("Extract(%s, %s) = %v %v; decode says %v %v", doc, p, got, gotOK, want, wantOK)
		}
	}
}

func decodeExtract(doc string, p Path) (Scalar, bool) {
	var v any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return Scalar{}, false
	}
	for _, seg := range p {
		m, ok := v.(map[string]any)
		if !ok {
			return Scalar{}, false
		}
		if v, ok = m[seg]; !ok {
			return Scalar{}, false
		}
	}
	switch x := v.(type) {
	case nil:
		return Scalar{Kind: KindNull}, true
	case bool:
		if x {
			return Scalar{Kind: KindTrue}, true
		}
		return Scalar{Kind: KindFalse}, true
	case float64:
		return Scalar{Kind: KindNumber, Num: x}, true
	case string:
		return Scalar{Kind: KindString, Str: x}, true
	}
	return Scalar{}, false
}

func FuzzExtract(f *testing.F) {
	f.Add(`{"a":{"b":1}}`, "a.b")
	f.Add(`{"a":"x","a":{"b":"\u00e9"}}`, "a.b")
	f.Fuzz(func(t *testing.T, doc, path string) {
		p, err := ParsePath(path)
		if err != nil || !json.Valid([]byte(doc)) {
			return
		}
		got, gotOK := Extract(json.RawMessage(doc), p)
		want, wantOK := decodeExtract(doc, p)
		if gotOK != wantOK || (gotOK && Compare(got, want) != 0) {
			t.Fatalf("Extract(%s, %s) = %v %v; decode says %v %v", doc, p, got, gotOK, want, wantOK)
		}
	})
}
