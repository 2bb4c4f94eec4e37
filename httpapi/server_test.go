package httpapi_test

// The tests of this package drive the /v1 HTTP API of real nodes started
// with package node: real raft, real bbolt, real HTTP over loopback, no
// mocks. They speak net/http directly, not the client SDK, so they pin the
// wire contract itself: status codes, the stable error codes of the one
// error shape {"error": {"code", "message", ...}}, headers (ETag,
// X-Schemakv-Index) and bodies.
//
// Each top-level test starts its own node (about a second) and runs in
// parallel with the others. This file holds the happy paths of every route
// and, at its end, the helpers shared by the package's tests; errors_test.go
// covers every error code and that rejected writes change nothing,
// limits_test.go the request limits, and concurrency_test.go concurrent
// compare-and-set writers.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/httpapi"
	"github.com/schemakv/schemakv/node"
)

// svcSchema is a closed object schema used by most tests.
const svcSchema = `{"type":"object","properties":{"host":{"type":"string"},"port":{"type":"integer","minimum":1,"maximum":65535},"n":{"type":"integer"}}}`

// openSchema accepts any object.
const openSchema = `{"type":"object","additionalProperties":true}`

func TestNamespaces_Lifecycle(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	alice := map[string]string{httpapi.HeaderPrincipal: "alice"}

	st, h, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/team-a",
		api.CreateNamespaceRequest{Description: "Team A", Reason: "onboarding"}, alice)
	wantStatus(t, "create team-a", st, body, http.StatusCreated)
	created := decodeAs[api.Namespace](t, body)
	if created.Name != "team-a" || created.Description != "Team A" || created.CreatedBy != "alice" ||
		created.CreateRevision == 0 || created.ModifyRevision != created.CreateRevision || created.CreatedAt.IsZero() {
		t.Fatalf("create team-a = %+v, want name, description, creator alice and one revision", created)
	}
	wantIndex(t, "create team-a", h, created.CreateRevision)

	// A namespace may be created without a body.
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/team-b", nil, nil)
	wantStatus(t, "create team-b", st, body, http.StatusCreated)
	if b := decodeAs[api.Namespace](t, body); b.CreatedBy != "anonymous" || b.CreateRevision <= created.CreateRevision {
		t.Fatalf("create team-b = %+v, want created by anonymous after revision %d", b, created.CreateRevision)
	}

	st, h, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/team-a", nil, nil)
	wantStatus(t, "get team-a", st, body, http.StatusOK)
	got := decodeAs[api.Namespace](t, body)
	if got.Name != created.Name || got.Description != created.Description || got.CreateRevision != created.CreateRevision ||
		!got.CreatedAt.Equal(created.CreatedAt) || got.ConfigCount != 0 || got.SchemaCount != 0 {
		t.Fatalf("get team-a = %+v, want %+v", got, created)
	}
	if h.Get(httpapi.HeaderIndex) == "" {
		t.Fatalf("get team-a: no %s header", httpapi.HeaderIndex)
	}

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces", nil, nil)
	wantStatus(t, "list", st, body, http.StatusOK)
	list := decodeAs[api.NamespaceList](t, body)
	if names := namespaceNames(list.Items); !slices.Equal(names, []string{"team-a", "team-b"}) {
		t.Fatalf("list = %v, want [team-a team-b] in name order", names)
	}

	// Counts follow the contents.
	mustRegisterSchema(t, base, "team-a", "svc", svcSchema)
	mustPutConfig(t, base, "team-a", "svc/a", "svc", `{"port":1}`, nil)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/team-a", nil, nil)
	wantStatus(t, "get team-a with contents", st, body, http.StatusOK)
	if got := decodeAs[api.Namespace](t, body); got.ConfigCount != 1 || got.SchemaCount != 1 {
		t.Fatalf("get team-a = %+v, want 1 config and 1 schema", got)
	}

	// An empty namespace is deleted without force.
	st, h, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/team-b", nil, nil)
	wantStatus(t, "delete team-b", st, body, http.StatusOK)
	delB := decodeAs[api.WriteResult](t, body)
	wantIndex(t, "delete team-b", h, delB.Revision)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/team-b", nil, nil)
	wantError(t, "get deleted team-b", st, body, http.StatusNotFound, api.CodeNamespaceNotFound)

	// A namespace with contents needs force, which deletes them too.
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/team-a", nil, nil)
	wantError(t, "delete team-a without force", st, body, http.StatusConflict, api.CodeNamespaceNotEmpty)
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/team-a?force=true", nil,
		map[string]string{httpapi.HeaderPrincipal: "root", httpapi.HeaderReason: "decommission"})
	wantStatus(t, "delete team-a with force", st, body, http.StatusOK)
	delA := decodeAs[api.WriteResult](t, body)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/team-a", nil, nil)
	wantError(t, "get deleted team-a", st, body, http.StatusNotFound, api.CodeNamespaceNotFound)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/team-a/configs/svc/a", nil, nil)
	wantError(t, "get config of deleted team-a", st, body, http.StatusNotFound, api.CodeNamespaceNotFound)

	// The forced delete recorded a delete event for the config it removed.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/team-a/history/svc/a", nil, nil)
	wantStatus(t, "history of a config of deleted team-a", st, body, http.StatusOK)
	hist := decodeAs[api.History](t, body)
	if len(hist.Items) != 2 || hist.Items[0].Op != api.OpDelete || hist.Items[0].Revision != delA.Revision ||
		hist.Items[0].Principal != "root" || hist.Items[0].Reason != "decommission" {
		t.Fatalf("history after forced delete = %+v, want the delete at %d by root first", hist.Items, delA.Revision)
	}

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces", nil, nil)
	wantStatus(t, "list after deletes", st, body, http.StatusOK)
	if list := decodeAs[api.NamespaceList](t, body); list.Items == nil || len(list.Items) != 0 || list.Revision < delA.Revision {
		t.Fatalf("list after deletes = %+v, want an empty (not null) list at revision >= %d", list, delA.Revision)
	}
	if !strings.Contains(string(mustJSON(t, body)), `"items":[]`) {
		t.Fatalf("list after deletes = %s, want \"items\":[]", mustJSON(t, body))
	}

	// A deleted namespace can be created again, empty.
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/team-a", nil, nil)
	wantStatus(t, "create team-a again", st, body, http.StatusCreated)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/team-a/schemas", nil, nil)
	wantStatus(t, "schemas of re-created team-a", st, body, http.StatusOK)
	if l := decodeAs[api.SchemaList](t, body); len(l.Items) != 0 {
		t.Fatalf("schemas of re-created team-a = %+v, want none", l.Items)
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/team-a/configs/svc/a", nil, nil)
	wantError(t, "config of re-created team-a", st, body, http.StatusNotFound, api.CodeConfigNotFound)
	// A new svc@1 replaces the deleted one: values are checked against the
	// new text, not a compiled copy of the old.
	if sv := mustRegisterSchema(t, base, "team-a", "svc", `{"type":"string"}`); sv.Version != 1 {
		t.Fatalf("first schema of re-created team-a is version %d, want 1", sv.Version)
	}
	mustPutConfig(t, base, "team-a", "svc/a", "svc@1", `"a string"`, nil)
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/team-a/configs/svc/b", `{"schema":"svc@1","value":{"port":1}}`, nil)
	wantError(t, "old-shape value under the new svc@1", st, body, http.StatusUnprocessableEntity, api.CodeValidationFailed)
	// The key's history spans both lives of the namespace.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/team-a/history/svc/a", nil, nil)
	wantStatus(t, "history across re-creation", st, body, http.StatusOK)
	if h := decodeAs[api.History](t, body); len(h.Items) != 3 || h.Items[0].Version != 1 || h.Items[1].Op != api.OpDelete {
		t.Fatalf("history across re-creation = %+v, want put, delete, put", h.Items)
	}
}

