package node_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/node"
)

// BenchmarkWatch_Fanout measures watch notification latency, from a
// write's acknowledgement (its HTTP response) to its receipt by every
// watcher, on a 3-node cluster in this process, with the watchers on the
// leader or on a follower, while writes are applied at 100 per second.
// Every watcher watches the key that is written, the worst case: each
// write notifies every watcher. Watchers are multiplexed, 100 per stream
// (POST /v1/watch), as etcd's clients multiplex watches on one gRPC
// stream. It also reports the memory each idle watcher adds to the process
// (server and client side together). Figures, not pass/fail:
//
//	go test -run '^$' -bench Watch_Fanout -benchtime 1x -timeout 20m ./node/
func BenchmarkWatch_Fanout(b *testing.B) {
	for _, where := range []string{"leader", "follower"} {
		for _, n := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("%s/watchers=%d", where, n), func(b *testing.B) {
				for range b.N {
					benchFanout(b, where, n, 100)
				}
			})
		}
	}
}

func benchFanout(b *testing.B, where string, watchers, perStream int) {
	tc := &testCluster{t: b}
	var gossip []string
	for i := range 3 {
		cfg := clusterConfig(b, fmt.Sprintf("n%d", i+1), 3, nil)
		cfg.Limits.WatchMaxPerClient = 2 * watchers
		gossip = append(gossip, cfg.GossipAddr)
		tc.cfgs = append(tc.cfgs, cfg)
	}
	tc.nodes = make([]*node.Node, 3)
	for i := range tc.cfgs {
		tc.cfgs[i].Join = gossip
		tc.start(i)
	}
	defer tc.closeAll()
	tc.waitLeader()
	tc.waitAuth()
	leader := tc.waitLeader()
	setup(b, tc.url(leader))
	first := put(b, tc.url(leader), "k", 0).ModifyRevision + 1
	target := leader
	if where == "follower" {
		target = tc.follower()
	}

	type receipt struct {
		rev uint64
		at  time.Time
	}
	streams := watchers / perStream
	received := make([][]receipt, watchers) // per watcher
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var bodies []*bufio.Reader
	var closers []func()
	for s := range streams {
		req := api.WatchRequest{Format: "ndjson", FromRevision: first}
		for w := range perStream {
			req.Watches = append(req.Watches, api.WatchSpec{ID: fmt.Sprint(s*perStream + w), Namespace: "app", Key: "k"})
		}
		body, _ := json.Marshal(req)
		hreq, _ := http.NewRequest(http.MethodPost, tc.url(target)+"/v1/watch", bytes.NewReader(body))
		hreq.Header.Set("Content-Type", "application/json")
		hreq.Header.Set("Authorization", "Bearer "+testAdminToken)
		resp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("POST /v1/watch: %d", resp.StatusCode)
		}
		r := bufio.NewReaderSize(resp.Body, 16<<10)
		if _, err := r.ReadBytes('\n'); err != nil { // the first progress message
			b.Fatal(err)
		}
		bodies = append(bodies, r)
		closers = append(closers, func() { resp.Body.Close() })
	}
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perWatcher := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / float64(watchers)

	const writes = 200
	var wg sync.WaitGroup
	for s, r := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := 0
			for got < writes {
				line, err := r.ReadBytes('\n')
				if err != nil {
					return
				}
				now := time.Now()
				var m api.WatchMessage
				if err := json.Unmarshal(line, &m); err != nil || m.Type != api.WatchEvents {
					continue
				}
				got++
				for id := range m.Matches {
					if w, err := strconv.Atoi(id); err == nil && w/perStream == s {
						received[w] = append(received[w], receipt{m.Revision, now})
					}
				}
			}
		}()
	}
	acked := map[uint64]time.Time{}
	b.ResetTimer()
	tick := time.NewTicker(10 * time.Millisecond)
	for i := range writes {
		<-tick.C
		e := put(b, tc.url(leader), "k", i+1)
		acked[e.ModifyRevision] = time.Now()
	}
	tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatal("not every stream received every write within 2 minutes")
	}
	b.StopTimer()
	var lat []float64
	for _, rs := range received {
		for _, r := range rs {
			if a, ok := acked[r.rev]; ok {
				lat = append(lat, float64(max(r.at.Sub(a), 0))/float64(time.Millisecond))
			}
		}
	}
	if len(lat) != writes*watchers {
		b.Fatalf("%d deliveries, want %d", len(lat), writes*watchers)
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(float64(len(lat)), "deliveries")
	b.ReportMetric(perWatcher, "B/watcher")
}
