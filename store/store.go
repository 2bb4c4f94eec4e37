package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schemakv/schemakv/api"
	bolt "go.etcd.io/bbolt"
)

// Bucket names of the bbolt layout. Never rename one: the file format
// depends on them.
var (
	bucketMeta       = []byte("meta")
	bucketNamespaces = []byte("namespaces")
	bucketSchemas    = []byte("schemas")
	bucketConfigs    = []byte("configs")
	bucketEvents     = []byte("events")
	bucketKeyHist    = []byte("keyhist")
	bucketTombstones = []byte("tombstones")

	keyApplied = []byte("applied")
	keyFormat  = []byte("format")
	// keyCompacted holds the highest revision whose events compaction may
	// have deleted (retention.go).
	keyCompacted = []byte("compacted")

	allBuckets = [][]byte{bucketMeta, bucketNamespaces, bucketSchemas, bucketConfigs, bucketEvents, bucketKeyHist, bucketTombstones, bucketIndexes,
		bucketImports, bucketImportStage, bucketTokens, bucketBindings}
)

// formatVersion is the layout version written in the meta bucket.
const formatVersion = 1

// Config configures a Store.
type Config struct {
	// Path is the bbolt file. Required.
	Path string
	// NoSync skips fsync on commit. Only for tests and benchmarks that
	// measure something else: a crash can then lose or corrupt the file.
	NoSync bool
	// OpenTimeout bounds the wait for the file lock. Zero means 1s.
	OpenTimeout time.Duration
	// Retention bounds the history kept for watch resumption and the
	// history API; its zero value means DefaultRetention.
	Retention RetentionConfig
}

// Validate reports whether the configuration can be used.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("store: config: Path is required")
	}
	return nil
}

// Store is the durable and in-memory state. See the package documentation
// for its concurrency contract.
type Store struct {
	cfg Config

	mu     sync.Mutex   // held by the writer (Begin..Commit), Restore and Close
	dbMu   sync.RWMutex // guards db and closed against Restore/Close for readers
	db     *bolt.DB
	closed bool

	view atomic.Pointer[View]

	// Flusher state (flush.go).
	flushMu     sync.Mutex
	flushCond   *sync.Cond
	pending     []pendingTxn
	pendingMuts int
	durable     uint64 // applied index held by the bbolt file
	flushErr    error
	kick        chan struct{}
	stopFlusher chan struct{}
	flusherDone chan struct{}

	notifyMu  sync.Mutex
	appliedCh chan struct{} // closed and replaced on every publish
	abandonCh chan struct{} // closed and replaced on every restore

	hub        *hub          // live events (watch.go)
	restoreGen atomic.Uint64 // incremented on every restore, under dbMu
	compactor  *compactor    // retention.go
}

// Open opens or creates the bbolt file at cfg.Path and loads the read model.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db, err := openDB(cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg: cfg, db: db, appliedCh: make(chan struct{}), abandonCh: make(chan struct{}),
		kick: make(chan struct{}, 1), stopFlusher: make(chan struct{}), flusherDone: make(chan struct{}),
	}
	s.flushCond = sync.NewCond(&s.flushMu)
	v, err := load(db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.view.Store(v)
	s.durable = v.applied
	s.hub = newHub(v.applied)
	go s.flusher()
	s.compactor = startCompactor(s)
	return s, nil
}

func openDB(cfg Config) (*bolt.DB, error) {
	timeout := cfg.OpenTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{
		Timeout:        timeout,
		NoSync:         cfg.NoSync,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// A large initial mmap keeps a writer that grows the file from
		// waiting for a long-running snapshot read transaction.
		InitialMmapSize: 256 << 20,
	})
	if err != nil {
		if strings.Contains(err.Error(), cfg.Path) {
			return nil, fmt.Errorf("store: %w", err)
		}
		return nil, fmt.Errorf("store: open %s: %w", cfg.Path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if f := meta.Get(keyFormat); f != nil {
			if v := binary.BigEndian.Uint64(f); v != formatVersion {
				return fmt.Errorf("unsupported format version %d (this build reads %d)", v, formatVersion)
			}
			return nil
		}
		return meta.Put(keyFormat, u64(formatVersion))
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: init %s: %w", cfg.Path, err)
	}
	return db, nil
}

