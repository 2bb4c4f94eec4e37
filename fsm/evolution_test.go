package fsm

import (
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

// applyAll applies cmds as entries first.. and returns their results.
func applyAll(t *testing.T, f *FSM, first uint64, cmds ...any) []*Result {
	t.Helper()
	var data [][]byte
	for _, c := range cmds {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	var out []*Result
	for _, r := range f.ApplyBatch(logs(data, first)) {
		out = append(out, r.(*Result))
	}
	return out
}

func put(key string, ver int, schemaRev uint64, val string) *Txn {
	return &Txn{Audit: audit, Ops: []Op{{Op: api.BatchPut, Namespace: "pay", Key: key, Schema: "s",
		SchemaVersion: ver, SchemaRevision: schemaRev, Value: json.RawMessage(val)}}}
}

func TestEvolution_StaleStrictCheckIsRefused(t *testing.T) {
	f, s := mustNewFSM(t)
	v2 := SchemaItem{Name: "s", Version: 2, Schema: json.RawMessage(`{}`), Checked: true}
	res := applyAll(t, f, 1,
		&CreateNamespace{Audit: audit, Name: "pay"}, // 1
		&RegisterSchemas{Audit: audit, Namespace: "pay", Items: []SchemaItem{{Name: "s", Version: 1, Schema: json.RawMessage(`{}`)}}}, // 2
		put("a", 1, 2, `1`), // 3
		// Checked at 2, but "a" was pinned to 1 at 3: the check missed it.
		&RegisterSchemas{Audit: audit, Namespace: "pay", Items: []SchemaItem{v2}, CheckedRevision: 2}, // 4
		// Not checked at all under strict: refused too.
		&RegisterSchemas{Audit: audit, Namespace: "pay", Items: []SchemaItem{{Name: "s", Version: 2, Schema: json.RawMessage(`{}`)}}, CheckedRevision: 5}, // 5
		// Checked at 3: accepted.
		&RegisterSchemas{Audit: audit, Namespace: "pay", Items: []SchemaItem{v2}, CheckedRevision: 3}, // 6
	)
	want := []error{nil, nil, nil, ErrEvolutionConflict, ErrEvolutionConflict, nil}
	for i, r := range res {
		if !errors.Is(r.Err, want[i]) || (want[i] == nil && r.Err != nil) {
			t.Fatalf("entry %d: err %v, want %v", i+1, r.Err, want[i])
		}
	}
	if _, ok := s.View().SchemaVersion("pay", "s", 2); !ok {
		t.Fatal("version 2 not stored")
	}
}

func TestEvolution_PinsDeprecationDeleteAndMigration(t *testing.T) {
	f, s := mustNewFSM(t)
	res := applyAll(t, f, 1,
		&CreateNamespace{Audit: audit, Name: "pay"}, // 1
		&RegisterSchemas{Audit: audit, Namespace: "pay", Items: []SchemaItem{ // 2
			{Name: "s", Version: 1, Schema: json.RawMessage(`{}`), Policy: api.PolicyNone},
			{Name: "s", Version: 2, Schema: json.RawMessage(`{}`)},
			{Name: "s", Version: 3, Schema: json.RawMessage(`{}`)},
			{Name: "r", Version: 1, Schema: json.RawMessage(`{"$ref":"s@2"}`)},
		}},
		put("a", 1, 2, `1`), // 3
		put("b", 1, 2, `2`), // 4
		&DeprecateVersion{Audit: audit, Namespace: "pay", Name: "s", Version: 1, Deprecated: true}, // 5
		put("c", 1, 2, `3`), // 6 new pin to a deprecated version: refused
		put("a", 1, 2, `4`), // 7 rewrite of an entry already there: allowed
		&DeleteSchemaVersion{Audit: audit, Namespace: "pay", Name: "s", Version: 1},                                                  // 8 pinned
		&DeleteSchemaVersion{Audit: audit, Namespace: "pay", Name: "s", Version: 3},                                                  // 9 latest
		&DeleteSchemaVersion{Audit: audit, Namespace: "pay", Name: "s", Version: 2},                                                  // 10 referenced by r@1
		&StartMigration{Audit: audit, Migration: api.Migration{ID: "m1", Namespace: "pay", Name: "s", From: 1, To: 3, ChunkSize: 1}}, // 11
		&StartMigration{Audit: audit, Migration: api.Migration{ID: "m2", Namespace: "pay", Name: "s", From: 1, To: 2, ChunkSize: 1}}, // 12 one at a time
		&MigrateChunk{Audit: audit, Namespace: "pay", ID: "m1", From: "", Cursor: "a", SchemaRevision: 2,
			Items: []ChunkItem{{Key: "a", ModifyRevision: 7, Value: json.RawMessage(`5`)}}}, // 13
		&MigrateChunk{Audit: audit, Namespace: "pay", ID: "m1", From: "", Cursor: "a", SchemaRevision: 2,
			Items: []ChunkItem{{Key: "a", ModifyRevision: 7, Value: json.RawMessage(`5`)}}}, // 14 duplicate
		&MigrateChunk{Audit: audit, Namespace: "pay", ID: "m1", From: "a", Cursor: "b", SchemaRevision: 2, Done: true,
			FailedCount: 1, Failures: []api.EntryFailure{{Key: "b", SchemaVersion: 1}}}, // 15
		&DeleteSchemaVersion{Audit: audit, Namespace: "pay", Name: "s", Version: 1}, // 16 b still pins it
		put("b", 3, 2, `6`), // 17
		&DeleteSchemaVersion{Audit: audit, Namespace: "pay", Name: "s", Version: 1}, // 18
		&SetSchemaPolicy{Audit: audit, Namespace: "pay", Name: "s", Policy: "lax"},  // 19
	)
	want := []error{nil, nil, nil, nil, nil, ErrSchemaDeprecated, nil, ErrSchemaInUse, ErrSchemaInUse, ErrSchemaInUse,
		nil, ErrMigrationConflict, nil, ErrMigrationConflict, nil, ErrSchemaInUse, nil, nil, ErrInvalidPolicy}
	for i, r := range res {
		if !errors.Is(r.Err, want[i]) || (want[i] == nil && r.Err != nil) {
			t.Fatalf("entry %d: err %v, want %v", i+1, r.Err, want[i])
		}
	}
	check := func(v *store.View, when string) {
		t.Helper()
		if p := v.PinStat("pay", "s", 3); p.Count != 2 || p.LastPin != 17 {
			t.Fatalf("%s: pins of s@3 = %+v, want 2 at 17", when, p)
		}
		if _, ok := v.SchemaVersion("pay", "s", 1); ok {
			t.Fatalf("%s: s@1 not deleted", when)
		}
		m, ok := v.Migration("pay", "m1")
		if !ok || m.State != api.MigrationCompleted || m.Migrated != 1 || m.Failed != 1 || m.Chunks != 2 || m.Cursor != "b" {
			t.Fatalf("%s: migration %+v", when, m)
		}
		if e, _ := v.Config("pay", "a"); e.SchemaVersion != 3 || string(e.Value) != "5" {
			t.Fatalf("%s: a = %+v", when, e)
		}
		if got := v.SchemaMeta("pay", "s"); got.Policy != api.PolicyNone || len(got.Deprecated) != 0 {
			t.Fatalf("%s: meta %+v", when, got)
		}
	}
	check(s.View(), "live")

	// The pins and the rest are replicated state: a reopened file and a
	// restored snapshot hold the same.
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	check(s2.View(), "reopened")
	sn, err := s2.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	s3, err := store.Open(store.Config{Path: filepath.Join(t.TempDir(), "other.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	pr, pw := io.Pipe()
	go func() { _, err := sn.WriteTo(pw); sn.Release(); _ = pw.CloseWithError(err) }()
	if err := s3.Restore(pr); err != nil {
		t.Fatal(err)
	}
	check(s3.View(), "restored")
}

func TestEvolution_ChunkSkipsEntriesChangedSinceItsCheck(t *testing.T) {
	f, s := mustNewFSM(t)
	res := applyAll(t, f, 1,
		&CreateNamespace{Audit: audit, Name: "pay"}, // 1
		&RegisterSchemas{Audit: audit, Namespace: "pay", Items: []SchemaItem{ // 2
			{Name: "s", Version: 1, Schema: json.RawMessage(`{}`)},
			{Name: "s", Version: 2, Schema: json.RawMessage(`{}`)},
		}},
		put("a", 1, 2, `1`), // 3
		put("b", 1, 2, `1`), // 4
		&StartMigration{Audit: audit, Migration: api.Migration{ID: "m", Namespace: "pay", Name: "s", From: 1, To: 2, ChunkSize: 10}}, // 5
		put("b", 1, 2, `2`), // 6: written after the chunk below was built
		&MigrateChunk{Audit: audit, Namespace: "pay", ID: "m", Cursor: "b", SchemaRevision: 2, Done: true,
			Items: []ChunkItem{{Key: "a", ModifyRevision: 3, Value: json.RawMessage(`10`)}, {Key: "b", ModifyRevision: 4, Value: json.RawMessage(`10`)}}}, // 7
		&MigrateChunk{Audit: audit, Namespace: "pay", ID: "m", From: "b", Cursor: "c", SchemaRevision: 2}, // 8: completed
		&MigrateChunk{Audit: audit, Namespace: "pay", ID: "nope", SchemaRevision: 2},                      // 9
	)
	want := []error{nil, nil, nil, nil, nil, nil, nil, ErrMigrationConflict, ErrMigrationNotFound}
	for i, r := range res {
		if !errors.Is(r.Err, want[i]) || (want[i] == nil && r.Err != nil) {
			t.Fatalf("entry %d: err %v, want %v", i+1, r.Err, want[i])
		}
	}
	v := s.View()
	m, _ := v.Migration("pay", "m")
	if m.Migrated != 1 || m.Skipped != 1 || m.State != api.MigrationCompleted {
		t.Fatalf("migration = %+v", m)
	}
	if b, _ := v.Config("pay", "b"); b.SchemaVersion != 1 || string(b.Value) != "2" {
		t.Fatalf("b = %+v: the write after the check must win", b)
	}
}
