package httpapi_test

// Tests of multiplexed watch streams (POST /v1/watch).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/httpapi"
)

// tryMultiStream opens POST /v1/watch with body.
func tryMultiStream(base string, body any, header map[string]string) (*stream, int, string) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/watch", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, out.String()
	}
	return &stream{resp: resp, r: bufio.NewReader(resp.Body), ndjson: resp.Header.Get("Content-Type") == "application/x-ndjson"}, resp.StatusCode, ""
}

func openMultiStream(t *testing.T, base string, body any, header map[string]string) *stream {
	t.Helper()
	s, st, msg := tryMultiStream(base, body, header)
	if st != http.StatusOK {
		t.Fatalf("POST /v1/watch: %d %s", st, msg)
	}
	t.Cleanup(func() { s.resp.Body.Close() })
	return s
}

// TestWatchMulti_MatchesSayWhichWatchSeesWhat opens one stream with
// watches on a key, a prefix, a whole namespace and another namespace, and
// checks that every message carries the union of their events once, with
// Matches naming exactly the watches each event belongs to, live and on a
// resume from history.
func TestWatchMulti_MatchesSayWhichWatchSeesWhat(t *testing.T) {
	t.Parallel()
	n := startWatchNode(t, httpapi.DefaultLimits())
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "m1")
	mustCreateNamespace(t, base, "m2")
	mustCreateNamespace(t, base, "m3")
	mustRegisterSchema(t, base, "m1", "svc", openSchema)
	mustRegisterSchema(t, base, "m2", "svc", openSchema)
	first := mustRegisterSchema(t, base, "m3", "svc", openSchema).CreateRevision

	req := api.WatchRequest{Format: "ndjson", Watches: []api.WatchSpec{
		{ID: "key", Namespace: "m1", Key: "a/1"},
		{ID: "prefix", Namespace: "m1", Prefix: "a/"},
		{ID: "ns2", Namespace: "m2"},
		{ID: "schemas", Namespace: "m1", Kinds: []string{api.KindSchema}},
	}}
	live := openMultiStream(t, base, req, nil)
	if m := live.mustNext(t); m.Type != api.WatchProgress {
		t.Fatalf("first message %+v, want progress", m)
	}

	// want[rev] = watch id -> keys it sees at rev.
	type seen map[string][]string
	want := map[uint64]seen{}
	want[putRev(t, base, "m1", "a/1", `{"n":1}`)] = seen{"key": {"a/1"}, "prefix": {"a/1"}}
	want[putRev(t, base, "m1", "a/2", `{"n":1}`)] = seen{"prefix": {"a/2"}}
	putRev(t, base, "m1", "b/1", `{"n":1}`) // no watch
	putRev(t, base, "m3", "a/1", `{"n":1}`) // no watch
	want[putRev(t, base, "m2", "z", `{"n":1}`)] = seen{"ns2": {"z"}}
	want[mustRegisterSchema(t, base, "m1", "other", openSchema).CreateRevision] = seen{"schemas": {"other"}}
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/batch", api.BatchRequest{Ops: []api.BatchOp{
		{Op: "put", Namespace: "m1", Key: "a/1", Schema: "svc", Value: json.RawMessage(`{"n":2}`)},
		{Op: "put", Namespace: "m2", Key: "y", Schema: "svc", Value: json.RawMessage(`{"n":2}`)},
		{Op: "put", Namespace: "m3", Key: "q", Schema: "svc", Value: json.RawMessage(`{"n":2}`)},
	}}, nil)
	wantStatus(t, "batch", st, body, http.StatusOK)
	batchRev := decodeAs[api.BatchResult](t, body).Revision
	want[batchRev] = seen{"key": {"a/1"}, "prefix": {"a/1"}, "ns2": {"y"}}

	check := func(what string, msgs []api.WatchMessage) {
		t.Helper()
		got := map[uint64]seen{}
		for _, m := range msgs {
			if _, dup := got[m.Revision]; dup {
				t.Fatalf("%s: revision %d twice", what, m.Revision)
			}
			g := seen{}
			for id, idx := range m.Matches {
				for _, i := range idx {
					if i < 0 || i >= len(m.Events) {
						t.Fatalf("%s: match index %d out of %d events", what, i, len(m.Events))
					}
					g[id] = append(g[id], m.Events[i].Key)
				}
			}
			// Every event of the message belongs to some watch.
			for i := range m.Events {
				owned := false
				for _, idx := range m.Matches {
					owned = owned || slices.Contains(idx, i)
				}
				if !owned {
					t.Fatalf("%s: event %d of revision %d matches no watch", what, i, m.Revision)
				}
			}
			got[m.Revision] = g
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
		}
	}
	check("live", live.eventsUntil(t, batchRev))

	req.FromRevision = first + 1
	check("replay", openMultiStream(t, base, req, nil).eventsUntil(t, batchRev))
	req.FromRevision = 0
	check("Last-Event-ID", openMultiStream(t, base, req, map[string]string{"Last-Event-ID": strconv.FormatUint(first, 10)}).eventsUntil(t, batchRev))
}

