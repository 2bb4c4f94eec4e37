package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/index"
	"github.com/schemakv/schemakv/store"
)

// indexScript is a hand-made log of index commands with their expected
// business failures.
func indexScript(t *testing.T) ([][]byte, []error) {
	t.Helper()
	put := func(key string, x int) Op {
		return Op{Op: api.BatchPut, Namespace: "pay", Key: key, Schema: "s", SchemaVersion: 1, SchemaRevision: 2, Value: json.RawMessage(fmt.Sprintf(`{"x":%d}`, x))}
	}
	steps := []struct {
		cmd any
		err error
	}{
		{&CreateNamespace{Audit: audit, Name: "pay"}, nil},
		{&RegisterSchema{Audit: audit, Namespace: "pay", Name: "s", Version: 1, Schema: json.RawMessage(`{"type":"object"}`)}, nil},
		{&Txn{Audit: audit, Ops: []Op{put("a", 1), put("b", 2), put("c", 1)}}, nil},
		{&CreateIndex{Audit: audit, Namespace: "pay", Name: "x", Path: "x", MaxIndexes: 2}, nil},
		{&CreateIndex{Audit: audit, Namespace: "pay", Name: "x", Path: "x", MaxIndexes: 2}, store.ErrIndexExists},
		{&CreateIndex{Audit: audit, Namespace: "pay", Name: "bad", Path: "a..b", MaxIndexes: 2}, index.ErrInvalidPath},
		{&CreateIndex{Audit: audit, Namespace: "nope", Name: "x", Path: "x", MaxIndexes: 2}, store.ErrNamespaceNotFound},
		{&CreateIndex{Audit: audit, Namespace: "pay", Name: "y", Path: "y", MaxIndexes: 2}, nil},
		{&CreateIndex{Audit: audit, Namespace: "pay", Name: "z", Path: "z", MaxIndexes: 2}, store.ErrTooManyIndexes},
		{&IndexChunk{Namespace: "pay", Name: "x", After: "", N: 2}, nil},
		{&IndexChunk{Namespace: "pay", Name: "x", After: "", N: 2}, store.ErrIndexCursorMoved}, // proposed twice
		{&Txn{Audit: audit, Ops: []Op{put("a", 5), put("d", 1)}}, nil},                         // a behind the cursor, d beyond it
		{&IndexChunk{Namespace: "pay", Name: "x", After: "b", N: 5}, nil},
		{&IndexChunk{Namespace: "pay", Name: "x", After: "d", N: 5}, store.ErrIndexCursorMoved}, // ready already
		{&DropIndex{Audit: audit, Namespace: "pay", Name: "y"}, nil},
		{&DropIndex{Audit: audit, Namespace: "pay", Name: "y"}, store.ErrIndexNotFound},
	}
	var data [][]byte
	var errs []error
	for _, s := range steps {
		b, err := Encode(s.cmd)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
		errs = append(errs, s.err)
	}
	return data, errs
}

func indexDump(t *testing.T, s *store.Store) string {
	t.Helper()
	v := s.View()
	out := ""
	for _, d := range v.Indexes("pay") {
		out += fmt.Sprintf("%s %s %s cursor=%q processed=%d entries=%d\n", d.Name, d.Path, d.State, d.Cursor, d.Processed, d.Entries)
	}
	c, _ := index.ParseClause("x==1")
	res, err := v.Query(store.Query{Namespace: "pay", Clauses: []index.Clause{c}, Limit: 10})
	if err != nil {
		return out + "query: " + err.Error()
	}
	for _, e := range res.Items {
		out += res.Plan + " " + e.Key + "\n"
	}
	return out
}

func TestFSM_IndexCommands(t *testing.T) {
	data, wantErrs := indexScript(t)
	f, s := mustNewFSM(t)
	res := f.ApplyBatch(logs(data, 1))
	for i, r := range res {
		got := r.(*Result)
		if want := wantErrs[i]; (want == nil) != (got.Err == nil) || (want != nil && !errors.Is(got.Err, want)) {
			t.Fatalf("entry %d: err %v, want %v", i+1, got.Err, want)
		}
	}
	if d := res[3].(*Result).Index; d == nil || d.State != api.IndexBuilding {
		t.Fatalf("create over existing entries: %+v", d)
	}
	want := "x x ready cursor=\"d\" processed=4 entries=4\nindex:x c\nindex:x d\n"
	if got := indexDump(t, s); got != want {
		t.Fatalf("state:\n%s\nwant:\n%s", got, want)
	}

	// Replaying the log after a reopen changes nothing; the rebuilt
	// entries answer the same.
	dir := t.TempDir()
	s2, err := store.Open(store.Config{Path: filepath.Join(dir, "fsm.db")})
	if err != nil {
		t.Fatal(err)
	}
	New(s2, nil).ApplyBatch(logs(data, 1))
	_ = s2.Close()
	s2, err = store.Open(store.Config{Path: filepath.Join(dir, "fsm.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	New(s2, nil).ApplyBatch(logs(data, 1))
	if got := indexDump(t, s2); got != want {
		t.Fatalf("after reopen and replay:\n%s\nwant:\n%s", got, want)
	}
}
