package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schemakv/schemakv/bench/internal/target"
)

// WatchResult is a watch fan-out run. Result.Ops counts notifications
// matched to a write, Result.Lat their latency from the write's
// acknowledgement (the Put returning) to receipt by the watcher, clamped at
// zero when the event arrived before the acknowledgement.
type WatchResult struct {
	Result
	Watchers, Ready int
	Writes          int
	Expected        int // Writes × Ready
	WatchErrors     int
	FirstWatchErr   string
	Setup           time.Duration // time to register every watcher
	Skipped         int           // ticks without a write: 64 already in flight
	Drain           time.Duration // wait after the last write for the backlog
	RSS             []int64       // each node's RSS with the watchers open
}

// Watch opens watchers watches on prefix "app-", spread over the nodes,
// then writes at rate per second to the leader for d and measures the
// delay from each write's acknowledgement to each watcher's receipt.
func Watch(ctx context.Context, t target.Target, watchers int, rate float64, d, setupTimeout time.Duration, keys Keys, vals Values, rss func(pid int) (int64, error)) (WatchResult, error) {
	res := WatchResult{Watchers: watchers}
	leader, err := t.Leader(ctx)
	if err != nil {
		return res, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type receipt struct {
		rev uint64
		at  int64
	}
	recv := make([][]receipt, watchers)
	var ready, errs, got atomic.Int64
	var errMu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // registrations in flight
	setupStart := time.Now()
	allReady := make(chan struct{})
	wg.Add(1) // the spawner itself, so Wait cannot pass it
	go func() {
		defer wg.Done()
		for w := range watchers {
			select {
			case sem <- struct{}{}:
			case <-wctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var once sync.Once
				release := func() { once.Do(func() { <-sem }) }
				defer release()
				recv[w] = make([]receipt, 0, int(rate*d.Seconds())+16)
				err := t.Watch(wctx, w%t.Nodes(), "app-", func() {
					if ready.Add(1) == int64(watchers) {
						close(allReady)
					}
					release()
				}, func(rev uint64) {
					recv[w] = append(recv[w], receipt{rev, time.Now().UnixNano()})
					got.Add(1)
				})
				if err != nil && wctx.Err() == nil {
					errs.Add(1)
					errMu.Lock()
					if res.FirstWatchErr == "" {
						res.FirstWatchErr = err.Error()
					}
					errMu.Unlock()
				}
			}()
		}
	}()
	select {
	case <-allReady:
	case <-time.After(setupTimeout):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.Setup = time.Since(setupStart)
	res.Ready = int(ready.Load())
	if res.Ready == 0 {
		return res, fmt.Errorf("no watcher registered: %s", res.FirstWatchErr)
	}

	// The writer: open loop, one Put per tick to the leader whatever the
	// previous one is doing (at most 64 in flight), its ack time by
	// revision. A closed loop would slow the writes down exactly when
	// fan-out is expensive and hide the cost.
	acks := map[uint64]int64{}
	var ackMu sync.Mutex
	var puts sync.WaitGroup
	inflight := make(chan struct{}, 64)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	end := time.After(d)
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
loop:
	for {
		select {
		case <-end:
			break loop
		case <-ctx.Done():
			break loop
		case <-tick.C:
			select {
			case inflight <- struct{}{}:
			default:
				res.Skipped++
				continue
			}
			key, val := keys.Key(rng.IntN(keys.N())), vals.Pick(rng)
			puts.Add(1)
			go func() {
				defer puts.Done()
				defer func() { <-inflight }()
				rev, err := t.Put(ctx, leader, key, val)
				ackMu.Lock()
				defer ackMu.Unlock()
				if err != nil {
					res.Errors++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
					return
				}
				acks[rev] = time.Now().UnixNano()
			}()
		}
	}
	tick.Stop()
	puts.Wait()
	res.Writes = len(acks)
	// Let the backlog drain: wait until every expected notification has
	// arrived, or none arrived for 2 s, or 20 s passed; then read RSS with
	// the watchers still open. Notifications still queued after that are
	// reported as not delivered.
	want := int64(len(acks) * int(ready.Load()))
	last, lastAt, drainStart := got.Load(), time.Now(), time.Now()
	for got.Load() < want && time.Since(lastAt) < 2*time.Second && time.Since(drainStart) < 20*time.Second && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if n := got.Load(); n != last {
			last, lastAt = n, time.Now()
		}
	}
	res.Drain = time.Since(drainStart)
	// Notifications per second over the writes and the drain: what was
	// delivered, over the time it took to deliver it.
	res.Elapsed = time.Since(start)
	for _, pid := range t.PIDs() {
		v, _ := rss(pid)
		res.RSS = append(res.RSS, v)
	}
	cancel()
	wg.Wait()
	res.WatchErrors = int(errs.Load())
	res.Expected = res.Writes * res.Ready
	for _, rs := range recv {
		for _, r := range rs {
			a, ok := acks[r.rev]
			if !ok {
				continue
			}
			res.Ops++
			res.Lat = append(res.Lat, time.Duration(max(r.at-a, 0)))
		}
	}
	return res, nil
}

// Load writes keys [from, to) through node in batches of batch keys with
// conc batches in flight, and returns how long it took.
func Load(ctx context.Context, t target.Target, node int, keys Keys, vals Values, from, to, batch, conc int) (time.Duration, error) {
	start := time.Now()
	next := atomic.Int64{}
	next.Store(int64(from))
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next.Add(int64(batch))) - batch
				if lo >= to {
					return
				}
				hi := min(lo+batch, to)
				ks := make([]string, 0, hi-lo)
				vs := make([][]byte, 0, hi-lo)
				for i := lo; i < hi; i++ {
					ks = append(ks, keys.Key(i))
					vs = append(vs, vals[i%len(vals)])
				}
				var err error
				for try := 0; try < 5; try++ {
					c, cancel := context.WithTimeout(ctx, 30*time.Second)
					err = t.PutBatch(c, node, ks, vs)
					cancel()
					if err == nil {
						break
					}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return time.Since(start), first
}
