package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// slowConfigRevision is the definition View.cfgrev shortcuts: the newest
// modify revision or delete of any config under the namespace.
func slowConfigRevision(v *View, ns string) uint64 {
	p := nsPrefix(ns)
	return max(maxUnder(v.configs, p, entryRev), maxUnder(v.ctombs, p, revOf), v.floorOf(ns))
}

// TestConfigRevision_MatchesTheScan drives random puts, deletes, tombstone
// reaps and namespace deletes and re-creations, and checks after every
// transaction, after a reopen and after a snapshot restore that the
// per-namespace revision the whole-namespace answers use equals the scan
// over the entries, tombstones and reaped floors it stands for, and that no
// answer's revision (a key, a prefix, the namespace) ever goes back.
func TestConfigRevision_MatchesTheScan(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, filepath.Join(dir, "fsm.db"))
	defer func() { _ = s.Close() }()
	rng := rand.New(rand.NewPCG(7, 11))
	namespaces := []string{"a", "b", "ab"} // "ab" shares a prefix with "a"
	live := map[string]bool{}
	seen := map[string]uint64{} // answer -> highest revision seen
	monotonic := func(when, what string, r uint64) {
		t.Helper()
		if r < seen[what] {
			t.Fatalf("%s: %s went back from %d to %d", when, what, seen[what], r)
		}
		seen[what] = r
	}
	reaped := 0
	check := func(s *Store, when string) {
		t.Helper()
		v := s.View()
		for _, ns := range namespaces {
			for i := range 8 {
				monotonic(when, fmt.Sprintf("%s/k%d", ns, i), v.ConfigRevision(ns, fmt.Sprintf("k%d", i), nil))
			}
			for _, p := range []string{"", "k", "k1"} {
				monotonic(when, fmt.Sprintf("%s list %q", ns, p), v.ConfigListRevision(ns, p, nil))
			}
			monotonic(when, ns, v.NamespaceRevision(ns, nil))
			if _, ok := v.Namespace(ns); !ok {
				continue
			}
			if got, want := v.configRevisionOf(ns), slowConfigRevision(v, ns); got != want {
				t.Fatalf("%s: namespace %s: config revision %d, the scan says %d", when, ns, got, want)
			}
			n, _ := v.Namespace(ns)
			want := max(n.CreateRevision, slowConfigRevision(v, ns), 1)
			if got := v.ConfigListRevision(ns, "", nil); got != want {
				t.Fatalf("%s: namespace %s: list revision %d, want %d", when, ns, got, want)
			}
		}
	}
	rev := uint64(0)
	for round := range 400 {
		rev++
		tx, err := s.Begin()
		if err != nil {
			t.Fatal(err)
		}
		tx.SetRevision(rev)
		for range 1 + rng.IntN(4) {
			ns := namespaces[rng.IntN(len(namespaces))]
			if !live[ns] {
				if _, err := tx.CreateNamespace(ns, "", Audit{}); err != nil {
					t.Fatal(err)
				}
				live[ns] = true
				continue
			}
			key := fmt.Sprintf("k%d", rng.IntN(8))
			switch r := rng.IntN(20); {
			case r == 1:
				reaped += tx.ReapConfigTombstones(rev - uint64(rng.IntN(20)))
			case r == 0:
				if err := tx.DeleteNamespace(ns, true, Audit{}); err != nil {
					t.Fatal(err)
				}
				live[ns] = false
			case r < 8:
				if err := tx.DeleteConfig(ns, key, Audit{}); err != nil {
					t.Fatal(err)
				}
			default:
				if _, err := tx.PutConfig(ns, key, "s", 1, json.RawMessage(`{"r":1}`), Audit{}, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := tx.Commit(rev); err != nil {
			t.Fatal(err)
		}
		check(s, fmt.Sprintf("round %d", round))
		switch round % 100 {
		case 50:
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, filepath.Join(dir, "fsm.db"))
			check(s, fmt.Sprintf("round %d after reopen", round))
		case 99:
			sn, err := s.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := sn.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			sn.Release()
			s2 := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
			if err := s2.Restore(&buf); err != nil {
				t.Fatal(err)
			}
			check(s2, fmt.Sprintf("round %d after restore", round))
			_ = s2.Close()
		}
	}
	if reaped == 0 {
		t.Fatal("no tombstone was reaped: the test did not test reaping")
	}
	t.Logf("%d tombstones reaped", reaped)
}