func TestSchemas_RegisterAndRead(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")

	texts := []string{
		`{"type":"object","properties":{"port":{"type":"integer"}}}`,
		`{"type": "object", "properties": {"port": {"type": "integer"}, "host": {"type": "string"}}}`,
		`{"type":"object","properties":{"port":{"type":"integer"},"host":{"type":"string"},"tls":{"type":"boolean"}}}`,
	}
	var versions []api.SchemaVersion
	for i, text := range texts {
		st, h, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/svc",
			map[string]any{"schema": json.RawMessage(text), "description": fmt.Sprintf("v%d", i+1), "reason": "rollout"},
			map[string]string{httpapi.HeaderPrincipal: "schema-admin"})
		wantStatus(t, fmt.Sprintf("register #%d", i+1), st, body, http.StatusCreated)
		sv := decodeAs[api.SchemaVersion](t, body)
		if sv.Version != i+1 || sv.Namespace != "app" || sv.Name != "svc" || sv.Description != fmt.Sprintf("v%d", i+1) ||
			sv.CreatedBy != "schema-admin" || sv.Reason != "rollout" || sv.CreateRevision == 0 || !jsonEqual(sv.Schema, text) {
			t.Fatalf("register #%d = %+v, want version %d of app/svc with its text, creator and reason", i+1, sv, i+1)
		}
		wantIndex(t, fmt.Sprintf("register #%d", i+1), h, sv.CreateRevision)
		versions = append(versions, sv)
	}

	st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/app/schemas/svc", nil, nil)
	wantStatus(t, "get latest", st, body, http.StatusOK)
	if latest := decodeAs[api.SchemaVersion](t, body); latest.Version != 3 || latest.CreateRevision != versions[2].CreateRevision || !jsonEqual(latest.Schema, texts[2]) {
		t.Fatalf("get latest = %+v, want version 3", latest)
	}

	mustRegisterSchema(t, base, "app", "other", `{"type":"string"}`)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/schemas", nil, nil)
	wantStatus(t, "list", st, body, http.StatusOK)
	list := decodeAs[api.SchemaList](t, body)
	if len(list.Items) != 2 || list.Items[0].Name != "other" || list.Items[1].Name != "svc" {
		t.Fatalf("list = %+v, want other and svc in name order", list.Items)
	}
	if s := list.Items[1]; s.LatestVersion != 3 || !slices.Equal(s.Versions, []int{1, 2, 3}) ||
		s.ModifyRevision != versions[2].CreateRevision || s.Namespace != "app" {
		t.Fatalf("list item svc = %+v, want latest 3, versions [1 2 3], modify revision %d", s, versions[2].CreateRevision)
	}

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/schemas/svc/versions", nil, nil)
	wantStatus(t, "versions", st, body, http.StatusOK)
	vl := decodeAs[api.SchemaVersionList](t, body)
	if len(vl.Items) != 3 {
		t.Fatalf("versions = %+v, want 3", vl.Items)
	}
	for i, sv := range vl.Items {
		if sv.Version != i+1 || sv.CreateRevision != versions[i].CreateRevision || !jsonEqual(sv.Schema, texts[i]) {
			t.Fatalf("versions[%d] = %+v, want version %d", i, sv, i+1)
		}
	}

	for i := range texts {
		url := fmt.Sprintf("%s/v1/namespaces/app/schemas/svc/versions/%d", base, i+1)
		st, _, body = doJSON(t, http.MethodGet, url, nil, nil)
		wantStatus(t, "get version", st, body, http.StatusOK)
		if sv := decodeAs[api.SchemaVersion](t, body); sv.Version != i+1 || !jsonEqual(sv.Schema, texts[i]) {
			t.Fatalf("get version %d = %+v", i+1, sv)
		}
	}

	// A config pins the latest version by default and an older one on
	// request.
	e := mustPutConfig(t, base, "app", "a", "svc", `{"port":80}`, nil)
	if e.Schema != "svc" || e.SchemaVersion != 3 {
		t.Fatalf("put with schema svc: pinned %s@%d, want svc@3", e.Schema, e.SchemaVersion)
	}
	e = mustPutConfig(t, base, "app", "b", "svc@1", `{"port":80}`, nil)
	if e.SchemaVersion != 1 {
		t.Fatalf("put with schema svc@1: pinned version %d, want 1", e.SchemaVersion)
	}
	// Version 1 does not know host.
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/app/configs/b",
		map[string]any{"schema": "svc@1", "value": map[string]any{"port": 80, "host": "x"}}, nil)
	wantError(t, "put host under svc@1", st, body, http.StatusUnprocessableEntity, api.CodeValidationFailed)

	// A schema may refer to a version of another schema of its namespace.
	mustRegisterSchema(t, base, "app", "address", `{"type":"object","properties":{"street":{"type":"string"}},"required":["street"]}`)
	mustRegisterSchema(t, base, "app", "person", `{"type":"object","properties":{"name":{"type":"string"},"home":{"$ref":"address@1"}}}`)
	mustPutConfig(t, base, "app", "people/ann", "person", `{"name":"Ann","home":{"street":"Main St"}}`, nil)
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/app/configs/people/bob",
		map[string]any{"schema": "person", "value": map[string]any{"name": "Bob", "home": map[string]any{"street": "x", "zip": "1"}}}, nil)
	e2 := wantError(t, "put unknown property through $ref", st, body, http.StatusUnprocessableEntity, api.CodeValidationFailed)
	wantPointers(t, e2.Details, "/home/zip")
}

