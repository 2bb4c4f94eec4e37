package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/testport"
	"github.com/schemakv/schemakv/node"
)

// These tests run real multi-node clusters in one process: real raft over
// TCP on loopback, real gossip, real bbolt files, real HTTP.

type testCluster struct {
	t       testing.TB
	cfgs    []node.Config
	nodes   []*node.Node
	started []string // node IDs started at least once
}

// freeAddr returns a loopback address whose port is free now and outside
// the kernel's ephemeral range (see internal/testport), for gossip and raft
// addresses that others must know before the node starts.
func freeAddr(t testing.TB) string {
	t.Helper()
	a, err := testport.Addr("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func clusterConfig(t testing.TB, id string, expect int, join []string) node.Config {
	cfg := node.DefaultConfig()
	cfg.NodeID = id
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = freeAddr(t) // kept across restarts, like a real node
	cfg.GossipAddr = freeAddr(t)
	cfg.Join = join
	cfg.BootstrapExpect = expect
	cfg.Cluster.GossipFast = true
	// Short enough for quick tests, long enough that a loaded 2-core CI
	// machine (race detector, other packages' tests) rarely misses one.
	cfg.Cluster.HeartbeatTimeout = 500 * time.Millisecond
	cfg.Cluster.ElectionTimeout = 500 * time.Millisecond
	cfg.Cluster.LeaderLeaseTimeout = 250 * time.Millisecond
	cfg.Cluster.ReconcileInterval = 200 * time.Millisecond
	cfg.Cluster.RaftLogLevel = "error"
	// Every node knows the bootstrap admin token, as the system tests'
	// processes do; whichever leads first creates it.
	cfg.Auth.BootstrapToken = testAdminToken
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() && os.Getenv("SCHEMAKV_TEST_LOGS") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", id)
	}
	return cfg
}

func startCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	return startClusterWith(t, n, nil)
}

// startClusterWith starts a cluster of n nodes whose configurations tune
// has changed (nil: none).
func startClusterWith(t testing.TB, n int, tune func(*node.Config)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t}
	var gossip []string
	for i := 0; i < n; i++ {
		cfg := clusterConfig(t, fmt.Sprintf("n%d", i+1), n, nil)
		if tune != nil {
			tune(&cfg)
		}
		gossip = append(gossip, cfg.GossipAddr)
		tc.cfgs = append(tc.cfgs, cfg)
	}
	tc.nodes = make([]*node.Node, n)
	for i := range tc.cfgs {
		tc.cfgs[i].Join = gossip
		tc.start(i)
	}
	t.Cleanup(tc.closeAll)
	tc.waitLeader()
	tc.waitAuth()
	return tc
}

