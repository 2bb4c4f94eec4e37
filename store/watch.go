package store

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/schemakv/schemakv/api"
)

// Live events.
//
// Commit hands the transaction's events to the hub in O(1): it appends them
// to a queue and signals one dispatcher goroutine. The dispatcher groups
// them by revision (a transaction's changes form one Batch), finds the
// subscriptions whose filters match (an index by namespace, then by key for
// filters that name one key), and offers
// each its share with a non-blocking send into the subscription's bounded
// buffer. A subscription whose buffer is full is cut: its channel is closed
// and Cut reports the first revision it did not get, so its reader can
// resume from the history. Neither the apply path nor other subscribers ever
// wait for a slow reader.
//
// Subscribe registers under the same lock the dispatcher holds while it
// delivers a batch, and returns the revision of the last batch delivered
// before it: the subscription receives exactly the batches after it, so a
// reader replays the history up to Start and then reads live batches with
// neither a gap nor a duplicate.

// Batch is the events one revision recorded, in the order recorded.
type Batch struct {
	Revision uint64
	Events   []api.Event
}

// Filter selects events. The zero Filter matches nothing; Namespace is
// required.
type Filter struct {
	Namespace string
	// Key, when set, matches only that key (a config key, or a schema name
	// for schema events). Prefix, when set, matches keys with that prefix.
	// With neither, every key of the namespace matches.
	Key    string
	Prefix string
	// Kinds lists the api.Kind* values to match; empty means all kinds.
	Kinds []string
}

// Match reports whether ev passes the filter. Namespace events (which have
// no key) match only filters without a key or prefix.
func (f *Filter) Match(ev *api.Event) bool {
	if ev.Namespace != f.Namespace {
		return false
	}
	if len(f.Kinds) > 0 {
		ok := false
		for _, k := range f.Kinds {
			ok = ok || k == ev.Kind
		}
		if !ok {
			return false
		}
	}
	switch {
	case f.Key != "":
		return ev.Kind != api.KindNamespace && ev.Key == f.Key
	case f.Prefix != "":
		return ev.Kind != api.KindNamespace && strings.HasPrefix(ev.Key, f.Prefix)
	}
	return true
}

// Filters is a set of filters: an event passes when any of them matches.
// A multiplexed watch stream subscribes once with all its watches' filters.
type Filters []Filter

// Match reports whether any filter matches ev.
func (fs Filters) Match(ev *api.Event) bool {
	for i := range fs {
		if fs[i].Match(ev) {
			return true
		}
	}
	return false
}

// filterBatch returns the events of b that fs matches, nil if none does.
// When all match it returns b.Events itself, so that subscribers with the
// same view of a batch share one slice (and readers can share its
// encoding).
func (fs Filters) filterBatch(b Batch) []api.Event {
	n := 0
	for i := range b.Events {
		if fs.Match(&b.Events[i]) {
			n++
		}
	}
	switch n {
	case 0:
		return nil
	case len(b.Events):
		return b.Events
	}
	out := make([]api.Event, 0, n)
	for i := range b.Events {
		if fs.Match(&b.Events[i]) {
			out = append(out, b.Events[i])
		}
	}
	return out
}

// Subscription receives live batches. Read C until it is closed, then call
// Cut to learn why.
type Subscription struct {
	// C delivers the matching part of each batch after Start, in revision
	// order. It is closed when the subscription is cut or closed.
	C <-chan Batch
	// Start is the revision of the last batch dispatched before the
	// subscription: C delivers revisions above it.
	Start uint64

	c       chan Batch
	hub     *hub
	filters Filters
	offered uint64        // revision last offered; guarded by hub.subsMu
	cutAt   atomic.Uint64 // first revision not delivered; 0 while live
	reason  atomic.Value  // string
}

// Cut reports, once C is closed, the first revision the subscription did
// not deliver and why ("slow consumer", "state restored", "closed"). It
// returns 0 while the subscription is live.
func (s *Subscription) Cut() (rev uint64, reason string) {
	r, _ := s.reason.Load().(string)
	return s.cutAt.Load(), r
}

// Dispatched returns the revision up to which every batch has been offered
// to the subscription. When C is empty, everything up to it has been read:
// a progress (bookmark) revision.
func (s *Subscription) Dispatched() uint64 { return s.hub.dispatched.Load() }

// Close ends the subscription. It is safe to call more than once and after
// a cut.
func (s *Subscription) Close() {
	s.hub.subsMu.Lock()
	defer s.hub.subsMu.Unlock()
	s.hub.remove(s, s.hub.dispatched.Load()+1, "closed")
}

type hub struct {
	mu     sync.Mutex
	queue  []Batch // committed, not yet dispatched; a nil Events only advances
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed bool

	subsMu     sync.Mutex
	subs       map[string]*nsSubs // by namespace
	count      int
	dispatched atomic.Uint64
}

func newHub(applied uint64) *hub {
	h := &hub{
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		subs: map[string]*nsSubs{},
	}
	h.dispatched.Store(applied)
	go h.run()
	return h
}