// TestWatchMulti_BadRequestsAndLimits: each bad body is a 400 (or 429 for
// the per-client limit, which counts every watch of a stream).
func TestWatchMulti_BadRequestsAndLimits(t *testing.T) {
	t.Parallel()
	l := httpapi.DefaultLimits()
	l.WatchMaxPerStream = 3
	l.WatchMaxPerClient = 4
	n := startWatchNode(t, l)
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "ml")
	w := func(id string) api.WatchSpec { return api.WatchSpec{ID: id, Namespace: "ml"} }
	for _, c := range []struct {
		name string
		body any
	}{
		{"no watches", api.WatchRequest{}},
		{"empty body", nil},
		{"unknown field", map[string]any{"watches": []any{map[string]any{"id": "a", "namespace": "ml"}}, "nope": 1}},
		{"missing id", api.WatchRequest{Watches: []api.WatchSpec{{Namespace: "ml"}}}},
		{"long id", api.WatchRequest{Watches: []api.WatchSpec{w(string(make([]byte, 65)))}}},
		{"duplicate id", api.WatchRequest{Watches: []api.WatchSpec{w("a"), w("a")}}},
		{"missing namespace", api.WatchRequest{Watches: []api.WatchSpec{{ID: "a"}}}},
		{"bad namespace", api.WatchRequest{Watches: []api.WatchSpec{{ID: "a", Namespace: "Bad_NS"}}}},
		{"key and prefix", api.WatchRequest{Watches: []api.WatchSpec{{ID: "a", Namespace: "ml", Key: "k", Prefix: "p"}}}},
		{"bad key", api.WatchRequest{Watches: []api.WatchSpec{{ID: "a", Namespace: "ml", Key: "a/../b"}}}},
		{"bad kind", api.WatchRequest{Watches: []api.WatchSpec{{ID: "a", Namespace: "ml", Kinds: []string{"thing"}}}}},
		{"bad format", api.WatchRequest{Watches: []api.WatchSpec{w("a")}, Format: "xml"}},
		{"bad progress", api.WatchRequest{Watches: []api.WatchSpec{w("a")}, Progress: "1ms"}},
		{"too many watches", api.WatchRequest{Watches: []api.WatchSpec{w("a"), w("b"), w("c"), w("d")}}},
	} {
		var body any = c.body
		if c.body == nil {
			body = json.RawMessage(``)
		}
		_, st, msg := tryMultiStream(base, body, nil)
		if st != http.StatusBadRequest || codeOf(msg) == "" {
			t.Errorf("%s: %d %s, want 400 with an error code", c.name, st, msg)
		}
	}
	// Three watches on one stream, then a stream of two is one too many
	// for a client allowed four.
	openMultiStream(t, base, api.WatchRequest{Watches: []api.WatchSpec{w("a"), w("b"), w("c")}}, nil).mustNext(t)
	_, st, msg := tryMultiStream(base, api.WatchRequest{Watches: []api.WatchSpec{w("a"), w("b")}}, nil)
	if st != http.StatusTooManyRequests || codeOf(msg) != api.CodeTooManyWatchers {
		t.Fatalf("over the per-client limit: %d %s, want 429 too_many_watchers", st, msg)
	}
	openMultiStream(t, base, api.WatchRequest{Watches: []api.WatchSpec{w("a")}}, nil).mustNext(t)
}

// codeOf returns the error code of an error body.
func codeOf(body string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	return errorCode(m)
}
