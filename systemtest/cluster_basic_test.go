package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// TestCluster_Processes checks the process cluster kind itself: a write on
// a follower is read back linearizably on every node, and (where iptables
// can be used) isolating the leader makes the others elect a new leader
// while the isolated node refuses linearizable reads, and healing brings
// every node to the same applied index.
func TestCluster_Processes(t *testing.T) {
	needBinary(t)
	c := newProcCluster(t, procClusterOptions{ReadReplica: true})
	setupFaultNamespace(t, c.URL(c.Nodes()[0]), "basic")

	leader, term, _ := currentLeader(c, c.Nodes())
	follower := others(c.Voters(), leader)[0]
	e := putValue(t, c.URL(follower), "basic", "k", "from-follower")
	for _, n := range c.Nodes() {
		var got api.ConfigEntry
		mustDo(t, http.MethodGet, c.URL(n)+"/v1/namespaces/basic/configs/k", nil, &got, http.StatusOK)
		if got.ModifyRevision != e.ModifyRevision {
			t.Errorf("%s: k at revision %d, written at %d", n, got.ModifyRevision, e.ModifyRevision)
		}
	}

	if ok, why := c.CanPartition(); !ok {
		t.Logf("!!! SKIPPING the partition part of TestCluster_Processes: %s", why)
		return
	}
	start := time.Now()
	c.Partition(t, leader)
	newLeader, newTerm, seen := waitLeader(t, c, others(c.Voters(), leader), term, 20*time.Second)
	t.Logf("isolated leader %s (term %d): %s leads in term %d after %v", leader, term, newLeader, newTerm, seen.Sub(start).Round(time.Millisecond))
	putValue(t, c.URL(newLeader), "basic", "k", "during-partition")

	// The isolated node must not answer a linearizable read from its stale
	// state: it fails (no leader, timeout) or, should it answer, it must not
	// be the old value.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	status, _, b, err := doHTTP(ctx, http.MethodGet, c.URL(leader)+"/v1/namespaces/basic/configs/k", nil, nil)
	cancel()
	if err == nil && status == http.StatusOK {
		var got api.ConfigEntry
		_ = json.Unmarshal(b, &got)
		if string(got.Value) != `{"w":"during-partition"}` {
			t.Errorf("isolated node %s answered a linearizable read with the stale %s", leader, got.Value)
		}
	} else {
		t.Logf("isolated node %s refused a linearizable read: status %d, err %v, %s", leader, status, err, b)
	}

	c.Heal(t)
	healed := time.Now()
	waitClusterFormed(t, c, 60*time.Second)
	idx := waitConverged(t, c, 30*time.Second)
	t.Logf("healed: cluster formed and converged at applied index %d after %v", idx, time.Since(healed).Round(time.Millisecond))
}

// faultSchema accepts the values the fault workloads write: {"w": "..."}.
const faultSchema = `{"schema": {"type": "object", "properties": {"w": {"type": "string"}}, "required": ["w"]}}`

// setupFaultNamespace creates namespace ns with schema item@1.
func setupFaultNamespace(t testing.TB, base, ns string) {
	t.Helper()
	mustDo(t, http.MethodPut, base+"/v1/namespaces/"+ns, `{"description": "fault tests"}`, nil, http.StatusCreated)
	mustDo(t, http.MethodPost, base+"/v1/namespaces/"+ns+"/schemas/item", faultSchema, nil, http.StatusCreated)
}

// putValue writes {"w": w} to ns/key and returns the entry.
func putValue(t testing.TB, base, ns, key, w string) api.ConfigEntry {
	t.Helper()
	var e api.ConfigEntry
	body := fmt.Sprintf(`{"schema": "item@1", "value": {"w": %q}}`, w)
	mustDo(t, http.MethodPut, base+"/v1/namespaces/"+ns+"/configs/"+key, body, &e, http.StatusOK, http.StatusCreated)
	return e
}

// TestCluster_FollowersReadyWhenIdle: once a three-voter cluster has
// elected a leader, every node must answer /v1/ready with 200, even if
// nothing is written. (Before 8fa7aaa a follower compared its FSM's
// applied index with raft's commit index; the leader's no-op and barrier
// entries after an election are committed but never reach the FSM, so an
// idle follower stayed "no_leader: applied 1 of 3 committed entries".)
func TestCluster_FollowersReadyWhenIdle(t *testing.T) {
	needBinary(t)
	c := newProcClusterUnformed(t, procClusterOptions{})
	deadline := time.Now().Add(15 * time.Second)
	for clusterFormed(c, false) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("PRODUCT BUG: idle cluster not ready within 15s of starting, without writes: %s", clusterFormed(c, false))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