// load builds the read model from the bbolt file.
func load(db *bolt.DB) (*View, error) {
	v := emptyView()
	err := db.View(func(tx *bolt.Tx) error {
		if a := tx.Bucket(bucketMeta).Get(keyApplied); a != nil {
			v.applied = binary.BigEndian.Uint64(a)
		}
		nsTxn := v.namespaces.Txn()
		err := tx.Bucket(bucketNamespaces).ForEach(func(k, b []byte) error {
			var n api.Namespace
			if err := json.Unmarshal(b, &n); err != nil {
				return fmt.Errorf("namespace %q: %w", k, err)
			}
			n.ConfigCount, n.SchemaCount = 0, 0
			nsTxn.Insert([]byte(n.Name), &n)
			return nil
		})
		if err != nil {
			return err
		}
		schTxn := v.schemas.Txn()
		names := map[string]map[string]bool{}
		err = tx.Bucket(bucketSchemas).ForEach(func(k, b []byte) error {
			var sv api.SchemaVersion
			if err := json.Unmarshal(b, &sv); err != nil {
				return fmt.Errorf("schema %q: %w", k, err)
			}
			// bbolt's keys live in its mmap and are valid only inside the
			// transaction: the tree keeps a copy.
			schTxn.Insert(bytes.Clone(k), &sv)
			if names[sv.Namespace] == nil {
				names[sv.Namespace] = map[string]bool{}
			}
			names[sv.Namespace][sv.Name] = true
			return nil
		})
		if err != nil {
			return err
		}
		// Decoding and inserting run on two goroutines: at start-up with
		// many entries they are most of the work, and of similar cost.
		counts := map[string]int{}
		revs := map[string]uint64{} // newest modify revision per namespace (View.cfgrev)
		cfgTxn := v.configs.Txn()
		batches := make(chan []loadedEntry, 4)
		inserted := make(chan struct{})
		go func() {
			defer close(inserted)
			for batch := range batches {
				for _, le := range batch {
					cfgTxn.Insert(le.key, le.e)
					counts[le.e.Namespace]++
					revs[le.e.Namespace] = max(revs[le.e.Namespace], le.e.ModifyRevision)
				}
			}
		}()
		batch := make([]loadedEntry, 0, 1024)
		err = tx.Bucket(bucketConfigs).ForEach(func(k, b []byte) error {
			e, err := decodeEntry(b)
			if err != nil {
				return fmt.Errorf("config %q: %w", k, err)
			}
			batch = append(batch, loadedEntry{key: bytes.Clone(k), e: e})
			if len(batch) == cap(batch) {
				batches <- batch
				batch = make([]loadedEntry, 0, 1024)
			}
			return nil
		})
		batches <- batch
		close(batches)
		<-inserted
		if err != nil {
			return err
		}
		v.schemas = schTxn.Commit()
		v.configs = cfgTxn.Commit()
		it := nsTxn.Root().Iterator()
		for k, n, ok := it.Next(); ok; k, n, ok = it.Next() {
			c := *n
			c.ConfigCount = counts[n.Name]
			c.SchemaCount = len(names[n.Name])
			nsTxn.Insert(k, &c)
		}
		v.namespaces = nsTxn.Commit()
		if err := loadImports(tx, v); err != nil {
			return err
		}
		if err := loadIndexes(tx, v); err != nil {
			return err
		}
		if err := loadAuth(tx, v); err != nil {
			return err
		}
		if err := loadTombstones(tx, v, revs); err != nil {
			return err
		}
		return loadEvolution(tx, v)
	})
	if err != nil {
		return nil, fmt.Errorf("store: load: %w", err)
	}
	return v, nil
}

// View returns the current read model. It never blocks.
func (s *Store) View() *View { return s.view.Load() }

// Applied returns the applied revision of the current read model.
func (s *Store) Applied() uint64 { return s.view.Load().applied }

// AppliedCh returns a channel that is closed when the applied revision next
// changes. Use it as: ch := s.AppliedCh(); if s.Applied() >= want {...}; <-ch.
func (s *Store) AppliedCh() <-chan struct{} {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	return s.appliedCh
}

// AbandonCh returns a channel that is closed when the state is replaced by a
// restore; readers blocked on older state must re-read.
func (s *Store) AbandonCh() <-chan struct{} {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	return s.abandonCh
}

// WaitApplied blocks until the applied revision is at least rev, or the
// channel done is closed (it then returns false).
func (s *Store) WaitApplied(done <-chan struct{}, rev uint64) bool {
	for {
		ch := s.AppliedCh()
		if s.Applied() >= rev {
			return true
		}
		select {
		case <-ch:
		case <-done:
			return s.Applied() >= rev
		}
	}
}

func (s *Store) publish(v *View, abandon bool) {
	s.view.Store(v)
	s.notifyMu.Lock()
	close(s.appliedCh)
	s.appliedCh = make(chan struct{})
	if abandon {
		s.restoreGen.Add(1)
		s.hub.reset(v.applied)
		close(s.abandonCh)
		s.abandonCh = make(chan struct{})
	}
	s.notifyMu.Unlock()
}

// Close writes what the flusher has not yet written and closes the bbolt
// file. The read model stays readable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.compactor.stop()
	s.hub.close()
	close(s.stopFlusher)
	<-s.flusherDone
	s.flushMu.Lock()
	flushErr := s.flushErr
	if s.flushErr == nil {
		s.flushErr = ErrClosed // wakes and fails waiters that can no longer be served
	}
	s.flushCond.Broadcast()
	s.flushMu.Unlock()
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return flushErr
}

// Path returns the bbolt file's path.
func (s *Store) Path() string { return s.cfg.Path }

// FileSize returns the size of the bbolt file in bytes.
func (s *Store) FileSize() int64 {
	fi, err := os.Stat(s.cfg.Path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// configKey is the bbolt and radix key of a config entry.
func configKey(ns, key string) []byte {
	b := make([]byte, 0, len(ns)+1+len(key))
	b = append(b, ns...)
	b = append(b, 0)
	return append(b, key...)
}

// schemaKey is the bbolt and radix key of a schema version; versions sort
// numerically.
func schemaKey(ns, name string, version int) []byte {
	b := schemaPrefix(ns, name)
	return binary.BigEndian.AppendUint32(b, uint32(version))
}

func schemaPrefix(ns, name string) []byte {
	b := make([]byte, 0, len(ns)+len(name)+6)
	b = append(b, ns...)
	b = append(b, 0)
	b = append(b, name...)
	return append(b, 0)
}

func nsPrefix(ns string) []byte {
	return append([]byte(ns), 0)
}

type loadedEntry struct {
	key []byte
	e   *api.ConfigEntry
}
