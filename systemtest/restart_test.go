package systemtest

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/schemakv/schemakv/api"
)

// TestRestart_Graceful writes 2000 entries in batches, stops the server with
// SIGTERM, starts it again and checks that nothing was lost or replayed.
func TestRestart_Graceful(t *testing.T) {
	needBinary(t)
	scenarioGracefulRestart(t, newSingleProcess(t), 2000, 500)
}

const bulkNS = "bulk"

// scenarioGracefulRestart writes n entries with POST /v1/batch (chunk
// operations each), stops the system cleanly and starts it again. Every
// entry must be intact, each node must have opened its state at the last
// revision written before the stop (no entry to re-apply), and a new write
// must get a higher revision.
func scenarioGracefulRestart(t *testing.T, sys system, n, chunk int) {
	mustDo(t, http.MethodPut, sys.URL()+"/v1/namespaces/"+bulkNS, `{"description": "restart test"}`, nil, http.StatusCreated)
	mustDo(t, http.MethodPost, sys.URL()+"/v1/namespaces/"+bulkNS+"/schemas/row", `{"schema": {
		"type": "object",
		"properties": {"i": {"type": "integer"}, "name": {"type": "string"}},
		"required": ["i", "name"]
	}}`, nil, http.StatusCreated)

	type written struct {
		rev   uint64
		value string
	}
	want := map[string]written{}
	var lastRev uint64
	for start := 0; start < n; start += chunk {
		req := api.BatchRequest{Reason: "bulk load"}
		for i := start; i < min(start+chunk, n); i++ {
			req.Ops = append(req.Ops, api.BatchOp{
				Op: api.BatchPut, Namespace: bulkNS, Key: fmt.Sprintf("row/%05d", i), Schema: "row@1",
				Value: []byte(fmt.Sprintf(`{"i": %d, "name": "row %d"}`, i, i)),
			})
		}
		var res api.BatchResult
		hdr := mustDo(t, http.MethodPost, sys.URL()+"/v1/batch", req, &res, http.StatusOK, http.StatusCreated)
		if len(res.Results) != len(req.Ops) {
			t.Fatalf("batch of %d operations: %d results", len(req.Ops), len(res.Results))
		}
		if res.Revision <= lastRev {
			t.Fatalf("batch revision %d not above the previous %d", res.Revision, lastRev)
		}
		if idx := indexHeader(t, hdr); idx != res.Revision {
			t.Errorf("batch: X-Schemakv-Index %d, revision %d", idx, res.Revision)
		}
		for i, r := range res.Results {
			op := req.Ops[i]
			if r.Key != op.Key || r.ModifyRevision != res.Revision || r.Version != 1 {
				t.Fatalf("batch result %d = %+v, want key %s at revision %d, version 1", i, r, op.Key, res.Revision)
			}
			want[op.Key] = written{rev: res.Revision, value: string(op.Value)}
		}
		lastRev = res.Revision
	}

	var before api.Health
	mustDo(t, http.MethodGet, sys.URL()+"/v1/health", nil, &before, http.StatusOK)
	t.Logf("%d entries written in batches of %d; last revision %d, applied index before the stop %d", n, chunk, lastRev, before.Applied)
	if before.Applied != lastRev {
		t.Errorf("applied index before the stop is %d, want the last write's revision %d", before.Applied, lastRev)
	}

	sys.Stop(t)
	sys.Start(t)

	for i, applied := range sys.StartedApplied() {
		if applied != lastRev {
			t.Errorf("node %d: started with applied_index %d, want %d (the last revision before the stop)", i, applied, lastRev)
		}
	}

	got := listAll(t, sys.URL(), bulkNS, "row/")
	if len(got) != n {
		t.Errorf("after restart: %d entries, want %d", len(got), n)
	}
	for key, w := range want {
		e, ok := got[key]
		switch {
		case !ok:
			t.Errorf("%s: missing after restart", key)
		case e.ModifyRevision != w.rev || e.CreateRevision != w.rev || e.Version != 1:
			t.Errorf("%s: create/modify revision %d/%d, version %d; want %d/%d, 1", key, e.CreateRevision, e.ModifyRevision, e.Version, w.rev, w.rev)
		case !jsonEqual(e.Value, []byte(w.value)) || e.Schema != "row" || e.SchemaVersion != 1:
			t.Errorf("%s: %s@%d %s, want row@1 %s", key, e.Schema, e.SchemaVersion, e.Value, w.value)
		}
	}

	var e api.ConfigEntry
	mustDo(t, http.MethodPut, sys.URL()+"/v1/namespaces/"+bulkNS+"/configs/row/00000",
		`{"value": {"i": 0, "name": "after restart"}}`, &e, http.StatusOK)
	if e.ModifyRevision <= lastRev || e.Version != 2 {
		t.Errorf("write after restart: revision %d, version %d; want a revision above %d, version 2", e.ModifyRevision, e.Version, lastRev)
	}
	t.Logf("write after restart got revision %d", e.ModifyRevision)
}
