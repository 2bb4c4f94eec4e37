package node_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/indexbuild"
	"github.com/schemakv/schemakv/node"
)

func getIndex(t *testing.T, base string) api.Index {
	t.Helper()
	var d api.Index
	mustOK(t, http.MethodGet, base+"/v1/namespaces/app/indexes/n", nil, &d)
	return d
}

func queryKeys(t *testing.T, base string, v url.Values) ([]string, string) {
	t.Helper()
	var keys []string
	for {
		var l api.ConfigList
		mustOK(t, http.MethodGet, base+"/v1/namespaces/app/configs?"+v.Encode(), nil, &l)
		for _, e := range l.Items {
			keys = append(keys, e.Key)
		}
		if l.Next == "" {
			return keys, l.Plan
		}
		v.Set("after", l.Next)
	}
}

// TestCluster_IndexBuildSurvivesLeaderLoss declares an index over existing
// entries, stops the leader while the build is midway, and checks that the
// new leader finishes it from the replicated cursor, that writes during the
// build are indexed, and that every node, the restarted one included,
// answers queries the same.
func TestCluster_IndexBuildSurvivesLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node")
	}
	tc := startClusterWith(t, 3, func(c *node.Config) {
		c.IndexBuild = indexbuild.Config{ChunkSize: 10, Pause: 100 * time.Millisecond}
	})
	leader := tc.waitLeader()
	setup(t, tc.url(leader))
	const total = 300
	for b := 0; b < total/100; b++ {
		var ops []api.BatchOp
		for i := b * 100; i < (b+1)*100; i++ {
			ops = append(ops, api.BatchOp{Op: api.BatchPut, Namespace: "app", Key: fmt.Sprintf("k%03d", i), Schema: "s@1",
				Value: []byte(fmt.Sprintf(`{"n":%d}`, i%7))})
		}
		mustOK(t, http.MethodPost, tc.url(leader)+"/v1/batch", api.BatchRequest{Ops: ops}, nil)
	}
	var created api.Index
	mustOK(t, http.MethodPost, tc.url(leader)+"/v1/namespaces/app/indexes", api.CreateIndexRequest{Name: "n", Path: "n"}, &created)
	if created.State != api.IndexBuilding {
		t.Fatalf("created = %+v, want building", created)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		d := getIndex(t, tc.url(leader))
		if d.State == api.IndexReady {
			t.Fatalf("the build finished before the leader could be stopped: %+v", d)
		}
		if d.Processed >= 60 {
			t.Logf("stopping leader n%d at %d/%d (cursor %s)", leader+1, d.Processed, d.Total, d.Cursor)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("build made no progress: %+v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	tc.stop(leader)
	nl := tc.waitLeader()
	// The new leader must have something left to build, or the test would
	// not show that it resumes.
	if d := getIndex(t, tc.url(nl)); d.State != api.IndexBuilding {
		t.Fatalf("the old leader finished the build before it stopped: %+v", d)
	} else {
		t.Logf("new leader n%d takes over at %d/%d (cursor %s)", nl+1, d.Processed, d.Total, d.Cursor)
	}
	// Writes during the build, before and after the cursor.
	put(t, tc.url(nl), "k000", 3) // n was 0
	put(t, tc.url(nl), "k299", 3) // n was 5
	put(t, tc.url(nl), "zzz", 3)
	want := []string{"k000"}
	for i := 1; i < total-1; i++ {
		if i%7 == 3 {
			want = append(want, fmt.Sprintf("k%03d", i))
		}
	}
	want = append(want, "k299", "zzz")

	var d api.Index
	for deadline = time.Now().Add(30 * time.Second); ; {
		d = getIndex(t, tc.url(nl))
		if d.State == api.IndexReady {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new leader did not finish the build: %+v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("ready on n%d: %+v", nl+1, d)
	if d.Entries != total+1 || d.Total != total+1 {
		t.Fatalf("ready index = %+v, want %d entries of %d", d, total+1, total+1)
	}
	check := func(base, what string, extra url.Values) {
		t.Helper()
		v := url.Values{"where": {"n==3"}, "limit": {"17"}}
		for k, x := range extra {
			v[k] = x
		}
		keys, plan := queryKeys(t, base, v)
		if !slices.Equal(keys, want) || plan != "index:n" {
			t.Fatalf("%s: query = %v (plan %q), want %v", what, keys, plan, want)
		}
	}
	for i, n := range tc.nodes {
		if n != nil {
			check(tc.url(i), fmt.Sprintf("n%d", i+1), nil)
		}
	}
	// The stopped node restarts, catches up and answers the same.
	var last api.ConfigEntry
	mustOK(t, http.MethodGet, tc.url(nl)+"/v1/namespaces/app/configs/zzz", nil, &last)
	tc.start(leader)
	// Caught up means past the last write and past the revision at which
	// the index became ready: before that, the node's index is still
	// building and a where-query without allow_scan is refused.
	check(tc.url(leader), "restarted node (stale read after catch-up)", url.Values{
		"consistency": {"stale"}, "min_revision": {strconv.FormatUint(max(last.ModifyRevision, d.ModifyRevision), 10)}})
	if d2 := getIndex(t, tc.url(leader)); d2.State != api.IndexReady || d2.Entries != d.Entries {
		t.Fatalf("restarted node's index = %+v, want %+v", d2, d)
	}
}
