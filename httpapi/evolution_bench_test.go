package httpapi

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/schema"
	"github.com/schemakv/schemakv/store"
)

// BenchmarkStrictCheck_100k times the strict-mode check of a new version
// against 100,000 entries pinned to the previous one: what a registration
// spends before it proposes (apply itself only compares one revision).
//
//	go test ./httpapi -run '^$' -bench StrictCheck -benchtime 5x
func BenchmarkStrictCheck_100k(b *testing.B) {
	const n = 100_000
	s, err := store.Open(store.Config{Path: filepath.Join(b.TempDir(), "fsm.db"), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	v1 := `{"type":"object","properties":{"name":{"type":"string"},"port":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},"limits":{"type":"object","properties":{"max_rps":{"type":"integer"},"burst":{"type":"integer"}}}}}`
	v2 := `{"type":"object","properties":{"name":{"type":"string","minLength":1},"port":{"type":"integer","maximum":65535},"tags":{"type":"array","items":{"type":"string"}},"limits":{"type":"object","properties":{"max_rps":{"type":"integer","minimum":0},"burst":{"type":"integer"}}},"tls":{"type":"boolean"}},"required":["name","port"]}`
	tx, err := s.Begin()
	if err != nil {
		b.Fatal(err)
	}
	a := store.Audit{Principal: "bench", Time: time.Unix(0, 0)}
	tx.SetRevision(1)
	if _, err := tx.CreateNamespace("bench", "", a); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.PutSchemaVersion(api.SchemaVersion{Namespace: "bench", Name: "svc", Version: 1, Schema: json.RawMessage(v1)}, a); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		val := fmt.Sprintf(`{"name":"svc-%d","port":%d,"tags":["a","b"],"limits":{"max_rps":%d,"burst":10}}`, i, 1000+i%60000, i)
		if _, err := tx.PutConfig("bench", fmt.Sprintf("services/%06d", i), "svc", 1, json.RawMessage(val), a, 0); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(1); err != nil {
		b.Fatal(err)
	}
	v := s.View()
	sch, err := schema.NewCache(schema.Config{}).Compile("bench", "svc", 2, []byte(v2), v)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		r, err := checkEntries(v, "bench", "svc", 1, sch, MaxReportedFailures)
		if err != nil || r.checked != n || r.failed != 0 {
			b.Fatalf("check: %+v %v", r, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/check")
	// CPU time (user+system, all cores) per check: steadier than wall time
	// on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/check")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
