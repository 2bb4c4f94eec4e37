package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// faultCluster is a running multi-node deployment that the fault scenarios
// drive: the HTTP API of each node, and the faults a node suffers. Scenarios
// (scenarioLinearizable, scenarioKillLeaderUnderLoad) are written once
// against it; procCluster runs each node as a local process on its own
// loopback address, and a Docker kind (containers, `docker kill`, `docker
// pause`, `docker network disconnect`) is meant to implement the same
// methods.
//
// Node names are the nodes' --node-id values, which is also what
// GET /v1/cluster reports as the leader. Methods that take a testing.TB may
// call Fatal and belong on the test's goroutine; Nodes, Voters, URL and
// Logs may be called from any goroutine.
type faultCluster interface {
	// Nodes lists every node, voters first, then read replicas.
	Nodes() []string
	// Voters lists the voting nodes.
	Voters() []string
	// URL is a node's HTTP API base URL (http://127.0.0.11:7400). It stays
	// the same across restarts.
	URL(node string) string
	// Kill kills a node abruptly (SIGKILL, `docker kill`) and returns once
	// it is gone; its data stays.
	Kill(t testing.TB, node string)
	// Restart starts a killed or stopped node again on its data with the
	// same flags and returns once its API answers /v1/health.
	Restart(t testing.TB, node string)
	// Pause freezes a node (SIGSTOP, `docker pause`); Resume thaws it.
	Pause(t testing.TB, node string)
	Resume(t testing.TB, node string)
	// CanPartition reports whether Partition works here, and why not.
	CanPartition() (bool, string)
	// Partition cuts the raft and gossip traffic between node and every
	// other node, both ways; clients still reach its HTTP API. Heal undoes
	// every partition.
	Partition(t testing.TB, node string)
	Heal(t testing.TB)
	// Logs returns what a node logged so far, across its restarts.
	Logs(node string) string
}

// nodeView is what one node says about the cluster (GET /v1/cluster).
type nodeView struct {
	Node   string
	Status api.ClusterStatus
	Err    error
}

// clusterViews asks every listed node for GET /v1/cluster concurrently,
// each with the given timeout.
func clusterViews(c faultCluster, nodes []string, timeout time.Duration) []nodeView {
	out := make([]nodeView, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = nodeView{Node: n}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			status, _, b, err := doHTTP(ctx, http.MethodGet, c.URL(n)+"/v1/cluster", nil, nil)
			switch {
			case err != nil:
				out[i].Err = err
			case status != http.StatusOK:
				out[i].Err = fmt.Errorf("GET /v1/cluster: status %d: %s", status, b)
			default:
				out[i].Err = json.Unmarshal(b, &out[i].Status)
			}
		}()
	}
	wg.Wait()
	return out
}

// currentLeader returns the node that claims leadership in the highest
// term among nodes, with that term; ok is false when no answering node
// claims to lead. A node's claim comes from its /v1/health (which answers
// at once) and its term from its /v1/cluster (which waits for peers, up to
// 2s when one is unreachable), asked only of claimants.
func currentLeader(c faultCluster, nodes []string) (leader string, term uint64, ok bool) {
	return leaderOf(c, claimants(c, nodes))
}

