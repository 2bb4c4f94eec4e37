package store

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkHub_NotifyLatency: N subscriptions to one key, each read by its
// own goroutine, 50 commits at 100/s; latency from Commit's return to
// receipt, and the memory each idle subscription with its reader adds.
//
//	go test -run '^$' -bench BenchmarkHub_NotifyLatency -benchtime 1x ./store
func BenchmarkHub_NotifyLatency(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			for range b.N {
				benchHub(b, n)
			}
		})
	}
}

func benchHub(b *testing.B, n int) {
	s, err := Open(Config{Path: filepath.Join(b.TempDir(), "fsm.db"), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	commit := func(rev uint64, ops ...op) {
		tx, err := s.Begin()
		if err != nil {
			b.Fatal(err)
		}
		tx.SetRevision(rev)
		a := Audit{Principal: "p", Time: time.Now()}
		for _, o := range ops {
			if o.key == "" {
				_, err = tx.CreateNamespace(o.ns, "", a)
			} else {
				_, err = tx.PutConfig(o.ns, o.key, "s", 1, []byte(`{"r":1}`), a, 0)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(rev); err != nil {
			b.Fatal(err)
		}
	}
	commit(1, op{ns: "a"})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const writes = 50
	subs := make([]*Subscription, n)
	got := make([][]time.Time, n)
	var wg sync.WaitGroup
	for i := range subs {
		subs[i] = s.Subscribe(Filter{Namespace: "a", Key: "k"}, 64)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range subs[i].C {
				got[i] = append(got[i], time.Now())
				if len(got[i]) == writes {
					return
				}
			}
		}()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / float64(n)
	b.ResetTimer()
	acked := make([]time.Time, writes)
	tick := time.NewTicker(10 * time.Millisecond)
	for w := range writes {
		<-tick.C
		commit(uint64(w+2), op{ns: "a", key: "k"})
		acked[w] = time.Now()
	}
	tick.Stop()
	wg.Wait()
	b.StopTimer()
	var lat []float64
	for _, ts := range got {
		for w, at := range ts {
			lat = append(lat, float64(max(at.Sub(acked[w]), 0))/float64(time.Millisecond))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(per, "B/subscriber")
	for _, sub := range subs {
		sub.Close()
	}
}
