package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/node"
)

// BenchmarkImport_3Node imports 100,000 entries of about 1 KiB each into an
// in-process 3-node cluster (real raft over loopback TCP, real bbolt files,
// real HTTP; all three nodes share this machine's cores), uploading through a
// follower, while readers read single entries from every node. It reports
// the job's wall time (upload, validation, replication, apply) and the p99
// of the reads before and during the import.
//
//	go test ./node -run '^$' -bench BenchmarkImport_3Node -benchtime 1x -timeout 20m
//
// Sub-benchmarks: best-effort (100,000 entries, applied chunk by chunk) and
// atomic (100,000 entries, published at once).
func BenchmarkImport_3Node(b *testing.B) {
	for _, bc := range []struct {
		mode string
		n    int
	}{{api.ImportBestEffort, 100_000}, {api.ImportAtomic, 100_000}} {
		b.Run(fmt.Sprintf("%s-%d", bc.mode, bc.n), func(b *testing.B) {
			var body bytes.Buffer
			importEntries(&body, 0, bc.n, 0, 1000)
			b.SetBytes(int64(body.Len()))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				tc := startClusterWith(b, 3, func(c *node.Config) {
					if n, err := strconv.Atoi(os.Getenv("SKV_BENCH_CHUNK")); err == nil {
						c.Limits.Imports.ChunkEntries = n
					}
					if n, err := strconv.Atoi(os.Getenv("SKV_BENCH_RATE")); err == nil {
						c.Limits.Imports.MaxEntriesPerSecond = n // -1: unpaced
					}
				})
				leader := tc.waitLeader()
				f := tc.follower()
				mustOK(b, http.MethodPut, tc.url(leader)+"/v1/namespaces/app", nil, nil)
				mustOK(b, http.MethodPost, tc.url(leader)+"/v1/namespaces/app/schemas/s", map[string]any{
					"schema": map[string]any{"type": "object", "required": []string{"n"}, "properties": map[string]any{
						"n": map[string]any{"type": "integer"}, "pad": map[string]any{"type": "string", "maxLength": 2000}}},
				}, nil)
				mustOK(b, http.MethodPut, tc.url(leader)+"/v1/namespaces/app/configs/probe", map[string]any{"schema": "s@1", "value": map[string]any{"n": 1}}, nil)
				urls := []string{tc.url(leader), tc.url(f)}

				// Baseline: the same readers without an import.
				base := readLoad(b, urls, 5*time.Second, nil)

				stop := make(chan struct{})
				during := make(chan []time.Duration, 1)
				go func() { during <- readLoad(b, urls, 0, stop) }()
				b.StartTimer()
				start := time.Now()
				j := startImport(b, tc.url(f), "mode="+bc.mode, body.Bytes())
				j = waitJob(b, tc.url(f), j.ID)
				wall := time.Since(start)
				b.StopTimer()
				close(stop)
				load := <-during
				if j.State != api.ImportSucceeded || j.Applied != int64(bc.n) {
					b.Fatalf("job = %s applied %d (%s)", j.State, j.Applied, j.Message)
				}
				p99base, p99load := pct(base, 99), pct(load, 99)
				b.ReportMetric(wall.Seconds(), "wall-s")
				b.ReportMetric(float64(bc.n)/wall.Seconds(), "entries/s")
				b.ReportMetric(float64(p99base.Microseconds())/1000, "read-p99-idle-ms")
				b.ReportMetric(float64(p99load.Microseconds())/1000, "read-p99-import-ms")
				b.ReportMetric(float64(p99load)/float64(p99base), "read-p99-ratio")
				b.ReportMetric(float64(len(load))/wall.Seconds(), "reads/s-during")
				tc.closeAll()
			}
		})
	}
}

// readLoad runs 4 readers of one entry (linearizable reads, the default)
// over urls for d, or until stop is closed, and returns the latencies.
func readLoad(tb testing.TB, urls []string, d time.Duration, stop chan struct{}) []time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if stop != nil {
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for i := r; ctx.Err() == nil; i++ {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, urls[i%len(urls)]+"/v1/namespaces/app/configs/probe"+benchReadQuery, nil)
				req.Header.Set("Authorization", "Bearer "+testAdminToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					continue
				}
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					lat = append(lat, time.Since(t0))
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(all) == 0 {
		tb.Fatal("no reads succeeded")
	}
	return all
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p/100)]
}

var benchReadQuery = os.Getenv("SKV_BENCH_Q")
