package client

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schemakv/schemakv/api"
)

// CacheOptions configures a Cache.
type CacheOptions struct {
	// Namespace is required; Prefix narrows the cache to keys with it.
	Namespace string
	Prefix    string
	// OnChange, when set, is called after each batch of changes has been
	// applied, from the cache's goroutine (keep it short). It is also
	// called with a nil batch after a re-list.
	OnChange func(*WatchBatch)
	// ProgressInterval is passed to the watch (0: 10s).
	ProgressInterval time.Duration
}

// CacheStats counts the cache's reads.
type CacheStats struct {
	Hits, Misses uint64
	// Relists counts full re-reads after the watch could not resume (410).
	Relists uint64
	// Revision is the revision the cache is current to.
	Revision uint64
}

// Cache keeps a namespace's config entries (or those under a prefix) in
// memory: a list, then a watch from the list's revision that applies every
// change, so reads are local and current to within the notification
// latency. When the watch cannot resume (the history it needs was
// compacted) it lists again. It is safe for concurrent use.
type Cache struct {
	c    *Client
	opts CacheOptions

	mu      sync.RWMutex
	entries map[string]*api.ConfigEntry
	rev     uint64

	hits, misses, relists atomic.Uint64
	cancel                context.CancelFunc
	done                  chan struct{}
	errMu                 sync.Mutex
	err                   error
}

// NewCache lists the entries and starts following them. It returns once
// the cache holds the list; ctx bounds the cache's life.
func NewCache(ctx context.Context, c *Client, opts CacheOptions) (*Cache, error) {
	if opts.Namespace == "" {
		return nil, errors.New("client: cache: Namespace is required")
	}
	ctx, cancel := context.WithCancel(ctx)
	cc := &Cache{c: c, opts: opts, cancel: cancel, done: make(chan struct{})}
	w, err := cc.relist(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	go cc.run(ctx, w)
	return cc, nil
}

// relist reads every entry and starts a watch after the first page's
// revision. Later pages may be newer; the watch then replays changes the
// pages already hold, which apply idempotently (by modify revision).
func (cc *Cache) relist(ctx context.Context) (*Watcher, error) {
	entries := map[string]*api.ConfigEntry{}
	var rev uint64
	for page, err := range cc.c.Configs().ListAll(ctx, cc.opts.Namespace, ListQuery{Prefix: cc.opts.Prefix, Limit: 1000}, &ReadOptions{Stale: true}) {
		if err != nil {
			return nil, err
		}
		if rev == 0 {
			rev = page.Revision
		}
		for i := range page.Items {
			e := page.Items[i]
			entries[e.Key] = &e
		}
	}
	w, err := cc.c.Watch(ctx, WatchOptions{Namespace: cc.opts.Namespace, Prefix: cc.opts.Prefix,
		FromRevision: rev + 1, ProgressInterval: cc.opts.ProgressInterval, Progress: true,
		Kinds: []string{api.KindConfig}})
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	cc.entries, cc.rev = entries, rev
	cc.mu.Unlock()
	return w, nil
}

func (cc *Cache) run(ctx context.Context, w *Watcher) {
	defer close(cc.done)
	for {
		for b := range w.C {
			cc.apply(b)
			if cc.opts.OnChange != nil && len(b.Events) > 0 {
				cc.opts.OnChange(&b)
			}
		}
		err := w.Err()
		if !errors.Is(err, ErrCompacted) {
			cc.setErr(err)
			return
		}
		for {
			if w, err = cc.relist(ctx); err == nil {
				break
			}
			if ctx.Err() != nil {
				cc.setErr(ctx.Err())
				return
			}
			time.Sleep(time.Second)
		}
		cc.relists.Add(1)
		if cc.opts.OnChange != nil {
			cc.opts.OnChange(nil)
		}
	}
}

func (cc *Cache) apply(b WatchBatch) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.rev = max(cc.rev, b.Revision)
	for _, ev := range b.Events {
		if ev.Kind != api.KindConfig {
			continue
		}
		old, ok := cc.entries[ev.Key]
		switch ev.Op {
		case api.OpDelete:
			if ok && old.ModifyRevision < ev.Revision {
				delete(cc.entries, ev.Key)
			}
		default:
			if ok && old.ModifyRevision >= ev.Revision {
				continue
			}
			e := &api.ConfigEntry{
				Namespace: ev.Namespace, Key: ev.Key, Value: ev.Value, Schema: ev.Schema,
				SchemaVersion: ev.SchemaVersion, CreateRevision: ev.Revision, ModifyRevision: ev.Revision,
				Version: ev.Version, ModifiedBy: ev.Principal, ModifiedAt: ev.Time, Reason: ev.Reason,
			}
			if ok && ev.PrevRevision != 0 {
				e.CreateRevision = old.CreateRevision
			}
			cc.entries[ev.Key] = e
		}
	}
}

// Get returns the cached entry of key (a hit) or false (a miss).
func (cc *Cache) Get(key string) (api.ConfigEntry, bool) {
	cc.mu.RLock()
	e, ok := cc.entries[key]
	cc.mu.RUnlock()
	if !ok {
		cc.misses.Add(1)
		return api.ConfigEntry{}, false
	}
	cc.hits.Add(1)
	return *e, true
}

// List returns every cached entry in key order.
func (cc *Cache) List() []api.ConfigEntry {
	cc.mu.RLock()
	out := make([]api.ConfigEntry, 0, len(cc.entries))
	for _, e := range cc.entries {
		out = append(out, *e)
	}
	cc.mu.RUnlock()
	slices.SortFunc(out, func(a, b api.ConfigEntry) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out
}

// Revision returns the revision the cache is current to.
func (cc *Cache) Revision() uint64 {
	cc.mu.RLock()
	defer cc.mu.RUnlock()
	return cc.rev
}

// Stats returns the hit and miss counters.
func (cc *Cache) Stats() CacheStats {
	return CacheStats{Hits: cc.hits.Load(), Misses: cc.misses.Load(), Relists: cc.relists.Load(), Revision: cc.Revision()}
}

// Err returns why the cache stopped following changes, nil while it does.
func (cc *Cache) Err() error {
	cc.errMu.Lock()
	defer cc.errMu.Unlock()
	return cc.err
}

func (cc *Cache) setErr(err error) {
	cc.errMu.Lock()
	cc.err = err
	cc.errMu.Unlock()
}

// Close stops following changes. The cache stays readable.
func (cc *Cache) Close() {
	cc.cancel()
	<-cc.done
}
