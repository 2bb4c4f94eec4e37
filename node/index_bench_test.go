package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/node"
)

// BenchmarkIndex_HTTP is the index path of a real single node: 200,000
// entries written through raft, an index declared and built by the leader's
// chunk commands through raft (1,000 keys a chunk), then where-queries over
// HTTP returning 100 matches each.
//
//	go test -run XXX -bench BenchmarkIndex_HTTP -benchtime 2000x ./node/
func BenchmarkIndex_HTTP(b *testing.B) {
	const entries, teams = 200_000, 2_000
	cfg := node.DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Close() })
	apply := func(cmd any) *fsm.Result {
		raw, err := fsm.Encode(cmd)
		if err != nil {
			b.Fatal(err)
		}
		r, err := n.Cluster().Apply(context.Background(), raw)
		if err != nil || r.Err != nil {
			b.Fatalf("apply %T: %v %v", cmd, err, r)
		}
		return r
	}
	a := fsm.NewAudit("bench", "")
	apply(&fsm.CreateNamespace{Audit: a, Name: "idx"})
	sv := apply(&fsm.RegisterSchema{Audit: a, Namespace: "idx", Name: "svc", Version: 1, Schema: json.RawMessage(`{"type":"object","additionalProperties":true}`)})
	for i := 0; i < entries; i += 1000 {
		ops := make([]fsm.Op, 0, 1000)
		for j := i; j < i+1000; j++ {
			ops = append(ops, fsm.Op{Op: api.BatchPut, Namespace: "idx", Key: fmt.Sprintf("svc/%07d", j), Schema: "svc", SchemaVersion: 1,
				SchemaRevision: sv.Schema.CreateRevision,
				Value:          json.RawMessage(fmt.Sprintf(`{"owner":{"team":"team-%04d"},"limits":{"max_rps":%d}}`, j%teams, j%5000))})
		}
		apply(&fsm.Txn{Audit: a, Ops: ops})
	}
	start := time.Now()
	apply(&fsm.CreateIndex{Audit: a, Namespace: "idx", Name: "team", Path: "owner.team", MaxIndexes: 16})
	for {
		if d, ok := n.Store().View().Index("idx", "team"); ok && d.State == api.IndexReady {
			break
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatal("index not ready after 5m")
		}
		time.Sleep(10 * time.Millisecond)
	}
	build := time.Since(start)

	hc := &http.Client{Timeout: 30 * time.Second}
	r := rand.New(rand.NewPCG(1, 1))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		u := n.HTTPURL() + "/v1/namespaces/idx/configs?" + url.Values{"where": {fmt.Sprintf("owner.team==team-%04d", r.IntN(teams))}, "limit": {"100"}}.Encode()
		t0 := time.Now()
		resp, err := hc.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		var l api.ConfigList
		err = json.NewDecoder(resp.Body).Decode(&l)
		_ = resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if err != nil || resp.StatusCode != 200 || len(l.Items) != entries/teams || l.Plan != "index:team" {
			b.Fatalf("query: %d, %d items, plan %q, %v", resp.StatusCode, len(l.Items), l.Plan, err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(build.Seconds(), "build-200k-s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}
