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
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/node"
)

// These benchmarks print figures; they assert nothing about speed. Run them
// with `make bench` (see README, Benchmarks).

// BenchmarkDisk_Fsync measures the raw rate of durable 4 KiB writes on the
// data directory's file system: the floor under a durable commit.
// "overwrite" rewrites blocks that exist (the cheapest case); "append"
// extends the file each time (what a log does, and what costs a journal
// commit for the file's size).
func BenchmarkDisk_Fsync(b *testing.B) {
	for _, mode := range []string{"overwrite", "append"} {
		b.Run(mode, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 4096)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				off := int64(i) * 4096
				if mode == "overwrite" {
					off = int64(i%256) * 4096
				}
				if _, err := f.WriteAt(buf, off); err != nil {
					b.Fatal(err)
				}
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsyncs/s")
		})
	}
}

// BenchmarkApply_Put is a put through raft on a one-node cluster,
// in-process (no HTTP, no validation): log fsync, commit, FSM fsync. With
// many writers raft groups their entries into shared fsyncs.
func BenchmarkApply_Put(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			n, _ := benchNode(b)
			value := serviceValue(b)
			sv, ok := n.Store().View().SchemaVersion("bench", "service", 1)
			if !ok {
				b.Fatal("schema bench/service@1 not registered")
			}
			var seq atomic.Int64
			b.ResetTimer()
			cpu0 := cpuTime(b)
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := seq.Add(1)
						if i > int64(b.N) {
							return
						}
						cmd, err := fsm.Encode(&fsm.Txn{Audit: fsm.NewAudit("bench", ""), Ops: []fsm.Op{{
							Op: api.BatchPut, Namespace: "bench", Key: fmt.Sprintf("app-%d/key-%d", i%100, i),
							Schema: "service", SchemaVersion: 1, SchemaRevision: sv.CreateRevision, Value: value,
						}}})
						if err != nil {
							b.Error(err)
							return
						}
						r, err := n.Cluster().Apply(context.Background(), cmd)
						if err != nil || r.Err != nil {
							b.Error(err, r)
							return
						}
					}
				}()
			}
			wg.Wait()
			reportCPU(b, cpu0)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

// BenchmarkHTTP_Put is a validated put over HTTP with one client and with 64
// concurrent clients (raft batches concurrent writes into shared fsyncs).
func BenchmarkHTTP_Put(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			n, url := benchNode(b)
			_ = n
			body := putBody(b)
			var seq atomic.Int64
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
			b.ResetTimer()
			cpu0 := cpuTime(b)
			var wg sync.WaitGroup
			per := b.N / clients
			extra := b.N % clients
			for c := 0; c < clients; c++ {
				count := per
				if c < extra {
					count++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < count; j++ {
						i := seq.Add(1)
						u := fmt.Sprintf("%s/v1/namespaces/bench/configs/app-%d/key-%d", url, i%100, i)
						if err := do(hc, http.MethodPut, u, body); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			reportCPU(b, cpu0)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

// BenchmarkHTTP_Batch100 is an atomic batch of 100 validated puts over HTTP.
func BenchmarkHTTP_Batch100(b *testing.B) {
	_, url := benchNode(b)
	value := serviceValue(b)
	hc := &http.Client{Timeout: 30 * time.Second}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := api.BatchRequest{}
		for j := 0; j < 100; j++ {
			req.Ops = append(req.Ops, api.BatchOp{Op: api.BatchPut, Namespace: "bench",
				Key: fmt.Sprintf("batch-%d/key-%d", i, j), Schema: "service@1", Value: value})
		}
		body, _ := json.Marshal(req)
		if err := do(hc, http.MethodPost, url+"/v1/batch", body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkHTTP_Get is a linearizable read over HTTP with one client.
func BenchmarkHTTP_Get(b *testing.B) {
	_, url := benchNode(b)
	hc := &http.Client{Timeout: 30 * time.Second}
	if err := do(hc, http.MethodPut, url+"/v1/namespaces/bench/configs/app/key", putBody(b)); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"linearizable", "stale"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := do(hc, http.MethodGet, url+"/v1/namespaces/bench/configs/app/key?consistency="+mode, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cpuTime is the CPU time (user and system, all threads) this process has
// used so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per operation since cpu0: on
// this shared 2-core machine a steadier figure than throughput. It counts
// everything in the process — the node, its background work and, for the
// HTTP benchmarks, the benchmark's own HTTP clients.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.Helper()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

func benchNode(b *testing.B) (*node.Node, string) {
	b.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.GossipAddr = "127.0.0.1:0"
	cfg.Auth.BootstrapToken = testAdminToken // measured with authentication on
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Close() })
	url := n.HTTPURL()
	hc := &http.Client{Timeout: 30 * time.Second}
	if err := do(hc, http.MethodPut, url+"/v1/namespaces/bench", nil); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile("../schema/testdata/service.schema.json")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(api.RegisterSchemaRequest{Schema: raw})
	if err := do(hc, http.MethodPost, url+"/v1/namespaces/bench/schemas/service", body); err != nil {
		b.Fatal(err)
	}
	return n, url
}

func serviceValue(b *testing.B) json.RawMessage {
	raw, err := os.ReadFile("../schema/testdata/service.value.json")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func putBody(b *testing.B) []byte {
	body, _ := json.Marshal(api.PutConfigRequest{Schema: "service@1", Value: serviceValue(b)})
	return body
}

func do(hc *http.Client, method, url string, body []byte) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, msg)
	}
	return nil
}
