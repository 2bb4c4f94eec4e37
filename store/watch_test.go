package store

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// op is one write of a test transaction.
type op struct {
	ns, key string
	del     bool
}

// commitAt applies ops at revision rev in one transaction, audit time at.
func commitAt(t *testing.T, s *Store, rev uint64, at time.Time, ops ...op) {
	t.Helper()
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Discard()
	tx.SetRevision(rev)
	a := Audit{Principal: "p", Time: at}
	for _, o := range ops {
		switch {
		case o.key == "" && o.del:
			err = tx.DeleteNamespace(o.ns, true, a)
		case o.key == "":
			_, err = tx.CreateNamespace(o.ns, "", a)
		case o.del:
			err = tx.DeleteConfig(o.ns, o.key, a)
		default:
			_, err = tx.PutConfig(o.ns, o.key, "s", 1, []byte(`{"r":1}`), a, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(rev); err != nil {
		t.Fatal(err)
	}
}

// waitDispatched waits until every commit has been offered to subscribers.
func waitDispatched(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.hub.dispatched.Load() < s.Applied() {
		if time.Now().After(deadline) {
			t.Fatal("dispatcher did not catch up")
		}
		time.Sleep(time.Millisecond)
	}
}

func recv(t *testing.T, sub *Subscription) Batch {
	t.Helper()
	select {
	case b, ok := <-sub.C:
		if !ok {
			rev, why := sub.Cut()
			t.Fatalf("subscription closed at %d: %s", rev, why)
		}
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no batch within 5s")
	}
	return Batch{}
}

func TestWatch_LiveBatchesFilteredInOrder(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	now := time.Now()
	commitAt(t, s, 1, now, op{ns: "a"}, op{ns: "b"})
	waitDispatched(t, s)
	all := s.Subscribe(Filter{Namespace: "a"}, 16)
	defer all.Close()
	pre := s.Subscribe(Filter{Namespace: "a", Prefix: "x/"}, 16)
	defer pre.Close()
	if all.Start != 1 {
		t.Fatalf("Start = %d, want 1", all.Start)
	}
	commitAt(t, s, 2, now, op{ns: "a", key: "x/1"}, op{ns: "a", key: "y"}, op{ns: "b", key: "x/1"})
	commitAt(t, s, 3, now, op{ns: "b", key: "z"})
	commitAt(t, s, 4, now, op{ns: "a", key: "x/1", del: true})

	b := recv(t, all)
	if b.Revision != 2 || len(b.Events) != 2 || b.Events[0].Key != "x/1" || b.Events[1].Key != "y" {
		t.Fatalf("first batch = %+v, want revision 2 with x/1 and y together", b)
	}
	if b = recv(t, all); b.Revision != 4 || b.Events[0].Op != api.OpDelete {
		t.Fatalf("second batch = %+v, want the delete at 4 (namespace b's revision 3 filtered out)", b)
	}
	if b = recv(t, pre); b.Revision != 2 || len(b.Events) != 1 || b.Events[0].Key != "x/1" {
		t.Fatalf("prefix batch = %+v, want x/1 alone at 2", b)
	}
	if b = recv(t, pre); b.Revision != 4 {
		t.Fatalf("prefix batch = %+v, want 4", b)
	}
}

func TestWatch_SlowConsumerIsCutOthersContinue(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	now := time.Now()
	commitAt(t, s, 1, now, op{ns: "a"})
	waitDispatched(t, s)
	slow := s.Subscribe(Filter{Namespace: "a"}, 1)
	defer slow.Close()
	fast := s.Subscribe(Filter{Namespace: "a"}, 1)
	defer fast.Close()
	for rev := uint64(2); rev <= 4; rev++ {
		commitAt(t, s, rev, now, op{ns: "a", key: "k"})
		if b := recv(t, fast); b.Revision != rev {
			t.Fatalf("fast got %d, want %d", b.Revision, rev)
		}
	}
	if b := <-slow.C; b.Revision != 2 {
		t.Fatalf("slow first batch = %d, want 2", b.Revision)
	}
	if _, ok := <-slow.C; ok {
		t.Fatal("slow subscription was not cut")
	}
	if rev, why := slow.Cut(); rev != 3 || why != "slow consumer" {
		t.Fatalf("Cut() = %d %q, want 3 slow consumer", rev, why)
	}
	if s.Subscribers() != 1 {
		t.Fatalf("Subscribers() = %d, want 1", s.Subscribers())
	}
}

// TestWatch_ReplayThenLiveHasNoGapOrDuplicate subscribes while writes go on
// and checks that the history up to Start plus the live batches after it
// hold every revision exactly once.
func TestWatch_ReplayThenLiveHasNoGapOrDuplicate(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	now := time.Now()
	commitAt(t, s, 1, now, op{ns: "a"})
	const last = 200
	subCh := make(chan *Subscription, 1)
	go func() {
		for rev := uint64(2); rev <= last; rev++ {
			if rev == 100 {
				subCh <- s.Subscribe(Filter{Namespace: "a"}, last)
			}
			commitAt(t, s, rev, now, op{ns: "a", key: "k"})
		}
	}()
	sub := <-subCh
	defer sub.Close()
	var got []uint64
	next, err := s.ScanEvents(1, sub.Start, Filter{Namespace: "a"}, 0, func(b Batch) error {
		got = append(got, b.Revision)
		return nil
	})
	if err != nil || next != sub.Start+1 {
		t.Fatalf("ScanEvents = %d, %v", next, err)
	}
	for len(got) == 0 || got[len(got)-1] < last {
		got = append(got, recv(t, sub).Revision)
	}
	if len(got) != last {
		t.Fatalf("got %d batches, want %d: %v", len(got), last, got)
	}
	for i, r := range got {
		if r != uint64(i+1) {
			t.Fatalf("batch %d has revision %d: %v", i, r, got)
		}
	}
}

func TestWatch_ScanEventsPages(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	now := time.Now()
	commitAt(t, s, 1, now, op{ns: "a"})
	commitAt(t, s, 2, now, op{ns: "a", key: "x"}, op{ns: "a", key: "y"})
	commitAt(t, s, 3, now, op{ns: "a", key: "z"})
	var got []Batch
	next, err := s.ScanEvents(2, 3, Filter{Namespace: "a"}, 1, func(b Batch) error { got = append(got, b); return nil })
	if err != nil || next != 3 || len(got) != 1 || len(got[0].Events) != 2 {
		t.Fatalf("page 1 = next %d err %v %+v; want revision 2 whole, next 3", next, err, got)
	}
}

func TestRevision_RisesOnWritesAndDeletesNeverFalls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	s := mustOpen(t, path)
	now := time.Now()
	if r := s.View().ConfigRevision("a", "k", nil); r != 1 {
		t.Fatalf("missing namespace: %d, want 1", r)
	}
	commitAt(t, s, 5, now, op{ns: "a"})
	steps := []struct {
		rev                uint64
		o                  op
		wantKey, wantList  uint64 // answers for a/x/k and the list a/x/
		wakeKey, wakeOther int    // 1 must wake, 0 must not, -1 either (a watch on an absent key is its parent's)
	}{
		{7, op{ns: "a", key: "x/k"}, 7, 7, 1, 0},
		{8, op{ns: "a", key: "y/1"}, 7, 7, 0, 1},
		{9, op{ns: "a", key: "x/j"}, 7, 9, 0, 0},
		{10, op{ns: "a", key: "x/j", del: true}, 7, 10, -1, 0},
		{11, op{ns: "a", key: "x/k", del: true}, 11, 11, 1, 0},
		{12, op{ns: "a", del: true}, 12, 12, 1, 1},
		{13, op{ns: "a"}, 13, 13, 1, 1},
	}
	if r := s.View().ConfigRevision("a", "x/k", nil); r != 5 {
		t.Fatalf("missing key: %d, want the namespace's creation 5", r)
	}
	// Existing neighbours, so that the tree's shape settles: the first key
	// of a new branch reshapes (and wakes) its neighbour's node once.
	commitAt(t, s, 6, now, op{ns: "a", key: "x/a0"}, op{ns: "a", key: "y/0"},
		op{ns: "a", key: "x/t"}, op{ns: "a", key: "y/t"}, op{ns: "a", key: "x/t", del: true}, op{ns: "a", key: "y/t", del: true})
	for _, st := range steps {
		var key, other WatchSet
		v := s.View()
		v.ConfigRevision("a", "x/k", &key)
		v.ConfigListRevision("a", "y/", &other)
		commitAt(t, s, st.rev, now, st.o)
		v = s.View()
		if r := v.ConfigRevision("a", "x/k", nil); r != st.wantKey {
			t.Fatalf("after %d: key revision %d, want %d", st.rev, r, st.wantKey)
		}
		if r := v.ConfigListRevision("a", "x/", nil); r != st.wantList {
			t.Fatalf("after %d: list revision %d, want %d", st.rev, r, st.wantList)
		}
		if got := b2i(anyClosed(key)); st.wakeKey >= 0 && got != st.wakeKey {
			t.Fatalf("after %d: key watch woke = %v, want %v", st.rev, got, st.wakeKey)
		}
		if got := b2i(anyClosed(other)); got != st.wakeOther {
			t.Fatalf("after %d: list y watch woke = %v, want %v", st.rev, got, st.wakeOther)
		}
	}
	if r := s.View().LastEventRevision(); r != 13 {
		t.Fatalf("LastEventRevision = %d, want 13", r)
	}
	// Tombstones are state: they survive a reopen.
	commitAt(t, s, 14, now, op{ns: "a", key: "gone"})
	commitAt(t, s, 15, now, op{ns: "a", key: "gone", del: true})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path)
	if r := s.View().ConfigRevision("a", "gone", nil); r != 15 {
		t.Fatalf("after reopen: deleted key revision %d, want 15", r)
	}
	if r := s.View().LastEventRevision(); r != 15 {
		t.Fatalf("after reopen: LastEventRevision %d, want 15", r)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func anyClosed(ws WatchSet) bool {
	for _, ch := range ws.Chans {
		select {
		case <-ch:
			return true
		default:
		}
	}
	return false
}

func TestCompact_KeepsMinimumsAndReports410Revisions(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	old := time.Now().Add(-48 * time.Hour)
	commitAt(t, s, 1, old, op{ns: "a"})
	for rev := uint64(2); rev <= 11; rev++ {
		commitAt(t, s, rev, old, op{ns: "a", key: "k"})
	}
	commitAt(t, s, 12, time.Now(), op{ns: "a", key: "k"})
	cfg := RetentionConfig{Default: Retention{MinVersions: 3, MinAge: 24 * time.Hour}}
	res, err := s.CompactWith(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// k has 11 events: the 3 newest (10, 11, 12) stay; 2..9 are old enough.
	if res.Deleted != 8 || res.Oldest != 10 {
		t.Fatalf("Compact = %+v, want 8 deleted, oldest 10", res)
	}
	evs, _, err := s.History(api.KindConfig, "a", "k", 0, 100)
	if err != nil || len(evs) != 3 || evs[2].Revision != 10 {
		t.Fatalf("History after compaction = %d events, %v", len(evs), err)
	}
	_, err = s.ScanEvents(9, 12, Filter{Namespace: "a"}, 0, func(Batch) error { return nil })
	var ce *CompactedError
	if !errors.As(err, &ce) || ce.Oldest != 10 || ce.Current != 12 || !errors.Is(err, ErrCompacted) {
		t.Fatalf("ScanEvents from 9 = %v, want CompactedError oldest 10 current 12", err)
	}
	if _, err := s.ScanEvents(10, 12, Filter{Namespace: "a"}, 0, func(Batch) error { return nil }); err != nil {
		t.Fatalf("ScanEvents from 10: %v", err)
	}
	// Young events are kept whatever their number; the namespace override
	// applies.
	cfg.Namespaces = map[string]Retention{"a": {MinVersions: 1, MinAge: time.Hour}}
	if res, err = s.CompactWith(cfg, time.Now()); err != nil || res.Deleted != 2 || res.Oldest != 12 {
		t.Fatalf("Compact with override = %+v %v, want 2 deleted, oldest 12", res, err)
	}
}

func TestWatch_RestoreCutsSubscriptions(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "fsm.db"))
	now := time.Now()
	commitAt(t, s, 1, now, op{ns: "a"})
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	sub := s.Subscribe(Filter{Namespace: "a"}, 4)
	abandon := s.AbandonCh()
	if err := s.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	<-abandon
	if _, ok := <-sub.C; ok {
		t.Fatal("subscription got a batch, want it closed")
	}
	if _, why := sub.Cut(); why != "state restored" {
		t.Fatalf("cut reason %q", why)
	}
}