// claimants returns the nodes whose /v1/health says they lead.
func claimants(c faultCluster, nodes []string) []string {
	var out []string
	for n, h := range healths(c, nodes, time.Second) {
		if h.Leader && h.NodeID == n {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// leaderOf returns the claimant that leads in the highest term.
func leaderOf(c faultCluster, claimants []string) (leader string, term uint64, ok bool) {
	for _, v := range clusterViews(c, claimants, 5*time.Second) {
		if v.Err != nil || v.Status.Leader != v.Node {
			continue
		}
		if !ok || v.Status.Term > term {
			leader, term, ok = v.Node, v.Status.Term, true
		}
	}
	return leader, term, ok
}

// waitLeader polls until one of nodes claims leadership (in a term above
// minTerm, when minTerm > 0) and returns it with its term and the time its
// claim was first seen.
func waitLeader(t testing.TB, c faultCluster, nodes []string, minTerm uint64, timeout time.Duration) (string, uint64, time.Time) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		seen := time.Now()
		if l, term, ok := leaderOf(c, claimants(c, nodes)); ok && term > minTerm {
			return l, term, seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader among %v (term > %d) within %v", nodes, minTerm, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healths asks every listed node for /v1/health concurrently; nodes that
// do not answer 200 in time are left out.
func healths(c faultCluster, nodes []string, timeout time.Duration) map[string]api.Health {
	out := map[string]api.Health{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			status, _, b, err := doHTTP(ctx, http.MethodGet, c.URL(n)+"/v1/health", nil, nil)
			var h api.Health
			if err != nil || status != http.StatusOK || json.Unmarshal(b, &h) != nil {
				return
			}
			mu.Lock()
			out[n] = h
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// others returns nodes without the excluded ones.
func others(nodes []string, exclude ...string) []string {
	var out []string
	for _, n := range nodes {
		if !slices.Contains(exclude, n) {
			out = append(out, n)
		}
	}
	return out
}

// waitClusterFormed waits until every node agrees on one leader, raft's
// configuration holds each voter as a voter and each replica as a
// non-voter, a write through the leader succeeds, and then every node
// answers /v1/ready.
//
// The write is etcd's "final write" after a fault: the cluster must serve
// one. It also kept followers from staying "not ready" after an election
// until 8fa7aaa fixed readiness (TestCluster_FollowersReadyWhenIdle checks
// that fix without writing).
func waitClusterFormed(t testing.TB, c faultCluster, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		last = clusterFormed(c, true)
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not formed within %v: %s", timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var formedSeq atomic.Int64

// clusterFormed returns "" when the cluster is formed, else what is
// missing. With write, a namespace is created through the leader before
// the nodes are asked whether they are ready.
func clusterFormed(c faultCluster, write bool) string {
	views := clusterViews(c, c.Nodes(), 3*time.Second)
	leader := ""
	for _, v := range views {
		if v.Err != nil {
			return fmt.Sprintf("%s: %v", v.Node, v.Err)
		}
		if v.Status.Leader == "" {
			return v.Node + " knows no leader"
		}
		if leader != "" && v.Status.Leader != leader {
			return fmt.Sprintf("%s says %s leads, another node says %s", v.Node, v.Status.Leader, leader)
		}
		leader = v.Status.Leader
	}
	for _, v := range views {
		if v.Node != leader {
			continue
		}
		suffrage := map[string]string{}
		for _, m := range v.Status.Members {
			suffrage[m.ID] = m.Suffrage
		}
		for _, n := range c.Nodes() {
			want := "nonvoter"
			if slices.Contains(c.Voters(), n) {
				want = "voter"
			}
			if suffrage[n] != want {
				return fmt.Sprintf("leader %s has %s as %q, want %q", leader, n, suffrage[n], want)
			}
		}
	}
	if write {
		if !slices.Contains(c.Nodes(), leader) {
			return fmt.Sprintf("leader %q is not a node of the cluster", leader)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ns := fmt.Sprintf("formed-%d-%d", os.Getpid(), formedSeq.Add(1))
		status, _, b, err := doHTTP(ctx, http.MethodPut, c.URL(leader)+"/v1/namespaces/"+ns, `{"description": "written by the fault tests once the cluster is formed"}`, nil)
		cancel()
		if err != nil || status != http.StatusCreated {
			return fmt.Sprintf("write through the leader %s: status %d, err %v, %s", leader, status, err, b)
		}
	}
	for _, n := range c.Nodes() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		status, _, b, err := doHTTP(ctx, http.MethodGet, c.URL(n)+"/v1/ready", nil, nil)
		cancel()
		if err != nil || status != http.StatusOK {
			return fmt.Sprintf("%s /v1/ready: status %d, err %v, %s", n, status, err, b)
		}
	}
	return ""
}

// appliedIndexes returns each node's applied index from /v1/health; a node
// that does not answer is left out.
func appliedIndexes(c faultCluster, nodes []string) map[string]uint64 {
	out := map[string]uint64{}
	for n, h := range healths(c, nodes, 2*time.Second) {
		out[n] = h.Applied
	}
	return out
}

// waitConverged waits until every node answers and all applied indexes are
// equal, and returns that index.
func waitConverged(t testing.TB, c faultCluster, timeout time.Duration) uint64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		idx := appliedIndexes(c, c.Nodes())
		if len(idx) == len(c.Nodes()) {
			var first uint64
			same := true
			for i, n := range c.Nodes() {
				if i == 0 {
					first = idx[n]
				}
				same = same && idx[n] == first
			}
			if same {
				return first
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("applied indexes did not converge within %v: %v", timeout, idx)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