func TestConfigs_PutGetListDelete(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	url := base + "/v1/namespaces/app/configs/svc/web"

	// Create: 201, the entry, ETag and index.
	st, h, body := doJSON(t, http.MethodPut, url, map[string]any{"schema": "svc", "value": json.RawMessage(`{"host": "a", "port": 80}`), "reason": "first"},
		map[string]string{httpapi.HeaderPrincipal: "alice"})
	wantStatus(t, "create", st, body, http.StatusCreated)
	first := decodeAs[api.ConfigEntry](t, body)
	if first.Namespace != "app" || first.Key != "svc/web" || first.Version != 1 || first.CreateRevision == 0 ||
		first.ModifyRevision != first.CreateRevision || first.Schema != "svc" || first.SchemaVersion != 1 ||
		first.ModifiedBy != "alice" || first.Reason != "first" || first.ModifiedAt.IsZero() ||
		!jsonEqual(first.Value, `{"host":"a","port":80}`) {
		t.Fatalf("create = %+v", first)
	}
	wantETag(t, "create", h, first.ModifyRevision)
	wantIndex(t, "create", h, first.ModifyRevision)

	// Update: 200, same create revision, next version.
	mustRegisterSchema(t, base, "app", "svc", svcSchema) // version 2
	st, h, body = doJSON(t, http.MethodPut, url, map[string]any{"schema": "svc@1", "value": map[string]any{"host": "b", "port": 81}}, nil)
	wantStatus(t, "update", st, body, http.StatusOK)
	second := decodeAs[api.ConfigEntry](t, body)
	if second.Version != 2 || second.CreateRevision != first.CreateRevision || second.ModifyRevision <= first.ModifyRevision ||
		second.SchemaVersion != 1 || second.ModifiedBy != "anonymous" || second.Reason != "" {
		t.Fatalf("update = %+v, want version 2 of the entry created at %d, pinned to svc@1", second, first.CreateRevision)
	}
	wantETag(t, "update", h, second.ModifyRevision)
	wantIndex(t, "update", h, second.ModifyRevision)

	// Without a schema the entry keeps its schema name and takes its latest
	// version.
	st, _, body = doJSON(t, http.MethodPut, url, map[string]any{"value": map[string]any{"host": "c"}}, nil)
	wantStatus(t, "update without schema", st, body, http.StatusOK)
	third := decodeAs[api.ConfigEntry](t, body)
	if third.Schema != "svc" || third.SchemaVersion != 2 || third.Version != 3 {
		t.Fatalf("update without schema = %+v, want svc@2 version 3", third)
	}

	st, h, body = doJSON(t, http.MethodGet, url, nil, nil)
	wantStatus(t, "get", st, body, http.StatusOK)
	got := decodeAs[api.ConfigEntry](t, body)
	if got.ModifyRevision != third.ModifyRevision || got.Version != 3 || !jsonEqual(got.Value, `{"host":"c"}`) ||
		!got.ModifiedAt.Equal(third.ModifiedAt) {
		t.Fatalf("get = %+v, want %+v", got, third)
	}
	wantETag(t, "get", h, third.ModifyRevision)
	if idx := headerIndex(t, h); idx < third.ModifyRevision {
		t.Fatalf("get: index %d below the write at %d", idx, third.ModifyRevision)
	}

	// Conditional writes with the right condition succeed.
	st, _, body = doJSON(t, http.MethodPut, url, `{"value":{"host":"d"}}`, map[string]string{"If-Match": h.Get("ETag")})
	wantStatus(t, "update If-Match the ETag", st, body, http.StatusOK)
	fourth := decodeAs[api.ConfigEntry](t, body)
	st, _, body = doJSON(t, http.MethodPut, fmt.Sprintf("%s?cas=%d", url, fourth.ModifyRevision), `{"schema":"","value":{"host":"e"}}`, nil)
	wantStatus(t, "update cas= the modify revision, empty schema", st, body, http.StatusOK)
	fifth := decodeAs[api.ConfigEntry](t, body)
	if fifth.Schema != "svc" || fifth.Version != 5 {
		t.Fatalf("update with an empty schema = %+v, want svc version 5", fifth)
	}
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/app/configs/cond/a", `{"schema":"svc","value":{}}`, map[string]string{"If-None-Match": "*"})
	wantStatus(t, "create If-None-Match *", st, body, http.StatusCreated)
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/app/configs/cond/b?cas=0", `{"schema":"svc","value":{}}`, nil)
	wantStatus(t, "create cas=0", st, body, http.StatusCreated)
	condB := decodeAs[api.ConfigEntry](t, body)
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/app/configs/cond/b", nil, map[string]string{"If-Match": fmt.Sprintf(`"%d"`, condB.ModifyRevision)})
	wantStatus(t, "delete If-Match the modify revision", st, body, http.StatusOK)

	// Every allowed key character round-trips.
	odd := "a-b_c.d:e@f+g=h~i/Z9"
	mustPutConfig(t, base, "app", odd, "svc", `{}`, nil)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs/"+odd, nil, nil)
	wantStatus(t, "get odd key", st, body, http.StatusOK)
	if e := decodeAs[api.ConfigEntry](t, body); e.Key != odd {
		t.Fatalf("get odd key: key %q, want %q", e.Key, odd)
	}

	// Delete: 200 with the revision; the key is gone.
	st, h, body = doJSON(t, http.MethodDelete, url, nil, nil)
	wantStatus(t, "delete", st, body, http.StatusOK)
	del := decodeAs[api.WriteResult](t, body)
	if del.Revision <= fifth.ModifyRevision {
		t.Fatalf("delete revision %d, want above %d", del.Revision, fifth.ModifyRevision)
	}
	wantIndex(t, "delete", h, del.Revision)
	st, _, body = doJSON(t, http.MethodGet, url, nil, nil)
	wantError(t, "get deleted", st, body, http.StatusNotFound, api.CodeConfigNotFound)

	// Created again: 201, version 1, a new create revision.
	again := mustPutConfig(t, base, "app", "svc/web", "svc", `{"port":1}`, nil)
	if again.Version != 1 || again.CreateRevision <= del.Revision {
		t.Fatalf("re-create = %+v, want version 1 created after %d", again, del.Revision)
	}
}

// TestConfigs_ValuesRoundTrip writes values of every JSON kind and reads
// them back equal, numbers to the digit: the server keeps the text and
// never goes through float64.
func TestConfigs_ValuesRoundTrip(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "any", `{}`)
	mustRegisterSchema(t, base, "app", "big", `{"type":"object","properties":{"n":{"type":"integer","maximum":12345678901234567890}}}`)

	values := []string{
		`null`, `true`, `false`, `0`, `-0`, `1.0`, `1.50`, `-1e-7`, `1E+400`,
		`12345678901234567890123`, `9007199254740993`,
		`""`, `"\u00e9 \ud83d\ude00 \" \\ / \n"`, `"é 😀 <a&b>"`,
		`[]`, `[1,"a",null,[{}]]`, `{}`, `{"a":{"b":[1,2,{"c":null}]},"":1,"~/":2}`,
	}
	var revs []uint64
	for _, v := range values {
		e := mustPutConfig(t, base, "app", "v", "any", v, nil)
		if !sameJSON(t, e.Value, v) {
			t.Fatalf("put %s answered %s", v, e.Value)
		}
		revs = append(revs, e.ModifyRevision)
		st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs/v", nil, nil)
		wantStatus(t, "get "+v, st, body, http.StatusOK)
		if got := decodeAs[api.ConfigEntry](t, body).Value; !sameJSON(t, got, v) {
			t.Fatalf("put %s, read back %s", v, got)
		}
	}
	// History and rollback keep the text too.
	for i, v := range values {
		st, _, body := doJSON(t, http.MethodGet, fmt.Sprintf("%s/v1/namespaces/app/history/v?before=%d&limit=1", base, revs[i]+1), nil, nil)
		wantStatus(t, "history of "+v, st, body, http.StatusOK)
		if got := decodeAs[api.History](t, body).Items[0].Value; !sameJSON(t, got, v) {
			t.Fatalf("history holds %s for %s", got, v)
		}
	}
	big := `12345678901234567890123`
	i := slices.Index(values, big)
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/app/rollback/v", api.RollbackRequest{Revision: revs[i]}, nil)
	wantStatus(t, "rollback to the big number", st, body, http.StatusOK)
	if got := decodeAs[api.ConfigEntry](t, body).Value; string(got) != big {
		t.Fatalf("rollback restored %s, want %s", got, big)
	}
	// Schema keywords compare big integers exactly.
	mustPutConfig(t, base, "app", "b", "big", `{"n":12345678901234567890}`, nil)
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/app/configs/b", `{"value":{"n":12345678901234567891}}`, nil)
	e := wantError(t, "integer one above a big maximum", st, body, http.StatusUnprocessableEntity, api.CodeValidationFailed)
	wantPointers(t, e.Details, "/n")
}

