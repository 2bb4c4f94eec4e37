package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

func u(n uint64) *uint64 { return &n }

var audit = Audit{Principal: "alice", Reason: "test", Time: 1_700_000_000_000_000_000}

// script is a hand-made raft log: each command is one entry, indexes from 1.
func script(t *testing.T) [][]byte {
	t.Helper()
	cmds := []any{
		&CreateNamespace{Audit: audit, Name: "pay"},
		&CreateNamespace{Audit: audit, Name: "pay"}, // exists
		&RegisterSchema{Audit: audit, Namespace: "pay", Name: "s", Version: 1, Schema: json.RawMessage(`{"type":"object"}`)},
		&RegisterSchema{Audit: audit, Namespace: "pay", Name: "s", Version: 3, Schema: json.RawMessage(`{}`)}, // conflict
		&Txn{Audit: audit, Ops: []Op{{Op: api.BatchPut, Namespace: "pay", Key: "a", Schema: "s", SchemaVersion: 1, SchemaRevision: 3, Value: json.RawMessage(`{"x":1}`)}}},
		&Txn{Audit: audit, Ops: []Op{{Op: api.BatchPut, Namespace: "pay", Key: "a", Schema: "s", SchemaVersion: 1, SchemaRevision: 3, Value: json.RawMessage(`{"x":2}`), Revision: u(5)}}},
		&Txn{Audit: audit, Ops: []Op{{Op: api.BatchPut, Namespace: "pay", Key: "a", Schema: "s", SchemaVersion: 1, SchemaRevision: 3, Value: json.RawMessage(`{"x":3}`), Revision: u(5)}}}, // stale CAS
		&Txn{Audit: audit, Ops: []Op{ // all or nothing: the second op fails
			{Op: api.BatchPut, Namespace: "pay", Key: "b", Schema: "s", SchemaVersion: 1, SchemaRevision: 3, Value: json.RawMessage(`{}`)},
			{Op: api.BatchCheck, Namespace: "pay", Key: "a", Revision: u(1)},
		}},
		&Txn{Audit: audit, Ops: []Op{{Op: api.BatchPut, Namespace: "pay", Key: "c", Schema: "s", SchemaVersion: 1, SchemaRevision: 99, Value: json.RawMessage(`{}`)}}}, // schema identity changed
		&Txn{Audit: audit, Ops: []Op{
			{Op: api.BatchPut, Namespace: "pay", Key: "b", Schema: "s", SchemaVersion: 1, SchemaRevision: 3, Value: json.RawMessage(`{"b":1}`), Revision: u(0)},
			{Op: api.BatchCheck, Namespace: "pay", Key: "a", Revision: u(6)},
		}},
		&Txn{Audit: audit, Ops: []Op{{Op: api.BatchDelete, Namespace: "pay", Key: "zz"}}}, // not found
		&Txn{Audit: audit, Ops: []Op{{Op: api.BatchDelete, Namespace: "nope", Key: "a"}}},
		&DeleteNamespace{Audit: audit, Name: "pay"}, // not empty
		&Txn{Audit: audit, Ops: []Op{{Op: api.BatchDelete, Namespace: "pay", Key: "b", Revision: u(10)}}},
		&CreateNamespace{Audit: audit, Name: "tmp"},
		&DeleteNamespace{Audit: audit, Name: "tmp"},
		&DeleteNamespace{Audit: audit, Name: "tmp"}, // gone
	}
	var out [][]byte
	for _, c := range cmds {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// wantErrs is the expected business failure of each entry of script.
var wantErrs = []error{
	nil, store.ErrNamespaceExists, nil, store.ErrSchemaConflict, nil, nil,
	store.ErrRevisionMismatch, store.ErrRevisionMismatch, store.ErrSchemaNotFound, nil,
	store.ErrConfigNotFound, store.ErrNamespaceNotFound, store.ErrNamespaceNotEmpty, nil,
	nil, nil, store.ErrNamespaceNotFound,
}

func logs(data [][]byte, first uint64) []*raft.Log {
	out := make([]*raft.Log, len(data))
	for i, d := range data {
		out[i] = &raft.Log{Index: first + uint64(i), Term: 1, Type: raft.LogCommand, Data: d}
	}
	return out
}

func TestFSM_ApplyEveryCommand(t *testing.T) {
	f, s := mustNewFSM(t)
	res := f.ApplyBatch(logs(script(t), 1))
	for i, r := range res {
		got := r.(*Result)
		if got.Revision != uint64(i+1) {
			t.Fatalf("entry %d: revision %d", i+1, got.Revision)
		}
		if want := wantErrs[i]; (want == nil) != (got.Err == nil) || (want != nil && !errors.Is(got.Err, want)) {
			t.Fatalf("entry %d: err %v, want %v", i+1, got.Err, want)
		}
	}
	v := s.View()
	if v.Revision() != uint64(len(res)) {
		t.Fatalf("applied %d, want %d", v.Revision(), len(res))
	}
	a, ok := v.Config("pay", "a")
	if !ok || string(a.Value) != `{"x":2}` || a.Version != 2 || a.ModifyRevision != 6 || a.CreateRevision != 5 || a.ModifiedBy != "alice" {
		t.Fatalf("pay/a = %+v", a)
	}
	if _, ok := v.Config("pay", "b"); ok {
		t.Fatal("pay/b should be deleted")
	}
	if _, ok := v.Namespace("tmp"); ok {
		t.Fatal("namespace tmp should be deleted")
	}
	// History holds exactly the successful writes of pay/b: put at 10, delete at 14.
	evs, _, err := s.History(api.KindConfig, "pay", "b", 0, 10)
	if err != nil || len(evs) != 2 || evs[0].Revision != 14 || evs[0].Op != api.OpDelete || evs[1].Revision != 10 {
		t.Fatalf("history of pay/b = %+v, %v", evs, err)
	}
}

// TestFSM_RevisionMismatchReportsCurrent checks that a failed
// compare-and-set returns a *RevisionMismatchError with the key's modify
// revision at apply time (0 for an absent key), one per failing operation,
// that it still matches store.ErrRevisionMismatch with the same message, and
// that nothing is written.
func TestFSM_RevisionMismatchReportsCurrent(t *testing.T) {
	f, s := mustNewFSM(t)
	put := func(key string, rev *uint64) Op {
		return Op{Op: api.BatchPut, Namespace: "pay", Key: key, Schema: "s", SchemaVersion: 1, SchemaRevision: 2,
			Value: json.RawMessage(`{}`), Revision: rev}
	}
	setup := []any{
		&CreateNamespace{Audit: audit, Name: "pay"},
		&RegisterSchema{Audit: audit, Namespace: "pay", Name: "s", Version: 1, Schema: json.RawMessage(`{}`)},
		&Txn{Audit: audit, Ops: []Op{put("a", nil)}}, // pay/a at 3
		&Txn{Audit: audit, Ops: []Op{put("a", nil)}}, // pay/a at 4
	}
	cases := []struct {
		name string
		ops  []Op
		want []RevisionMismatchError // per failing op, in order
		msgs []string
		idx  []int
	}{
		{"stale revision", []Op{put("a", u(3))},
			[]RevisionMismatchError{{Namespace: "pay", Key: "a", Expected: 3, Current: 4, Exists: true}},
			[]string{"store: revision mismatch: pay/a is at modify revision 4, expected 3"}, []int{0}},
		{"must not exist", []Op{put("a", u(0))},
			[]RevisionMismatchError{{Namespace: "pay", Key: "a", Expected: 0, Current: 4, Exists: true}},
			[]string{"store: revision mismatch: pay/a exists (modify revision 4), expected absent"}, []int{0}},
		{"absent key", []Op{{Op: api.BatchDelete, Namespace: "pay", Key: "zz", Revision: u(4)}},
			[]RevisionMismatchError{{Namespace: "pay", Key: "zz", Expected: 4, Current: 0, Exists: false}},
			[]string{"store: revision mismatch: pay/zz does not exist, expected modify revision 4"}, []int{0}},
		{"each op of a txn", []Op{
			put("b", u(0)),
			{Op: api.BatchCheck, Namespace: "pay", Key: "a", Revision: u(1)},
			{Op: api.BatchCheck, Namespace: "pay", Key: "c", Revision: u(2)},
		}, []RevisionMismatchError{
			{Namespace: "pay", Key: "a", Expected: 1, Current: 4, Exists: true},
			{Namespace: "pay", Key: "c", Expected: 2, Current: 0, Exists: false},
		}, []string{
			"store: revision mismatch: pay/a is at modify revision 4, expected 1",
			"store: revision mismatch: pay/c does not exist, expected modify revision 2",
		}, []int{1, 2}},
	}
	var data [][]byte
	for _, c := range setup {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	for _, c := range cases {
		b, err := Encode(&Txn{Audit: audit, Ops: c.ops})
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	res := f.ApplyBatch(logs(data, 1))
	for i := range setup {
		if r := res[i].(*Result); r.Err != nil {
			t.Fatalf("setup entry %d: %v", i+1, r.Err)
		}
	}
	for i, c := range cases {
		r := res[len(setup)+i].(*Result)
		if !errors.Is(r.Err, store.ErrRevisionMismatch) {
			t.Fatalf("%s: err %v, want store.ErrRevisionMismatch", c.name, r.Err)
		}
		var te *TxnError
		if !errors.As(r.Err, &te) || len(te.Ops) != len(c.want) {
			t.Fatalf("%s: err %#v, want a TxnError of %d operations", c.name, r.Err, len(c.want))
		}
		for j, o := range te.Ops {
			var rm *RevisionMismatchError
			if !errors.As(o.Err, &rm) {
				t.Fatalf("%s: op %d: err %T %v, want *RevisionMismatchError", c.name, o.Index, o.Err, o.Err)
			}
			if o.Index != c.idx[j] || *rm != c.want[j] || rm.Error() != c.msgs[j] || !errors.Is(o.Err, store.ErrRevisionMismatch) {
				t.Fatalf("%s: op %d = %+v %q, want op %d = %+v %q", c.name, o.Index, *rm, rm.Error(), c.idx[j], c.want[j], c.msgs[j])
			}
		}
	}
	if a, _ := s.View().Config("pay", "a"); a.ModifyRevision != 4 {
		t.Fatalf("pay/a at %d after failed compare-and-sets, want 4", a.ModifyRevision)
	}
	if _, ok := s.View().Config("pay", "b"); ok {
		t.Fatal("pay/b written by a txn whose other operations failed")
	}
}

func TestFSM_ReplayIsHarmless(t *testing.T) {
	f, s := mustNewFSM(t)
	data := script(t)
	f.ApplyBatch(logs(data, 1))
	before := dump(t, s)
	// A restart replays entries after the last snapshot; the store already
	// has them. They must be skipped, in whole batches and in part.
	for _, r := range f.ApplyBatch(logs(data, 1)) {
		if r != nil {
			t.Fatalf("replayed entry produced %v", r)
		}
	}
	if after := dump(t, s); after != before {
		t.Fatalf("state changed by replay:\n%s\n---\n%s", before, after)
	}
	mixed := logs(append(data[len(data)-2:], data[0]), uint64(len(data)-1))
	res := f.ApplyBatch(mixed)
	if res[0] != nil || res[1] != nil || res[2] == nil {
		t.Fatalf("mixed replay results %v", res)
	}
	if r := res[2].(*Result); !errors.Is(r.Err, store.ErrNamespaceExists) {
		t.Fatalf("new entry after replayed ones: %v", r.Err)
	}
	if s.Applied() != uint64(len(data)+1) {
		t.Fatalf("applied %d after the new entry, want %d", s.Applied(), len(data)+1)
	}
}

func TestFSM_ReplayAfterReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(store.Config{Path: filepath.Join(dir, "fsm.db")})
	if err != nil {
		t.Fatal(err)
	}
	data := script(t)
	New(s, nil).ApplyBatch(logs(data, 1))
	before := dump(t, s)
	_ = s.Close()
	s, err = store.Open(store.Config{Path: filepath.Join(dir, "fsm.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Applied() != uint64(len(data)) {
		t.Fatalf("applied after reopen %d, want %d", s.Applied(), len(data))
	}
	New(s, nil).ApplyBatch(logs(data, 1))
	if after := dump(t, s); after != before {
		t.Fatalf("state changed by replay after reopen")
	}
}

func TestFSM_SnapshotRestore(t *testing.T) {
	f, s := mustNewFSM(t)
	f.ApplyBatch(logs(script(t), 1))
	want := dump(t, s)

	snaps, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 1, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink, err := snaps.Create(raft.SnapshotVersionMax, s.Applied(), 1, raft.Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the snapshot was taken are not in it.
	more, _ := Encode(&CreateNamespace{Audit: audit, Name: "late"})
	f.ApplyBatch(logs([][]byte{more}, s.Applied()+1))
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	list, err := snaps.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("snapshots %v %v", list, err)
	}
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	f2, s2 := mustNewFSM(t)
	if err := f2.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, s2); got != want {
		t.Fatalf("restored state differs:\n%s\n---\n%s", got, want)
	}
}

func TestFSM_UnknownCommand(t *testing.T) {
	f, s := mustNewFSM(t)
	res := f.ApplyBatch([]*raft.Log{{Index: 1, Type: raft.LogCommand, Data: []byte{200, FlagIgnoreUnknown, '{', '}'}}})
	if res[0] != nil || s.Applied() != 1 {
		t.Fatalf("ignorable unknown command: result %v, applied %d", res[0], s.Applied())
	}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "unknown command type 201") {
			t.Fatalf("unknown command without the ignore flag: recovered %v", r)
		}
		if s.Applied() != 1 {
			t.Fatalf("applied moved to %d past a command this node cannot apply", s.Applied())
		}
	}()
	f.ApplyBatch([]*raft.Log{{Index: 2, Type: raft.LogCommand, Data: []byte{201, 0, '{', '}'}}})
}

func TestFSM_SkipsNonCommandEntries(t *testing.T) {
	f, s := mustNewFSM(t)
	res := f.ApplyBatch([]*raft.Log{{Index: 1, Type: raft.LogConfiguration, Data: []byte("not a command")}})
	if res[0] != nil || s.Applied() != 1 {
		t.Fatalf("configuration entry: result %v, applied %d", res[0], s.Applied())
	}
}

func TestFSM_DecodeFailurePanics(t *testing.T) {
	f, _ := mustNewFSM(t)
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("a body that does not decode must panic")
		}
	}()
	f.ApplyBatch([]*raft.Log{{Index: 1, Type: raft.LogCommand, Data: []byte{byte(TypeTxn), 0, '['}}})
}

