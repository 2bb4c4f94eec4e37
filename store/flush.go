package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The in-memory model is published as soon as a transaction commits; the
// bbolt file follows behind, written by one flusher goroutine that
// group-commits every transaction queued since its last fsync into one bbolt
// transaction, with the applied index of the last one.
//
// This is safe because the store is not the record of acknowledged writes:
// the raft log is. A write is acknowledged only after raft has made its log
// entry durable; if the process dies before the flusher has written it, the
// file's applied index is older, and raft replays the entries after it at
// start (they are still in the log: Snapshot flushes first, so the file is
// never behind the newest snapshot, and raft keeps every entry after it).
// Reads that go to the file (history) first wait for it to catch up with the
// view they answer for.

// maxPendingMutations bounds the work queued for the flusher; a writer that
// would exceed it waits (back-pressure instead of unbounded memory).
const maxPendingMutations = 1 << 16

type mutation struct {
	bucket []byte
	key    []byte
	val    []byte // nil: delete
}

type pendingTxn struct {
	muts    []mutation
	applied uint64
}

// enqueue hands a committed transaction to the flusher.
func (s *Store) enqueue(p pendingTxn) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	for s.pendingMuts > maxPendingMutations && s.flushErr == nil {
		s.kickFlusher()
		s.flushCond.Wait()
	}
	if s.flushErr != nil {
		return s.flushErr
	}
	s.pending = append(s.pending, p)
	s.pendingMuts += len(p.muts)
	s.kickFlusher()
	return nil
}

func (s *Store) kickFlusher() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flusher writes queued transactions to bbolt until stop is closed, then
// flushes what remains and returns.
func (s *Store) flusher() {
	defer close(s.flusherDone)
	for {
		select {
		case <-s.kick:
			s.flushOnce()
		case <-s.stopFlusher:
			s.flushOnce()
			return
		}
	}
}

func (s *Store) flushOnce() {
	s.flushMu.Lock()
	batch := s.pending
	s.pending = nil
	s.flushMu.Unlock()
	if len(batch) == 0 {
		return
	}
	n := 0
	for _, p := range batch {
		n += len(p.muts)
	}
	applied := batch[len(batch)-1].applied
	err := s.writeBatch(batch, applied)

	s.flushMu.Lock()
	s.pendingMuts -= n
	if err != nil {
		s.flushErr = fmt.Errorf("store: write through %d: %w", applied, err)
	} else {
		s.durable = applied
	}
	s.flushCond.Broadcast()
	s.flushMu.Unlock()
}

func (s *Store) writeBatch(batch []pendingTxn, applied uint64) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, p := range batch {
			for _, m := range p.muts {
				b := tx.Bucket(m.bucket)
				var err error
				if m.val == nil {
					err = b.Delete(m.key)
				} else {
					err = b.Put(m.key, m.val)
				}
				if err != nil {
					return fmt.Errorf("bucket %s: %w", m.bucket, err)
				}
			}
		}
		return tx.Bucket(bucketMeta).Put(keyApplied, u64(applied))
	})
}

// waitDurable blocks until the bbolt file holds revision rev.
func (s *Store) waitDurable(rev uint64) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	for s.durable < rev && s.flushErr == nil {
		s.kickFlusher()
		s.flushCond.Wait()
	}
	if s.durable >= rev {
		return nil
	}
	return s.flushErr
}

// Sync blocks until everything applied so far is written and fsynced to the
// bbolt file.
func (s *Store) Sync() error {
	return s.waitDurable(s.Applied())
}

// Durable returns the applied index that the bbolt file holds.
func (s *Store) Durable() uint64 {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return s.durable
}
