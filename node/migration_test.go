package node_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// TestCluster_MigrationSurvivesLeaderChange starts a chunked migration on
// the leader, stops the leader mid-way, and checks that the new leader
// drives the remaining chunks: every entry moves exactly once, the failing
// ones stay and are reported, and every node agrees.
func TestCluster_MigrationSurvivesLeaderChange(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node")
	}
	tc := startCluster(t, 3)
	leader := tc.waitLeader()
	base := tc.url(leader)
	setup(t, base)
	const total, bad = 600, 12
	for b := 0; b < total; b += 200 {
		req := api.BatchRequest{}
		for i := b; i < b+200; i++ {
			n := i
			if i%(total/bad) == 7 {
				n = -1 // fails version 2's minimum: stays on version 1
			}
			req.Ops = append(req.Ops, api.BatchOp{Op: "put", Namespace: "app", Key: fmt.Sprintf("m/%04d", i), Schema: "s@1",
				Value: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))})
		}
		mustOK(t, http.MethodPost, base+"/v1/batch", req, nil)
	}
	mustOK(t, http.MethodPut, base+"/v1/namespaces/app/schemas/s/policy", map[string]any{"policy": "none"}, nil)
	mustOK(t, http.MethodPost, base+"/v1/namespaces/app/schemas/s", map[string]any{"schema": map[string]any{
		"type": "object", "required": []string{"n", "unit"},
		"properties": map[string]any{"n": map[string]any{"type": "integer", "minimum": 0}, "unit": map[string]any{"type": "string"}},
	}}, nil)

	var m api.Migration
	mustOK(t, http.MethodPost, base+"/v1/namespaces/app/schemas/s/migrations", map[string]any{
		"from": 1, "to": 2, "chunk_size": 2, "reason": "add unit",
		"transforms": []map[string]any{{"op": "add", "path": "/unit", "value": "ms"}},
	}, &m)

	// Stop the leader once a few chunks have applied.
	deadline := time.Now().Add(20 * time.Second)
	for {
		cur, _ := tc.nodes[leader].Store().View().Migration("app", m.ID)
		if cur != nil && cur.Chunks >= 5 {
			if cur.State != api.MigrationRunning {
				t.Fatalf("migration finished before the leader could be stopped: %+v", cur)
			}
			t.Logf("stopping leader n%d at chunk %d", leader+1, cur.Chunks)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("migration did not progress: %+v", cur)
		}
		time.Sleep(2 * time.Millisecond) // poll, bounded by the deadline
	}
	tc.stop(leader)
	next := tc.waitLeader()
	t.Logf("new leader n%d", next+1)

	url := fmt.Sprintf("%s/v1/namespaces/app/schemas/s/migrations/%s", tc.url(next), m.ID)
	deadline = time.Now().Add(60 * time.Second)
	for {
		var cur api.Migration
		mustOK(t, http.MethodGet, url, nil, &cur)
		if cur.State == api.MigrationCompleted {
			m = cur
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("migration did not complete after the leader change: %+v", cur)
		}
		time.Sleep(20 * time.Millisecond) // poll, bounded by the deadline
	}
	if m.Migrated != total-bad || m.Failed != bad || len(m.Failures) != bad || m.Chunks != total/2 {
		t.Fatalf("migration = migrated %d failed %d (%d listed) chunks %d skipped %d; want %d, %d, %d chunks",
			m.Migrated, m.Failed, len(m.Failures), m.Chunks, m.Skipped, total-bad, bad, total/2)
	}

	tc.start(leader) // rejoins and catches up
	waitSameState(t, tc)
	for i, n := range tc.nodes {
		v := n.Store().View()
		items, _ := v.ListConfigs("app", "m/", "", 10000)
		moved := 0
		for _, e := range items {
			switch e.SchemaVersion {
			case 2:
				moved++
				// Written once by the batch and once by the migration.
				n, _ := strconv.Atoi(e.Key[2:])
				if e.Version != 2 || !jsonEq(e.Value, fmt.Sprintf(`{"n":%d,"unit":"ms"}`, n)) {
					t.Fatalf("node %d: %s = version %d %s", i, e.Key, e.Version, e.Value)
				}
			case 1:
				if string(e.Value) != `{"n":-1}` {
					t.Fatalf("node %d: %s left on version 1 with %s", i, e.Key, e.Value)
				}
			}
		}
		if moved != total-bad {
			t.Fatalf("node %d: %d entries on version 2, want %d", i, moved, total-bad)
		}
		if p1, p2 := v.PinStat("app", "s", 1), v.PinStat("app", "s", 2); p1.Count != bad || p2.Count != total-bad {
			t.Fatalf("node %d: pins %+v %+v", i, p1, p2)
		}
	}
}

func jsonEq(a []byte, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
