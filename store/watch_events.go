package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ErrCompacted means that events a reader asked for may have been deleted by
// compaction: it must start again from the current state. See
// [CompactedError] for the revisions.
var ErrCompacted = errors.New("store: history compacted")

// CompactedError reports a read of history older than what is retained.
type CompactedError struct {
	// From is the revision asked for.
	From uint64
	// Oldest is the oldest revision a reader can start from.
	Oldest uint64
	// Current is the applied revision.
	Current uint64
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("%v: revision %d is older than the oldest retained revision %d (current %d)",
		ErrCompacted, e.From, e.Oldest, e.Current)
}

// Unwrap makes errors.Is(err, ErrCompacted) hold.
func (e *CompactedError) Unwrap() error { return ErrCompacted }

func compactedIn(tx *bolt.Tx) uint64 {
	if b := tx.Bucket(bucketMeta).Get(keyCompacted); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// OldestRevision returns the oldest revision a watch can start from: every
// event at or after it is retained (compaction deleted only older ones).
func (s *Store) OldestRevision() (uint64, error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	var c uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		c = compactedIn(tx)
		return nil
	})
	return c + 1, err
}

// ScanEvents calls fn with the events f matches at revisions from..to
// (inclusive), one Batch per revision in revision order, skipping revisions
// without a match. It stops after the revision at which it has read at
// least limit events (limit <= 0: no bound) and returns the revision to
// continue from (to+1 when done). It fails with a *CompactedError if from
// is older than the retained history, so a reader never skips deleted
// events silently. It first waits for the file to hold the current view.
func (s *Store) ScanEvents(from, to uint64, f Filter, limit int, fn func(Batch) error) (next uint64, err error) {
	return s.ScanEventsAny(from, to, Filters{f}, limit, fn)
}

// ScanEventsAny is ScanEvents for the events any of fs matches.
func (s *Store) ScanEventsAny(from, to uint64, f Filters, limit int, fn func(Batch) error) (next uint64, err error) {
	from = max(from, 1)
	next = from
	if from > to {
		return next, nil
	}
	applied := s.Applied()
	err = s.viewDB(func(tx *bolt.Tx) error {
		if c := compactedIn(tx); from <= c {
			return &CompactedError{From: from, Oldest: c + 1, Current: applied}
		}
		c := tx.Bucket(bucketEvents).Cursor()
		var cur Batch
		read := 0
		flush := func() error {
			if len(cur.Events) == 0 {
				return nil
			}
			b := cur
			cur = Batch{}
			return fn(b)
		}
		for k, v := c.Seek(eventID(from, 0)); k != nil; k, v = c.Next() {
			rev := binary.BigEndian.Uint64(k)
			if rev > to {
				break
			}
			if rev != cur.Revision {
				if limit > 0 && read >= limit {
					next = rev
					return flush()
				}
				if err := flush(); err != nil {
					return err
				}
				cur.Revision = rev
			}
			read++
			ev, err := decodeEvent(v)
			if err != nil {
				return err
			}
			if f.Match(&ev) {
				cur.Events = append(cur.Events, ev)
			}
		}
		next = to + 1
		return flush()
	})
	return next, err
}
