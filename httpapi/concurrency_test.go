package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/schemakv/schemakv/api"
)

// TestConcurrency_CASIncrements runs 32 writers that each increment one
// counter three times with read, then PUT If-Match, retrying on 412. No
// increment may be lost: the final value is the number of successful
// increments, and the history holds exactly one event per write, each
// holding the value its version implies.
func TestConcurrency_CASIncrements(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "counter", `{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}`)
	mustPutConfig(t, base, "app", "counter", "counter", `{"n":0}`, nil)
	url := base + "/v1/namespaces/app/configs/counter"

	const writers, increments, maxAttempts = 32, 3, 2000
	var successes, mismatches atomic.Int64
	var mu sync.Mutex
	wrote := map[int64]int{} // value written → writer
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range increments {
				for attempt := 0; ; attempt++ {
					if attempt == maxAttempts {
						t.Errorf("writer %d: no increment after %d attempts", w, maxAttempts)
						return
					}
					st, h, body := doJSONNoFatal(http.MethodGet, url, nil, nil)
					if st != http.StatusOK {
						t.Errorf("writer %d: get: %d %v", w, st, body)
						return
					}
					value, _ := body["value"].(map[string]any)
					n, ok := intField(value, "n")
					if !ok {
						t.Errorf("writer %d: value %v has no integer n", w, body["value"])
						return
					}
					st, _, body = doJSONNoFatal(http.MethodPut, url, fmt.Sprintf(`{"value":{"n":%d}}`, n+1),
						map[string]string{"If-Match": h.Get("ETag"), "X-Schemakv-Principal": fmt.Sprintf("writer-%d", w)})
					if st == http.StatusPreconditionFailed {
						if code := errorCode(body); code != api.CodeRevisionMismatch {
							t.Errorf("writer %d: 412 with code %q", w, code)
							return
						}
						mismatches.Add(1)
						continue
					}
					if st != http.StatusOK {
						t.Errorf("writer %d: put: %d %v", w, st, body)
						return
					}
					successes.Add(1)
					mu.Lock()
					if other, dup := wrote[n+1]; dup {
						t.Errorf("writers %d and %d both wrote n=%d: an increment was lost", other, w, n+1)
					}
					wrote[n+1] = w
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	total := successes.Load()
	t.Logf("%d increments, %d compare-and-set failures", total, mismatches.Load())
	if total != writers*increments {
		t.Fatalf("%d successful increments, want %d", total, writers*increments)
	}

	st, _, body := doJSON(t, http.MethodGet, url, nil, nil)
	wantStatus(t, "get counter", st, body, http.StatusOK)
	final := decodeAs[api.ConfigEntry](t, body)
	if !jsonEqual(final.Value, fmt.Sprintf(`{"n":%d}`, total)) || final.Version != uint64(total)+1 {
		t.Fatalf("counter = %s at version %d, want n=%d at version %d", final.Value, final.Version, total, total+1)
	}

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/history/counter?limit=1000", nil, nil)
	wantStatus(t, "history", st, body, http.StatusOK)
	hist := decodeAs[api.History](t, body)
	if int64(len(hist.Items)) != total+1 || hist.Next != 0 {
		t.Fatalf("history has %d events, want %d (the first put and one per increment)", len(hist.Items), total+1)
	}
	for i, ev := range hist.Items {
		wantVersion := uint64(len(hist.Items) - i)
		if ev.Version != wantVersion || !jsonEqual(ev.Value, fmt.Sprintf(`{"n":%d}`, wantVersion-1)) {
			t.Fatalf("event %d = version %d value %s, want version %d value n=%d", i, ev.Version, ev.Value, wantVersion, wantVersion-1)
		}
		if i+1 < len(hist.Items) && ev.PrevRevision != hist.Items[i+1].Revision {
			t.Fatalf("event at %d: prev_revision %d, want %d", ev.Revision, ev.PrevRevision, hist.Items[i+1].Revision)
		}
	}
	if hist.Items[0].Revision != final.ModifyRevision {
		t.Fatalf("newest event at %d, entry modified at %d", hist.Items[0].Revision, final.ModifyRevision)
	}
}

// TestConcurrency_SchemaRegistrations registers versions of one schema from
// many goroutines at once. Each registration either gets its own version
// number or fails with schema_conflict; the versions stored are 1..n
// without gaps.
func TestConcurrency_SchemaRegistrations(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")

	const writers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var versions []int
	conflicts := 0
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := fmt.Sprintf(`{"schema":{"type":"object","properties":{"w%d":{"type":"integer"}}}}`, w)
			st, _, body := doJSONNoFatal(http.MethodPost, base+"/v1/namespaces/app/schemas/svc", text, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case st == http.StatusCreated:
				v, ok := intField(body, "version")
				if !ok {
					t.Errorf("writer %d: version %v", w, body["version"])
				}
				versions = append(versions, int(v))
			case st == http.StatusConflict && errorCode(body) == api.CodeSchemaConflict:
				conflicts++
			default:
				t.Errorf("writer %d: %d %v, want 201 or 409 schema_conflict", w, st, body)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d registrations, %d schema_conflict", len(versions), conflicts)
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("registered versions %v, want 1..%d each once", versions, len(versions))
		}
	}
	st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/app/schemas/svc", nil, nil)
	wantStatus(t, "latest", st, body, http.StatusOK)
	if sv := decodeAs[api.SchemaVersion](t, body); sv.Version != len(versions) {
		t.Fatalf("latest version %d, want %d", sv.Version, len(versions))
	}
}

// intField returns the integer field of a decoded object.
func intField(m map[string]any, name string) (int64, bool) {
	n, ok := m[name].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// errorCode returns the code of an error body, or "".
func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}
