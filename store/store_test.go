package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// model is the plain-map reference the store is compared with.
type model struct {
	namespaces map[string]bool
	schemas    map[string]int // ns/name → latest version
	configs    map[string]modelEntry
	history    map[string][]uint64 // ns/key → revisions of config events
}

type modelEntry struct {
	value                   string
	schema                  string
	schemaVersion           int
	create, modify, version uint64
}

func newModel() *model {
	return &model{
		namespaces: map[string]bool{}, schemas: map[string]int{},
		configs: map[string]modelEntry{}, history: map[string][]uint64{},
	}
}

// TestStore_Model applies random operations to the store and to a map model
// in random-sized transactions, reopening the file and restoring snapshots
// along the way, and compares every read with the model.
func TestStore_Model(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			dir := t.TempDir()
			s := mustOpen(t, filepath.Join(dir, "fsm.db"))
			m := newModel()
			rev := uint64(0)
			nss := []string{"a", "b", "c"}
			keys := []string{"x", "x/y", "x/z", "y", "y/1", "y/2", "z"}
			for round := 0; round < 60; round++ {
				tx, err := s.Begin()
				if err != nil {
					t.Fatal(err)
				}
				for n := rng.Intn(8) + 1; n > 0; n-- {
					rev++
					tx.SetRevision(rev)
					applyRandom(t, rng, tx, m, rev, nss, keys)
				}
				if err := tx.Commit(rev); err != nil {
					t.Fatal(err)
				}
				compare(t, s, m, rev)
				switch rng.Intn(12) {
				case 0: // reopen: the load path must rebuild the same state
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = mustOpen(t, filepath.Join(dir, "fsm.db"))
					compare(t, s, m, rev)
				case 1: // snapshot → restore into a fresh store
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
					abandon := s2.AbandonCh()
					if err := s2.Restore(&buf); err != nil {
						t.Fatal(err)
					}
					select {
					case <-abandon:
					default:
						t.Fatal("restore did not close the abandon channel")
					}
					compare(t, s2, m, rev)
					_ = s2.Close()
				}
			}
			_ = s.Close()
		})
	}
}

func applyRandom(t *testing.T, rng *rand.Rand, tx *Txn, m *model, rev uint64, nss, keys []string) {
	t.Helper()
	a := Audit{Principal: "p", Reason: fmt.Sprint("r", rev), Time: time.Unix(int64(rev), 0).UTC()}
	ns := nss[rng.Intn(len(nss))]
	switch op := rng.Intn(10); {
	case op == 0:
		if _, ok := tx.Namespace(ns); ok != m.namespaces[ns] {
			t.Fatalf("txn namespace %s exists=%v, model %v", ns, ok, m.namespaces[ns])
		}
		if !m.namespaces[ns] {
			if _, err := tx.CreateNamespace(ns, "d", a); err != nil {
				t.Fatal(err)
			}
			m.namespaces[ns] = true
		}
	case op == 1 && rng.Intn(3) == 0:
		if !m.namespaces[ns] {
			return
		}
		if err := tx.DeleteNamespace(ns, true, a); err != nil {
			t.Fatal(err)
		}
		delete(m.namespaces, ns)
		for k := range m.schemas {
			if strings.HasPrefix(k, ns+"/") {
				delete(m.schemas, k)
			}
		}
		for k := range m.configs {
			if strings.HasPrefix(k, ns+"/") {
				delete(m.configs, k)
				m.history[k] = append(m.history[k], rev)
			}
		}
	case op == 2:
		if !m.namespaces[ns] {
			return
		}
		v := m.schemas[ns+"/s"] + 1
		if got := tx.LatestSchemaVersion(ns, "s"); got != v-1 {
			t.Fatalf("latest schema version %d, model %d", got, v-1)
		}
		if _, err := tx.PutSchemaVersion(api.SchemaVersion{Namespace: ns, Name: "s", Version: v, Schema: json.RawMessage(`{}`)}, a); err != nil {
			t.Fatal(err)
		}
		m.schemas[ns+"/s"] = v
	case op < 8:
		if !m.namespaces[ns] || m.schemas[ns+"/s"] == 0 {
			return
		}
		key := keys[rng.Intn(len(keys))]
		val := fmt.Sprintf(`{"n":%d}`, rng.Intn(1000))
		sv := m.schemas[ns+"/s"]
		if _, err := tx.PutConfig(ns, key, "s", sv, json.RawMessage(val), a, 0); err != nil {
			t.Fatal(err)
		}
		mk := ns + "/" + key
		e, ok := m.configs[mk]
		if !ok {
			e = modelEntry{create: rev}
		}
		e.value, e.schema, e.schemaVersion, e.modify = val, "s", sv, rev
		e.version++
		m.configs[mk] = e
		m.history[mk] = append(m.history[mk], rev)
	default:
		if !m.namespaces[ns] {
			return
		}
		key := keys[rng.Intn(len(keys))]
		mk := ns + "/" + key
		if _, ok := m.configs[mk]; !ok {
			return
		}
		if err := tx.DeleteConfig(ns, key, a); err != nil {
			t.Fatal(err)
		}
		delete(m.configs, mk)
		m.history[mk] = append(m.history[mk], rev)
	}
}

