package node_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/schemakv/schemakv/node"
)

// TestCluster_TombstonesAreReaped: on a 3-node cluster with a short
// tombstone TTL, the leader reaps the tombstones of deleted keys on every
// node, and the answers about the deleted keys keep their revisions: a
// blocking query that waits past a delete's revision does not get a lower
// index back.
func TestCluster_TombstonesAreReaped(t *testing.T) {
	tc := startClusterWith(t, 3, func(c *node.Config) { c.TombstoneTTL = 300 * time.Millisecond })
	base := tc.url(tc.waitLeader())
	setup(t, base)
	var deletes []uint64
	for i := range 20 {
		key := fmt.Sprintf("gone/k%d", i)
		put(t, base, key, i)
		code, h := call(t, http.MethodDelete, base+"/v1/namespaces/app/configs/"+key, nil, nil)
		if code != http.StatusOK && code != http.StatusNoContent {
			t.Fatalf("delete %s: %d", key, code)
		}
		rev, err := strconv.ParseUint(h.Get("X-Schemakv-Index"), 10, 64)
		if err != nil {
			t.Fatalf("delete %s: index header %q", key, h.Get("X-Schemakv-Index"))
		}
		deletes = append(deletes, rev)
	}
	// A tombstone lives at least the TTL: the last delete's is there.
	if got := tc.nodes[tc.waitLeader()].Store().View().ConfigTombstones(); got == 0 {
		t.Fatal("the leader holds no tombstone right after the deletes")
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < len(tc.nodes); {
		if tc.nodes[i].Store().View().ConfigTombstones() == 0 {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d still holds %d tombstones 20s after the deletes", i, tc.nodes[i].Store().View().ConfigTombstones())
		}
		time.Sleep(50 * time.Millisecond)
	}
	last := deletes[len(deletes)-1]
	for i, n := range tc.nodes {
		v := n.Store().View()
		for j, rev := range deletes {
			if got := v.ConfigRevision("app", fmt.Sprintf("gone/k%d", j), nil); got < rev {
				t.Fatalf("node %d: gone/k%d answers at revision %d, below its delete's %d", i, j, got, rev)
			}
		}
		// A blocking read of a deleted key at its delete's revision waits
		// (nothing changed since) rather than answering with a lower one.
		start := time.Now()
		code, h := call(t, http.MethodGet, fmt.Sprintf("%s/v1/namespaces/app/configs/gone/k19?index=%d&wait=300ms&consistency=stale", tc.url(i), last), nil, nil)
		idx, _ := strconv.ParseUint(h.Get("X-Schemakv-Index"), 10, 64)
		if code != http.StatusNotFound || idx < last || time.Since(start) < 250*time.Millisecond {
			t.Fatalf("node %d: blocking read of a reaped key: %d, index %d (delete at %d) after %s", i, code, idx, last, time.Since(start))
		}
	}
}
