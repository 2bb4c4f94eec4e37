// Package workload drives a target.Target with closed-loop clients for a
// fixed time and summarises what it saw: throughput and latency
// percentiles. It also holds the data set: ~1 KiB JSON values that
// validate against schema/testdata/service.schema.json, under keys
// app-N/key-M.
package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Result is one run of one workload on one target.
type Result struct {
	Ops      int           // successful operations
	Errors   int           // failed operations
	Elapsed  time.Duration // wall time of the measured phase
	Lat      []time.Duration
	FirstErr string
	// ServerCPU is the CPU time (user + system) all the target's server
	// processes used during the run, ClientCPU this tool's: measured from
	// /proc, so they hardly depend on what else the machine runs.
	ServerCPU, ClientCPU time.Duration
}

// Merge appends o's measurements to r (the A B A B rounds of a row).
func (r *Result) Merge(o Result) {
	r.Ops += o.Ops
	r.Errors += o.Errors
	r.Elapsed += o.Elapsed
	r.Lat = append(r.Lat, o.Lat...)
	r.ServerCPU += o.ServerCPU
	r.ClientCPU += o.ClientCPU
	if r.FirstErr == "" {
		r.FirstErr = o.FirstErr
	}
}

// Throughput is successful operations per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of the latencies.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	if !slices.IsSorted(r.Lat) {
		slices.Sort(r.Lat)
	}
	i := int(float64(len(r.Lat))*p/100+0.5) - 1
	return r.Lat[min(max(i, 0), len(r.Lat)-1)]
}

// Op is one operation of client c; it returns an error to be counted.
type Op func(ctx context.Context, c int, rng *rand.Rand) error

// Closed runs clients goroutines, each calling op back to back for d, and
// records each successful op's latency.
func Closed(ctx context.Context, d time.Duration, clients int, op Op) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type part struct {
		lat  []time.Duration
		errs int
		err  string
	}
	parts := make([]part, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			p := &parts[c]
			p.lat = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t := time.Now()
				err := op(ctx, c, rng)
				if ctx.Err() != nil {
					return // cut by the deadline: neither counted nor failed
				}
				if err != nil {
					p.errs++
					if p.err == "" {
						p.err = err.Error()
					}
					continue
				}
				p.lat = append(p.lat, time.Since(t))
			}
		}()
	}
	wg.Wait()
	r := Result{Elapsed: time.Since(start)}
	for _, p := range parts {
		r.Ops += len(p.lat)
		r.Errors += p.errs
		r.Lat = append(r.Lat, p.lat...)
		if r.FirstErr == "" {
			r.FirstErr = p.err
		}
	}
	return r
}

// Keys is the key space: Apps × PerApp keys app-N/key-M.
type Keys struct{ Apps, PerApp int }

// Key returns the i-th key.
func (k Keys) Key(i int) string { return fmt.Sprintf("app-%d/key-%d", i/k.PerApp, i%k.PerApp) }

// N is the number of keys.
func (k Keys) N() int { return k.Apps * k.PerApp }

// Values are pre-encoded variants of the sample service config (compact
// JSON, ~1 KiB), all valid against the service schema.
type Values [][]byte

// NewValues makes n variants of sample, differing in replicas and
// limits.requestsPerSecond, so that consecutive writes change the value.
func NewValues(sample []byte, n int) (Values, error) {
	var base map[string]any
	if err := json.Unmarshal(sample, &base); err != nil {
		return nil, err
	}
	vs := make(Values, n)
	for i := range n {
		base["replicas"] = i%100 + 1
		if l, ok := base["limits"].(map[string]any); ok {
			l["requestsPerSecond"] = 1000 + i
		}
		b, err := json.Marshal(base)
		if err != nil {
			return nil, err
		}
		vs[i] = b
	}
	return vs, nil
}

// Pick returns a random variant.
func (v Values) Pick(rng *rand.Rand) []byte { return v[rng.IntN(len(v))] }