func compare(t *testing.T, s *Store, m *model, rev uint64) {
	t.Helper()
	v := s.View()
	if v.Revision() != rev {
		t.Fatalf("revision %d, want %d", v.Revision(), rev)
	}
	var wantNS []string
	for ns := range m.namespaces {
		wantNS = append(wantNS, ns)
	}
	sort.Strings(wantNS)
	var gotNS []string
	for _, n := range v.Namespaces() {
		gotNS = append(gotNS, n.Name)
		configs, schemas := 0, 0
		for k := range m.configs {
			if strings.HasPrefix(k, n.Name+"/") {
				configs++
			}
		}
		if m.schemas[n.Name+"/s"] > 0 {
			schemas = 1
		}
		if n.ConfigCount != configs || n.SchemaCount != schemas {
			t.Fatalf("namespace %s counts configs=%d schemas=%d, want %d %d", n.Name, n.ConfigCount, n.SchemaCount, configs, schemas)
		}
	}
	if fmt.Sprint(gotNS) != fmt.Sprint(wantNS) {
		t.Fatalf("namespaces %v, want %v", gotNS, wantNS)
	}
	if v.ConfigCount() != len(m.configs) {
		t.Fatalf("config count %d, want %d", v.ConfigCount(), len(m.configs))
	}
	for mk, e := range m.configs {
		ns, key, _ := strings.Cut(mk, "/")
		got, ok := v.Config(ns, key)
		if !ok {
			t.Fatalf("config %s missing", mk)
		}
		if string(got.Value) != e.value || got.SchemaVersion != e.schemaVersion || got.CreateRevision != e.create ||
			got.ModifyRevision != e.modify || got.Version != e.version {
			t.Fatalf("config %s = %+v, want %+v", mk, got, e)
		}
	}
	for _, ns := range wantNS {
		// Every prefix and page size lists exactly the model's keys, in order.
		for _, prefix := range []string{"", "x", "x/", "y/", "q"} {
			var want []string
			for mk := range m.configs {
				if k := strings.TrimPrefix(mk, ns+"/"); k != mk && strings.HasPrefix(k, prefix) {
					want = append(want, k)
				}
			}
			sort.Strings(want)
			for _, limit := range []int{1, 2, 100} {
				var got []string
				after := ""
				for {
					items, more := v.ListConfigs(ns, prefix, after, limit)
					for _, e := range items {
						got = append(got, e.Key)
					}
					if !more {
						break
					}
					after = items[len(items)-1].Key
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("list %s prefix %q limit %d = %v, want %v", ns, prefix, limit, got, want)
				}
			}
		}
		if want := m.schemas[ns+"/s"]; want > 0 {
			sv, ok := v.LatestSchema(ns, "s")
			if !ok || sv.Version != want || len(v.SchemaVersions(ns, "s")) != want {
				t.Fatalf("schema %s/s latest %v, want %d", ns, sv, want)
			}
		}
	}
	for mk, revs := range m.history {
		ns, key, _ := strings.Cut(mk, "/")
		var got []uint64
		before := uint64(0)
		for {
			evs, next, err := s.History(api.KindConfig, ns, key, before, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				got = append(got, ev.Revision)
			}
			if next == 0 {
				break
			}
			before = next
		}
		for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
			got[i], got[j] = got[j], got[i]
		}
		if fmt.Sprint(got) != fmt.Sprint(revs) {
			t.Fatalf("history %s = %v, want %v", mk, got, revs)
		}
		last := revs[len(revs)-1]
		ev, err := s.EventAt(api.KindConfig, ns, key, last)
		if err != nil || ev.Revision != last {
			t.Fatalf("event at %d: %v %v", last, ev, err)
		}
	}
}

