package systemtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// TestFault_KillLeaderUnderLoad_Processes: kill -9 the leader of a
// three-process cluster under write load.
func TestFault_KillLeaderUnderLoad_Processes(t *testing.T) {
	needBinary(t)
	c := newProcCluster(t, procClusterOptions{ExtraArgs: faultClusterArgs()})
	scenarioKillLeaderUnderLoad(t, c, killLoadParams{
		Writers: 12, HotKeys: 6, Load: 2 * time.Second, Down: 3 * time.Second,
		MaxFailover: 10 * time.Second,
	})
}

// killLoadParams sizes scenarioKillLeaderUnderLoad.
type killLoadParams struct {
	Writers     int           // concurrent writers, spread over every node
	HotKeys     int           // keys every writer overwrites (the rest are written once)
	Load        time.Duration // load before the kill, while the node is down, and after its restart
	Down        time.Duration // how long the old leader stays down
	MaxFailover time.Duration // a new leader must serve writes within this
}

// scenarioKillLeaderUnderLoad: writers load every node; the leader is
// killed with SIGKILL; a new leader must serve writes within MaxFailover;
// the old leader is restarted; then no acknowledged write may be missing
// and every node must hold the same state once applied indexes match.
func scenarioKillLeaderUnderLoad(t *testing.T, c faultCluster, p killLoadParams) {
	const ns = "killload"
	setupFaultNamespace(t, c.URL(c.Nodes()[0]), ns)

	var (
		stop                         atomic.Bool
		wg                           sync.WaitGroup
		mu                           sync.Mutex
		acked                        = map[string][]ackedWrite{}
		nAcked, nUnk, nRefuse, nDown atomic.Int64
	)
	nodes := c.Nodes()
	for i := range p.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := nodes[i%len(nodes)]
			for n := 0; !stop.Load(); n++ {
				key := fmt.Sprintf("w%02d/%06d", i, n)
				if n%3 == 2 {
					key = fmt.Sprintf("hot/%d", (i+n)%p.HotKeys)
				}
				value := fmt.Sprintf(`{"w":"w%d-%d"}`, i, n)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				status, _, b, err := doHTTP(ctx, http.MethodPut, c.URL(node)+"/v1/namespaces/"+ns+"/configs/"+key,
					`{"schema":"item@1","value":`+value+`}`, nil)
				cancel()
				var e api.ConfigEntry
				if err == nil && (status == http.StatusOK || status == http.StatusCreated) && json.Unmarshal(b, &e) == nil {
					mu.Lock()
					acked[key] = append(acked[key], ackedWrite{Key: key, Rev: e.ModifyRevision, Value: []byte(value)})
					mu.Unlock()
					nAcked.Add(1)
					continue
				}
				switch {
				case err != nil && errors.Is(err, syscall.ECONNREFUSED):
					nDown.Add(1)
				case err == nil && status == http.StatusServiceUnavailable && jsonCode(b) == api.CodeNoLeader:
					nRefuse.Add(1)
				default:
					nUnk.Add(1)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	time.Sleep(p.Load)
	leader, term, _ := waitLeader(t, c, c.Voters(), 0, 30*time.Second)
	before := nAcked.Load()
	survivors := others(c.Voters(), leader)
	killed := time.Now()
	c.Kill(t, leader)
	t.Logf("killed the leader %s (term %d) with SIGKILL after %d acknowledged writes", leader, term, before)

	// Probe: a write through each survivor in turn until one is answered.
	var served time.Duration
	for i := 0; ; i++ {
		node := survivors[i%len(survivors)]
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		status, _, _, err := doHTTP(ctx, http.MethodPut, c.URL(node)+"/v1/namespaces/"+ns+"/configs/probe/"+fmt.Sprint(i),
			`{"schema":"item@1","value":{"w":"probe"}}`, nil)
		cancel()
		if err == nil && (status == http.StatusOK || status == http.StatusCreated) {
			served = time.Since(killed)
			break
		}
		if time.Since(killed) > p.MaxFailover {
			t.Fatalf("no write served within %v of killing the leader %s (last: status %d, err %v)", p.MaxFailover, leader, status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	newLeader, newTerm, seen := waitLeader(t, c, survivors, term, 30*time.Second)
	elected := seen.Sub(killed)
	t.Logf("FAILOVER: %s leads in term %d; a write was served %v after the kill (leader claim seen after %v)", newLeader, newTerm, served.Round(time.Millisecond), elected.Round(time.Millisecond))

	if d := time.Until(killed.Add(p.Down)); d > 0 {
		time.Sleep(d)
	}
	c.Restart(t, leader)
	t.Logf("restarted %s after %v", leader, time.Since(killed).Round(time.Millisecond))
	time.Sleep(p.Load)
	stop.Store(true)
	wg.Wait()
	during := nAcked.Load() - before

	waitClusterFormed(t, c, time.Minute)
	idx := waitConverged(t, c, time.Minute)
	states := compareNodeStates(t, c, ns)
	final := states[c.Nodes()[0]][ns]

	lost := 0
	for key, acks := range acked {
		newest := slices.MaxFunc(acks, func(a, b ackedWrite) int { return int(a.Rev) - int(b.Rev) })
		e, ok := final[key]
		var problem string
		switch {
		case !ok:
			problem = fmt.Sprintf("%s: acknowledged at revision %d, missing", key, newest.Rev)
		case e.ModifyRevision < newest.Rev:
			problem = fmt.Sprintf("%s: at revision %d, older than the acknowledged %d", key, e.ModifyRevision, newest.Rev)
		case e.ModifyRevision == newest.Rev && !jsonEqual(e.Value, newest.Value):
			problem = fmt.Sprintf("%s: at revision %d holds %s, acknowledged %s", key, e.ModifyRevision, e.Value, newest.Value)
		}
		if problem != "" {
			lost++
			if lost <= 20 {
				t.Errorf("LOST ACKNOWLEDGED WRITE: %s", problem)
			}
		}
	}
	checkDistinctRevisions(t, acked)
	t.Logf("SUMMARY: %d writes acknowledged (%d after the kill), %d indeterminate, %d refused with no_leader; %d keys; failover: write served after %v, leader seen after %v; "+
		"%d refused by the killed node (connection refused); %d acknowledged keys lost; all %d nodes identical at applied index %d",
		nAcked.Load(), during, nUnk.Load(), nRefuse.Load(), len(acked), served.Round(time.Millisecond), elected.Round(time.Millisecond), nDown.Load(), lost, len(c.Nodes()), idx)
}

// jsonCode returns the error code of an error body, or "".
func jsonCode(b []byte) string {
	var eb api.ErrorBody
	if json.Unmarshal(b, &eb) != nil || eb.Error == nil {
		return ""
	}
	return eb.Error.Code
}

// compareNodeStates lists every config entry of each namespace on every
// node with consistency=stale (what that node holds) and reports any
// difference. Call it once applied indexes match and nothing writes. It
// returns node -> namespace -> key -> entry.
func compareNodeStates(t testing.TB, c faultCluster, namespaces ...string) map[string]map[string]map[string]api.ConfigEntry {
	t.Helper()
	out := map[string]map[string]map[string]api.ConfigEntry{}
	for _, n := range c.Nodes() {
		out[n] = map[string]map[string]api.ConfigEntry{}
		for _, ns := range namespaces {
			out[n][ns] = listStale(t, c.URL(n), ns)
		}
	}
	ref := c.Nodes()[0]
	entries := 0
	for _, ns := range namespaces {
		entries += len(out[ref][ns])
		for _, n := range c.Nodes()[1:] {
			diffs := 0
			a, b := out[ref][ns], out[n][ns]
			for key, ea := range a {
				eb, ok := b[key]
				var d string
				switch {
				case !ok:
					d = fmt.Sprintf("%s/%s: on %s at revision %d, missing on %s", ns, key, ref, ea.ModifyRevision, n)
				case ea.ModifyRevision != eb.ModifyRevision || ea.Version != eb.Version || !jsonEqual(ea.Value, eb.Value):
					d = fmt.Sprintf("%s/%s: %s has %s v%d @%d, %s has %s v%d @%d", ns, key, ref, ea.Value, ea.Version, ea.ModifyRevision, n, eb.Value, eb.Version, eb.ModifyRevision)
				}
				if d != "" {
					diffs++
					if diffs <= 10 {
						t.Errorf("NODES DIFFER: %s", d)
					}
				}
			}
			for key, eb := range b {
				if _, ok := a[key]; !ok {
					diffs++
					if diffs <= 10 {
						t.Errorf("NODES DIFFER: %s/%s: on %s at revision %d, missing on %s", ns, key, n, eb.ModifyRevision, ref)
					}
				}
			}
			if diffs > 0 {
				t.Errorf("%s and %s differ on %d keys of %s", ref, n, diffs, ns)
			}
		}
	}
	t.Logf("compared %d entries of %v on %d nodes", entries, namespaces, len(c.Nodes()))
	return out
}

// listStale reads every config entry of ns from one node's own state.
func listStale(t testing.TB, base, ns string) map[string]api.ConfigEntry {
	t.Helper()
	out := map[string]api.ConfigEntry{}
	after := ""
	for {
		q := url.Values{"limit": {"1000"}, "after": {after}, "consistency": {"stale"}}
		var page api.ConfigList
		mustDo(t, http.MethodGet, base+"/v1/namespaces/"+ns+"/configs?"+q.Encode(), nil, &page, http.StatusOK)
		for _, e := range page.Items {
			out[e.Key] = e
		}
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}
