package node_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of a 3-node cluster in one process on loopback (all three
// nodes share this machine's 2 cores, so these are floors, not ceilings).
// They print throughput and latency percentiles; they assert nothing.
//
//	go test -run '^$' -bench 'Cluster_' -benchtime 5s ./node/

func BenchmarkCluster_Put(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			tc := startCluster(b, 3)
			leader := tc.waitLeader()
			setup(b, tc.url(leader))
			url := tc.url(leader)
			var seq atomic.Int64
			runClients(b, clients, func(hc *http.Client) error {
				i := seq.Add(1)
				return doBody(hc, http.MethodPut, fmt.Sprintf("%s/v1/namespaces/app/configs/app-%d/key-%d", url, i%100, i),
					[]byte(`{"schema":"s@1","value":{"n":1}}`))
			})
		})
	}
}

func BenchmarkCluster_Get(b *testing.B) {
	tc := startCluster(b, 3)
	leader := tc.waitLeader()
	setup(b, tc.url(leader))
	put(b, tc.url(leader), "k", 1)
	for _, where := range []string{"leader", "follower"} {
		for _, mode := range []string{"linearizable", "stale"} {
			b.Run(where+"/"+mode, func(b *testing.B) {
				i := tc.waitLeader()
				if where == "follower" {
					i = tc.follower()
				}
				url := tc.url(i) + "/v1/namespaces/app/configs/k?consistency=" + mode
				runClients(b, 64, func(hc *http.Client) error { return doBody(hc, http.MethodGet, url, nil) })
			})
		}
	}
}

// runClients spreads b.N operations over n concurrent clients and reports
// ops/s and latency percentiles.
func runClients(b *testing.B, n int, op func(hc *http.Client) error) {
	b.Helper()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 30 * time.Second}
			local := make([]time.Duration, 0, b.N/n+1)
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				if err := op(hc); err != nil {
					b.Error(err)
					return
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func doBody(hc *http.Client, method, url string, body []byte) error {
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(method, url, rd)
	} else {
		req, err = http.NewRequest(method, url, nil)
	}
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, buf.String())
	}
	return nil
}