// publish queues the events of one commit (ordered by revision) and the
// applied revision the commit reached. It never blocks on subscribers.
func (h *hub) publish(events []api.Event, applied uint64) {
	h.mu.Lock()
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].Revision == events[i].Revision {
			j++
		}
		h.queue = append(h.queue, Batch{Revision: events[i].Revision, Events: events[i:j:j]})
		i = j
	}
	h.queue = append(h.queue, Batch{Revision: applied})
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hub) run() {
	defer close(h.done)
	for {
		select {
		case <-h.wake:
		case <-h.stop:
			return
		}
		h.mu.Lock()
		q := h.queue
		h.queue = nil
		h.mu.Unlock()
		for _, b := range q {
			h.dispatch(b)
		}
	}
}

// nsSubs indexes one namespace's subscriptions: those whose filter names
// one key are found by that key, so a write to one key costs nothing for
// the thousands of watchers of other keys; the rest are offered every
// batch of the namespace.
type nsSubs struct {
	byKey map[string]map[*Subscription]struct{}
	rest  map[*Subscription]struct{}
}

func (h *hub) add(s *Subscription) {
	for _, f := range s.filters {
		n := h.subs[f.Namespace]
		if n == nil {
			n = &nsSubs{byKey: map[string]map[*Subscription]struct{}{}, rest: map[*Subscription]struct{}{}}
			h.subs[f.Namespace] = n
		}
		if f.Key == "" {
			n.rest[s] = struct{}{}
			continue
		}
		m := n.byKey[f.Key]
		if m == nil {
			m = map[*Subscription]struct{}{}
			n.byKey[f.Key] = m
		}
		m[s] = struct{}{}
	}
	h.count++
}

func (h *hub) dispatch(b Batch) {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	if b.Revision <= h.dispatched.Load() {
		return // older than a restore
	}
	offer := func(sub *Subscription) {
		if sub.offered == b.Revision {
			return // a transaction reaches a subscription by several keys
		}
		sub.offered = b.Revision
		evs := sub.filters.filterBatch(b)
		if evs == nil {
			return
		}
		select {
		case sub.c <- Batch{Revision: b.Revision, Events: evs}:
		default:
			h.remove(sub, b.Revision, "slow consumer")
		}
	}
	var seen map[string]bool // namespaces whose rest was offered
	for i := range b.Events {
		ev := &b.Events[i]
		n := h.subs[ev.Namespace]
		if n == nil {
			continue
		}
		if ev.Key != "" {
			for sub := range n.byKey[ev.Key] {
				offer(sub)
			}
		}
		if len(n.rest) == 0 || seen[ev.Namespace] {
			continue
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[ev.Namespace] = true
		for sub := range n.rest {
			offer(sub)
		}
	}
	h.dispatched.Store(b.Revision)
}

// remove closes a subscription's channel; the caller holds subsMu.
func (h *hub) remove(s *Subscription, cutAt uint64, reason string) {
	if s.cutAt.Load() != 0 {
		return
	}
	for _, f := range s.filters {
		n := h.subs[f.Namespace]
		if n == nil {
			continue
		}
		if f.Key == "" {
			delete(n.rest, s)
		} else if m := n.byKey[f.Key]; m != nil {
			delete(m, s)
			if len(m) == 0 {
				delete(n.byKey, f.Key)
			}
		}
		if len(n.rest) == 0 && len(n.byKey) == 0 {
			delete(h.subs, f.Namespace)
		}
	}
	h.count--
	s.reason.Store(reason)
	s.cutAt.Store(cutAt)
	close(s.c)
}

// reset cuts every subscription after a restore: the history they would
// continue from is the restored one, which readers must replay.
func (h *hub) reset(applied uint64) {
	h.mu.Lock()
	h.queue = nil
	h.mu.Unlock()
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	h.removeAll(h.dispatched.Load()+1, "state restored")
	h.dispatched.Store(applied)
}

// removeAll cuts every subscription; the caller holds subsMu.
func (h *hub) removeAll(cutAt uint64, reason string) {
	var all []*Subscription
	for _, n := range h.subs {
		for s := range n.rest {
			all = append(all, s)
		}
		for _, m := range n.byKey {
			for s := range m {
				all = append(all, s)
			}
		}
	}
	for _, s := range all {
		h.remove(s, cutAt, reason)
	}
}

func (h *hub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	close(h.stop)
	<-h.done
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	h.removeAll(h.dispatched.Load()+1, "closed")
}

// Subscribe registers a live subscription for the events f matches, with a
// buffer of size batches (at least 1). The caller must Close it.
func (s *Store) Subscribe(f Filter, size int) *Subscription {
	return s.SubscribeAny(Filters{f}, size)
}

// SubscribeAny registers one live subscription for the events any of fs
// matches (a multiplexed stream's watches), with a buffer of size batches
// (at least 1). The caller must Close it.
func (s *Store) SubscribeAny(fs Filters, size int) *Subscription {
	h := s.hub
	c := make(chan Batch, max(size, 1))
	sub := &Subscription{C: c, c: c, hub: h, filters: fs}
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	sub.Start = h.dispatched.Load()
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed || len(fs) == 0 {
		sub.reason.Store("closed")
		sub.cutAt.Store(sub.Start + 1)
		close(c)
		return sub
	}
	h.add(sub)
	return sub
}

// Subscribers returns the number of live subscriptions.
func (s *Store) Subscribers() int {
	s.hub.subsMu.Lock()
	defer s.hub.subsMu.Unlock()
	return s.hub.count
}