func TestConfigs_ListPrefixAndPages(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustCreateNamespace(t, base, "zzz")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	mustRegisterSchema(t, base, "zzz", "svc", svcSchema)

	var want []string
	for i := range 12 {
		want = append(want, fmt.Sprintf("app/k%02d", i))
	}
	ops := []api.BatchOp{}
	for _, k := range want {
		ops = append(ops, api.BatchOp{Op: api.BatchPut, Namespace: "app", Key: k, Schema: "svc", Value: json.RawMessage(`{}`)})
	}
	// Neighbours that a prefix scan must not return: keys sorting before and
	// after the prefix, a key that is the prefix without its slash, and the
	// same keys in another namespace.
	for _, k := range []string{"ap", "app", "app0/x", "apq/x", "db/a", "db/b", "db/c"} {
		ops = append(ops, api.BatchOp{Op: api.BatchPut, Namespace: "app", Key: k, Schema: "svc", Value: json.RawMessage(`{}`)})
	}
	for _, k := range want {
		ops = append(ops, api.BatchOp{Op: api.BatchPut, Namespace: "zzz", Key: k, Schema: "svc", Value: json.RawMessage(`{}`)})
	}
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/batch", api.BatchRequest{Ops: ops}, nil)
	wantStatus(t, "batch of keys", st, body, http.StatusOK)

	for _, limit := range []int{1, 5, 11, 12, 13} {
		keys, pages := listAllKeys(t, base, "app", "app/", limit)
		if !slices.Equal(keys, want) {
			t.Fatalf("limit %d: listed %v, want %v (no duplicates, no gaps, in order)", limit, keys, want)
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages && pages != wantPages+1 {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
	// With limit 5: exactly pages of 5, 5 and 2, the last without next.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs?prefix=app/&limit=5", nil, nil)
	wantStatus(t, "page 1", st, body, http.StatusOK)
	p1 := decodeAs[api.ConfigList](t, body)
	if len(p1.Items) != 5 || p1.Next != "app/k04" {
		t.Fatalf("page 1 = %d items, next %q; want 5 and app/k04", len(p1.Items), p1.Next)
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs?prefix=app/&limit=5&after=app/k09", nil, nil)
	wantStatus(t, "last page", st, body, http.StatusOK)
	p3 := decodeAs[api.ConfigList](t, body)
	if len(p3.Items) != 2 || p3.Next != "" || p3.Items[0].Key != "app/k10" {
		t.Fatalf("last page = %+v, want app/k10 and app/k11 without next", p3)
	}

	keys, _ := listAllKeys(t, base, "app", "db/", 2)
	if !slices.Equal(keys, []string{"db/a", "db/b", "db/c"}) {
		t.Fatalf("prefix db/: %v", keys)
	}
	keys, _ = listAllKeys(t, base, "app", "", 4)
	if len(keys) != len(want)+7 || !slices.IsSorted(keys) {
		t.Fatalf("no prefix: %d keys %v, want %d sorted", len(keys), keys, len(want)+7)
	}
	keys, _ = listAllKeys(t, base, "app", "nothing/", 3)
	if len(keys) != 0 {
		t.Fatalf("prefix nothing/: %v, want none", keys)
	}
	// An empty page is [] rather than null.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs?prefix=nothing/", nil, nil)
	wantStatus(t, "empty page", st, body, http.StatusOK)
	if !strings.Contains(string(mustJSON(t, body)), `"items":[]`) {
		t.Fatalf("empty page = %s, want \"items\":[]", mustJSON(t, body))
	}

	// Deleting while paging: a key deleted behind the cursor is not
	// returned again and nothing after it is skipped.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs?prefix=app/&limit=5", nil, nil)
	wantStatus(t, "page before delete", st, body, http.StatusOK)
	pg := decodeAs[api.ConfigList](t, body)
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/app/configs/"+pg.Next, nil, nil)
	wantStatus(t, "delete the cursor key", st, body, http.StatusOK)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs?prefix=app/&limit=5&after="+pg.Next, nil, nil)
	wantStatus(t, "page after the deleted cursor", st, body, http.StatusOK)
	if next := decodeAs[api.ConfigList](t, body); len(next.Items) == 0 || next.Items[0].Key != "app/k05" {
		t.Fatalf("page after deleted cursor %q = %+v, want it to start at app/k05", pg.Next, next.Items)
	}
}

func TestHistory_NewestFirstWithAuditAndPages(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	url := base + "/v1/namespaces/app/configs/svc/h"
	put := func(n int, reason string, headers map[string]string) api.ConfigEntry {
		t.Helper()
		st, _, body := doJSON(t, http.MethodPut, url, map[string]any{"schema": "svc", "value": map[string]any{"n": n}, "reason": reason}, headers)
		if st != http.StatusOK && st != http.StatusCreated {
			t.Fatalf("put n=%d: status %d: %s", n, st, mustJSON(t, body))
		}
		return decodeAs[api.ConfigEntry](t, body)
	}

	type want struct {
		op, principal, reason string
		n                     int
	}
	var wants []want // oldest first
	var revs []uint64

	revs = append(revs, put(1, "initial", map[string]string{httpapi.HeaderPrincipal: "alice"}).ModifyRevision)
	wants = append(wants, want{api.OpPut, "alice", "initial", 1})
	revs = append(revs, put(2, "", map[string]string{httpapi.HeaderPrincipal: "bob", httpapi.HeaderReason: "CR-42"}).ModifyRevision)
	wants = append(wants, want{api.OpPut, "bob", "CR-42", 2})
	// The body's reason wins over the header's.
	revs = append(revs, put(3, "body wins", map[string]string{httpapi.HeaderPrincipal: "carol", httpapi.HeaderReason: "header loses"}).ModifyRevision)
	wants = append(wants, want{api.OpPut, "carol", "body wins", 3})
	st, _, body := doJSON(t, http.MethodDelete, url, nil, map[string]string{httpapi.HeaderPrincipal: "dave", httpapi.HeaderReason: "cleanup"})
	wantStatus(t, "delete", st, body, http.StatusOK)
	revs = append(revs, decodeAs[api.WriteResult](t, body).Revision)
	wants = append(wants, want{api.OpDelete, "dave", "cleanup", 0})
	for n := 4; n <= 7; n++ {
		revs = append(revs, put(n, "", nil).ModifyRevision)
		wants = append(wants, want{api.OpPut, "anonymous", "", n})
	}

	st, h, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/app/history/svc/h", nil, nil)
	wantStatus(t, "history", st, body, http.StatusOK)
	hist := decodeAs[api.History](t, body)
	if len(hist.Items) != len(wants) || hist.Next != 0 {
		t.Fatalf("history: %d events, next %d; want %d and no next", len(hist.Items), hist.Next, len(wants))
	}
	if idx := headerIndex(t, h); idx < revs[len(revs)-1] || hist.Revision < revs[len(revs)-1] {
		t.Fatalf("history: index %d, revision %d; want >= %d", idx, hist.Revision, revs[len(revs)-1])
	}
	var prevRev uint64 // modify revision before each event, oldest first
	for i := range wants {
		w, ev := wants[i], hist.Items[len(wants)-1-i]
		if ev.Revision != revs[i] || ev.Op != w.op || ev.Principal != w.principal || ev.Reason != w.reason ||
			ev.Kind != api.KindConfig || ev.Namespace != "app" || ev.Key != "svc/h" || ev.Time.IsZero() {
			t.Fatalf("event %d (oldest first) = %+v, want revision %d %+v", i, ev, revs[i], w)
		}
		if ev.PrevRevision != prevRev {
			t.Fatalf("event %d: prev_revision %d, want %d", i, ev.PrevRevision, prevRev)
		}
		switch w.op {
		case api.OpPut:
			if !jsonEqual(ev.Value, fmt.Sprintf(`{"n":%d}`, w.n)) || ev.Schema != "svc" || ev.SchemaVersion != 1 {
				t.Fatalf("event %d = %+v, want value n=%d under svc@1", i, ev, w.n)
			}
			prevRev = ev.Revision
		case api.OpDelete:
			if ev.Value != nil || ev.Version != 0 {
				t.Fatalf("delete event = %+v, want no value and version 0", ev)
			}
			prevRev = 0
		}
	}
	// Versions restart after the delete.
	if v := hist.Items[0].Version; v != 4 {
		t.Fatalf("newest event version %d, want 4 (four puts since the delete)", v)
	}

	// Pages of 3, newest first, chained by next/before.
	var paged []api.Event
	before := uint64(0)
	for pages := 0; ; pages++ {
		if pages > len(wants) {
			t.Fatal("history pages do not end")
		}
		u := fmt.Sprintf("%s/v1/namespaces/app/history/svc/h?limit=3&before=%d", base, before)
		st, _, body := doJSON(t, http.MethodGet, u, nil, nil)
		wantStatus(t, "history page", st, body, http.StatusOK)
		p := decodeAs[api.History](t, body)
		if len(p.Items) > 3 || (p.Next != 0 && len(p.Items) != 3) {
			t.Fatalf("history page before %d: %d items, next %d", before, len(p.Items), p.Next)
		}
		paged = append(paged, p.Items...)
		if p.Next == 0 {
			break
		}
		if p.Next > p.Items[len(p.Items)-1].Revision {
			t.Fatalf("next %d would repeat the page ending at %d", p.Next, p.Items[len(p.Items)-1].Revision)
		}
		before = p.Next
	}
	if got, want := eventRevisions(paged), eventRevisions(hist.Items); !slices.Equal(got, want) {
		t.Fatalf("paged history %v, want %v", got, want)
	}

	// before is exclusive: events strictly older than it.
	u := fmt.Sprintf("%s/v1/namespaces/app/history/svc/h?before=%d", base, revs[3])
	st, _, body = doJSON(t, http.MethodGet, u, nil, nil)
	wantStatus(t, "history before", st, body, http.StatusOK)
	if got := eventRevisions(decodeAs[api.History](t, body).Items); !slices.Equal(got, []uint64{revs[2], revs[1], revs[0]}) {
		t.Fatalf("history before %d = %v, want %v", revs[3], got, []uint64{revs[2], revs[1], revs[0]})
	}
	// Before the first event: an empty page, not an error.
	u = fmt.Sprintf("%s/v1/namespaces/app/history/svc/h?before=%d", base, revs[0])
	st, _, body = doJSON(t, http.MethodGet, u, nil, nil)
	wantStatus(t, "history before the first event", st, body, http.StatusOK)
	if h := decodeAs[api.History](t, body); len(h.Items) != 0 || h.Next != 0 {
		t.Fatalf("history before the first event = %+v, want empty", h)
	}
}

func TestDiff_PatchBetweenRevisions(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "free", openSchema)
	mustRegisterSchema(t, base, "app", "free", openSchema)
	url := base + "/v1/namespaces/app/diff/cfg"

	r1 := mustPutConfig(t, base, "app", "cfg", "free@1", `{"a":1,"b":{"c":2,"keep":true},"d":[1,2],"x/y":1,"t~":1}`, nil).ModifyRevision
	r2 := mustPutConfig(t, base, "app", "cfg", "free@2", `{"a":1,"b":{"c":3,"keep":true},"e":"x","x/y":2,"t~":2}`, nil).ModifyRevision
	r3 := mustPutConfig(t, base, "app", "cfg", "free@2", `{"a":2,"b":{"c":3,"keep":true},"e":"x","x/y":2,"t~":2}`, nil).ModifyRevision

	st, _, body := doJSON(t, http.MethodGet, fmt.Sprintf("%s?from=%d&to=%d", url, r1, r2), nil, nil)
	wantStatus(t, "diff r1 r2", st, body, http.StatusOK)
	d := decodeAs[api.Diff](t, body)
	wantPatch(t, "diff r1 r2", d.Patch, []api.PatchOp{
		{Op: "replace", Path: "/b/c", Value: json.RawMessage(`3`)},
		{Op: "remove", Path: "/d"},
		{Op: "add", Path: "/e", Value: json.RawMessage(`"x"`)},
		{Op: "replace", Path: "/t~0", Value: json.RawMessage(`2`)},
		{Op: "replace", Path: "/x~1y", Value: json.RawMessage(`2`)},
	})
	if d.From.Revision != r1 || d.To.Revision != r2 || !d.SchemaChanged || d.Namespace != "app" || d.Key != "cfg" {
		t.Fatalf("diff r1 r2 = from %d to %d, schema changed %v; want %d, %d, true", d.From.Revision, d.To.Revision, d.SchemaChanged, r1, r2)
	}

	// Without to: against the newest event.
	st, _, body = doJSON(t, http.MethodGet, fmt.Sprintf("%s?from=%d", url, r2), nil, nil)
	wantStatus(t, "diff r2 latest", st, body, http.StatusOK)
	d = decodeAs[api.Diff](t, body)
	wantPatch(t, "diff r2 latest", d.Patch, []api.PatchOp{{Op: "replace", Path: "/a", Value: json.RawMessage(`2`)}})
	if d.To.Revision != r3 || d.SchemaChanged {
		t.Fatalf("diff r2 latest: to %d, schema changed %v; want %d, false", d.To.Revision, d.SchemaChanged, r3)
	}

	// Backwards, and with itself.
	st, _, body = doJSON(t, http.MethodGet, fmt.Sprintf("%s?from=%d&to=%d", url, r3, r2), nil, nil)
	wantStatus(t, "diff r3 r2", st, body, http.StatusOK)
	wantPatch(t, "diff r3 r2", decodeAs[api.Diff](t, body).Patch, []api.PatchOp{{Op: "replace", Path: "/a", Value: json.RawMessage(`1`)}})
	st, _, body = doJSON(t, http.MethodGet, fmt.Sprintf("%s?from=%d&to=%d", url, r3, r3), nil, nil)
	wantStatus(t, "diff r3 r3", st, body, http.StatusOK)
	wantPatch(t, "diff r3 r3", decodeAs[api.Diff](t, body).Patch, []api.PatchOp{})

	// Against a delete: the document is removed.
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/app/configs/cfg", nil, nil)
	wantStatus(t, "delete", st, body, http.StatusOK)
	st, _, body = doJSON(t, http.MethodGet, fmt.Sprintf("%s?from=%d", url, r3), nil, nil)
	wantStatus(t, "diff r3 delete", st, body, http.StatusOK)
	wantPatch(t, "diff r3 delete", decodeAs[api.Diff](t, body).Patch, []api.PatchOp{{Op: "remove", Path: ""}})
}

func TestRollback_RestoresAnOlderRevision(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	e1 := mustPutConfig(t, base, "app", "k", "svc", `{"n":1}`, nil)
	mustRegisterSchema(t, base, "app", "svc", svcSchema) // version 2
	mustPutConfig(t, base, "app", "k", "svc", `{"n":2}`, nil)
	e3 := mustPutConfig(t, base, "app", "k", "svc", `{"n":3}`, nil)

	st, h, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/app/rollback/k",
		api.RollbackRequest{Revision: e1.ModifyRevision, Reason: "bad deploy"}, map[string]string{httpapi.HeaderPrincipal: "oncall"})
	wantStatus(t, "rollback", st, body, http.StatusOK)
	rb := decodeAs[api.ConfigEntry](t, body)
	if rb.ModifyRevision <= e3.ModifyRevision || rb.Version != 4 || !jsonEqual(rb.Value, `{"n":1}`) ||
		rb.SchemaVersion != 1 || rb.CreateRevision != e1.CreateRevision || rb.ModifiedBy != "oncall" || rb.Reason != "bad deploy" {
		t.Fatalf("rollback = %+v, want value n=1 under svc@1 as version 4 after revision %d", rb, e3.ModifyRevision)
	}
	wantETag(t, "rollback", h, rb.ModifyRevision)
	wantIndex(t, "rollback", h, rb.ModifyRevision)

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs/k", nil, nil)
	wantStatus(t, "get after rollback", st, body, http.StatusOK)
	if got := decodeAs[api.ConfigEntry](t, body); !jsonEqual(got.Value, `{"n":1}`) || got.ModifyRevision != rb.ModifyRevision {
		t.Fatalf("get after rollback = %+v", got)
	}

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/history/k?limit=1", nil, nil)
	wantStatus(t, "history after rollback", st, body, http.StatusOK)
	ev := decodeAs[api.History](t, body).Items[0]
	if ev.Revision != rb.ModifyRevision || ev.RollbackOf != e1.ModifyRevision || ev.Op != api.OpPut ||
		ev.PrevRevision != e3.ModifyRevision || ev.Reason != "bad deploy" || ev.Principal != "oncall" || !jsonEqual(ev.Value, `{"n":1}`) {
		t.Fatalf("rollback event = %+v, want rollback_of %d", ev, e1.ModifyRevision)
	}

	// With If-Match naming the current revision, it succeeds again.
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/app/rollback/k",
		api.RollbackRequest{Revision: e3.ModifyRevision}, map[string]string{"If-Match": strconv.Quote(strconv.FormatUint(rb.ModifyRevision, 10))})
	wantStatus(t, "rollback with If-Match", st, body, http.StatusOK)
	if rb2 := decodeAs[api.ConfigEntry](t, body); !jsonEqual(rb2.Value, `{"n":3}`) || rb2.Version != 5 || rb2.SchemaVersion != 2 {
		t.Fatalf("rollback with If-Match = %+v, want n=3 under svc@2 as version 5", rb2)
	}

	// A deleted key can be brought back from its history.
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/app/configs/k", nil, nil)
	wantStatus(t, "delete", st, body, http.StatusOK)
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/app/rollback/k", api.RollbackRequest{Revision: e1.ModifyRevision}, nil)
	wantStatus(t, "rollback of a deleted key", st, body, http.StatusOK)
	if back := decodeAs[api.ConfigEntry](t, body); !jsonEqual(back.Value, `{"n":1}`) || back.Version != 1 {
		t.Fatalf("rollback of a deleted key = %+v, want n=1 as version 1", back)
	}
}

func TestBatch_CommitsAtOneRevision(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	for _, ns := range []string{"ns-a", "ns-b"} {
		mustCreateNamespace(t, base, ns)
		mustRegisterSchema(t, base, ns, "svc", svcSchema)
	}
	x := mustPutConfig(t, base, "ns-a", "x", "svc", `{"n":1}`, nil)
	y := mustPutConfig(t, base, "ns-a", "y", "svc", `{"n":1}`, nil)
	z := mustPutConfig(t, base, "ns-b", "z", "svc", `{"n":1}`, nil)
	zero := uint64(0)

	req := api.BatchRequest{Reason: "release 7", Ops: []api.BatchOp{
		{Op: api.BatchPut, Namespace: "ns-a", Key: "new", Schema: "svc", Value: json.RawMessage(`{"n":10}`)},
		{Op: api.BatchPut, Namespace: "ns-b", Key: "z", Value: json.RawMessage(`{"n":2}`), Revision: &z.ModifyRevision},
		{Op: api.BatchDelete, Namespace: "ns-a", Key: "x", Revision: &x.ModifyRevision},
		{Op: api.BatchCheck, Namespace: "ns-a", Key: "y", Revision: &y.ModifyRevision},
		{Op: api.BatchPut, Namespace: "ns-b", Key: "fresh", Schema: "svc@1", Value: json.RawMessage(`{"n":3}`), Revision: &zero},
	}}
	st, h, body := doJSON(t, http.MethodPost, base+"/v1/batch", req, map[string]string{httpapi.HeaderPrincipal: "deployer"})
	wantStatus(t, "batch", st, body, http.StatusOK)
	res := decodeAs[api.BatchResult](t, body)
	r := res.Revision
	if r <= z.ModifyRevision {
		t.Fatalf("batch revision %d, want above %d", r, z.ModifyRevision)
	}
	wantIndex(t, "batch", h, r)
	wantResults := []api.BatchOpResult{
		{Op: api.BatchPut, Namespace: "ns-a", Key: "new", ModifyRevision: r, Version: 1},
		{Op: api.BatchPut, Namespace: "ns-b", Key: "z", ModifyRevision: r, Version: 2},
		{Op: api.BatchDelete, Namespace: "ns-a", Key: "x"},
		{Op: api.BatchCheck, Namespace: "ns-a", Key: "y"},
		{Op: api.BatchPut, Namespace: "ns-b", Key: "fresh", ModifyRevision: r, Version: 1},
	}
	if !reflect.DeepEqual(res.Results, wantResults) {
		t.Fatalf("batch results = %+v, want %+v", res.Results, wantResults)
	}

	for _, c := range []struct {
		ns, key, value string
		rev            uint64
	}{
		{"ns-a", "new", `{"n":10}`, r},
		{"ns-b", "z", `{"n":2}`, r},
		{"ns-b", "fresh", `{"n":3}`, r},
		{"ns-a", "y", `{"n":1}`, y.ModifyRevision},
	} {
		st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/"+c.ns+"/configs/"+c.key, nil, nil)
		wantStatus(t, "get "+c.ns+"/"+c.key, st, body, http.StatusOK)
		if e := decodeAs[api.ConfigEntry](t, body); e.ModifyRevision != c.rev || !jsonEqual(e.Value, c.value) {
			t.Fatalf("get %s/%s = %+v, want %s at %d", c.ns, c.key, e, c.value, c.rev)
		}
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/ns-a/configs/x", nil, nil)
	wantError(t, "get deleted ns-a/x", st, body, http.StatusNotFound, api.CodeConfigNotFound)

	for ns, want := range map[string]int{"ns-a": 2, "ns-b": 2} {
		st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/"+ns, nil, nil)
		wantStatus(t, "get "+ns, st, body, http.StatusOK)
		if n := decodeAs[api.Namespace](t, body); n.ConfigCount != want {
			t.Fatalf("%s holds %d configs after the batch, want %d", ns, n.ConfigCount, want)
		}
	}

	// Every written key has one event at the batch's revision, with its
	// audit; the checked key has none.
	for _, k := range []string{"ns-a/history/new", "ns-b/history/z", "ns-a/history/x", "ns-b/history/fresh"} {
		st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/"+k+"?limit=1", nil, nil)
		wantStatus(t, "history "+k, st, body, http.StatusOK)
		ev := decodeAs[api.History](t, body).Items[0]
		if ev.Revision != r || ev.Principal != "deployer" || ev.Reason != "release 7" {
			t.Fatalf("newest event of %s = %+v, want revision %d by deployer for release 7", k, ev, r)
		}
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/ns-a/history/y?limit=1", nil, nil)
	wantStatus(t, "history of the checked key", st, body, http.StatusOK)
	if ev := decodeAs[api.History](t, body).Items[0]; ev.Revision != y.ModifyRevision {
		t.Fatalf("newest event of the checked key at %d, want %d", ev.Revision, y.ModifyRevision)
	}
}

func TestHealth_ReadyAndMetrics(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	mustPutConfig(t, base, "app", "k", "svc", `{}`, nil)
	st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/app/configs/k", map[string]any{"value": map[string]any{"bad": 1}}, nil)
	wantError(t, "invalid value", st, body, http.StatusUnprocessableEntity, api.CodeValidationFailed)

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/health", nil, nil)
	wantStatus(t, "health", st, body, http.StatusOK)
	hl := decodeAs[api.Health](t, body)
	if hl.Status != "ok" || !hl.Leader || hl.NodeID != "node1" || hl.Applied == 0 || hl.Version == "" {
		t.Fatalf("health = %+v, want ok from leader node1 with an applied index", hl)
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/ready", nil, nil)
	wantStatus(t, "ready", st, body, http.StatusOK)
	if r := decodeAs[api.Health](t, body); r.Status != "ready" || !r.Leader || r.Applied < hl.Applied {
		t.Fatalf("ready = %+v, want ready from the leader", r)
	}

	resp, err := httpClient.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	text, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: content type %q, want text/plain", ct)
	}
	for _, want := range []string{
		"schemakv_http_request_duration_seconds_bucket{",
		`route="/v1/namespaces/:ns/configs/*key"`,
		"schemakv_config_entries 1\n",
		"schemakv_raft_apply_seconds_count ",
		`schemakv_validation_failures_total{namespace="app"} 1`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestConsistency_StaleAndMinRevision(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	e := mustPutConfig(t, base, "app", "k", "svc", `{"n":1}`, nil)
	url := base + "/v1/namespaces/app/configs/k"

	for _, q := range []string{"", "?consistency=linearizable", "?consistency=stale",
		fmt.Sprintf("?min_revision=%d", e.ModifyRevision), fmt.Sprintf("?consistency=stale&min_revision=%d", e.ModifyRevision),
		"?min_revision=0"} {
		st, h, body := doJSON(t, http.MethodGet, url+q, nil, nil)
		wantStatus(t, "get"+q, st, body, http.StatusOK)
		if idx := headerIndex(t, h); idx < e.ModifyRevision {
			t.Fatalf("get%s: index %d below the write at %d", q, idx, e.ModifyRevision)
		}
		if got := decodeAs[api.ConfigEntry](t, body); got.ModifyRevision != e.ModifyRevision {
			t.Fatalf("get%s = %+v", q, got)
		}
	}
	// Every read route takes the parameters.
	for _, path := range []string{"/v1/namespaces", "/v1/namespaces/app", "/v1/namespaces/app/schemas",
		"/v1/namespaces/app/schemas/svc", "/v1/namespaces/app/schemas/svc/versions", "/v1/namespaces/app/schemas/svc/versions/1",
		"/v1/namespaces/app/configs", "/v1/namespaces/app/history/k",
		fmt.Sprintf("/v1/namespaces/app/diff/k?from=%d&", e.ModifyRevision)} {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = ""
		}
		st, h, body := doJSON(t, http.MethodGet, base+path+sep+"consistency=stale", nil, nil)
		wantStatus(t, path+" stale", st, body, http.StatusOK)
		if idx := headerIndex(t, h); idx < e.ModifyRevision {
			t.Fatalf("%s stale: index %d below %d", path, idx, e.ModifyRevision)
		}
		st, _, body = doJSON(t, http.MethodGet, base+path+sep+"consistency=eventual", nil, nil)
		wantError(t, path+" consistency=eventual", st, body, http.StatusBadRequest, api.CodeBadRequest)
		st, _, body = doJSON(t, http.MethodGet, base+path+sep+"min_revision=x", nil, nil)
		wantError(t, path+" min_revision=x", st, body, http.StatusBadRequest, api.CodeBadRequest)
	}

	// A read that asks for a revision not yet applied waits for it.
	type answer struct {
		st   int
		h    http.Header
		body map[string]any
	}
	done := make(chan answer, 1)
	want := e.ModifyRevision + 1
	go func() {
		st, h, body := doJSONNoFatal(http.MethodGet, fmt.Sprintf("%s?consistency=stale&min_revision=%d", url, want), nil, nil)
		done <- answer{st, h, body}
	}()
	select {
	case a := <-done:
		t.Fatalf("read at min_revision %d answered before the write: %d %v", want, a.st, a.body)
	case <-time.After(200 * time.Millisecond):
	}
	w := mustPutConfig(t, base, "app", "k", "svc", `{"n":2}`, nil)
	if w.ModifyRevision != want {
		t.Fatalf("write at revision %d, want %d (nothing else writes)", w.ModifyRevision, want)
	}
	select {
	case a := <-done:
		if a.st != http.StatusOK {
			t.Fatalf("read at min_revision %d: status %d %v", want, a.st, a.body)
		}
		if got := decodeAs[api.ConfigEntry](t, a.body); got.ModifyRevision != want || !jsonEqual(got.Value, `{"n":2}`) {
			t.Fatalf("read at min_revision %d = %+v, want the write", want, got)
		}
		if idx := headerIndex(t, a.h); idx < want {
			t.Fatalf("read at min_revision %d: index %d", want, idx)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("read at min_revision %d still waiting 10s after the write", want)
	}
}

func TestSchemas_ClosedByDefault(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "closed", `{"type":"object","properties":{"name":{"type":"string"},"tls":{"type":"object","properties":{"cert":{"type":"string"}}},"list":{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"}}}}}}`)
	mustRegisterSchema(t, base, "app", "open", `{"type":"object","properties":{"name":{"type":"string"},"tls":{"type":"object","properties":{"cert":{"type":"string"}},"additionalProperties":true}},"additionalProperties":true}`)
	mustRegisterSchema(t, base, "app", "base", `{"type":"object","properties":{"name":{"type":"string"}}}`)
	mustRegisterSchema(t, base, "app", "composed", `{"allOf":[{"$ref":"base@1"},{"properties":{"port":{"type":"integer"}}}]}`)
	mustRegisterSchema(t, base, "app", "defs", `{"type":"object","properties":{"db":{"$ref":"#/$defs/db"}},"$defs":{"db":{"type":"object","properties":{"host":{"type":"string"}}}}}`)
	mustRegisterSchema(t, base, "app", "either", `{"anyOf":[{"properties":{"a":{"type":"integer"}}},{"properties":{"b":{"type":"integer"}}}]}`)
	mustRegisterSchema(t, base, "app", "pattern", `{"type":"object","patternProperties":{"^x-":{"type":"string"}}}`)
	mustRegisterSchema(t, base, "app", "uneval", `{"type":"object","properties":{"a":{"type":"integer"}},"unevaluatedProperties":true}`)

	for _, c := range []struct {
		name, schema, value string
		pointers            []string // nil: accepted
	}{
		{"known properties", "closed", `{"name":"a","tls":{"cert":"c"},"list":[{"id":1}]}`, nil},
		{"unknown at the root", "closed", `{"name":"a","extra":1}`, []string{"/extra"}},
		{"unknown in a nested object", "closed", `{"tls":{"cert":"c","key":"k"}}`, []string{"/tls/key"}},
		{"unknown in an array item", "closed", `{"list":[{"id":1},{"id":2,"x":true}]}`, []string{"/list/1/x"}},
		{"unknown everywhere", "closed", `{"e":1,"tls":{"k":1},"list":[{"x":1}]}`, []string{"/e", "/list/0/x", "/tls/k"}},
		{"opt-out at the root", "open", `{"name":"a","extra":1}`, nil},
		{"opt-out nested", "open", `{"tls":{"cert":"c","key":"k"}}`, nil},
		{"composition knows every branch", "composed", `{"name":"a","port":1}`, nil},
		{"composition rejects the unknown", "composed", `{"name":"a","port":1,"zzz":1}`, []string{"/zzz"}},
		{"local $defs closed where used", "defs", `{"db":{"host":"h","port":1}}`, []string{"/db/port"}},
		{"local $defs known properties", "defs", `{"db":{"host":"h"}}`, nil},
		{"anyOf knows both branches", "either", `{"a":1,"b":2}`, nil},
		{"anyOf rejects the unknown", "either", `{"a":1,"c":2}`, []string{"/c"}},
		{"patternProperties match", "pattern", `{"x-a":"1","x-b":"2"}`, nil},
		{"patternProperties miss", "pattern", `{"x-a":"1","y":"2"}`, []string{"/y"}},
		{"unevaluatedProperties true opts out", "uneval", `{"a":1,"b":2}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/app/configs/k",
				map[string]any{"schema": c.schema, "value": json.RawMessage(c.value)}, nil)
			if c.pointers == nil {
				if st != http.StatusOK && st != http.StatusCreated {
					t.Fatalf("put %s under %s: status %d %s, want accepted", c.value, c.schema, st, mustJSON(t, body))
				}
				return
			}
			e := wantError(t, "put "+c.value, st, body, http.StatusUnprocessableEntity, api.CodeValidationFailed)
			wantPointers(t, e.Details, c.pointers...)
			for _, d := range e.Details {
				if !strings.Contains(d.Keyword, "additionalProperties") && !strings.Contains(d.Keyword, "unevaluatedProperties") {
					t.Fatalf("detail %+v: keyword should name additionalProperties or unevaluatedProperties", d)
				}
			}
		})
	}
}

// listAllKeys pages through a namespace's configs with the given prefix and
// page size, following next.
func listAllKeys(t *testing.T, base, ns, prefix string, limit int) (keys []string, pages int) {
	t.Helper()
	after := ""
	for {
		pages++
		if pages > 1000 {
			t.Fatal("list pages do not end")
		}
		u := fmt.Sprintf("%s/v1/namespaces/%s/configs?prefix=%s&limit=%d&after=%s", base, ns, prefix, limit, after)
		st, _, body := doJSON(t, http.MethodGet, u, nil, nil)
		wantStatus(t, "list "+u, st, body, http.StatusOK)
		p := decodeAs[api.ConfigList](t, body)
		if len(p.Items) > limit {
			t.Fatalf("list %s: %d items, more than the limit", u, len(p.Items))
		}
		for _, e := range p.Items {
			if e.Namespace != ns || !strings.HasPrefix(e.Key, prefix) {
				t.Fatalf("list %s returned %s/%s", u, e.Namespace, e.Key)
			}
			keys = append(keys, e.Key)
		}
		if p.Next == "" {
			return keys, pages
		}
		if len(p.Items) == 0 || p.Next != p.Items[len(p.Items)-1].Key {
			t.Fatalf("list %s: next %q is not the page's last key", u, p.Next)
		}
		after = p.Next
	}
}

func namespaceNames(items []api.Namespace) []string {
	var out []string
	for _, n := range items {
		out = append(out, n.Name)
	}
	return out
}

func eventRevisions(evs []api.Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Revision)
	}
	return out
}

// Helpers shared by the package's tests.

// httpClient is the one client of the tests; its timeout bounds a hung
// request.
var httpClient = &http.Client{Timeout: 60 * time.Second}

// mustStartNode starts a bootstrapped single node with the default limits
// on loopback ports and a temporary data directory, closed when the test
// ends, and returns its base URL.
func mustStartNode(t *testing.T) string {
	t.Helper()
	return mustStartNodeWith(t, httpapi.DefaultLimits())
}

// mustStartNodeWith starts a node with the given request limits.
func mustStartNodeWith(t *testing.T, limits httpapi.Limits) string {
	t.Helper()
	lw := &testLogWriter{t: t}
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.GossipAddr = "127.0.0.1:0"
	cfg.Limits = limits
	cfg.Auth.Dev = true // authentication is beside the point here; auth_test.go covers it
	cfg.Logger = slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Keep raft's start-up warnings ("starting election") out of the test
	// output.
	cfg.Cluster.RaftLogLevel = "error"
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("node.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("node.Close: %v", err)
		}
		lw.stop()
	})
	t.Logf("node started in %v at %s", time.Since(start).Round(time.Millisecond), n.HTTPURL())
	return n.HTTPURL()
}

// testLogWriter sends a node's logs to t.Log until the test ends; raft may
// log from its goroutines after that, which t.Log must not see.
type testLogWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// doJSON sends a request and decodes the JSON object it answers. body is
// nil (no body), a string or []byte (sent as is), an io.Reader (sent
// without a length, chunked) or a value marshalled to JSON. Content-Type is
// application/json unless headers set it ("" removes it).
func doJSON(t *testing.T, method, url string, body any, headers map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	st, h, out, err := doJSONErr(method, url, body, headers)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return st, h, out
}

// doJSONNoFatal is doJSON for goroutines other than the test's: a failure
// is status 0 with the error in the body.
func doJSONNoFatal(method, url string, body any, headers map[string]string) (int, http.Header, map[string]any) {
	st, h, out, err := doJSONErr(method, url, body, headers)
	if err != nil {
		return 0, nil, map[string]any{"transport_error": err.Error()}
	}
	return st, h, out
}

func doJSONErr(method, url string, body any, headers map[string]string) (int, http.Header, map[string]any, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return 0, nil, nil, fmt.Errorf("status %d: body %q is not a JSON object: %v", resp.StatusCode, raw, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return 0, nil, nil, fmt.Errorf("status %d: content type %q, want application/json", resp.StatusCode, ct)
	}
	return resp.StatusCode, resp.Header, out, nil
}

// decodeAs converts a decoded body into a wire type.
func decodeAs[T any](t *testing.T, body map[string]any) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(mustJSON(t, body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s as %T: %v", mustJSON(t, body), v, err)
	}
	return v
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual[A, B ~[]byte | ~string](a A, b B) bool {
	var av, bv any
	if json.Unmarshal([]byte(a), &av) != nil || json.Unmarshal([]byte(b), &bv) != nil {
		return false
	}
	return reflect.DeepEqual(av, bv)
}

// sameJSON reports whether two JSON texts hold the same value with numbers
// compared as written.
func sameJSON[A, B ~[]byte | ~string](t *testing.T, a A, b B) bool {
	t.Helper()
	decode := func(s []byte) any {
		dec := json.NewDecoder(bytes.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode %s: %v", s, err)
		}
		return v
	}
	return reflect.DeepEqual(decode([]byte(a)), decode([]byte(b)))
}

// wantStatus fails the test unless the request answered want.
func wantStatus(t *testing.T, what string, got int, body map[string]any, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d; body %s", what, got, want, mustJSON(t, body))
	}
}

// wantError checks a failed request: its status, the one error shape
// {"error": {"code", "message", ...}} and its code, whose documented status
// must be the one answered. It returns the error.
func wantError(t *testing.T, what string, got int, body map[string]any, wantStatus int, wantCode string) api.Error {
	t.Helper()
	if len(body) != 1 || body["error"] == nil {
		t.Fatalf("%s: status %d, body %s is not {\"error\": {...}}", what, got, mustJSON(t, body))
	}
	e := decodeAs[api.ErrorBody](t, body).Error
	if got != wantStatus || e.Code != wantCode {
		t.Fatalf("%s: %d %s (%s), want %d %s", what, got, e.Code, e.Message, wantStatus, wantCode)
	}
	if e.Message == "" {
		t.Fatalf("%s: error %s has no message", what, e.Code)
	}
	if e.Code != api.CodeBatchFailed && api.StatusOf(e.Code) != got {
		t.Fatalf("%s: code %s answered with %d, but its documented status is %d", what, e.Code, got, api.StatusOf(e.Code))
	}
	return *e
}

// wantPointers checks that details name exactly the given JSON pointers
// (each at least once).
func wantPointers(t *testing.T, details []api.FieldError, want ...string) {
	t.Helper()
	got := map[string]bool{}
	for _, d := range details {
		if d.Message == "" || d.Keyword == "" {
			t.Fatalf("detail %+v lacks a keyword or message", d)
		}
		got[d.Pointer] = true
	}
	for _, p := range want {
		if !got[p] {
			t.Fatalf("details %+v lack pointer %q", details, p)
		}
		delete(got, p)
	}
	if len(got) > 0 {
		t.Fatalf("details %+v name pointers beyond %q", details, want)
	}
}

func wantPatch(t *testing.T, what string, got, want []api.PatchOp) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: patch %+v, want %+v", what, got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Op != w.Op || g.Path != w.Path || (w.Value == nil) != (g.Value == nil) || (w.Value != nil && !jsonEqual(g.Value, w.Value)) {
			t.Fatalf("%s: patch[%d] = %s %s %s, want %s %s %s", what, i, g.Op, g.Path, g.Value, w.Op, w.Path, w.Value)
		}
	}
}

// wantETag checks the ETag header: the quoted modify revision.
func wantETag(t *testing.T, what string, h http.Header, rev uint64) {
	t.Helper()
	if got, want := h.Get("ETag"), `"`+strconv.FormatUint(rev, 10)+`"`; got != want {
		t.Fatalf("%s: ETag %q, want %q", what, got, want)
	}
}

// wantIndex checks that X-Schemakv-Index is rev.
func wantIndex(t *testing.T, what string, h http.Header, rev uint64) {
	t.Helper()
	if got := headerIndex(t, h); got != rev {
		t.Fatalf("%s: %s %d, want %d", what, httpapi.HeaderIndex, got, rev)
	}
}

func headerIndex(t *testing.T, h http.Header) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(h.Get(httpapi.HeaderIndex), 10, 64)
	if err != nil {
		t.Fatalf("%s header %q: %v", httpapi.HeaderIndex, h.Get(httpapi.HeaderIndex), err)
	}
	return n
}

func mustCreateNamespace(t *testing.T, base, ns string) {
	t.Helper()
	st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/"+ns, nil, nil)
	wantStatus(t, "create namespace "+ns, st, body, http.StatusCreated)
}

// mustRegisterSchema registers the next version of a schema and returns it.
func mustRegisterSchema(t *testing.T, base, ns, name, text string) api.SchemaVersion {
	t.Helper()
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/"+ns+"/schemas/"+name,
		map[string]any{"schema": json.RawMessage(text)}, nil)
	wantStatus(t, "register schema "+ns+"/"+name, st, body, http.StatusCreated)
	return decodeAs[api.SchemaVersion](t, body)
}

// mustPutConfig writes a config entry (schema "" keeps the entry's schema).
func mustPutConfig(t *testing.T, base, ns, key, schema, value string, headers map[string]string) api.ConfigEntry {
	t.Helper()
	req := map[string]any{"value": json.RawMessage(value)}
	if schema != "" {
		req["schema"] = schema
	}
	st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/"+ns+"/configs/"+key, req, headers)
	if st != http.StatusOK && st != http.StatusCreated {
		t.Fatalf("put %s/%s: status %d %s", ns, key, st, mustJSON(t, body))
	}
	return decodeAs[api.ConfigEntry](t, body)
}
