package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/httpapi"
)

const teamSchema = `{"type":"object","properties":{"owner":{"type":"object","properties":{"team":{"type":"string"}}},"limits":{"type":"object","properties":{"rps":{"type":"integer"}}},"enabled":{"type":"boolean"}}}`

// waitIndexReady polls an index until it is ready.
func waitIndexReady(t *testing.T, base, ns, name string) api.Index {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/"+ns+"/indexes/"+name, nil, nil)
		wantStatus(t, "get index "+name, st, body, http.StatusOK)
		d := decodeAs[api.Index](t, body)
		if d.State == api.IndexReady {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("index %s not ready: %+v", name, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func query(t *testing.T, base, ns string, params url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	return doJSON(t, http.MethodGet, base+"/v1/namespaces/"+ns+"/configs?"+params.Encode(), nil, nil)
}

func keysOf(items []api.ConfigEntry) []string {
	out := make([]string, len(items))
	for i, e := range items {
		out[i] = e.Key
	}
	return out
}

func TestIndexes_BuildQueryBlockAndDrop(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "pay")
	mustRegisterSchema(t, base, "pay", "svc", teamSchema)
	teams := []string{"payments", "search", "infra"}
	for i := range 30 {
		mustPutConfig(t, base, "pay", fmt.Sprintf("svc/%02d", i), "svc",
			fmt.Sprintf(`{"owner":{"team":%q},"limits":{"rps":%d},"enabled":%v}`, teams[i%3], i*10, i%2 == 0), nil)
	}
	// Declared over existing entries: building, then ready in the background.
	// The answer is read once the declaration has applied; the background
	// build (30 entries are one chunk) may have finished by then, so it is
	// building or ready, never anything else.
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/pay/indexes",
		api.CreateIndexRequest{Name: "team", Path: "owner.team"}, nil)
	wantStatus(t, "create index", st, body, http.StatusCreated)
	if d := decodeAs[api.Index](t, body); (d.State != api.IndexBuilding && d.State != api.IndexReady) || d.Path != "owner.team" {
		t.Fatalf("created index = %+v, want building or ready", d)
	}
	d := waitIndexReady(t, base, "pay", "team")
	if d.Entries != 30 || d.Total != 30 || d.Processed != 30 {
		t.Fatalf("ready index = %+v, want 30 entries of 30", d)
	}
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/pay/indexes",
		api.CreateIndexRequest{Name: "rps", Path: "limits.rps", Schema: "svc"}, nil)
	wantStatus(t, "create schema index", st, body, http.StatusCreated)
	waitIndexReady(t, base, "pay", "rps")

	st, h, body := query(t, base, "pay", url.Values{"where": {"owner.team==payments", "enabled==true"}})
	wantStatus(t, "query", st, body, http.StatusOK)
	l := decodeAs[api.ConfigList](t, body)
	if want := []string{"svc/00", "svc/06", "svc/12", "svc/18", "svc/24"}; !slices.Equal(keysOf(l.Items), want) {
		t.Fatalf("query = %v, want %v", keysOf(l.Items), want)
	}
	if l.Plan != "index:team" || h.Get(httpapi.HeaderQueryPlan) != "index:team" || l.Examined != 10 {
		t.Fatalf("plan %q header %q examined %d, want index:team over 10", l.Plan, h.Get(httpapi.HeaderQueryPlan), l.Examined)
	}
	// Ranges and in; a schema-restricted index serves a query for its schema.
	st, _, body = query(t, base, "pay", url.Values{"where": {"limits.rps>=250", "owner.team=in=(infra,search)"}, "schema": {"svc"}, "limit": {"2"}})
	wantStatus(t, "range query", st, body, http.StatusOK)
	l = decodeAs[api.ConfigList](t, body)
	if !slices.Equal(keysOf(l.Items), []string{"svc/25", "svc/26"}) || l.Next != "svc/26" || l.Plan != "index:team" {
		t.Fatalf("range page 1 = %v next %q plan %q", keysOf(l.Items), l.Next, l.Plan)
	}
	st, _, body = query(t, base, "pay", url.Values{"where": {"limits.rps>=250"}, "schema": {"svc"}, "after": {"svc/26"}})
	wantStatus(t, "range page 2", st, body, http.StatusOK)
	if l = decodeAs[api.ConfigList](t, body); !slices.Equal(keysOf(l.Items), []string{"svc/27", "svc/28", "svc/29"}) || l.Plan != "index:rps" {
		t.Fatalf("range page 2 = %v plan %q", keysOf(l.Items), l.Plan)
	}
	// A scan on request, and said so.
	st, h, body = query(t, base, "pay", url.Values{"where": {"enabled==false"}, "allow_scan": {"true"}, "limit": {"3"}})
	wantStatus(t, "scan", st, body, http.StatusOK)
	if l = decodeAs[api.ConfigList](t, body); l.Plan != api.PlanScan || h.Get(httpapi.HeaderQueryPlan) != "scan" || !slices.Equal(keysOf(l.Items), []string{"svc/01", "svc/03", "svc/05"}) {
		t.Fatalf("scan = %v plan %q", keysOf(l.Items), l.Plan)
	}

	// Blocking: a where-query with index=N returns when a write changes it.
	st, h, body = query(t, base, "pay", url.Values{"where": {"owner.team==ops"}})
	wantStatus(t, "empty query", st, body, http.StatusOK)
	idx := h.Get(httpapi.HeaderIndex)
	done := make(chan api.ConfigList, 1)
	go func() {
		_, _, body := doJSONNoFatal(http.MethodGet, base+"/v1/namespaces/pay/configs?"+url.Values{
			"where": {"owner.team==ops"}, "index": {idx}, "wait": {"20s"}}.Encode(), nil, nil)
		var l api.ConfigList
		if b, ok := body["items"].([]any); ok && len(b) > 0 {
			l.Items = []api.ConfigEntry{{Key: b[0].(map[string]any)["key"].(string)}}
		}
		done <- l
	}()
	select {
	case l := <-done:
		t.Fatalf("blocking query returned %v before any write", keysOf(l.Items))
	case <-time.After(300 * time.Millisecond):
	}
	mustPutConfig(t, base, "pay", "svc/new", "svc", `{"owner":{"team":"ops"}}`, nil)
	select {
	case l := <-done:
		if !slices.Equal(keysOf(l.Items), []string{"svc/new"}) {
			t.Fatalf("blocking query woke with %v, want [svc/new]", keysOf(l.Items))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("blocking query did not return after the write")
	}

	// Drop.
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/pay/indexes/team", nil, nil)
	wantStatus(t, "drop", st, body, http.StatusOK)
	st, _, body = query(t, base, "pay", url.Values{"where": {"owner.team==payments"}})
	wantError(t, "query after drop", st, body, http.StatusBadRequest, api.CodeIndexRequired)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/pay/indexes", nil, nil)
	wantStatus(t, "list", st, body, http.StatusOK)
	if il := decodeAs[api.IndexList](t, body); len(il.Items) != 1 || il.Items[0].Name != "rps" {
		t.Fatalf("indexes after drop = %+v", il.Items)
	}
}

func TestIndexes_BadInputs(t *testing.T) {
	t.Parallel()
	limits := httpapi.DefaultLimits()
	limits.MaxIndexesPerNamespace = 2
	limits.MaxQueryExamined = 10
	base := mustStartNodeWith(t, limits)
	mustCreateNamespace(t, base, "ns")
	mustRegisterSchema(t, base, "ns", "svc", teamSchema)
	for i := range 12 {
		mustPutConfig(t, base, "ns", fmt.Sprintf("k%02d", i), "svc", `{"owner":{"team":"x"}}`, nil)
	}
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/ns/indexes", api.CreateIndexRequest{Name: "team", Path: "owner.team"}, nil)
	wantStatus(t, "create", st, body, http.StatusCreated)
	waitIndexReady(t, base, "ns", "team")

	post := func(req any) func() (int, map[string]any) {
		return func() (int, map[string]any) {
			st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/ns/indexes", req, nil)
			return st, body
		}
	}
	get := func(path string) func() (int, map[string]any) {
		return func() (int, map[string]any) {
			st, _, body := doJSON(t, http.MethodGet, base+path, nil, nil)
			return st, body
		}
	}
	q := func(v url.Values) func() (int, map[string]any) { return get("/v1/namespaces/ns/configs?" + v.Encode()) }
	cases := []struct {
		name   string
		do     func() (int, map[string]any)
		status int
		code   string
	}{
		{"bad path", post(api.CreateIndexRequest{Name: "a", Path: "owner..team"}), 400, api.CodeInvalidPath},
		{"array path", post(api.CreateIndexRequest{Name: "a", Path: "items[0]"}), 400, api.CodeInvalidPath},
		{"empty path", post(api.CreateIndexRequest{Name: "a"}), 400, api.CodeInvalidPath},
		{"bad name", post(api.CreateIndexRequest{Name: "Bad Name", Path: "a"}), 400, api.CodeInvalidName},
		{"no body", post(nil), 400, api.CodeBadRequest},
		{"unknown field", post(map[string]string{"name": "a", "path": "a", "x": "y"}), 400, api.CodeBadRequest},
		{"non-scalar by schema", post(api.CreateIndexRequest{Name: "a", Path: "limits", Schema: "svc"}), 400, api.CodeIndexNotScalar},
		{"path not in schema", post(api.CreateIndexRequest{Name: "a", Path: "owner.nope", Schema: "svc"}), 400, api.CodeInvalidPath},
		{"missing schema", post(api.CreateIndexRequest{Name: "a", Path: "a", Schema: "nope"}), 404, api.CodeSchemaNotFound},
		{"duplicate", post(api.CreateIndexRequest{Name: "team", Path: "owner.team"}), 409, api.CodeIndexExists},
		{"missing index", get("/v1/namespaces/ns/indexes/nope"), 404, api.CodeIndexNotFound},
		{"missing namespace", get("/v1/namespaces/nope/indexes"), 404, api.CodeNamespaceNotFound},
		{"where unknown operator", q(url.Values{"where": {"owner.team=x"}}), 400, api.CodeUnknownOperator},
		{"where tilde", q(url.Values{"where": {"owner.team~x"}}), 400, api.CodeUnknownOperator},
		{"where bad path", q(url.Values{"where": {"owner..team==x"}}), 400, api.CodeInvalidPath},
		{"where range on bool", q(url.Values{"where": {"owner.team<true"}}), 400, api.CodeInvalidQuery},
		{"where object value", q(url.Values{"where": {`owner.team=={"a":1}`}}), 400, api.CodeInvalidQuery},
		{"where bad in", q(url.Values{"where": {"owner.team=in=x"}}), 400, api.CodeInvalidQuery},
		{"where too many", q(url.Values{"where": {"a", "b", "c", "d", "e", "f", "g", "h", "i"}}), 400, api.CodeInvalidQuery},
		{"no index", q(url.Values{"where": {"enabled==true"}}), 400, api.CodeIndexRequired},
		{"too broad", q(url.Values{"where": {"enabled==true"}, "allow_scan": {"true"}}), 400, api.CodeQueryTooBroad},
		{"bad allow_scan", q(url.Values{"where": {"enabled==true"}, "allow_scan": {"yes"}}), 400, api.CodeBadRequest},
		{"bad schema param", q(url.Values{"where": {"owner.team==x"}, "schema": {"Bad!"}}), 400, api.CodeInvalidName},
	}
	for _, c := range cases {
		st, body := c.do()
		wantError(t, c.name, st, body, c.status, c.code)
	}
	// The limit: the second index fits, the third does not.
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/ns/indexes", api.CreateIndexRequest{Name: "b", Path: "enabled"}, nil)
	wantStatus(t, "second index", st, body, http.StatusCreated)
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/ns/indexes", api.CreateIndexRequest{Name: "c", Path: "x"}, nil)
	wantError(t, "third index", st, body, http.StatusBadRequest, api.CodeTooManyIndexes)
	// Nothing the rejected requests asked for exists.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/ns/indexes", nil, nil)
	wantStatus(t, "list", st, body, http.StatusOK)
	var names []string
	for _, d := range decodeAs[api.IndexList](t, body).Items {
		names = append(names, d.Name)
	}
	if !slices.Equal(names, []string{"b", "team"}) {
		t.Fatalf("indexes = %v, want [b team]", names)
	}
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/ns/indexes/nope", nil, nil)
	wantError(t, "drop missing", st, body, http.StatusNotFound, api.CodeIndexNotFound)
}
