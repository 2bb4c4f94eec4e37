package httpapi

import (
	"bytes"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/jsonutil"
)

var putBodies = []struct {
	body  string
	split bool // taken by splitPutBody
}{
	{`{"schema":"svc@1","value":{"a":[1,"x"]},"reason":"CR-1"}`, true},
	{` { "value" : 1 } `, true},
	{`{"value":null,"schema":"é"}`, true},
	{`{}`, true},
	{`{"schema":"a\u0040b","value":1}`, false}, // escapes: encoding/json
	{`{"Schema":"svc","value":1}`, false},      // case-insensitive match: encoding/json
	{`{"value":1,"value":2}`, false},
	{`{"schema":null,"value":1}`, false},
	{`{"schema":1,"value":1}`, false},
	{`{"extra":1,"value":1}`, false},
	{"{\"reason\":\"\xff\",\"value\":1}", false},
	{`[1]`, false},
}

func TestSplitPutBody_MatchesDecodeBody(t *testing.T) {
	for _, tt := range putBodies {
		var req api.PutConfigRequest
		split := splitPutBody([]byte(tt.body), &req)
		if split != tt.split {
			t.Errorf("splitPutBody(%s) = %v, want %v", tt.body, split, tt.split)
		}
		checkSplit(t, []byte(tt.body), &req, split)
	}
}

func FuzzSplitPutBody(f *testing.F) {
	for _, tt := range putBodies {
		f.Add([]byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if jsonutil.Check(b, 64) != nil {
			return // readBody refuses it first
		}
		var req api.PutConfigRequest
		checkSplit(t, b, &req, splitPutBody(b, &req))
	})
}

// checkSplit fails if splitPutBody took b (split) and decodeBody's rules
// refuse it or decode another request.
func checkSplit(t *testing.T, b []byte, got *api.PutConfigRequest, split bool) {
	t.Helper()
	if !split {
		return
	}
	var want api.PutConfigRequest
	if err := decodeBytes(b, &want); err != nil {
		t.Fatalf("splitPutBody took %q, which decodeBody refuses: %v", b, err)
	}
	if got.Schema != want.Schema || got.Reason != want.Reason || !bytes.Equal(got.Value, want.Value) {
		t.Fatalf("splitPutBody(%q) = %+v, decodeBody: %+v", b, *got, want)
	}
}
