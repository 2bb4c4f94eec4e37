package node_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/node"
)

// BenchmarkNode_Restart measures a restart of a node holding many ~1 KiB
// entries: the time from node.Start to answering a linearizable read, and
// the heap the loaded state takes. Run one size at a time, e.g.
//
//	go test -run '^$' -bench 'Node_Restart/entries=1000000' -benchtime 3x -timeout 30m ./node/
func BenchmarkNode_Restart(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			cfg := node.DefaultConfig()
			cfg.DataDir = b.TempDir()
			cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			cfg.Auth.BootstrapToken = testAdminToken
			nd, err := node.Start(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			cfg.RaftAddr = nd.Cluster().Status().RaftAddr // a node keeps its address
			load(b, nd, n)
			if err := nd.Cluster().Snapshot(); err != nil {
				b.Fatal(err)
			}
			if err := nd.Close(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var heap uint64
			for i := 0; i < b.N; i++ {
				start := time.Now()
				nd, err = node.Start(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				req, _ := http.NewRequest(http.MethodGet, nd.HTTPURL()+"/v1/namespaces/bench/configs/app-0/key-0", nil)
				req.Header.Set("Authorization", "Bearer "+testAdminToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("read after restart: %v %v", err, resp)
				}
				resp.Body.Close()
				b.ReportMetric(time.Since(start).Seconds(), "restart-s")
				b.StopTimer()
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heap = ms.HeapAlloc
				if err := nd.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
		})
	}
}

// load writes n entries through raft in batches of 1,000 (the API's batch
// limit), bypassing HTTP and validation, which are not what is measured.
func load(b *testing.B, nd *node.Node, n int) {
	b.Helper()
	ctx := context.Background()
	apply := func(cmd any) {
		data, err := fsm.Encode(cmd)
		if err != nil {
			b.Fatal(err)
		}
		r, err := nd.Cluster().Apply(ctx, data)
		if err != nil || r.Err != nil {
			b.Fatal(err, r)
		}
	}
	apply(&fsm.CreateNamespace{Audit: fsm.NewAudit("bench", ""), Name: "bench"})
	apply(&fsm.RegisterSchema{Audit: fsm.NewAudit("bench", ""), Namespace: "bench", Name: "service", Version: 1, Schema: []byte(`{}`)})
	schemaRev := nd.Store().Applied()
	value := serviceValue(b)
	for i := 0; i < n; i += 1000 {
		txn := &fsm.Txn{Audit: fsm.NewAudit("bench", "")}
		for j := i; j < i+1000 && j < n; j++ {
			txn.Ops = append(txn.Ops, fsm.Op{Op: api.BatchPut, Namespace: "bench", Key: fmt.Sprintf("app-%d/key-%d", j%1000, j/1000),
				Schema: "service", SchemaVersion: 1, SchemaRevision: schemaRev, Value: value})
		}
		apply(txn)
	}
}
