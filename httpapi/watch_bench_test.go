package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/httpapi"
	"github.com/schemakv/schemakv/node"
)

// BenchmarkWatch_NotifyLatency opens N idle NDJSON watch streams on one
// key of one node over loopback, measures the memory they add, then writes
// the key 50 times at 100 writes/s and measures, for every (stream, write)
// pair, the time from the write's acknowledgement (its HTTP response) to
// the stream's receipt. Figures, not pass/fail:
//
//	go test -run '^$' -bench BenchmarkWatch_NotifyLatency -benchtime 1x ./httpapi
//
// Memory per watcher is the heap and stack growth of the whole process
// divided by N, so it includes the benchmark's client side (a connection
// and a 4 KiB read buffer per stream). 10,000 streams need 20,000 file
// descriptors in one process (both ends), beyond this machine's limit; the
// store benchmark BenchmarkHub_NotifyLatency covers 10,000 subscribers.
func BenchmarkWatch_NotifyLatency(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			for range b.N {
				benchStreams(b, n)
			}
		})
	}
}

func benchStreams(b *testing.B, n int) {
	cfg := node.DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Limits = httpapi.DefaultLimits()
	cfg.Auth.Dev = true // authentication is beside the point here; auth_test.go covers it
	cfg.Limits.WatchMaxPerClient = 2 * n
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Cluster.RaftLogLevel = "error"
	nd, err := node.Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer nd.Close()
	base := nd.HTTPURL()
	hc := &http.Client{}
	do := func(method, path, body string) []byte {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	do("PUT", "/v1/namespaces/bench", "")
	do("POST", "/v1/namespaces/bench/schemas/svc", `{"schema":{"type":"object","additionalProperties":true}}`)
	do("PUT", "/v1/namespaces/bench/configs/k", `{"schema":"svc","value":{"i":0}}`)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		c, err := net.Dial("tcp", nd.HTTPAddr())
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(c, "GET /v1/watch?namespace=bench&key=k&format=ndjson HTTP/1.1\r\nHost: x\r\n\r\n")
		r := bufio.NewReaderSize(c, 4096)
		for { // status line, headers, then the first progress message
			line, err := r.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if strings.HasPrefix(line, "{") {
				break
			}
		}
		conns[i], readers[i] = c, r
	}
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perWatcher := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / float64(n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	const writes = 50
	var mu sync.Mutex
	acked := map[uint64]time.Time{}
	received := make([][]recv, n)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(received[i]) < writes {
				line, err := readers[i].ReadBytes('\n')
				if err != nil {
					return
				}
				now := time.Now()
				// Messages start {"type":"events","revision":N: read N
				// without decoding the rest, to keep the client side cheap.
				rest, ok := bytes.CutPrefix(line, eventsPrefix)
				if !ok {
					continue
				}
				var rev uint64
				for _, c := range rest {
					if c < '0' || c > '9' {
						break
					}
					rev = rev*10 + uint64(c-'0')
				}
				received[i] = append(received[i], recv{rev, now})
			}
		}()
	}
	b.ResetTimer()
	tick := time.NewTicker(10 * time.Millisecond)
	for i := range writes {
		<-tick.C
		out := do("PUT", "/v1/namespaces/bench/configs/k", fmt.Sprintf(`{"value":{"i":%d}}`, i+1))
		at := time.Now()
		var e api.ConfigEntry
		_ = json.NewDecoder(bytes.NewReader(out)).Decode(&e)
		mu.Lock()
		acked[e.ModifyRevision] = at
		mu.Unlock()
	}
	tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatal("not every stream received every write within 60s")
	}
	b.StopTimer()
	reportLatencies(b, acked, received)
	b.ReportMetric(perWatcher, "B/watcher")
}

var eventsPrefix = []byte(`{"type":"events","revision":`)

type recv struct {
	rev uint64
	at  time.Time
}

func reportLatencies(b *testing.B, acked map[uint64]time.Time, received [][]recv) {
	var lat []float64
	for _, rs := range received {
		for _, r := range rs {
			if a, ok := acked[r.rev]; ok {
				lat = append(lat, float64(max(r.at.Sub(a), 0))/float64(time.Millisecond))
			}
		}
	}
	if len(lat) == 0 {
		b.Fatal("no latencies")
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(float64(len(lat)), "deliveries")
}
