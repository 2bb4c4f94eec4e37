package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/store"
)

func nextBatch(t *testing.T, w *client.Watcher) client.WatchBatch {
	t.Helper()
	select {
	case b, ok := <-w.C:
		if !ok {
			t.Fatalf("watch ended: %v", w.Err())
		}
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no batch within 10s")
	}
	return client.WatchBatch{}
}

func TestWatch_FromRevisionInOrderThenLive(t *testing.T) {
	c := mustNodeClient(t)
	ctx := context.Background()
	ns := mustNamespace(t, c, "watch")
	mustSchema(t, c, ns, "svc", `{"type":"object","additionalProperties":true}`)
	e1 := mustPut(t, c, ns, "app/a", "svc", `{"n":1}`)
	e2 := mustPut(t, c, ns, "app/b", "svc", `{"n":2}`)
	mustPut(t, c, ns, "other", "svc", `{}`)
	w, err := c.Watch(ctx, client.WatchOptions{Namespace: ns, Prefix: "app/", FromRevision: e1.ModifyRevision})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if b := nextBatch(t, w); b.Revision != e1.ModifyRevision || b.Events[0].Key != "app/a" {
		t.Fatalf("first batch %+v", b)
	}
	if b := nextBatch(t, w); b.Revision != e2.ModifyRevision {
		t.Fatalf("second batch %+v", b)
	}
	e3 := mustPut(t, c, ns, "app/a", "svc", `{"n":3}`)
	if b := nextBatch(t, w); b.Revision != e3.ModifyRevision || b.Events[0].PrevRevision != e1.ModifyRevision {
		t.Fatalf("live batch %+v", b)
	}
	if w.Next() != e3.ModifyRevision+1 {
		t.Fatalf("Next() = %d", w.Next())
	}
	w.Close()
	if _, ok := <-w.C; ok || !errors.Is(w.Err(), context.Canceled) {
		t.Fatalf("after Close: err %v", w.Err())
	}
}

