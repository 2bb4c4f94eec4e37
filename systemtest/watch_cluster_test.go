package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/node"
)

// startWatchCluster starts three in-process nodes that bootstrap together
// and waits for a leader.
func startWatchCluster(t *testing.T) []*node.Node {
	t.Helper()
	ports := freePorts(t, "127.0.0.1", 3)
	gossip := make([]string, 3)
	for i, p := range ports {
		gossip[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	nodes := make([]*node.Node, 3)
	errs := make(chan error, 3)
	for i := range nodes {
		cfg := node.DefaultConfig()
		cfg.NodeID = fmt.Sprintf("w%d", i+1)
		cfg.DataDir = t.TempDir()
		cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", gossip[i]
		cfg.BootstrapExpect = 3
		for j := range gossip {
			if j != i {
				cfg.Join = append(cfg.Join, gossip[j])
			}
		}
		cfg.Cluster.GossipFast = true
		cfg.Cluster.HeartbeatTimeout = 500 * time.Millisecond
		cfg.Cluster.ElectionTimeout = 500 * time.Millisecond
		cfg.Cluster.RaftLogLevel = "error"
		cfg.Auth.BootstrapToken = adminToken
		cfg.Logger = slog.New(slog.NewTextHandler(&tLogWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelError}))
		go func() {
			n, err := node.Start(context.Background(), cfg)
			nodes[i] = n
			errs <- err
		}()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Fatalf("node.Start: %v", err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if n != nil {
				_ = n.Close()
			}
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for leaderIndex(nodes) < 0 {
		if time.Now().After(deadline) {
			t.Fatal("no leader within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The first leader creates the admin token after the election.
	for _, n := range nodes {
		for !n.Store().View().AuthBootstrapped() {
			if time.Now().After(deadline) {
				t.Fatal("the bootstrap admin token did not reach every node within 20s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nodes
}

type tLogWriter struct{ t *testing.T }

func (w *tLogWriter) Write(p []byte) (int, error) { return len(p), nil }

func leaderIndex(nodes []*node.Node) int {
	for i, n := range nodes {
		if n != nil && n.Cluster() != nil && n.Cluster().IsLeader() {
			return i
		}
	}
	return -1
}

// TestWatchCluster_FollowerStreamAcrossLeaderCloseAndResumeElsewhere
// watches from a follower while the leader is closed and another is
// elected, and from the leader's own node with the other nodes as
// fall-backs: both must deliver every acknowledged change, in order, once.
func TestWatchCluster_FollowerStreamAcrossLeaderCloseAndResumeElsewhere(t *testing.T) {
	nodes := startWatchCluster(t)
	li := leaderIndex(nodes)
	fi := (li + 1) % 3
	gi := (li + 2) % 3
	ctx := context.Background()
	newClient := func(addrs ...string) *client.Client {
		c, err := client.New(client.Config{Address: addrs[0], Addresses: addrs[1:], Timeout: 10 * time.Second, Token: adminToken})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	url := func(i int) string { return nodes[i].HTTPURL() }
	writers := map[int]*client.Client{li: newClient(url(li)), fi: newClient(url(fi)), gi: newClient(url(gi))}

	ns, _, err := writers[li].Namespaces().Create(ctx, "wc", api.CreateNamespaceRequest{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := writers[li].Schemas().Register(ctx, "wc", "svc", api.RegisterSchemaRequest{Schema: json.RawMessage(`{"type":"object","additionalProperties":true}`)}, nil); err != nil {
		t.Fatal(err)
	}
	opts := client.WatchOptions{Namespace: "wc", Prefix: "k/", FromRevision: ns.CreateRevision, ProgressInterval: 500 * time.Millisecond}
	follower, err := newClient(url(fi)).Watch(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	moving, err := newClient(url(li), url(gi), url(fi)).Watch(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer moving.Close()

	var acked []uint64
	put := func(order []int, i int) {
		t.Helper()
		for attempt := 0; attempt < 50; attempt++ {
			for _, n := range order {
				if nodes[n] == nil {
					continue
				}
				e, _, err := writers[n].Configs().Put(ctx, "wc", fmt.Sprintf("k/%d", i%7),
					api.PutConfigRequest{Schema: "svc", Value: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}, nil)
				if err == nil {
					acked = append(acked, e.ModifyRevision)
					return
				}
				if client.IsCode(err, api.CodeOutcomeUnknown) {
					return // may or may not have committed: not required, allowed
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("put %d: no node accepted it", i)
	}
	for i := range 30 {
		put([]int{li, fi, gi}, i)
	}
	if err := nodes[li].Close(); err != nil {
		t.Logf("closing the leader: %v", err)
	}
	nodes[li] = nil
	for i := 30; i < 60; i++ {
		put([]int{fi, gi}, i)
	}
	last := acked[len(acked)-1]

	for name, w := range map[string]*client.Watcher{"follower": follower, "moving": moving} {
		var got []uint64
		deadline := time.After(20 * time.Second)
		for len(got) == 0 || got[len(got)-1] < last {
			select {
			case b, ok := <-w.C:
				if !ok {
					t.Fatalf("%s watch ended: %v", name, w.Err())
				}
				if n := len(got); n > 0 && b.Revision <= got[n-1] {
					t.Fatalf("%s: revision %d after %d: out of order or repeated", name, b.Revision, got[n-1])
				}
				got = append(got, b.Revision)
			case <-deadline:
				t.Fatalf("%s: got %d batches up to %v, want through %d", name, len(got), got[max(len(got)-1, 0):], last)
			}
		}
		seen := map[uint64]bool{}
		for _, r := range got {
			seen[r] = true
		}
		for _, r := range acked {
			if !seen[r] {
				t.Fatalf("%s: acknowledged revision %d missing from %v", name, r, got)
			}
		}
		t.Logf("%s: %d batches, %d acknowledged writes, all present in order", name, len(got), len(acked))
	}
}
