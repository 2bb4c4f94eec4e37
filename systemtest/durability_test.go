package systemtest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// TestDurability_SIGKILL crashes a loaded server with SIGKILL three times on
// the same data directory and checks that every acknowledged write survived.
func TestDurability_SIGKILL(t *testing.T) {
	needBinary(t)
	scenarioDurability(t, newSingleProcess(t), durabilityParams{
		Cycles: 3, Writers: 16, HotKeys: 8, Load: 3 * time.Second, MinAcks: 200,
	})
}

// durabilityParams sizes the durability scenario.
type durabilityParams struct {
	Cycles  int           // crash/restart cycles on the same data
	Writers int           // concurrent writers
	HotKeys int           // keys every writer overwrites (the rest are written once)
	Load    time.Duration // load before the crash (at least)
	MinAcks int           // and at least this many acknowledged writes per cycle
}

const durableNS = "durable"

const itemSchema = `{"schema": {
	"type": "object",
	"properties": {
		"cycle":  {"type": "integer", "minimum": 0},
		"writer": {"type": "integer", "minimum": 0},
		"seq":    {"type": "integer", "minimum": 0}
	},
	"required": ["cycle", "writer", "seq"]
}}`

// ackedWrite is a write the server acknowledged (HTTP 200 or 201).
type ackedWrite struct {
	Key   string
	Rev   uint64 // the entry's modify_revision in the answer
	Value []byte
}

// scenarioDurability: writers load the system, it is crashed mid-load and
// started again, and every acknowledged write must be readable, no older
// than acknowledged, and in the key's history. Each cycle adds writes.
func scenarioDurability(t *testing.T, sys system, p durabilityParams) {
	mustDo(t, http.MethodPut, sys.URL()+"/v1/namespaces/"+durableNS, `{"description": "durability test"}`, nil, http.StatusCreated)
	var sv api.SchemaVersion
	mustDo(t, http.MethodPost, sys.URL()+"/v1/namespaces/"+durableNS+"/schemas/item", itemSchema, &sv, http.StatusCreated)
	if sv.Version != 1 {
		t.Fatalf("schema item registered as version %d, want 1", sv.Version)
	}

	model := map[string][]ackedWrite{} // key -> acknowledged writes, by revision
	maxRev := sv.CreateRevision        // highest acknowledged revision so far
	total := 0
	for cycle := range p.Cycles {
		acks, unacked := loadAndCrash(t, sys, cycle, p)
		if len(acks) == 0 {
			t.Fatalf("cycle %d: no acknowledged writes", cycle)
		}
		cycleMax := uint64(0)
		for _, a := range acks {
			// Revisions only grow, across restarts too: every write of this
			// cycle comes after every write acknowledged before the crash.
			if a.Rev <= maxRev {
				t.Errorf("cycle %d: %s acknowledged at revision %d, not above %d acknowledged earlier", cycle, a.Key, a.Rev, maxRev)
			}
			cycleMax = max(cycleMax, a.Rev)
			model[a.Key] = append(model[a.Key], a)
		}
		maxRev = max(maxRev, cycleMax)
		total += len(acks)
		t.Logf("cycle %d: %d acknowledged writes (revisions up to %d), %d writes in flight or refused at the crash; %d acknowledged in all, %d keys",
			cycle, len(acks), cycleMax, unacked, total, len(model))

		sys.Start(t)
		var nsInfo api.Namespace
		hdr := mustDo(t, http.MethodGet, sys.URL()+"/v1/namespaces/"+durableNS, nil, &nsInfo, http.StatusOK)
		if idx := indexHeader(t, hdr); idx < maxRev {
			t.Errorf("cycle %d: after restart X-Schemakv-Index is %d, below the last acknowledged revision %d", cycle, idx, maxRev)
		}
		verifyAcked(t, sys.URL(), model)
		if t.Failed() {
			t.FailNow()
		}
	}
	checkDistinctRevisions(t, model)
}

