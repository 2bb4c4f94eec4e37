package fsm

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

func staged(key, value string, schemaRev uint64) ImportOp {
	return ImportOp{StagedEntry: store.StagedEntry{Namespace: "pay", Key: key, Schema: "s", SchemaVersion: 1, SchemaRevision: schemaRev, Value: json.RawMessage(value)}}
}

// TestFSM_ImportJobs drives import jobs through a hand-made log: staging is
// invisible and idempotent per chunk, publish makes everything visible at one
// revision with the importer's audit, cancel drops the staging, best-effort
// applies what still holds, limits and expiry are decided in apply.
func TestFSM_ImportJobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	s, err := store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	f := New(s, nil)
	imp := Audit{Principal: "importer", Reason: "onboard", Time: audit.Time}
	later := Audit{Principal: "system", Time: audit.Time + int64(2*time.Hour)}
	lim := func(c *ImportChunk) *ImportChunk { c.MaxErrors, c.MaxAtomic = 1, 10; return c }
	cmds := []any{
		&CreateNamespace{Audit: audit, Name: "pay"},                                                                                          // 1
		&RegisterSchema{Audit: audit, Namespace: "pay", Name: "s", Version: 1, Schema: json.RawMessage(`{}`)},                                // 2
		&ImportCreate{Audit: imp, ID: "A", Mode: api.ImportAtomic, MaxRunning: 2},                                                            // 3
		lim(&ImportChunk{Audit: audit, ID: "A", Seq: 1, Offset: 10, Received: 2, Ops: []ImportOp{staged("a", `1`, 2), staged("b", `2`, 2)}}), // 4
		lim(&ImportChunk{Audit: audit, ID: "A", Seq: 1, Offset: 10, Received: 2, Ops: []ImportOp{staged("a", `1`, 2), staged("b", `2`, 2)}}), // 5 re-proposal
		lim(&ImportChunk{Audit: audit, ID: "A", Seq: 3, Offset: 30, Received: 1}),                                                            // 6 out of order
		lim(&ImportChunk{Audit: audit, ID: "A", Seq: 2, Offset: 20, Received: 1, Ops: []ImportOp{staged("c", `3`, 2)}}),                      // 7
		&ImportFinish{Audit: audit, ID: "A", Chunks: 2, MaxAtomic: 10},                                                                       // 8 publish
		&ImportFinish{Audit: audit, ID: "A", Chunks: 2, MaxAtomic: 10},                                                                       // 9 re-proposal
		&ImportCreate{Audit: imp, ID: "B", Mode: api.ImportAtomic, MaxRunning: 2},                                                            // 10
		lim(&ImportChunk{Audit: audit, ID: "B", Seq: 1, Offset: 5, Received: 1, Ops: []ImportOp{staged("d", `4`, 2)}}),                       // 11
		&ImportCancel{Audit: audit, ID: "B"},                                                                                                 // 12
		lim(&ImportChunk{Audit: audit, ID: "B", Seq: 2, Offset: 9, Received: 1}),                                                             // 13 after cancel
		&ImportCreate{Audit: imp, ID: "C", Mode: api.ImportBestEffort, MaxRunning: 2},                                                        // 14
		lim(&ImportChunk{Audit: audit, ID: "C", Seq: 1, Offset: 5, Received: 3, Ops: []ImportOp{staged("e", `5`, 2), staged("f", `6`, 99)},
			Errors: []api.ImportError{{Index: 2, Code: api.CodeValidationFailed}}}), // 15
		&ImportFinish{Audit: audit, ID: "C", Chunks: 1},                             // 16
		&ImportCreate{Audit: imp, ID: "D", Mode: api.ImportAtomic, MaxRunning: 2},   // 17
		&ImportCreate{Audit: imp, ID: "E", Mode: api.ImportAtomic, MaxRunning: 2},   // 18
		&ImportCreate{Audit: imp, ID: "F", Mode: api.ImportAtomic, MaxRunning: 2},   // 19 too many
		&ImportExpire{Audit: later, Retention: time.Hour, IdleTimeout: time.Minute}, // 20
	}
	wantErr := map[int]error{6: store.ErrImportSequence, 13: store.ErrImportFinished, 19: store.ErrTooManyImports}
	var data [][]byte
	for _, c := range cmds {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	check := func(fn func(v *store.View)) {
		t.Helper()
		fn(s.View())
	}
	for i, l := range logs(data, 1) {
		r := f.Apply(l).(*Result)
		if want := wantErr[i+1]; !errors.Is(r.Err, want) || (want == nil && r.Err != nil) {
			t.Fatalf("entry %d: err %v, want %v", i+1, r.Err, want)
		}
		switch i + 1 {
		case 7:
			check(func(v *store.View) {
				if v.ConfigCount() != 0 || v.StagedCount("A") != 3 {
					t.Fatalf("before publish: %d configs, %d staged", v.ConfigCount(), v.StagedCount("A"))
				}
				j, _ := v.ImportJob("A")
				if j.Chunks != 2 || j.Offset != 20 || j.Received != 3 || j.Validated != 3 {
					t.Fatalf("job A = %+v", j)
				}
			})
		case 9:
			check(func(v *store.View) {
				j, _ := v.ImportJob("A")
				if j.State != api.ImportSucceeded || j.PublishRevision != 8 || j.Applied != 3 || v.StagedCount("A") != 0 {
					t.Fatalf("job A = %+v, staged %d", j, v.StagedCount("A"))
				}
				for _, k := range []string{"a", "b", "c"} {
					e, ok := v.Config("pay", k)
					if !ok || e.ModifyRevision != 8 || e.ModifiedBy != "importer" || e.Reason != "onboard" || e.Version != 1 {
						t.Fatalf("entry %s = %+v", k, e)
					}
				}
			})
		case 13:
			check(func(v *store.View) {
				j, _ := v.ImportJob("B")
				if _, ok := v.Config("pay", "d"); ok || j.State != api.ImportCancelled || v.StagedCount("B") != 0 {
					t.Fatalf("cancelled job B = %+v", j)
				}
			})
		case 16:
			check(func(v *store.View) {
				j, _ := v.ImportJob("C")
				if j.State != api.ImportPartial || j.Applied != 1 || j.Failed != 2 || len(j.Errors) != 1 || j.ErrorsOmitted != 1 {
					t.Fatalf("job C = %+v", j)
				}
				if _, ok := v.Config("pay", "f"); ok {
					t.Fatal("an entry whose schema version changed was applied")
				}
			})
		}
	}
	// After a restart the jobs come back from the file: expiry deleted the
	// ended ones and failed the idle ones.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	v := s2.View()
	jobs := v.ImportJobs()
	if len(jobs) != 2 {
		t.Fatalf("after expiry %d jobs remain: %+v", len(jobs), jobs)
	}
	for _, j := range jobs {
		if j.State != api.ImportFailed || j.Message == "" {
			t.Fatalf("abandoned job = %+v", j)
		}
	}
}

// Staged entries survive a restart: the store reloads them from the file.
func TestFSM_ImportStagingSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	s, err := store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	f := New(s, nil)
	var data [][]byte
	for _, c := range []any{
		&CreateNamespace{Audit: audit, Name: "pay"},
		&RegisterSchema{Audit: audit, Namespace: "pay", Name: "s", Version: 1, Schema: json.RawMessage(`{}`)},
		&ImportCreate{Audit: audit, ID: "A", Mode: api.ImportAtomic},
		&ImportChunk{Audit: audit, ID: "A", Seq: 1, Received: 2, MaxAtomic: 10, Ops: []ImportOp{staged("a", `1`, 2), staged("b", `2`, 2)}},
	} {
		b, _ := Encode(c)
		data = append(data, b)
	}
	f.ApplyBatch(logs(data, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f = New(s, nil)
	b, _ := Encode(&ImportFinish{Audit: audit, ID: "A", Chunks: 1, MaxAtomic: 10})
	if r := f.Apply(logs([][]byte{b}, 5)[0]).(*Result); r.Err != nil {
		t.Fatal(r.Err)
	}
	if v := s.View(); v.ConfigCount() != 2 {
		t.Fatalf("%d configs published after restart, want 2", v.ConfigCount())
	}
}
