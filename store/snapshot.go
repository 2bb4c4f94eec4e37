package store

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is a consistent, read-only copy of the bbolt file at the applied
// revision of the moment it was taken. Writes continue while it is written
// out. Release must always be called.
type Snapshot struct {
	tx      *bolt.Tx
	applied uint64
}

// Snapshot opens a read transaction. Call it from the writer's goroutine
// (between transactions) so that it captures an exact applied revision.
func (s *Store) Snapshot() (*Snapshot, error) {
	if err := s.Sync(); err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	var applied uint64
	if a := tx.Bucket(bucketMeta).Get(keyApplied); a != nil {
		applied = binary.BigEndian.Uint64(a)
	}
	return &Snapshot{tx: tx, applied: applied}, nil
}

// Applied is the applied revision the snapshot holds.
func (sn *Snapshot) Applied() uint64 { return sn.applied }

// WriteTo writes the whole bbolt file to w.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	n, err := sn.tx.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("store: write snapshot: %w", err)
	}
	return n, nil
}

// Release ends the read transaction.
func (sn *Snapshot) Release() { _ = sn.tx.Rollback() }

// Restore replaces the whole state with a snapshot written by
// Snapshot.WriteTo. The new file is written and synced beside the current
// one and loaded before it replaces it, so a bad snapshot leaves the store as
// it was. Readers see the new state at once and AbandonCh is closed.
func (s *Store) Restore(r io.Reader) error {
	tmp := s.cfg.Path + ".restore"
	if err := writeSynced(tmp, r); err != nil {
		return err
	}
	cfg := s.cfg
	cfg.Path = tmp
	ndb, err := openDB(cfg)
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store: restore: %w", err)
	}
	v, err := load(ndb)
	_ = ndb.Close()
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store: restore: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Writes queued before the restore are older than the snapshot; let them
	// land first so the flusher never writes them over the new file.
	if err := s.Sync(); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: restore: close: %w", err)
	}
	if err := os.Rename(tmp, s.cfg.Path); err != nil {
		return fmt.Errorf("store: restore: rename: %w", err)
	}
	if err := syncDir(filepath.Dir(s.cfg.Path)); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	db, err := openDB(s.cfg)
	if err != nil {
		// The store cannot go on without its file; the node must stop.
		s.closed = true
		return fmt.Errorf("store: restore: reopen: %w", err)
	}
	s.db = db
	s.flushMu.Lock()
	s.durable = v.applied
	s.flushMu.Unlock()
	s.publish(v, true)
	return nil
}

func writeSynced(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("store: restore: copy: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("store: restore: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("store: restore: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}