// loadAndCrash runs p.Writers writers against the system until p.Load has
// passed and p.MinAcks writes were acknowledged, crashes the system while
// the writers are still writing, and returns the acknowledged writes and the
// number of writes that got no answer.
func loadAndCrash(t *testing.T, sys system, cycle int, p durabilityParams) ([]ackedWrite, int) {
	t.Helper()
	base := sys.URL()
	var (
		crashed  atomic.Bool // set just before the SIGKILL
		acked    atomic.Int64
		unacked  atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []ackedWrite
		failures []string // write failures before the crash: a bug
	)
	for w := range p.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []ackedWrite
			defer func() {
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			}()
			for n := 0; ; n++ {
				key := fmt.Sprintf("c%d/w%02d/%06d", cycle, w, n)
				if n%3 == 2 {
					key = fmt.Sprintf("hot/%d", (w+n)%p.HotKeys)
				}
				value := fmt.Sprintf(`{"cycle":%d,"writer":%d,"seq":%d}`, cycle, w, n)
				body := `{"schema":"item@1","reason":"load","value":` + value + `}`
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				status, hdr, b, err := doHTTP(ctx, http.MethodPut, base+"/v1/namespaces/"+durableNS+"/configs/"+key, body, nil)
				cancel()
				if err != nil || (status != http.StatusOK && status != http.StatusCreated) {
					if crashed.Load() {
						unacked.Add(1)
						return // the server is gone; later writes would only be refused
					}
					mu.Lock()
					failures = append(failures, fmt.Sprintf("PUT %s: status %d, err %v, body %s", key, status, err, b))
					mu.Unlock()
					continue
				}
				var e api.ConfigEntry
				if err := json.Unmarshal(b, &e); err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("PUT %s: status %d with undecodable body %q: %v", key, status, b, err))
					mu.Unlock()
					continue
				}
				if etag := hdr.Get("ETag"); etag != strconv.Quote(strconv.FormatUint(e.ModifyRevision, 10)) {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("PUT %s: ETag %s but modify_revision %d", key, etag, e.ModifyRevision))
					mu.Unlock()
				}
				mine = append(mine, ackedWrite{Key: key, Rev: e.ModifyRevision, Value: []byte(value)})
				acked.Add(1)
			}
		}()
	}

	start := time.Now()
	deadline := start.Add(p.Load + 60*time.Second)
	for time.Since(start) < p.Load || acked.Load() < int64(p.MinAcks) {
		if time.Now().After(deadline) {
			t.Fatalf("cycle %d: only %d writes acknowledged in %v", cycle, acked.Load(), time.Since(start))
		}
		time.Sleep(pollInterval)
	}
	crashed.Store(true)
	sys.Crash(t)
	wg.Wait()

	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-i)
			break
		}
		t.Errorf("cycle %d: write failed before the crash: %s", cycle, f)
	}
	slices.SortFunc(all, func(a, b ackedWrite) int { return cmp.Compare(a.Rev, b.Rev) })
	return all, int(unacked.Load())
}