func mustNewFSM(t *testing.T) (*FSM, *store.Store) {
	t.Helper()
	s, err := store.Open(store.Config{Path: filepath.Join(t.TempDir(), "fsm.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return New(s, nil), s
}

// dump renders the whole state (entries, namespaces, schemas, history) for
// comparison.
func dump(t *testing.T, s *store.Store) string {
	t.Helper()
	v := s.View()
	var b strings.Builder
	fmt.Fprintf(&b, "applied %d\n", v.Revision())
	for _, n := range v.Namespaces() {
		j, _ := json.Marshal(n)
		fmt.Fprintf(&b, "ns %s\n", j)
		for _, sc := range v.Schemas(n.Name) {
			for _, sv := range v.SchemaVersions(n.Name, sc.Name) {
				j, _ := json.Marshal(sv)
				fmt.Fprintf(&b, "schema %s\n", j)
			}
		}
		items, _ := v.ListConfigs(n.Name, "", "", 1000)
		for _, e := range items {
			j, _ := json.Marshal(e)
			fmt.Fprintf(&b, "config %s\n", j)
			evs, _, err := s.History(api.KindConfig, n.Name, e.Key, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			j, _ = json.Marshal(evs)
			fmt.Fprintf(&b, "history %s\n", j)
		}
	}
	return b.String()
}

// TestEncode_KeepsValuesByteForByte checks that a command carries values as
// the caller sent them, "<", ">" and "&" included (encoding/json would
// write \u003c), and that applying it stores exactly those bytes.
func TestEncode_KeepsValuesByteForByte(t *testing.T) {
	const value = `{"html":"<a&b>","escaped":"\u003c","s":"x>y"}`
	f, s := mustNewFSM(t)
	var data [][]byte
	for _, c := range []any{
		&CreateNamespace{Audit: audit, Name: "pay", Description: "<&>"},
		&RegisterSchema{Audit: audit, Namespace: "pay", Name: "s", Version: 1, Schema: json.RawMessage(`{"description":"<&>"}`)},
		&Txn{Audit: audit, Ops: []Op{{Op: api.BatchPut, Namespace: "pay", Key: "a", Schema: "s", SchemaVersion: 1, SchemaRevision: 2, Value: json.RawMessage(value)}}},
	} {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "<&>") && !strings.Contains(string(b), value) || strings.HasSuffix(string(b), "\n") {
			t.Fatalf("Encode(%T) = %q, want the text as given and no trailing newline", c, b)
		}
		data = append(data, b)
	}
	for i, r := range f.ApplyBatch(logs(data, 1)) {
		if err := r.(*Result).Err; err != nil {
			t.Fatalf("entry %d: %v", i+1, err)
		}
	}
	if e, ok := s.View().Config("pay", "a"); !ok || string(e.Value) != value {
		t.Fatalf("stored value %s, want %s byte for byte", e.Value, value)
	}
}
