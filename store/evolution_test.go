package store

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	bolt "go.etcd.io/bbolt"
)

// TestPins_RebuiltForAFileWithoutThem opens a file as an older build left
// it (no pins bucket content, no marker): load counts the pins from the
// entries, the next commit writes them all, and a reopen reads them back.
func TestPins_RebuiltForAFileWithoutThem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	s := mustOpen(t, path)
	a := Audit{Principal: "t", Time: time.Unix(0, 0)}
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	tx.SetRevision(1)
	if _, err := tx.CreateNamespace("ns", "", a); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.PutSchemaVersion(api.SchemaVersion{Namespace: "ns", Name: "s", Version: 1, Schema: json.RawMessage(`{}`)}, a); err != nil {
		t.Fatal(err)
	}
	tx.SetRevision(2)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := tx.PutConfig("ns", k, "s", 1, json.RawMessage(`1`), a, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Make it an older build's file.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(btx *bolt.Tx) error {
		if err := btx.DeleteBucket(bucketPins); err != nil {
			return err
		}
		return btx.Bucket(bucketMeta).Delete(keyPinsV1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path)
	if p := s.View().PinStat("ns", "s", 1); p.Count != 3 || p.LastPin != 2 {
		t.Fatalf("rebuilt pins = %+v, want 3 at 2", p)
	}
	tx, err = s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	tx.SetRevision(3)
	if err := tx.DeleteConfig("ns", "a", a); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path)
	defer s.Close()
	if p := s.View().PinStat("ns", "s", 1); p.Count != 2 || p.LastPin != 2 {
		t.Fatalf("pins after reopen = %+v, want 2 at 2", p)
	}
}
