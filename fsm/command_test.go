package fsm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/jsonutil/jsontest"
)

// TestTxn_AppendJSONMatchesEncodingJSON keeps the hand-written Txn encoding
// byte for byte equal to encoding/json's, so logs written before it and
// nodes that decode with encoding/json see the same commands. Fill sets
// every field, so a field added to Txn or Op fails here until appendJSON
// writes it.
func TestTxn_AppendJSONMatchesEncodingJSON(t *testing.T) {
	var full Txn
	jsontest.Fill(t, &full)
	zero := uint64(0)
	for name, c := range map[string]*Txn{
		"every field": &full,
		"zero":        {},
		"no ops":      {Audit: audit, Ops: []Op{}},
		"put": {Audit: audit, Ops: []Op{{Op: api.BatchPut, Namespace: "pay", Key: "a/b", Schema: "s",
			SchemaVersion: 2, SchemaRevision: 7, Value: json.RawMessage(`{"a":"<&>"}`)}}},
		"delete and check at 0": {Audit: audit, Ops: []Op{
			{Op: api.BatchDelete, Namespace: "pay", Key: "a"},
			{Op: api.BatchCheck, Namespace: "pay", Key: "b", Revision: &zero},
		}},
	} {
		got, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != byte(TypeTxn) || got[1] != 0 {
			t.Fatalf("%s: header % x, want %x 00", name, got[:2], TypeTxn)
		}
		if want := jsontest.Marshal(t, c); !bytes.Equal(got[2:], want) {
			t.Fatalf("%s:\n got %s\nwant %s", name, got[2:], want)
		}
		if name == "every field" {
			continue // its strings need escapes, so they do not come back as they were
		}
		back, ok := decodeTxnFast(got[2:])
		if !ok || !reflect.DeepEqual(&back, c) {
			t.Fatalf("%s: decoded %+v (fast: %v), want %+v", name, back, ok, *c)
		}
	}
}

func BenchmarkEncode_Txn(b *testing.B) {
	value := json.RawMessage(jsontest.Value)
	c := &Txn{Audit: audit, Ops: []Op{{Op: api.BatchPut, Namespace: "bench", Key: "app-1/key-1",
		Schema: "service", SchemaVersion: 1, SchemaRevision: 5, Value: value}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(c); err != nil {
			b.Fatal(err)
		}
	}
}

// txnBodies are Txn bodies the fast decoder must read (fast) and ones it
// must leave to encoding/json.
var txnBodies = []struct {
	body string
	fast bool
}{
	{`{"principal":"alice","reason":"r","time":1700000000000000000,"ops":[{"op":"put","namespace":"pay","key":"a","schema":"s","schema_version":1,"schema_revision":3,"value":{"x":[1,"<&>"]},"revision":5,"rollback_of":2}]}`, true},
	{`{"principal":"","time":-1,"ops":null}`, true},
	{`{"principal":"é","time":0,"ops":[]}`, true},
	{`{"principal":"a","time":1,"ops":[{"op":"put","namespace":"n","key":"k","value":null}]}`, true},
	{`{"ops":[{"op":"check","namespace":"n","key":"k","revision":0},{"op":"delete","namespace":"n","key":"k","revision":null}],"time":-0,"principal":"x"}`, true},
	{`{"principal":"a\u0062","time":1,"ops":[]}`, false}, // escapes
	{`{"Principal":"a","time":1,"ops":[]}`, false},       // another case
	{`{"principal":"a","time":1,"ops":[],"extra":true}`, false},
	{`{"principal":"a","principal":"b","time":1,"ops":[]}`, false},
	{`{"principal":"a","time":1.5,"ops":[]}`, false},
	{`{"principal":"a","time":"1","ops":[]}`, false},
	{`{"principal":"a","time":99999999999999999999,"ops":[]}`, false},
	{`{"principal":"a","time":1,"ops":[null]}`, false},
	{`{"principal":"a","time":1,"ops":[{"op":"put","schema_version":1e2}]}`, false},
	{`{"principal":"a","time":1,"ops":[{"op":"put","schema_revision":-1}]}`, false},
	{`{"principal":null,"time":1,"ops":[]}`, false},
	{`{"principal":"a","time":1,"ops":{}}`, false},
	{`[]`, false},
}

func TestDecodeTxn_MatchesEncodingJSON(t *testing.T) {
	for _, tt := range txnBodies {
		got, ok := decodeTxnFast([]byte(tt.body))
		if ok != tt.fast {
			t.Errorf("decodeTxnFast(%s): ok = %v, want %v", tt.body, ok, tt.fast)
		}
		checkTxnDecode(t, []byte(tt.body), got, ok)
	}
}

func FuzzDecodeTxn(f *testing.F) {
	for _, tt := range txnBodies {
		f.Add([]byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := decodeTxnFast(body)
		checkTxnDecode(t, body, got, ok)
	})
}

// checkTxnDecode fails if decodeTxnFast read body (ok) and encoding/json
// refuses it or decodes another command.
func checkTxnDecode(t *testing.T, body []byte, got Txn, ok bool) {
	t.Helper()
	if !ok {
		return
	}
	var want Txn
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("decodeTxnFast read %q, which encoding/json refuses: %v", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeTxnFast(%q) = %+v, encoding/json: %+v", body, got, want)
	}
}
