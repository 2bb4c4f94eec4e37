package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkStore_Open measures loading the read model from a file with
// 100,000 entries of ~1 KiB: the state part of a node's start-up.
func BenchmarkStore_Open(b *testing.B) {
	path := filepath.Join(b.TempDir(), "fsm.db")
	s, err := Open(Config{Path: path, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	value := json.RawMessage(`{"blob":"` + strings.Repeat("x", 1000) + `"}`)
	const n = 100_000
	for rev := uint64(1); rev <= 100; rev++ {
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
		for i := int(rev-1) * n / 100; i < int(rev)*n/100; i++ {
			if _, err := tx.PutConfig("ns", fmt.Sprintf("app-%d/key-%d", i%1000, i), "s", 1, value, Audit{}, 0); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(rev); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(Config{Path: path})
		if err != nil {
			b.Fatal(err)
		}
		if s.View().ConfigCount() != n {
			b.Fatal("wrong count")
		}
		b.StopTimer()
		_ = s.Close()
		b.StartTimer()
	}
}