// verifyAcked checks that every acknowledged write survived: the entry exists
// with a modify_revision at least the newest acknowledged one (and the same
// value when equal), and each acknowledged revision is in the key's history
// with its value.
func verifyAcked(t *testing.T, base string, model map[string][]ackedWrite) {
	t.Helper()
	entries := listAll(t, base, durableNS, "")
	missing := 0
	for key, acks := range model {
		newest := acks[0]
		for _, a := range acks {
			if a.Rev > newest.Rev {
				newest = a
			}
		}
		e, ok := entries[key]
		var problem string
		switch {
		case !ok:
			problem = fmt.Sprintf("%s: acknowledged at revision %d but missing after restart", key, newest.Rev)
		case e.ModifyRevision < newest.Rev:
			problem = fmt.Sprintf("%s: modify_revision %d after restart, older than the acknowledged %d", key, e.ModifyRevision, newest.Rev)
		case e.ModifyRevision == newest.Rev && !jsonEqual(e.Value, newest.Value):
			problem = fmt.Sprintf("%s: at revision %d holds %s, acknowledged %s", key, e.ModifyRevision, e.Value, newest.Value)
		}
		if problem != "" {
			if missing < 20 {
				t.Error(problem)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged keys lost or rolled back; history not checked", missing, len(model))
		return
	}

	// History, key by key, with a few requests in flight.
	keys := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range keys {
				hist, err := historyAll(base, durableNS, key)
				var bad []string
				if err != nil {
					bad = append(bad, err.Error())
				}
				for _, a := range model[key] {
					ev, ok := hist[a.Rev]
					switch {
					case err != nil:
					case !ok:
						bad = append(bad, fmt.Sprintf("%s: acknowledged revision %d missing from history", key, a.Rev))
					case ev.Op != api.OpPut || !jsonEqual(ev.Value, a.Value):
						bad = append(bad, fmt.Sprintf("%s: history at %d is %s %s, acknowledged put %s", key, a.Rev, ev.Op, ev.Value, a.Value))
					}
				}
				if len(bad) > 0 {
					mu.Lock()
					errs = append(errs, bad...)
					mu.Unlock()
				}
			}
		}()
	}
	for key := range model {
		keys <- key
	}
	close(keys)
	wg.Wait()
	for i, e := range errs {
		if i == 20 {
			t.Errorf("... and %d more", len(errs)-i)
			break
		}
		t.Error(e)
	}
}

// checkDistinctRevisions asserts that no two acknowledged single-key writes
// share a revision: each is its own raft entry.
func checkDistinctRevisions(t *testing.T, model map[string][]ackedWrite) {
	t.Helper()
	seen := map[uint64]string{}
	for key, acks := range model {
		for _, a := range acks {
			if other, dup := seen[a.Rev]; dup {
				t.Errorf("revision %d acknowledged for both %s and %s", a.Rev, other, key)
			}
			seen[a.Rev] = key
		}
	}
}

// listAll reads every config entry of ns under prefix, page by page.
func listAll(t testing.TB, base, ns, prefix string) map[string]api.ConfigEntry {
	t.Helper()
	out := map[string]api.ConfigEntry{}
	after := ""
	for {
		q := url.Values{"limit": {"1000"}, "prefix": {prefix}, "after": {after}}
		var page api.ConfigList
		mustDo(t, http.MethodGet, base+"/v1/namespaces/"+ns+"/configs?"+q.Encode(), nil, &page, http.StatusOK)
		for _, e := range page.Items {
			if _, dup := out[e.Key]; dup {
				t.Fatalf("list %s: %s listed twice", ns, e.Key)
			}
			out[e.Key] = e
		}
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

// historyAll reads a key's whole history, keyed by revision.
func historyAll(base, ns, key string) (map[uint64]api.Event, error) {
	out := map[uint64]api.Event{}
	before := uint64(0)
	for {
		q := url.Values{"limit": {"1000"}}
		if before != 0 {
			q.Set("before", strconv.FormatUint(before, 10))
		}
		u := base + "/v1/namespaces/" + ns + "/history/" + key + "?" + q.Encode()
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		status, _, b, err := doHTTP(ctx, http.MethodGet, u, nil, nil)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("GET %s: %v", u, err)
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET %s: status %d: %s", u, status, b)
		}
		var h api.History
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, fmt.Errorf("GET %s: %v in %s", u, err, b)
		}
		for _, ev := range h.Items {
			if ev.Key != key {
				return nil, fmt.Errorf("GET %s: event of key %q", u, ev.Key)
			}
			out[ev.Revision] = ev
		}
		if h.Next == 0 || len(h.Items) == 0 {
			return out, nil
		}
		before = h.Next
	}
}