func TestStore_EventAtMissing(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	defer s.Close()
	if _, err := s.EventAt(api.KindConfig, "a", "b", 7); !errors.Is(err, ErrRevisionNotFound) {
		t.Fatalf("got %v, want ErrRevisionNotFound", err)
	}
}

func TestStore_WaitApplied(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	defer s.Close()
	done := make(chan bool)
	go func() { done <- s.WaitApplied(nil, 5) }()
	for rev := uint64(1); rev <= 5; rev++ {
		tx, err := s.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(rev); err != nil {
			t.Fatal(err)
		}
	}
	if !<-done {
		t.Fatal("WaitApplied returned false")
	}
	stop := make(chan struct{})
	close(stop)
	if s.WaitApplied(stop, 6) {
		t.Fatal("WaitApplied(6) returned true at revision 5")
	}
}

func TestStore_EntryCodecRoundTrip(t *testing.T) {
	e := &api.ConfigEntry{
		Namespace: "ns", Key: "a/b", Value: json.RawMessage(`{"x":[1,2,"é"]}`), Schema: "s", SchemaVersion: 7,
		CreateRevision: 3, ModifyRevision: 1 << 40, Version: 9, ModifiedBy: "alice", Reason: "CR-1",
		ModifiedAt: time.Unix(1700000000, 123456789).UTC(),
	}
	got, err := decodeEntry(encodeEntry(e))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := fmt.Sprintf("%+v", *got), fmt.Sprintf("%+v", *e); a != b {
		t.Fatalf("round trip\n got %s\nwant %s", a, b)
	}
	for i := 0; i < len(encodeEntry(e)); i++ {
		if _, err := decodeEntry(encodeEntry(e)[:i]); err == nil {
			t.Fatalf("decode of %d-byte prefix succeeded", i)
		}
	}
}

func mustOpen(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// benchStore is built once per process: benchmarks are re-run with
// growing b.N, and loading 100,000 entries each time would dominate.
var benchStore struct {
	once sync.Once
	s    *Store
	keys []string
}

// BenchmarkView_Get is a config read from the in-memory model, as every read
// endpoint does after its consistency check.
func BenchmarkView_Get(b *testing.B) {
	s, keys := loadBenchStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := s.View().Config("ns", keys[i&1023]); !ok {
			b.Fatal("missing")
		}
	}
}

// loadBenchStore returns the shared store of 100,000 entries in namespace
// "ns" (100 prefixes app-0/ .. app-99/) and 1024 of its keys.
func loadBenchStore(b *testing.B) (*Store, []string) {
	benchStore.once.Do(func() {
		dir, err := os.MkdirTemp("", "schemakv-bench")
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(Config{Path: filepath.Join(dir, "fsm.db"), NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		const n = 100_000
		value := json.RawMessage(`{"timeout_ms":2500,"retries":3,"currency":"EUR"}`)
		for rev := uint64(1); rev <= 10; rev++ {
			tx, err := s.Begin()
			if err != nil {
				b.Fatal(err)
			}
			tx.SetRevision(rev)
			if rev == 1 {
				if _, err := tx.CreateNamespace("ns", "", Audit{}); err != nil {
					b.Fatal(err)
				}
			}
			for i := int(rev-1) * n / 10; i < int(rev)*n/10; i++ {
				if _, err := tx.PutConfig("ns", fmt.Sprintf("app-%d/key-%d", i%100, i), "s", 1, value, Audit{}, 0); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(rev); err != nil {
				b.Fatal(err)
			}
		}
		benchStore.s = s
		benchStore.keys = make([]string, 1024)
		for i := range benchStore.keys {
			j := (i * 7919) % n
			benchStore.keys[i] = fmt.Sprintf("app-%d/key-%d", j%100, j)
		}
	})
	return benchStore.s, benchStore.keys
}

// BenchmarkView_ListRevision is the revision of a list answer (every list
// and blocking list computes it): the whole namespace of 100,000 entries,
// and one prefix of 1,000.
func BenchmarkView_ListRevision(b *testing.B) {
	s, _ := loadBenchStore(b)
	for _, prefix := range []string{"", "app-7/"} {
		b.Run(fmt.Sprintf("prefix=%q", prefix), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if s.View().ConfigListRevision("ns", prefix, nil) < 10 {
					b.Fatal("revision")
				}
			}
		})
	}
	b.Run("namespace", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if s.View().NamespaceRevision("ns", nil) < 10 {
				b.Fatal("revision")
			}
		}
	})
}
