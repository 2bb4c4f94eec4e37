package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNotSnapshot: a file offered for restore is not a schemakv state file.
var ErrNotSnapshot = errors.New("store: not a schemakv snapshot")

// Backup writes a consistent copy of the state (a bbolt file, the same
// format raft snapshots use) to w and returns the applied index it holds.
func (s *Store) Backup(w io.Writer) (uint64, error) {
	sn, err := s.Snapshot()
	if err != nil {
		return 0, err
	}
	defer sn.Release()
	if _, err := sn.WriteTo(w); err != nil {
		return 0, err
	}
	return sn.Applied(), nil
}

// CheckSnapshot opens the file at path read-only and reports whether it is
// a schemakv state file this build can read, and the applied index it holds.
func CheckSnapshot(path string) (uint64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNotSnapshot, err)
	}
	defer db.Close()
	var applied uint64
	err = db.View(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("%w: bucket %q missing", ErrNotSnapshot, b)
			}
		}
		meta := tx.Bucket(bucketMeta)
		f := meta.Get(keyFormat)
		if f == nil || binary.BigEndian.Uint64(f) != formatVersion {
			return fmt.Errorf("%w: unknown format version", ErrNotSnapshot)
		}
		if a := meta.Get(keyApplied); a != nil {
			applied = binary.BigEndian.Uint64(a)
		}
		return nil
	})
	return applied, err
}
