package store

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// TestWatch_MultiFilterMatchesModel subscribes with random filter sets
// (keys, prefixes, whole namespaces, across namespaces), applies random
// transactions, and checks that every subscription receives exactly the
// events a brute-force match of its filters selects, once, in order.
func TestWatch_MultiFilterMatchesModel(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	now := time.Now()
	nss := []string{"a", "b", "c"}
	commitAt(t, s, 1, now, op{ns: "a"}, op{ns: "b"}, op{ns: "c"})
	waitDispatched(t, s)

	rng := rand.New(rand.NewPCG(7, 9))
	keys := make([]string, 12)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d/x%d", i%3, i)
	}
	randFilter := func() Filter {
		f := Filter{Namespace: nss[rng.IntN(len(nss))]}
		switch rng.IntN(3) {
		case 0:
			f.Key = keys[rng.IntN(len(keys))]
		case 1:
			f.Prefix = fmt.Sprintf("k%d/", rng.IntN(3))
		}
		return f
	}
	type watcher struct {
		fs   Filters
		sub  *Subscription
		want [][]api.Event
	}
	var ws []*watcher
	for range 40 {
		fs := make(Filters, 1+rng.IntN(4))
		for i := range fs {
			fs[i] = randFilter()
		}
		w := &watcher{fs: fs, sub: s.SubscribeAny(fs, 1000)}
		t.Cleanup(w.sub.Close)
		ws = append(ws, w)
	}

	for rev := uint64(2); rev < 120; rev++ {
		var ops []op
		for range 1 + rng.IntN(4) {
			ops = append(ops, op{ns: nss[rng.IntN(len(nss))], key: keys[rng.IntN(len(keys))]})
		}
		tx, err := s.Begin()
		if err != nil {
			t.Fatal(err)
		}
		tx.SetRevision(rev)
		for _, o := range ops {
			if _, err := tx.PutConfig(o.ns, o.key, "s", 1, []byte(`{"r":1}`), Audit{Principal: "p", Time: now}, 0); err != nil {
				t.Fatal(err)
			}
		}
		evs := slices.Clone(tx.Events())
		if err := tx.Commit(rev); err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			var m []api.Event
			for i := range evs {
				if w.fs.Match(&evs[i]) {
					m = append(m, evs[i])
				}
			}
			if m != nil {
				w.want = append(w.want, m)
			}
		}
	}
	waitDispatched(t, s)
	for i, w := range ws {
		for j, want := range w.want {
			b := recv(t, w.sub)
			if b.Revision != want[0].Revision || len(b.Events) != len(want) {
				t.Fatalf("watcher %d batch %d: got rev %d with %d events, want rev %d with %d", i, j, b.Revision, len(b.Events), want[0].Revision, len(want))
			}
			for k := range want {
				if b.Events[k].Key != want[k].Key || b.Events[k].Namespace != want[k].Namespace {
					t.Fatalf("watcher %d batch %d event %d: got %s/%s want %s/%s", i, j, k,
						b.Events[k].Namespace, b.Events[k].Key, want[k].Namespace, want[k].Key)
				}
			}
		}
		select {
		case b := <-w.sub.C:
			t.Fatalf("watcher %d: unexpected extra batch at %d", i, b.Revision)
		default:
		}
	}
	if got := s.Subscribers(); got != len(ws) {
		t.Fatalf("Subscribers() = %d, want %d", got, len(ws))
	}
	for _, w := range ws {
		w.sub.Close()
	}
	if got := s.Subscribers(); got != 0 {
		t.Fatalf("Subscribers() after close = %d, want 0", got)
	}
	if len(s.hub.subs) != 0 {
		t.Fatalf("hub index not empty after every close: %d namespaces", len(s.hub.subs))
	}
}