func TestWatch_CompactedIsTypedError(t *testing.T) {
	c := mustNodeClient(t)
	ns := mustNamespace(t, c, "compacted")
	mustSchema(t, c, ns, "svc", `{"type":"object","additionalProperties":true}`)
	first := mustPut(t, c, ns, "k", "svc", `{"n":1}`)
	mustPut(t, c, ns, "k", "svc", `{"n":2}`)
	if _, err := shared.node.Store().CompactWith(store.RetentionConfig{Default: store.Retention{MinVersions: 1, MinAge: time.Nanosecond}}, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Watch(context.Background(), client.WatchOptions{Namespace: ns, FromRevision: first.ModifyRevision})
	var ce *client.CompactedError
	if !errors.Is(err, client.ErrCompacted) || !errors.As(err, &ce) || ce.Oldest <= first.ModifyRevision ||
		!client.IsCode(err, api.CodeCompacted) {
		t.Fatalf("watch from a compacted revision: %v", err)
	}
}

func TestCache_ListWatchGetAndOnChange(t *testing.T) {
	c := mustNodeClient(t)
	ctx := context.Background()
	ns := mustNamespace(t, c, "cache")
	mustSchema(t, c, ns, "svc", `{"type":"object","additionalProperties":true}`)
	mustPut(t, c, ns, "app/a", "svc", `{"n":1}`)
	mustPut(t, c, ns, "app/b", "svc", `{"n":1}`)
	mustPut(t, c, ns, "zzz", "svc", `{"n":1}`)
	changes := make(chan uint64, 16)
	var calls atomic.Int64
	cache, err := client.NewCache(ctx, c, client.CacheOptions{Namespace: ns, Prefix: "app/",
		OnChange: func(b *client.WatchBatch) {
			calls.Add(1)
			if b != nil {
				changes <- b.Revision
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	if e, ok := cache.Get("app/a"); !ok || string(e.Value) != `{"n":1}` {
		t.Fatalf("Get(app/a) = %+v %v", e, ok)
	}
	if _, ok := cache.Get("zzz"); ok {
		t.Fatal("an entry outside the prefix is cached")
	}
	e := mustPut(t, c, ns, "app/a", "svc", `{"n":2}`)
	if rev := <-changes; rev != e.ModifyRevision {
		t.Fatalf("OnChange at %d, want %d", rev, e.ModifyRevision)
	}
	if got, ok := cache.Get("app/a"); !ok || string(got.Value) != `{"n":2}` || got.Version != 2 {
		t.Fatalf("after the put: %+v", got)
	}
	res, _, err := c.Configs().Delete(ctx, ns, "app/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rev := <-changes; rev != res.Revision {
		t.Fatalf("OnChange at %d, want %d", rev, res.Revision)
	}
	if _, ok := cache.Get("app/b"); ok {
		t.Fatal("deleted entry still cached")
	}
	if l := cache.List(); len(l) != 1 || l[0].Key != "app/a" {
		t.Fatalf("List() = %+v", l)
	}
	st := cache.Stats()
	if st.Hits != 2 || st.Misses != 2 || st.Revision < res.Revision {
		t.Fatalf("Stats() = %+v, want 2 hits, 2 misses, revision >= %d", st, res.Revision)
	}
}

// cutter is a transport whose connections the test can break, and whose
// dials it can refuse for a while.
type cutter struct {
	mu     sync.Mutex
	conns  []net.Conn
	refuse bool
}

func (c *cutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refuse {
		return nil, errors.New("refused by the test")
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cutter) cut(refuse bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refuse = refuse
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

// TestCache_RelistsWhenItsResumePointWasCompacted disconnects a cache while
// a key changes twice and the history is compacted: its resume gets 410,
// and it lists again instead of missing the change.
func TestCache_RelistsWhenItsResumePointWasCompacted(t *testing.T) {
	base := mustNodeClient(t)
	ctx := context.Background()
	ns := mustNamespace(t, base, "relist")
	mustSchema(t, base, ns, "svc", `{"type":"object","additionalProperties":true}`)
	mustPut(t, base, ns, "k", "svc", `{"n":1}`)
	cut := &cutter{}
	c := mustNewClient(t, client.Config{Address: shared.url, Token: aliceToken, HTTPClient: &http.Client{Transport: &http.Transport{DialContext: cut.dial}}})
	relisted := make(chan struct{}, 1)
	cache, err := client.NewCache(ctx, c, client.CacheOptions{Namespace: ns, OnChange: func(b *client.WatchBatch) {
		if b == nil {
			relisted <- struct{}{}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	cut.cut(true)
	mustPut(t, base, ns, "k", "svc", `{"n":2}`)
	last := mustPut(t, base, ns, "k", "svc", `{"n":3}`)
	if _, err := shared.node.Store().CompactWith(store.RetentionConfig{Default: store.Retention{MinVersions: 1, MinAge: time.Nanosecond}}, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	cut.cut(false)
	select {
	case <-relisted:
	case <-time.After(15 * time.Second):
		t.Fatalf("no re-list; cache error %v", cache.Err())
	}
	if e, ok := cache.Get("k"); !ok || e.ModifyRevision != last.ModifyRevision || cache.Stats().Relists != 1 {
		t.Fatalf("after the re-list: %+v %v, stats %+v", e, ok, cache.Stats())
	}
}

func TestWatch_MultiplexedWatchesOnOneStream(t *testing.T) {
	c := mustNodeClient(t)
	ctx := context.Background()
	ns := mustNamespace(t, c, "watchmany")
	mustSchema(t, c, ns, "svc", `{"type":"object","additionalProperties":true}`)
	e1 := mustPut(t, c, ns, "app/a", "svc", `{"n":1}`)
	if _, err := c.Watch(ctx, client.WatchOptions{Namespace: ns, Watches: []api.WatchSpec{{ID: "x", Namespace: ns}}}); err == nil {
		t.Fatal("Watches with Namespace: no error")
	}
	w, err := c.Watch(ctx, client.WatchOptions{FromRevision: e1.ModifyRevision, Watches: []api.WatchSpec{
		{ID: "a", Namespace: ns, Key: "app/a"},
		{ID: "all", Namespace: ns, Prefix: "app/"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if b := nextBatch(t, w); b.Revision != e1.ModifyRevision || len(b.Matches["a"]) != 1 || len(b.Matches["all"]) != 1 {
		t.Fatalf("first batch %+v", b)
	}
	e2 := mustPut(t, c, ns, "app/b", "svc", `{"n":2}`)
	if b := nextBatch(t, w); b.Revision != e2.ModifyRevision || b.Matches["a"] != nil || len(b.Matches["all"]) != 1 {
		t.Fatalf("second batch %+v", b)
	}
}