// waitAuth waits until every node has applied the bootstrap admin token,
// which the first leader creates after the election.
func (tc *testCluster) waitAuth() {
	tc.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i = (i + 1) % len(tc.nodes) {
		all := true
		for _, n := range tc.nodes {
			all = all && (n == nil || n.Store().View().AuthBootstrapped())
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			tc.t.Fatal("the bootstrap admin token did not reach every node in 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tc *testCluster) start(i int) {
	tc.t.Helper()
	for attempt := 0; ; attempt++ {
		n, err := node.Start(context.Background(), tc.cfgs[i])
		if err == nil {
			tc.nodes[i] = n
			tc.started = append(tc.started, tc.cfgs[i].NodeID)
			return
		}
		// A port picked free can be taken by another test before the node
		// binds it; before a node's first start its addresses may change.
		if strings.Contains(err.Error(), "address already in use") && attempt < 5 && !tc.startedBefore(tc.cfgs[i].NodeID) {
			tc.cfgs[i].RaftAddr, tc.cfgs[i].GossipAddr = freeAddr(tc.t), freeAddr(tc.t)
			continue
		}
		tc.t.Fatalf("start %s: %v", tc.cfgs[i].NodeID, err)
	}
}

func (tc *testCluster) startedBefore(id string) bool {
	for _, s := range tc.started {
		if s == id {
			return true
		}
	}
	return false
}

// add starts one more node that joins the cluster.
func (tc *testCluster) add(id string, replica bool) int {
	tc.t.Helper()
	cfg := clusterConfig(tc.t, id, 0, []string{tc.cfgs[0].GossipAddr, tc.cfgs[1].GossipAddr})
	cfg.ReadReplica = replica
	tc.cfgs = append(tc.cfgs, cfg)
	tc.nodes = append(tc.nodes, nil)
	tc.start(len(tc.nodes) - 1)
	return len(tc.nodes) - 1
}

func (tc *testCluster) stop(i int) {
	tc.t.Helper()
	if err := tc.nodes[i].Close(); err != nil {
		tc.t.Logf("close %s: %v", tc.cfgs[i].NodeID, err)
	}
	tc.nodes[i] = nil
}

func (tc *testCluster) closeAll() {
	for i, n := range tc.nodes {
		if n != nil {
			_ = n.Close()
			tc.nodes[i] = nil
		}
	}
}

// waitLeader polls until exactly one running node leads and every running
// node knows it; it returns the leader's index.
func (tc *testCluster) waitLeader() int {
	tc.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		leader, agree := -1, true
		for i, n := range tc.nodes {
			if n == nil {
				continue
			}
			if n.Cluster().IsLeader() {
				if leader >= 0 {
					agree = false
				}
				leader = i
			}
		}
		if leader >= 0 && agree {
			want := tc.cfgs[leader].NodeID
			for _, n := range tc.nodes {
				if n != nil && n.Cluster().Status().Leader != want {
					agree = false
				}
			}
			if agree {
				return leader
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tc.t.Fatal("no single leader known to every node within 15s")
	return -1
}

func (tc *testCluster) follower() int {
	l := tc.waitLeader()
	for i, n := range tc.nodes {
		if n != nil && i != l {
			return i
		}
	}
	tc.t.Fatal("no follower")
	return -1
}

func (tc *testCluster) url(i int) string { return tc.nodes[i].HTTPURL() }

// testAdminToken is the bootstrap admin token of the test clusters.
const testAdminToken = "skv_node-test-admin-token-0123456789abcdef"

// call makes an HTTP request and decodes the JSON answer into out.
func call(t testing.TB, method, url string, body any, out any) (int, http.Header) {
	t.Helper()
	return callAs(t, testAdminToken, method, url, body, out)
}

// callAs is call with another bearer token ("" sends none).
func callAs(t testing.TB, token, method, url string, body any, out any) (int, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, raw, err)
		}
	}
	if resp.StatusCode >= 300 && out == nil {
		t.Logf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header
}

// mustOK makes a request that must succeed. A 503 (no leader, or an
// outcome that is unknown because leadership moved: a loaded machine can
// trigger an election) is retried for up to 15s; these tests' writes are
// idempotent or checked by value, and a create that had in fact happened
// then answers 409, which counts as done.
func mustOK(t testing.TB, method, url string, body any, out any) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	retried := false
	for {
		st, _ := call(t, method, url, body, out)
		switch {
		case st < 300:
			return
		case st == http.StatusConflict && retried:
			return
		case st == http.StatusServiceUnavailable && time.Now().Before(deadline):
			retried = true
			time.Sleep(100 * time.Millisecond)
			continue
		}
		t.Fatalf("%s %s: status %d", method, url, st)
	}
}

func setup(t testing.TB, base string) {
	t.Helper()
	mustOK(t, http.MethodPut, base+"/v1/namespaces/app", nil, nil)
	mustOK(t, http.MethodPost, base+"/v1/namespaces/app/schemas/s", map[string]any{
		"schema": map[string]any{"type": "object", "properties": map[string]any{"n": map[string]any{"type": "integer"}}},
	}, nil)
}

func put(t testing.TB, base, key string, n int) api.ConfigEntry {
	t.Helper()
	var e api.ConfigEntry
	mustOK(t, http.MethodPut, base+"/v1/namespaces/app/configs/"+key, map[string]any{"schema": "s@1", "value": map[string]any{"n": n}}, &e)
	return e
}

func TestCluster_WritesOnAnyNodeAreReadOnEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node")
	}
	tc := startCluster(t, 3)
	setup(t, tc.url(tc.follower()))
	// A write acknowledged by any node is visible to the next linearizable
	// read on every node, at once.
	for i := 0; i < 30; i++ {
		w := i % 3
		e := put(t, tc.url(w), "k", i)
		for r := range tc.nodes {
			var got api.ConfigEntry
			mustOK(t, http.MethodGet, tc.url(r)+"/v1/namespaces/app/configs/k", nil, &got)
			if got.ModifyRevision != e.ModifyRevision || !strings.Contains(string(got.Value), fmt.Sprint(i)) {
				t.Fatalf("write %d via n%d at revision %d; linearizable read on n%d saw revision %d value %s",
					i, w+1, e.ModifyRevision, r+1, got.ModifyRevision, got.Value)
			}
		}
	}
	// Stale reads carry freshness headers.
	_, h := call(t, http.MethodGet, tc.url(tc.follower())+"/v1/namespaces/app/configs/k?consistency=stale", nil, &api.ConfigEntry{})
	if h.Get("X-Schemakv-Known-Leader") != "true" || h.Get("X-Schemakv-Last-Contact") == "" {
		t.Fatalf("stale read headers: %v", h)
	}
	var cs api.ClusterStatus
	mustOK(t, http.MethodGet, tc.url(0)+"/v1/cluster", nil, &cs)
	voters := 0
	for _, m := range cs.Members {
		if m.Suffrage == "voter" && m.Reachable {
			voters++
		}
	}
	if voters != 3 || cs.Leader == "" {
		t.Fatalf("cluster status: %+v", cs)
	}
}

