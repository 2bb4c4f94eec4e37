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
		var back Txn
		mustDecode(1, got[2:], &back)
		if name != "every field" && !reflect.DeepEqual(&back, c) {
			t.Fatalf("%s: decoded %+v, want %+v", name, back, *c)
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
