package store

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/index"
)

// Index benchmarks (README "Secondary indexes and queries"):
//
//	go test -run XXX -bench 'BenchmarkIndex' -benchtime 1x ./store/
//
// The 1,000,000 entries are put into the read model directly (writing them
// through transactions would measure the history and the flusher, not the
// index); the index build and the writes then run through the real Txn
// code that fsm.Apply calls.

var benchEntries = envInt("SCHEMAKV_BENCH_ENTRIES", 1_000_000)

func benchValue(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"owner":{"team":"team-%04d"},"limits":{"max_rps":%d},"feature_flags":{"enabled":%v}}`, i%10000, i%5000, i%2 == 0))
}

var bigStore struct {
	once sync.Once
	s    *Store
	err  error
}

// bigIndexedStore returns a store holding benchEntries entries in namespace
// "big" with a ready index "team" on owner.team (each team value is held
// by 100 entries). It is built once per process.
func bigIndexedStore(b *testing.B) *Store {
	bigStore.once.Do(func() {
		dir, err := makeTempDir()
		if err != nil {
			bigStore.err = err
			return
		}
		s, err := Open(Config{Path: filepath.Join(dir, "fsm.db"), NoSync: true})
		if err != nil {
			bigStore.err = err
			return
		}
		start := time.Now()
		fillBig(s)
		b.Logf("put %d entries into the read model in %v", benchEntries, time.Since(start).Round(time.Millisecond))
		start = time.Now()
		buildAll(s, "big", "team", "owner.team", 1000)
		b.Logf("built index team over %d entries in %v", benchEntries, time.Since(start).Round(time.Millisecond))
		bigStore.s = s
	})
	if bigStore.err != nil {
		b.Fatal(bigStore.err)
	}
	return bigStore.s
}

// makeTempDir makes the directory of the shared benchmark store. The
// store lives for the whole process, longer than any one benchmark's
// b.TempDir; the file holds only a namespace and index definitions (the
// entries are in memory), so the directory is small.
func makeTempDir() (string, error) {
	return os.MkdirTemp("", "skv-index-bench-")
}

// fillBig creates namespace big and puts benchEntries entries into the read
// model.
func fillBig(s *Store) {
	tx, _ := s.Begin()
	tx.SetRevision(1)
	_, _ = tx.CreateNamespace("big", "", Audit{})
	for i := range benchEntries {
		k := fmt.Sprintf("svc/%07d", i)
		tx.cfg.Insert(configKey("big", k), &api.ConfigEntry{Namespace: "big", Key: k, Value: benchValue(i),
			Schema: "s", SchemaVersion: 1, CreateRevision: 1, ModifyRevision: 1, Version: 1})
	}
	tx.adjustCounts("big", benchEntries, 0)
	_ = tx.Commit(1)
}

// buildAll declares an index and runs its chunks to the end, one Txn per
// chunk as the FSM applies them; it returns the chunk durations.
func buildAll(s *Store, ns, name, path string, chunk int) []time.Duration {
	rev := s.Applied() + 1
	tx, _ := s.Begin()
	tx.SetRevision(rev)
	_, _ = tx.CreateIndex(ns, name, path, "", Audit{})
	_ = tx.Commit(rev)
	var took []time.Duration
	for {
		d, _ := s.View().Index(ns, name)
		if d.State == api.IndexReady {
			return took
		}
		start := time.Now()
		rev++
		tx, _ := s.Begin()
		tx.SetRevision(rev)
		if _, err := tx.IndexChunk(ns, name, d.Cursor, chunk); err != nil {
			panic(err)
		}
		_ = tx.Commit(rev)
		took = append(took, time.Since(start))
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkIndex_Query1M: an equality query answered from the index that
// returns 100 matches out of 1,000,000 entries.
func BenchmarkIndex_Query1M(b *testing.B) {
	s := bigIndexedStore(b)
	r := rand.New(rand.NewPCG(1, 1))
	lat := make([]time.Duration, 0, b.N)
	runtime.GC() // the garbage of building the store is not the query's
	b.ResetTimer()
	for b.Loop() {
		c, err := index.ParseClause(fmt.Sprintf("owner.team==team-%04d", r.IntN(10000)))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		res, err := s.View().Query(Query{Namespace: "big", Clauses: []index.Clause{c}, Limit: 100})
		lat = append(lat, time.Since(start))
		if err != nil || len(res.Items) != benchEntries/10000 || res.More || res.Plan != "index:team" {
			b.Fatalf("query: %d items, more %v, plan %q, %v", len(res.Items), res.More, res.Plan, err)
		}
	}
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkIndex_QueryAnd1M: two clauses, the second checked on the 100
// candidates of the first.
func BenchmarkIndex_QueryAnd1M(b *testing.B) {
	s := bigIndexedStore(b)
	r := rand.New(rand.NewPCG(2, 2))
	lat := make([]time.Duration, 0, b.N)
	runtime.GC()
	b.ResetTimer()
	for b.Loop() {
		cs, err := index.ParseQuery([]string{fmt.Sprintf("owner.team==team-%04d", r.IntN(10000)), "feature_flags.enabled==true", "limits.max_rps>=0"})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		res, err := s.View().Query(Query{Namespace: "big", Clauses: cs, Limit: 100})
		lat = append(lat, time.Since(start))
		if err != nil || res.Plan != "index:team" {
			b.Fatalf("query: %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkIndex_Build1M: declaring an index over 1,000,000 entries and
// running its build to the end in chunks of 1,000 keys, as the FSM applies
// them (without raft's per-chunk commit).
func BenchmarkIndex_Build1M(b *testing.B) {
	s := bigIndexedStore(b)
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("rps%d", i)
		start := time.Now()
		took := buildAll(s, "big", name, "limits.max_rps", 1000)
		b.ReportMetric(time.Since(start).Seconds(), "build-s")
		b.ReportMetric(float64(len(took)), "chunks")
		b.ReportMetric(float64(percentile(took, 0.99).Microseconds())/1000, "chunk-p99-ms")
		rev := s.Applied() + 1
		tx, _ := s.Begin()
		tx.SetRevision(rev)
		tx.DropIndex("big", name)
		_ = tx.Commit(rev)
	}
}

// BenchmarkIndex_WriteCost: one config put per transaction, as the FSM
// applies a single write, into a namespace of 100,000 entries with 0, 1
// and 4 ready indexes on the written value's fields.
func BenchmarkIndex_WriteCost(b *testing.B) {
	for _, n := range []int{0, 1, 4} {
		b.Run(fmt.Sprintf("indexes=%d", n), func(b *testing.B) {
			s, err := Open(Config{Path: filepath.Join(b.TempDir(), "fsm.db"), NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			rev := uint64(1)
			tx, _ := s.Begin()
			tx.SetRevision(rev)
			_, _ = tx.CreateNamespace("w", "", Audit{})
			paths := []string{"owner.team", "limits.max_rps", "feature_flags.enabled", "owner.missing"}
			for i := range n {
				_, _ = tx.CreateIndex("w", fmt.Sprintf("i%d", i), paths[i], "", Audit{})
			}
			_ = tx.Commit(rev)
			for i := 0; i < 100_000; i += 1000 {
				rev++
				tx, _ := s.Begin()
				tx.SetRevision(rev)
				for j := i; j < i+1000; j++ {
					_, _ = tx.PutConfig("w", fmt.Sprintf("k%06d", j), "s", 1, benchValue(j), Audit{}, 0)
				}
				_ = tx.Commit(rev)
			}
			r := rand.New(rand.NewPCG(3, 3))
			b.ResetTimer()
			for b.Loop() {
				rev++
				j := r.IntN(100_000)
				tx, _ := s.Begin()
				tx.SetRevision(rev)
				if _, err := tx.PutConfig("w", fmt.Sprintf("k%06d", j), "s", 1, benchValue(j+1), Audit{}, 0); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(rev); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := s.Sync(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// envInt reads a positive integer from the environment, or returns def.
func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		return def
	}
	return n
}
