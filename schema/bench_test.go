package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"
)

// readTestdata returns a testdata file, compacted as a stored value would be.
func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestServiceTestdata keeps the benchmark inputs honest: the value is valid
// and every kind of mistake in it is caught.
func TestServiceTestdata(t *testing.T) {
	s := mustCompile(t, string(readTestdata(t, "service.schema.json")), nil)
	value := readTestdata(t, "service.value.json")
	if errs := mustValidate(t, s, string(value)); len(errs) != 0 {
		t.Fatalf("service.value.json: got%s, want valid", pointers(errs))
	}
	var v map[string]any
	if err := json.Unmarshal(value, &v); err != nil {
		t.Fatal(err)
	}
	ups := v["upstreams"].([]any)
	ups[1].(map[string]any)["healthCheck"].(map[string]any)["intervl"] = "5s"
	ups[0].(map[string]any)["weight"] = 101
	v["ports"].([]any)[0].(map[string]any)["port"] = 0
	v["features"].(map[string]any)["Bad-Flag"] = true
	v["logging"].(map[string]any)["level"] = "verbose"
	v["timeouts"].(map[string]any)["idle"] = "2 minutes"
	v["environment"] = "production"
	v["extra"] = 1
	delete(v, "name")
	bad, _ := json.Marshal(v)
	errs := mustValidate(t, s, string(bad))
	want := []string{"", "/environment", "/extra", "/features/Bad-Flag", "/logging/level", "/ports/0/port", "/timeouts/idle", "/upstreams/0/weight", "/upstreams/1/healthCheck/intervl"}
	var got []string
	for _, e := range errs {
		if len(got) == 0 || got[len(got)-1] != e.Pointer {
			got = append(got, e.Pointer)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got pointers %q, want %q; errors:%s", got, want, pointers(errs))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got pointers %q, want %q; errors:%s", got, want, pointers(errs))
		}
	}
}

func BenchmarkValidate_1KiB(b *testing.B) {
	s := mustCompile(b, string(readTestdata(b, "service.schema.json")), nil)
	value := readTestdata(b, "service.value.json")
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		if errs, _, err := s.Validate(value); err != nil || errs != nil {
			b.Fatal(err, errs)
		}
	}
	// CPU time of the whole process (the validation worker and the garbage
	// collector included) per validation: steadier than wall time on a
	// shared machine.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
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

func BenchmarkCompile(b *testing.B) {
	raw := readTestdata(b, "service.schema.json")
	c := NewCache(DefaultConfig())
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compile(testNamespace, "svc", 1, raw, nil); err != nil {
			b.Fatal(err)
		}
	}
}