func TestCluster_LeaderLossAndCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node")
	}
	tc := startCluster(t, 3)
	setup(t, tc.url(0))
	for i := 0; i < 20; i++ {
		put(t, tc.url(i%3), fmt.Sprintf("before-%d", i), i)
	}
	old := tc.waitLeader()
	start := time.Now()
	tc.stop(old)
	leader := tc.waitLeader()
	t.Logf("new leader n%d after %v", leader+1, time.Since(start).Round(time.Millisecond))
	for i := 0; i < 20; i++ {
		put(t, tc.url(leader), fmt.Sprintf("after-%d", i), i)
	}
	tc.start(old) // same data dir and addresses: it rejoins and catches up
	waitSameState(t, tc)
}

func TestCluster_SnapshotInstallCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node")
	}
	tc := &testCluster{t: t}
	var gossip []string
	for i := 0; i < 3; i++ {
		cfg := clusterConfig(t, fmt.Sprintf("n%d", i+1), 3, nil)
		cfg.Cluster.SnapshotThreshold = 64
		cfg.Cluster.TrailingLogs = 16
		cfg.Cluster.SnapshotInterval = 200 * time.Millisecond
		gossip = append(gossip, cfg.GossipAddr)
		tc.cfgs = append(tc.cfgs, cfg)
	}
	tc.nodes = make([]*node.Node, 3)
	for i := range tc.cfgs {
		tc.cfgs[i].Join = gossip
		tc.start(i)
	}
	t.Cleanup(tc.closeAll)
	tc.waitLeader()
	tc.waitAuth()
	setup(t, tc.url(tc.waitLeader()))
	f := tc.follower()
	tc.stop(f)
	leader := tc.waitLeader()
	for b := 0; b < 10; b++ { // 10 batches of 50: far past TrailingLogs
		req := api.BatchRequest{}
		for j := 0; j < 50; j++ {
			req.Ops = append(req.Ops, api.BatchOp{Op: "put", Namespace: "app", Key: fmt.Sprintf("b%d/k%d", b, j), Schema: "s@1", Value: json.RawMessage(fmt.Sprint(`{"n":`, j, `}`))})
		}
		mustOK(t, http.MethodPost, tc.url(leader)+"/v1/batch", req, nil)
		for j := 0; j < 10; j++ { // single entries so the log grows past the threshold
			put(t, tc.url(leader), fmt.Sprintf("single-%d-%d", b, j), j)
		}
	}
	if err := tc.nodes[leader].Cluster().Snapshot(); err != nil {
		t.Logf("explicit snapshot: %v (a periodic one may already cover it)", err)
	}
	var logs syncBuffer
	tc.cfgs[f].Logger = slog.New(slog.NewTextHandler(&logs, nil))
	tc.start(f)
	waitSameState(t, tc)
	// The log it missed was compacted away: it must have caught up by
	// installing the leader's snapshot, not by replaying entries.
	if !strings.Contains(logs.String(), "restored state from snapshot") {
		t.Fatalf("follower caught up without a snapshot install; its log:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCluster_ReplicaAndNewVoter(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node")
	}
	tc := startCluster(t, 3)
	setup(t, tc.url(0))
	put(t, tc.url(1), "x", 1)
	r := tc.add("r1", true)
	v := tc.add("n4", false)
	deadline := time.Now().Add(15 * time.Second)
	for {
		var cs api.ClusterStatus
		mustOK(t, http.MethodGet, tc.url(0)+"/v1/cluster", nil, &cs)
		got := map[string]string{}
		for _, m := range cs.Members {
			got[m.ID] = m.Suffrage
		}
		if got["r1"] == "nonvoter" && got["n4"] == "voter" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want r1 nonvoter and n4 promoted to voter; got %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The replica serves linearizable reads and forwards writes.
	e := put(t, tc.url(r), "y", 2)
	var got api.ConfigEntry
	mustOK(t, http.MethodGet, tc.url(v)+"/v1/namespaces/app/configs/y", nil, &got)
	if got.ModifyRevision != e.ModifyRevision {
		t.Fatalf("read on new voter: revision %d, want %d", got.ModifyRevision, e.ModifyRevision)
	}
	time.Sleep(time.Second) // several reconcile rounds: the replica must stay a non-voter
	var cs api.ClusterStatus
	mustOK(t, http.MethodGet, tc.url(0)+"/v1/cluster", nil, &cs)
	for _, m := range cs.Members {
		if m.ID == "r1" && m.Suffrage != "nonvoter" {
			t.Fatalf("replica promoted: %+v", m)
		}
	}
	// Shrink at once: stop n4, remove it through a follower (forwarded).
	tc.stop(v)
	mustOK(t, http.MethodDelete, tc.url(tc.follower())+"/v1/cluster/members/n4", nil, nil)
	// Asked of the leader: a follower learns of the removal only when the
	// configuration entry reaches it, which may be after the answer.
	for i := 0; ; i++ { // several reconcile rounds: it must stay out
		mustOK(t, http.MethodGet, tc.url(tc.waitLeader())+"/v1/cluster", nil, &cs)
		for _, m := range cs.Members {
			if m.ID == "n4" && m.Suffrage != "none" {
				t.Fatalf("n4 in raft's configuration after removal: %+v", m)
			}
		}
		if i == 5 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	put(t, tc.url(r), "z", 3) // 3 voters of 3 again: writes commit
	if st, _ := call(t, http.MethodDelete, tc.url(0)+"/v1/cluster/members/nobody", nil, nil); st != http.StatusNotFound {
		t.Fatalf("removing an unknown member: status %d, want 404", st)
	}
}

func TestCluster_WipedNodeDoesNotBootstrapASecondCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node")
	}
	tc := startCluster(t, 3)
	setup(t, tc.url(0))
	put(t, tc.url(0), "x", 1)
	f := tc.follower()
	tc.stop(f)
	// Same identity and addresses, empty data, still --bootstrap-expect 3.
	tc.cfgs[f].DataDir = t.TempDir()
	tc.start(f)
	waitSameState(t, tc)
	leaders := map[string]bool{}
	for _, n := range tc.nodes {
		leaders[n.Cluster().Status().Leader] = true
	}
	if len(leaders) != 1 {
		t.Fatalf("nodes disagree on the leader: %v", leaders)
	}
}

// waitSameState waits until every running node has applied the same index
// and holds the same config entries.
func waitSameState(t *testing.T, tc *testCluster) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var dumps []string
		for _, n := range tc.nodes {
			if n == nil {
				continue
			}
			v := n.Store().View()
			items, _ := v.ListConfigs("app", "", "", 100000)
			var b strings.Builder
			fmt.Fprintf(&b, "applied=%d entries=%d\n", v.Revision(), len(items))
			keys := make([]string, 0, len(items))
			for _, e := range items {
				keys = append(keys, fmt.Sprintf("%s@%d=%s", e.Key, e.ModifyRevision, e.Value))
			}
			sort.Strings(keys)
			b.WriteString(strings.Join(keys, "\n"))
			dumps = append(dumps, b.String())
		}
		same := true
		for _, d := range dumps[1:] {
			if d != dumps[0] {
				same = false
			}
		}
		if same && !strings.HasPrefix(dumps[0], "applied=0 ") {
			return
		}
		if time.Now().After(deadline) {
			for i, d := range dumps {
				t.Logf("node %d: %.300s", i, d)
			}
			t.Fatal("nodes did not converge to the same state within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
