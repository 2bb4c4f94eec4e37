package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Retention and compaction.
//
// The events bucket is the history API's source and the replay source of
// watches. Compaction deletes an object's event once the object has at
// least MinVersions newer events AND the event is older than MinAge, so
// both bounds are minimums. It runs on each node on its own, in a
// background goroutine, as a plain bbolt transaction: events are history
// derived from the raft log and never read by the state machine, so nodes
// may compact at different moments without diverging in state. The
// consequence is that two nodes may answer an old history page or an old
// watch start differently; each answers only from what it still holds and
// says so (410) rather than skip anything.
//
// Watches need contiguous history: after deleting events, the meta key
// "compacted" holds the highest deleted revision C (written in the same
// transaction as the deletes, so it travels with snapshots), and a watch
// may start only after it. Per-key minimums mean events older than C may
// survive for the history API; they are not replayed to watches.

// Retention is how much history to keep. Both bounds must hold before an
// event is deleted.
type Retention struct {
	// MinVersions is how many of an object's newest events are always kept.
	MinVersions int
	// MinAge is how long every event is kept.
	MinAge time.Duration
}

// RetentionConfig configures compaction.
type RetentionConfig struct {
	// Default applies to every namespace without an override. A zero
	// Default means DefaultRetention's.
	Default Retention
	// Namespaces overrides Default per namespace.
	Namespaces map[string]Retention
	// Interval is the time between two compactions; zero means 5 minutes,
	// a negative value disables the background job (Compact still works).
	Interval time.Duration
	// Logger receives compaction results; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultRetention keeps 1000 versions per object and 24 hours, and
// compacts every 5 minutes.
func DefaultRetention() RetentionConfig {
	return RetentionConfig{Default: Retention{MinVersions: 1000, MinAge: 24 * time.Hour}, Interval: 5 * time.Minute}
}

func (c RetentionConfig) withDefaults() RetentionConfig {
	d := DefaultRetention()
	if c.Default == (Retention{}) {
		c.Default = d.Default
	}
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c RetentionConfig) policy(ns string) Retention {
	if r, ok := c.Namespaces[ns]; ok {
		return r
	}
	return c.Default
}

// CompactResult reports one compaction.
type CompactResult struct {
	// Deleted is the number of events deleted.
	Deleted int
	// Oldest is the oldest revision a watch can start from afterwards.
	Oldest uint64
}

// compactChunk bounds the deletes of one bbolt transaction, so the flusher
// never waits long behind compaction.
const compactChunk = 5000

// errRestored stops a compaction that a restore overtook.
var errRestored = errors.New("store: compaction overtaken by a restore")

// Compact deletes the events that the store's retention no longer requires,
// judged at time now.
func (s *Store) Compact(now time.Time) (CompactResult, error) {
	return s.CompactWith(s.cfg.Retention.withDefaults(), now)
}

// CompactWith is Compact with an explicit configuration.
func (s *Store) CompactWith(cfg RetentionConfig, now time.Time) (CompactResult, error) {
	gen := s.restoreGen.Load()
	var doomed [][]byte // keyhist keys; the event id is their last 10 bytes
	err := s.viewDB(func(tx *bolt.Tx) error {
		evb := tx.Bucket(bucketEvents)
		c := tx.Bucket(bucketKeyHist).Cursor()
		var prefix []byte
		var ids [][]byte
		judge := func() error {
			if len(ids) == 0 {
				return nil
			}
			p := cfg.policy(namespaceOfHist(prefix))
			cutoff := now.Add(-p.MinAge)
			for _, k := range ids[:max(len(ids)-p.MinVersions, 0)] {
				ev, err := decodeEvent(evb.Get(k[len(k)-eventIDLen:]))
				if err != nil {
					return err
				}
				if !ev.Time.Before(cutoff) {
					break // the rest of this object's events are newer
				}
				doomed = append(doomed, k)
			}
			return nil
		}
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) < 12 {
				continue
			}
			p := k[:len(k)-eventIDLen]
			if !bytes.Equal(p, prefix) {
				if err := judge(); err != nil {
					return err
				}
				prefix, ids = bytes.Clone(p), ids[:0]
			}
			ids = append(ids, bytes.Clone(k))
		}
		return judge()
	})
	if err != nil {
		return CompactResult{}, err
	}
	res := CompactResult{}
	for len(doomed) > 0 {
		n := min(len(doomed), compactChunk)
		chunk := doomed[:n]
		doomed = doomed[n:]
		if err := s.deleteEvents(gen, chunk); err != nil {
			return res, err
		}
		res.Deleted += n
	}
	res.Oldest, err = s.OldestRevision()
	return res, err
}

func (s *Store) deleteEvents(gen uint64, histKeys [][]byte) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if s.restoreGen.Load() != gen {
		return errRestored
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		evb, khb := tx.Bucket(bucketEvents), tx.Bucket(bucketKeyHist)
		high := compactedIn(tx)
		for _, k := range histKeys {
			id := k[len(k)-eventIDLen:]
			high = max(high, binary.BigEndian.Uint64(id))
			if err := evb.Delete(id); err != nil {
				return err
			}
			if err := khb.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyCompacted, u64(high))
	})
}

// namespaceOfHist returns the namespace of a keyhist prefix (kind byte,
// namespace, 0, key, 0).
func namespaceOfHist(prefix []byte) string {
	if len(prefix) < 2 {
		return ""
	}
	ns, _, _ := bytes.Cut(prefix[1:], []byte{0})
	return string(ns)
}

type compactor struct {
	stopCh chan struct{}
	done   chan struct{}
	once   sync.Once
}

func startCompactor(s *Store) *compactor {
	c := &compactor{stopCh: make(chan struct{}), done: make(chan struct{})}
	cfg := s.cfg.Retention.withDefaults()
	if cfg.Interval < 0 {
		close(c.done)
		return c
	}
	go func() {
		defer close(c.done)
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-c.stopCh:
				return
			case now := <-t.C:
				res, err := s.CompactWith(cfg, now)
				switch {
				case errors.Is(err, ErrClosed), errors.Is(err, errRestored):
				case err != nil:
					cfg.Logger.Warn("history compaction failed", "err", err)
				case res.Deleted > 0:
					cfg.Logger.Info("history compacted", "deleted", res.Deleted, "oldest_revision", res.Oldest)
				}
			}
		}
	}()
	return c
}

func (c *compactor) stop() {
	c.once.Do(func() { close(c.stopCh) })
	<-c.done
}
