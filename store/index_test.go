package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/index"
)

// indexModel is the brute-force reference of the index model test: the
// config entries of one namespace.
type indexModel map[string]modelIdxEntry

type modelIdxEntry struct {
	value  json.RawMessage
	schema string
}

// randIndexValue draws values with and without the indexed fields, of mixed
// types, and with non-objects on the way.
func randIndexValue(rng *rand.Rand) json.RawMessage {
	scalars := []string{`"payments"`, `"search"`, `"a\u0000b"`, `""`, `1`, `2`, `-1.5`, `100`, `1e9`, `0`, `true`, `false`, `null`, `{}`, `[1]`, `{"x":1}`}
	pick := func() string { return scalars[rng.Intn(len(scalars))] }
	var parts []string
	if rng.Intn(5) > 0 {
		if rng.Intn(6) == 0 {
			parts = append(parts, `"owner":`+pick())
		} else {
			parts = append(parts, `"owner":{"team":`+pick()+`}`)
		}
	}
	if rng.Intn(4) > 0 {
		parts = append(parts, `"limits":{"rps":`+pick()+`,"burst":`+pick()+`}`)
	}
	if rng.Intn(3) > 0 {
		parts = append(parts, `"flags":{"on":`+pick()+`}`)
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return json.RawMessage("{" + strings.Join(parts, ",") + "}")
}

func randClause(rng *rand.Rand, paths []string) index.Clause {
	ops := []string{"==", "!=", "<", "<=", ">", ">="}
	vals := []string{`payments`, `"search"`, `""`, `1`, `2`, `-1.5`, `100`, `0`, `true`, `false`, `null`, `"a\u0000b"`, `zz`}
	p := paths[rng.Intn(len(paths))]
	for {
		var s string
		switch rng.Intn(8) {
		case 0:
			s = "exists(" + p + ")"
		case 1:
			s = p + "=in=(" + vals[rng.Intn(len(vals))] + "," + vals[rng.Intn(len(vals))] + ")"
		default:
			s = p + ops[rng.Intn(len(ops))] + vals[rng.Intn(len(vals))]
		}
		c, err := index.ParseClause(s)
		if err == nil {
			return c
		}
		if !errors.Is(err, index.ErrInvalidQuery) {
			panic(err)
		}
	}
}

// bruteForce answers a query from the model.
func (m indexModel) bruteForce(q Query) []string {
	var out []string
	for k, e := range m {
		if !strings.HasPrefix(k, q.Prefix) || (q.After != "" && k <= q.After) {
			continue
		}
		if q.Schema != "" && e.schema != q.Schema {
			continue
		}
		ok := true
		for _, c := range q.Clauses {
			ok = ok && c.MatchValue(e.value)
		}
		if ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// entriesOf is the brute-force count of an index's entries.
func (m indexModel) entriesOf(d *api.Index) int {
	p, _ := index.ParsePath(d.Path)
	n := 0
	for k, e := range m {
		if d.Schema != "" && e.schema != d.Schema {
			continue
		}
		if d.State != api.IndexReady && (d.Cursor == "" || k > d.Cursor) {
			continue
		}
		if _, ok := index.Extract(e.value, p); ok {
			n++
		}
	}
	return n
}

// checkQueries compares paged queries with the brute force, and every
// index's entry count.
func checkQueries(t *testing.T, rng *rand.Rand, s *Store, m indexModel, what string) {
	t.Helper()
	v := s.View()
	for _, d := range v.Indexes("a") {
		if want := m.entriesOf(d); d.Entries != want {
			t.Fatalf("%s: index %s (%s, cursor %q) has %d entries, brute force %d", what, d.Name, d.State, d.Cursor, d.Entries, want)
		}
	}
	paths := []string{"owner.team", "limits.rps", "flags.on", "limits.burst"}
	for range 40 {
		q := Query{Namespace: "a", Limit: rng.Intn(5) + 1, AllowScan: true}
		for n := rng.Intn(3) + 1; n > 0; n-- {
			q.Clauses = append(q.Clauses, randClause(rng, paths))
		}
		if rng.Intn(4) == 0 {
			q.Schema = []string{"s1", "s2"}[rng.Intn(2)]
		}
		if rng.Intn(5) == 0 {
			q.Prefix = "k1"
		}
		want := m.bruteForce(q)
		var got []string
		plans := map[string]bool{}
		for page := 0; ; page++ {
			res, err := v.Query(q)
			if err != nil {
				t.Fatalf("%s: query %v: %v", what, q.Clauses, err)
			}
			plans[res.Plan] = true
			for _, e := range res.Items {
				got = append(got, e.Key)
			}
			if !res.More {
				break
			}
			q.After = res.Items[len(res.Items)-1].Key
			if page > 1000 {
				t.Fatal("pagination does not end")
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: query %v schema %q prefix %q (plans %v):\n got  %v\n want %v", what, q.Clauses, q.Schema, q.Prefix, plans, got, want)
		}
	}
}

// TestIndex_Model writes random values (with and without the indexed
// fields, of mixed types) and deletes them, declares indexes while entries
// exist and builds them in random chunks, and compares every operator's
// answers with a brute-force scan, after reopening the file (a restart)
// and after restoring a snapshot into a fresh store.
func TestIndex_Model(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			dir := t.TempDir()
			s := mustOpen(t, filepath.Join(dir, "fsm.db"))
			m := indexModel{}
			rev := uint64(1)
			tx, _ := s.Begin()
			tx.SetRevision(rev)
			_, _ = tx.CreateNamespace("a", "", Audit{})
			_, _ = tx.CreateNamespace("b", "", Audit{})
			// Ready at once: the namespace is empty.
			_, _ = tx.CreateIndex("a", "team", "owner.team", "", Audit{})
			if err := tx.Commit(rev); err != nil {
				t.Fatal(err)
			}
			declared := map[string]string{"rps": "limits.rps", "on": "flags.on", "team-s1": "owner.team"}
			for round := 0; round < 80; round++ {
				rev++
				tx, err := s.Begin()
				if err != nil {
					t.Fatal(err)
				}
				tx.SetRevision(rev)
				for n := rng.Intn(10) + 1; n > 0; n-- {
					ns := []string{"a", "a", "a", "b"}[rng.Intn(4)]
					key := fmt.Sprintf("k%d", rng.Intn(40))
					if rng.Intn(4) == 0 {
						if err := tx.DeleteConfig(ns, key, Audit{}); err != nil {
							t.Fatal(err)
						}
						if ns == "a" {
							delete(m, key)
						}
						continue
					}
					val := randIndexValue(rng)
					sch := []string{"s1", "s2"}[rng.Intn(2)]
					if _, err := tx.PutConfig(ns, key, sch, 1, val, Audit{}, 0); err != nil {
						t.Fatal(err)
					}
					if ns == "a" {
						m[key] = modelIdxEntry{value: val, schema: sch}
					}
				}
				// Declare the other indexes once entries exist, then build
				// them in random chunks while writes go on.
				if round == 10 || round == 30 || round == 31 {
					for name, path := range declared {
						if _, ok := tx.Index("a", name); ok {
							continue
						}
						schema := ""
						if name == "team-s1" {
							schema = "s1"
						}
						if _, err := tx.CreateIndex("a", name, path, schema, Audit{}); err != nil {
							t.Fatal(err)
						}
						break
					}
				}
				if d, ok := s.View().BuildingIndex(); ok && rng.Intn(2) == 0 {
					cur, _ := tx.Index(d.Namespace, d.Name)
					if _, err := tx.IndexChunk(d.Namespace, d.Name, cur.Cursor, rng.Intn(6)+1); err != nil {
						t.Fatal(err)
					}
					// A repeated chunk (a second leader) changes nothing.
					if _, err := tx.IndexChunk(d.Namespace, d.Name, cur.Cursor, 3); !errors.Is(err, ErrIndexCursorMoved) {
						t.Fatalf("repeated chunk: %v", err)
					}
				}
				if err := tx.Commit(rev); err != nil {
					t.Fatal(err)
				}
				checkQueries(t, rng, s, m, fmt.Sprintf("round %d", round))
				switch rng.Intn(10) {
				case 0:
					before := s.View().Indexes("a")
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = mustOpen(t, filepath.Join(dir, "fsm.db"))
					if after := s.View().Indexes("a"); !indexesEqual(before, after) {
						t.Fatalf("round %d: indexes after reopen differ:\n%+v\n%+v", round, before, after)
					}
					checkQueries(t, rng, s, m, fmt.Sprintf("round %d after reopen", round))
				case 1:
					s2 := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
					var buf bytes.Buffer
					sn, err := s.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					if _, err := sn.WriteTo(&buf); err != nil {
						t.Fatal(err)
					}
					sn.Release()
					if err := s2.Restore(&buf); err != nil {
						t.Fatal(err)
					}
					if !indexesEqual(s.View().Indexes("a"), s2.View().Indexes("a")) {
						t.Fatalf("round %d: indexes after restore differ", round)
					}
					checkQueries(t, rng, s2, m, fmt.Sprintf("round %d after restore", round))
					_ = s2.Close()
				}
			}
			// Finish every build and check that all are ready and right.
			for {
				d, ok := s.View().BuildingIndex()
				if !ok {
					break
				}
				rev++
				tx, _ := s.Begin()
				tx.SetRevision(rev)
				if _, err := tx.IndexChunk(d.Namespace, d.Name, d.Cursor, 7); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(rev); err != nil {
					t.Fatal(err)
				}
			}
			if n := len(s.View().Indexes("a")); n != 4 {
				t.Fatalf("%d indexes, want 4", n)
			}
			checkQueries(t, rng, s, m, "all ready")
			// Every query on an indexed path now uses an index.
			res, err := s.View().Query(Query{Namespace: "a", Clauses: []index.Clause{randClause(rng, []string{"limits.rps"})}, Limit: 10})
			if err != nil || !strings.HasPrefix(res.Plan, "index:") {
				t.Fatalf("indexed query: %+v, %v", res, err)
			}
			_ = s.Close()
		})
	}
}

func indexesEqual(a, b []*api.Index) bool {
	return slices.EqualFunc(a, b, func(x, y *api.Index) bool {
		return x.Name == y.Name && x.Path == y.Path && x.Schema == y.Schema && x.State == y.State &&
			x.Cursor == y.Cursor && x.Processed == y.Processed && x.Entries == y.Entries && x.Total == y.Total
	})
}

func TestIndex_QueryErrors(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	defer s.Close()
	tx, _ := s.Begin()
	tx.SetRevision(1)
	_, _ = tx.CreateNamespace("a", "", Audit{})
	for i := range 50 {
		_, _ = tx.PutConfig("a", fmt.Sprintf("k%02d", i), "s", 1, json.RawMessage(fmt.Sprintf(`{"n":%d,"t":"x"}`, i%5)), Audit{}, 0)
	}
	_, _ = tx.CreateIndex("a", "n", "n", "", Audit{})
	_ = tx.Commit(1)
	c := func(s string) []index.Clause {
		cl, err := index.ParseClause(s)
		if err != nil {
			t.Fatal(err)
		}
		return []index.Clause{cl}
	}
	v := s.View()
	if d, _ := v.Index("a", "n"); d.State != api.IndexBuilding || d.Total != 50 {
		t.Fatalf("index over existing entries: %+v", d)
	}
	// Building: not used; without allow_scan the query is refused.
	if _, err := v.Query(Query{Namespace: "a", Clauses: c("n==1"), Limit: 10}); !errors.Is(err, ErrIndexRequired) {
		t.Fatalf("query on a building index: %v", err)
	}
	res, err := v.Query(Query{Namespace: "a", Clauses: c("n==1"), Limit: 100, AllowScan: true})
	if err != nil || res.Plan != api.PlanScan || len(res.Items) != 10 || res.Examined != 50 {
		t.Fatalf("scan: %+v, %v", res, err)
	}
	// A scan beyond its bound is too broad; a small page that fills early is not.
	if _, err := v.Query(Query{Namespace: "a", Clauses: c("n==9"), Limit: 10, AllowScan: true, MaxExamined: 20}); !errors.Is(err, ErrQueryTooBroad) {
		t.Fatalf("too broad: %v", err)
	}
	if res, err := v.Query(Query{Namespace: "a", Clauses: c("n==1"), Limit: 2, AllowScan: true, MaxExamined: 20}); err != nil || len(res.Items) != 2 || !res.More {
		t.Fatalf("page within bound: %+v, %v", res, err)
	}
	tx, _ = s.Begin()
	tx.SetRevision(2)
	if d, err := tx.IndexChunk("a", "n", "", 1000); err != nil || d.State != api.IndexReady || d.Entries != 50 {
		t.Fatalf("chunk: %+v, %v", d, err)
	}
	_ = tx.Commit(2)
	res, err = s.View().Query(Query{Namespace: "a", Clauses: c("n==1"), Limit: 100})
	if err != nil || res.Plan != "index:n" || len(res.Items) != 10 || res.Examined != 10 {
		t.Fatalf("indexed: %+v, %v", res, err)
	}
	// An indexed clause broader than the bound falls back to a key-order scan.
	res, err = s.View().Query(Query{Namespace: "a", Clauses: c("n>=0"), Limit: 5, MaxExamined: 20})
	if err != nil || res.Plan != api.PlanScan || len(res.Items) != 5 {
		t.Fatalf("broad indexed: %+v, %v", res, err)
	}
	// Drop removes the definition and its entries; namespace delete too.
	tx, _ = s.Begin()
	tx.SetRevision(3)
	tx.DropIndex("a", "n")
	_ = tx.Commit(3)
	if _, ok := s.View().Index("a", "n"); ok || s.View().ientries.Len() != 0 {
		t.Fatal("drop left the index behind")
	}
	tx, _ = s.Begin()
	tx.SetRevision(4)
	_, _ = tx.CreateIndex("a", "t", "t", "", Audit{})
	_, _ = tx.IndexChunk("a", "t", "", 100)
	_ = tx.DeleteNamespace("a", true, Audit{})
	_ = tx.Commit(4)
	if s.View().indexes.Len() != 0 || s.View().ientries.Len() != 0 {
		t.Fatal("namespace delete left indexes behind")
	}
}
