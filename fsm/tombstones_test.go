package fsm

import (
	"encoding/json"
	"testing"

	"github.com/schemakv/schemakv/api"
)

// TestReapTombstones: the reap drops the tombstones deleted before its
// cut-off (never above its own revision) and leaves the revision of the
// deleted key's answer where it was, on a replayed log as on the first.
func TestReapTombstones(t *testing.T) {
	audit := NewAudit("alice", "")
	put := func(key string) *Txn {
		return &Txn{Audit: audit, Ops: []Op{{Op: api.BatchPut, Namespace: "pay", Key: key, Schema: "s", SchemaVersion: 1, SchemaRevision: 2, Value: json.RawMessage(`{}`)}}}
	}
	del := func(key string) *Txn {
		return &Txn{Audit: audit, Ops: []Op{{Op: api.BatchDelete, Namespace: "pay", Key: key}}}
	}
	cmds := []any{
		&CreateNamespace{Audit: audit, Name: "pay"},                                                           // 1
		&RegisterSchema{Audit: audit, Namespace: "pay", Name: "s", Version: 1, Schema: json.RawMessage(`{}`)}, // 2
		put("a"), put("b"), put("c"), // 3 4 5
		del("a"), del("b"), // 6 7
		&ReapTombstones{Before: 7},    // 8: drops a's (6), keeps b's (7)
		del("c"),                      // 9
		&ReapTombstones{Before: 1000}, // 10: a cut-off above its own revision drops up to 10
	}
	var data [][]byte
	for _, c := range cmds {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	f, s := mustNewFSM(t)
	for i, l := range logs(data, 1) {
		if r := f.Apply(l).(*Result); r.Err != nil {
			t.Fatalf("entry %d: %v", i+1, r.Err)
		}
		v := s.View()
		switch i + 1 {
		case 7:
			if n := v.ConfigTombstones(); n != 2 {
				t.Fatalf("after the deletes: %d tombstones, want 2", n)
			}
		case 8:
			if n := v.ConfigTombstones(); n != 1 {
				t.Fatalf("after the first reap: %d tombstones, want 1 (b's)", n)
			}
			if r := v.ConfigRevision("pay", "a", nil); r != 6 {
				t.Fatalf("revision of the reaped a = %d, want its delete's 6 (the floor)", r)
			}
			if r := v.ConfigRevision("pay", "b", nil); r != 7 {
				t.Fatalf("revision of b = %d, want 7", r)
			}
		case 10:
			if n := v.ConfigTombstones(); n != 0 {
				t.Fatalf("after the second reap: %d tombstones, want 0", n)
			}
			for _, k := range []string{"a", "b", "c", "never"} {
				if r := v.ConfigRevision("pay", k, nil); r != 9 {
					t.Fatalf("revision of %s = %d, want the floor 9", k, r)
				}
			}
			if r := v.ConfigListRevision("pay", "", nil); r != 9 {
				t.Fatalf("list revision = %d, want 9", r)
			}
		}
	}
	// A replay of the whole log (as after a restart from an old snapshot)
	// skips what is applied and changes nothing.
	before := s.View().ConfigRevision("pay", "a", nil)
	f.ApplyBatch(logs(data, 1))
	if after := s.View().ConfigRevision("pay", "a", nil); after != before {
		t.Fatalf("replay moved a's revision from %d to %d", before, after)
	}
}
