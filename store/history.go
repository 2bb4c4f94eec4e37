package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/schemakv/schemakv/api"
	bolt "go.etcd.io/bbolt"
)

// History returns the events of one object (kind is api.KindConfig,
// api.KindSchema or api.KindNamespace), newest first, with revisions below
// `before` (0: no bound), at most limit. next is the `before` of the next
// page, 0 when there is none.
func (s *Store) History(kind, ns, key string, before uint64, limit int) (events []api.Event, next uint64, err error) {
	err = s.viewDB(func(tx *bolt.Tx) error {
		prefix := histPrefix(kind, ns, key)
		c := tx.Bucket(bucketKeyHist).Cursor()
		var k []byte
		if before == 0 {
			// Seek past the last id of this prefix.
			k, _ = c.Seek(append(append([]byte(nil), prefix...), bytes.Repeat([]byte{0xff}, eventIDLen)...))
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		} else {
			k, _ = c.Seek(append(append([]byte(nil), prefix...), eventID(before, 0)...))
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		}
		events = events[:0]
		evb := tx.Bucket(bucketEvents)
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+eventIDLen; k, _ = c.Prev() {
			if len(events) == limit {
				next = binary.BigEndian.Uint64(k[len(prefix):]) + 1
				return nil
			}
			ev, err := decodeEvent(evb.Get(k[len(prefix):]))
			if err != nil {
				return err
			}
			events = append(events, ev)
		}
		return nil
	})
	return events, next, err
}

// EventAt returns the event of one object at revision rev.
func (s *Store) EventAt(kind, ns, key string, rev uint64) (api.Event, error) {
	var ev api.Event
	err := s.viewDB(func(tx *bolt.Tx) error {
		prefix := histPrefix(kind, ns, key)
		c := tx.Bucket(bucketKeyHist).Cursor()
		k, _ := c.Seek(append(append([]byte(nil), prefix...), eventID(rev, 0)...))
		if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+eventIDLen ||
			binary.BigEndian.Uint64(k[len(prefix):]) != rev {
			return fmt.Errorf("%w: %s %s/%s has no event at revision %d", ErrRevisionNotFound, kind, ns, key, rev)
		}
		var err error
		ev, err = decodeEvent(tx.Bucket(bucketEvents).Get(k[len(prefix):]))
		return err
	})
	return ev, err
}

// viewDB runs fn in a read transaction of the bbolt file once the file
// holds everything the current view holds.
func (s *Store) viewDB(fn func(tx *bolt.Tx) error) error {
	if err := s.Sync(); err != nil {
		return err
	}
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.View(fn)
}

func decodeEvent(b []byte) (api.Event, error) {
	var ev api.Event
	if b == nil {
		return ev, fmt.Errorf("store: history index points at a missing event")
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return ev, fmt.Errorf("store: decode event: %w", err)
	}
	return ev, nil
}
