package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/httpapi"
)

// errorCase is one request that must fail with a status and code.
type errorCase struct {
	name    string
	method  string
	path    string
	body    any
	headers map[string]string
	status  int
	code    string
}

// unreachableCodes are the codes that TestErrors_EveryCode cannot drive a
// healthy single node to answer deterministically, with why.
var unreachableCodes = map[string]string{
	api.CodeSchemaConflict: "needs registrations racing between compile and apply: TestConcurrency_SchemaRegistrations",
	api.CodeNoLeader:       "needs a node that lost its leader",
	api.CodeOutcomeUnknown: "needs leadership lost while a write is in flight",
	api.CodeShuttingDown:   "needs a request racing node.Close",
	api.CodeTimeout:        "min_revision waits 30s before answering it",
	api.CodeInternal:       "needs a bug",
}

// allCodes lists every code of api/errors.go.
var allCodes = []string{
	api.CodeBadRequest, api.CodeInvalidJSON, api.CodeJSONTooDeep, api.CodeInvalidName, api.CodeInvalidKey,
	api.CodeKeyTooLong, api.CodeInvalidSchemaRef, api.CodeInvalidSchema, api.CodeValidationFailed, api.CodeBatchFailed,
	api.CodeNamespaceNotFound, api.CodeSchemaNotFound, api.CodeConfigNotFound, api.CodeRevisionNotFound,
	api.CodeRouteNotFound, api.CodeMethodNotAllowed, api.CodeNamespaceExists, api.CodeNamespaceNotEmpty,
	api.CodeSchemaConflict, api.CodeSchemaRequired, api.CodeRevisionMismatch, api.CodeBodyTooLarge,
	api.CodeValueTooLarge, api.CodeSchemaTooLarge, api.CodeBatchTooLarge, api.CodeUnsupportedMedia,
	api.CodeNoLeader, api.CodeOutcomeUnknown, api.CodeShuttingDown, api.CodeTimeout, api.CodeInternal,
}

func TestErrors_EveryCode(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustCreateNamespace(t, base, "other")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	a := mustPutConfig(t, base, "app", "svc/a", "svc", `{"port":80}`, nil)
	stale := strconv.FormatUint(a.ModifyRevision-1, 10)
	gone := mustPutConfig(t, base, "app", "gone", "svc", `{}`, nil)
	st, _, body := doJSON(t, http.MethodDelete, base+"/v1/namespaces/app/configs/gone", nil, nil)
	wantStatus(t, "delete gone", st, body, http.StatusOK)
	goneDel := decodeAs[api.WriteResult](t, body).Revision

	ns := "/v1/namespaces/app"
	cfg := ns + "/configs/svc/a"
	put := func(v string) string { return `{"schema":"svc","value":` + v + `}` }
	cases := []errorCase{
		// invalid_json
		{"truncated body", "PUT", cfg, `{"schema":"svc","value":`, nil, 400, api.CodeInvalidJSON},
		{"value not JSON", "PUT", cfg, `{"schema":"svc","value":nope}`, nil, 400, api.CodeInvalidJSON},
		{"data after the body", "PUT", cfg, put(`{}`) + ` {}`, nil, 400, api.CodeInvalidJSON},
		{"namespace body not JSON", "PUT", "/v1/namespaces/new", `{`, nil, 400, api.CodeInvalidJSON},
		{"schema body not JSON", "POST", ns + "/schemas/svc", `{"schema":{]}`, nil, 400, api.CodeInvalidJSON},
		{"batch body not JSON", "POST", "/v1/batch", `[`, nil, 400, api.CodeInvalidJSON},
		{"rollback body not JSON", "POST", ns + "/rollback/svc/a", `{"revision":}`, nil, 400, api.CodeInvalidJSON},
		// json_too_deep
		{"value nested 70 deep", "PUT", cfg, put(nested(70)), nil, 400, api.CodeJSONTooDeep},
		{"schema nested 70 deep", "POST", ns + "/schemas/svc", `{"schema":` + nested(70) + `}`, nil, 400, api.CodeJSONTooDeep},
		{"batch nested 70 deep", "POST", "/v1/batch", `{"ops":[{"op":"put","namespace":"app","key":"k","schema":"svc","value":` + nested(70) + `}]}`, nil, 400, api.CodeJSONTooDeep},
		// invalid_name
		{"namespace with uppercase", "PUT", "/v1/namespaces/Team", nil, nil, 400, api.CodeInvalidName},
		{"namespace with underscore", "GET", "/v1/namespaces/team_a", nil, nil, 400, api.CodeInvalidName},
		{"namespace starting with a dash", "DELETE", "/v1/namespaces/-team", nil, nil, 400, api.CodeInvalidName},
		{"namespace of 64 characters", "PUT", "/v1/namespaces/" + strings.Repeat("a", 64), nil, nil, 400, api.CodeInvalidName},
		{"namespace of configs", "GET", "/v1/namespaces/A/configs", nil, nil, 400, api.CodeInvalidName},
		{"schema name with a dot", "POST", ns + "/schemas/svc.v2", `{"schema":{}}`, nil, 400, api.CodeInvalidName},
		{"schema name ending with a dash", "GET", ns + "/schemas/svc-", nil, nil, 400, api.CodeInvalidName},
		// invalid_key
		{"key with an empty segment", "PUT", ns + "/configs/a//b", put(`{}`), nil, 400, api.CodeInvalidKey},
		{"key with a trailing slash", "PUT", ns + "/configs/a/", put(`{}`), nil, 400, api.CodeInvalidKey},
		{"empty key", "GET", ns + "/configs/", nil, nil, 400, api.CodeInvalidKey},
		{"key with ..", "PUT", ns + "/configs/a/../b", put(`{}`), nil, 400, api.CodeInvalidKey},
		{"key that is ..", "GET", ns + "/configs/..", nil, nil, 400, api.CodeInvalidKey},
		{"key with .", "DELETE", ns + "/configs/a/./b", nil, nil, 400, api.CodeInvalidKey},
		{"key with a space", "PUT", ns + "/configs/a%20b", put(`{}`), nil, 400, api.CodeInvalidKey},
		{"key with a dollar", "PUT", ns + "/configs/a$b", put(`{}`), nil, 400, api.CodeInvalidKey},
		{"key with non-ASCII", "PUT", ns + "/configs/caf%C3%A9", put(`{}`), nil, 400, api.CodeInvalidKey},
		{"history of a bad key", "GET", ns + "/history/a//b", nil, nil, 400, api.CodeInvalidKey},
		{"diff of a bad key", "GET", ns + "/diff/a*b?from=1", nil, nil, 400, api.CodeInvalidKey},
		{"rollback of a bad key", "POST", ns + "/rollback/a%25b", `{"revision":1}`, nil, 400, api.CodeInvalidKey},
		// key_too_long
		{"key of 513 bytes", "PUT", ns + "/configs/" + strings.Repeat("k", 513), put(`{}`), nil, 400, api.CodeKeyTooLong},
		{"key of 513 bytes in segments", "GET", ns + "/configs/" + strings.Repeat("k/", 256) + "k", nil, nil, 400, api.CodeKeyTooLong},
		// invalid_schema_ref
		{"schema ref with uppercase", "PUT", cfg, `{"schema":"Svc","value":{}}`, nil, 400, api.CodeInvalidSchemaRef},
		{"schema ref at version 0", "PUT", cfg, `{"schema":"svc@0","value":{}}`, nil, 400, api.CodeInvalidSchemaRef},
		{"schema ref at version x", "PUT", cfg, `{"schema":"svc@x","value":{}}`, nil, 400, api.CodeInvalidSchemaRef},
		{"schema ref at version 01", "PUT", cfg, `{"schema":"svc@01","value":{}}`, nil, 400, api.CodeInvalidSchemaRef},
		{"schema ref with an empty version", "PUT", cfg, `{"schema":"svc@","value":{}}`, nil, 400, api.CodeInvalidSchemaRef},
		// schema_required
		{"new key without a schema", "PUT", ns + "/configs/new", `{"value":{}}`, nil, 400, api.CodeSchemaRequired},
		// invalid_schema (more in TestErrors_InvalidSchema)
		{"schema that is not a schema", "POST", ns + "/schemas/svc", `{"schema":{"type":12}}`, nil, 422, api.CodeInvalidSchema},
		// validation_failed (more in TestErrors_ValidationFailedListsEveryPointer)
		{"value failing its schema", "PUT", cfg, put(`{"port":"80"}`), nil, 422, api.CodeValidationFailed},
		// namespace_not_found
		{"get a missing namespace", "GET", "/v1/namespaces/nope", nil, nil, 404, api.CodeNamespaceNotFound},
		{"delete a missing namespace", "DELETE", "/v1/namespaces/nope", nil, nil, 404, api.CodeNamespaceNotFound},
		{"list configs of a missing namespace", "GET", "/v1/namespaces/nope/configs", nil, nil, 404, api.CodeNamespaceNotFound},
		{"get a config of a missing namespace", "GET", "/v1/namespaces/nope/configs/k", nil, nil, 404, api.CodeNamespaceNotFound},
		{"put a config in a missing namespace", "PUT", "/v1/namespaces/nope/configs/k", put(`{}`), nil, 404, api.CodeNamespaceNotFound},
		{"list schemas of a missing namespace", "GET", "/v1/namespaces/nope/schemas", nil, nil, 404, api.CodeNamespaceNotFound},
		{"register in a missing namespace", "POST", "/v1/namespaces/nope/schemas/svc", `{"schema":{}}`, nil, 404, api.CodeNamespaceNotFound},
		{"get a schema of a missing namespace", "GET", "/v1/namespaces/nope/schemas/svc", nil, nil, 404, api.CodeNamespaceNotFound},
		{"schema versions of a missing namespace", "GET", "/v1/namespaces/nope/schemas/svc/versions", nil, nil, 404, api.CodeNamespaceNotFound},
		{"schema version of a missing namespace", "GET", "/v1/namespaces/nope/schemas/svc/versions/1", nil, nil, 404, api.CodeNamespaceNotFound},
		// schema_not_found
		{"get a missing schema", "GET", ns + "/schemas/nope", nil, nil, 404, api.CodeSchemaNotFound},
		{"versions of a missing schema", "GET", ns + "/schemas/nope/versions", nil, nil, 404, api.CodeSchemaNotFound},
		{"a missing version", "GET", ns + "/schemas/svc/versions/9", nil, nil, 404, api.CodeSchemaNotFound},
		{"put under a missing schema", "PUT", cfg, `{"schema":"nope","value":{}}`, nil, 404, api.CodeSchemaNotFound},
		{"put under a missing version", "PUT", cfg, `{"schema":"svc@9","value":{}}`, nil, 404, api.CodeSchemaNotFound},
		{"schema of another namespace", "PUT", "/v1/namespaces/other/configs/k", put(`{}`), nil, 404, api.CodeSchemaNotFound},
		// config_not_found
		{"get a missing config", "GET", ns + "/configs/nope", nil, nil, 404, api.CodeConfigNotFound},
		{"delete a missing config", "DELETE", ns + "/configs/nope", nil, nil, 404, api.CodeConfigNotFound},
		{"history of a key never written", "GET", ns + "/history/nope", nil, nil, 404, api.CodeConfigNotFound},
		{"get a deleted config", "GET", ns + "/configs/gone", nil, nil, 404, api.CodeConfigNotFound},
		// revision_not_found
		{"diff from a missing revision", "GET", ns + "/diff/svc/a?from=999999", nil, nil, 404, api.CodeRevisionNotFound},
		{"diff to a missing revision", "GET", fmt.Sprintf("%s/diff/svc/a?from=%d&to=999999", ns, a.ModifyRevision), nil, nil, 404, api.CodeRevisionNotFound},
		{"diff from another key's revision", "GET", fmt.Sprintf("%s/diff/svc/a?from=%d", ns, gone.ModifyRevision), nil, nil, 404, api.CodeRevisionNotFound},
		{"rollback to a missing revision", "POST", ns + "/rollback/svc/a", `{"revision":999999}`, nil, 404, api.CodeRevisionNotFound},
		{"rollback to another key's revision", "POST", ns + "/rollback/svc/a", fmt.Sprintf(`{"revision":%d}`, gone.ModifyRevision), nil, 404, api.CodeRevisionNotFound},
		// route_not_found
		{"unknown route", "GET", "/v1/nope", nil, nil, 404, api.CodeRouteNotFound},
		{"unknown top-level path", "GET", "/nope", nil, nil, 404, api.CodeRouteNotFound}, // "/" redirects to the web UI
		{"unknown version", "GET", "/v2/namespaces", nil, nil, 404, api.CodeRouteNotFound},
		{"unknown collection", "GET", ns + "/secrets/k", nil, nil, 404, api.CodeRouteNotFound},
		{"trailing slash", "GET", "/v1/namespaces/", nil, nil, 404, api.CodeRouteNotFound},
		// method_not_allowed
		{"POST a namespace", "POST", ns, `{}`, nil, 405, api.CodeMethodNotAllowed},
		{"PATCH a config", "PATCH", cfg, put(`{}`), nil, 405, api.CodeMethodNotAllowed},
		{"GET the batch", "GET", "/v1/batch", nil, nil, 405, api.CodeMethodNotAllowed},
		{"DELETE a schema", "DELETE", ns + "/schemas/svc", nil, nil, 405, api.CodeMethodNotAllowed},
		{"PUT health", "PUT", "/v1/health", nil, nil, 405, api.CodeMethodNotAllowed},
		{"PUT the configs collection", "PUT", ns + "/configs", put(`{}`), nil, 405, api.CodeMethodNotAllowed},
		// namespace_exists
		{"create an existing namespace", "PUT", ns, nil, nil, 409, api.CodeNamespaceExists},
		// namespace_not_empty
		{"delete a namespace with contents", "DELETE", ns, nil, nil, 409, api.CodeNamespaceNotEmpty},
		{"delete it with force=false", "DELETE", ns + "?force=false", nil, nil, 409, api.CodeNamespaceNotEmpty},
		// revision_mismatch
		{"If-Match an old revision", "PUT", cfg, put(`{}`), map[string]string{"If-Match": `"` + stale + `"`}, 412, api.CodeRevisionMismatch},
		{"If-Match a weak old revision", "PUT", cfg, put(`{}`), map[string]string{"If-Match": `W/"` + stale + `"`}, 412, api.CodeRevisionMismatch},
		{"cas= an old revision", "PUT", cfg + "?cas=" + stale, put(`{}`), nil, 412, api.CodeRevisionMismatch},
		{"cas=0 on an existing key", "PUT", cfg + "?cas=0", put(`{}`), nil, 412, api.CodeRevisionMismatch},
		{"If-None-Match * on an existing key", "PUT", cfg, put(`{}`), map[string]string{"If-None-Match": "*"}, 412, api.CodeRevisionMismatch},
		{"If-Match on a missing key", "PUT", ns + "/configs/nope", put(`{}`), map[string]string{"If-Match": `"5"`}, 412, api.CodeRevisionMismatch},
		{"delete If-Match an old revision", "DELETE", cfg, nil, map[string]string{"If-Match": stale}, 412, api.CodeRevisionMismatch},
		{"delete cas= an old revision", "DELETE", cfg + "?cas=" + stale, nil, nil, 412, api.CodeRevisionMismatch},
		{"rollback If-Match an old revision", "POST", ns + "/rollback/svc/a", fmt.Sprintf(`{"revision":%d}`, a.ModifyRevision), map[string]string{"If-Match": stale}, 412, api.CodeRevisionMismatch},
		// body_too_large, value_too_large, schema_too_large (the boundaries are in limits_test.go)
		{"body over 4 MiB", "PUT", cfg, put(`"` + strings.Repeat("x", 4<<20) + `"`), nil, 413, api.CodeBodyTooLarge},
		{"value over 512 KiB", "PUT", cfg, put(`"` + strings.Repeat("x", 512<<10) + `"`), nil, 413, api.CodeValueTooLarge},
		{"schema over 256 KiB", "POST", ns + "/schemas/svc", `{"schema":{"description":"` + strings.Repeat("x", 256<<10) + `"}}`, nil, 413, api.CodeSchemaTooLarge},
		// batch_too_large
		{"batch of 1001 operations", "POST", "/v1/batch", batchOfPuts("app", 1001), nil, 413, api.CodeBatchTooLarge},
		// unsupported_media_type
		{"text/plain config", "PUT", cfg, put(`{}`), map[string]string{"Content-Type": "text/plain"}, 415, api.CodeUnsupportedMedia},
		{"text/plain namespace", "PUT", "/v1/namespaces/new", `{}`, map[string]string{"Content-Type": "text/plain"}, 415, api.CodeUnsupportedMedia},
		{"form schema", "POST", ns + "/schemas/svc", `{"schema":{}}`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, api.CodeUnsupportedMedia},
		{"xml batch", "POST", "/v1/batch", `{"ops":[]}`, map[string]string{"Content-Type": "application/xml"}, 415, api.CodeUnsupportedMedia},
		{"unparsable content type", "PUT", cfg, put(`{}`), map[string]string{"Content-Type": "json;;"}, 415, api.CodeUnsupportedMedia},
		// bad_request
		{"unknown body field", "PUT", cfg, `{"schema":"svc","value":{},"ttl":5}`, nil, 400, api.CodeBadRequest},
		{"unknown namespace field", "PUT", "/v1/namespaces/new", `{"owner":"x"}`, nil, 400, api.CodeBadRequest},
		{"missing value", "PUT", cfg, `{"schema":"svc"}`, nil, 400, api.CodeBadRequest},
		{"no body on put", "PUT", cfg, nil, nil, 400, api.CodeBadRequest},
		{"body of the wrong type", "PUT", cfg, `[1]`, nil, 400, api.CodeBadRequest},
		{"bad consistency", "GET", cfg + "?consistency=strong", nil, nil, 400, api.CodeBadRequest},
		{"bad min_revision", "GET", cfg + "?min_revision=-1", nil, nil, 400, api.CodeBadRequest},
		{"If-Match not a revision", "PUT", cfg, put(`{}`), map[string]string{"If-Match": `"abc"`}, 400, api.CodeBadRequest},
		{"If-None-Match not *", "PUT", cfg, put(`{}`), map[string]string{"If-None-Match": `"5"`}, 400, api.CodeBadRequest},
		{"cas not a revision", "DELETE", cfg + "?cas=x", nil, nil, 400, api.CodeBadRequest},
		{"force neither true nor false", "DELETE", ns + "?force=yes", nil, nil, 400, api.CodeBadRequest},
		{"negative limit", "GET", ns + "/configs?limit=-1", nil, nil, 400, api.CodeBadRequest},
		{"history before not a number", "GET", ns + "/history/svc/a?before=x", nil, nil, 400, api.CodeBadRequest},
		{"diff without from", "GET", ns + "/diff/svc/a", nil, nil, 400, api.CodeBadRequest},
		{"diff from not a number", "GET", ns + "/diff/svc/a?from=x", nil, nil, 400, api.CodeBadRequest},
		{"schema version not a number", "GET", ns + "/schemas/svc/versions/x", nil, nil, 400, api.CodeBadRequest},
		{"schema version 0", "GET", ns + "/schemas/svc/versions/0", nil, nil, 400, api.CodeBadRequest},
		{"register without a body", "POST", ns + "/schemas/svc", nil, nil, 400, api.CodeBadRequest},
		{"register a null schema", "POST", ns + "/schemas/svc", `{"schema":null}`, nil, 400, api.CodeBadRequest},
		{"register with an unknown field", "POST", ns + "/schemas/svc", `{"schema":{},"id":1}`, nil, 400, api.CodeBadRequest},
		{"batch without a body", "POST", "/v1/batch", nil, nil, 400, api.CodeBadRequest},
		{"batch without operations", "POST", "/v1/batch", `{"ops":[]}`, nil, 400, api.CodeBadRequest},
		{"rollback without a body", "POST", ns + "/rollback/svc/a", nil, nil, 400, api.CodeBadRequest},
		{"rollback to revision 0", "POST", ns + "/rollback/svc/a", `{"revision":0}`, nil, 400, api.CodeBadRequest},
		{"rollback to a delete", "POST", ns + "/rollback/gone", fmt.Sprintf(`{"revision":%d}`, goneDel), nil, 400, api.CodeBadRequest},
		{"principal over 256 bytes", "PUT", cfg, put(`{}`), map[string]string{httpapi.HeaderPrincipal: strings.Repeat("p", 257)}, 400, api.CodeBadRequest},
		{"reason over 1024 bytes in the body", "PUT", cfg, `{"schema":"svc","value":{},"reason":"` + strings.Repeat("r", 1025) + `"}`, nil, 400, api.CodeBadRequest},
		{"reason over 1024 bytes in the header", "DELETE", cfg, nil, map[string]string{httpapi.HeaderReason: strings.Repeat("r", 1025)}, 400, api.CodeBadRequest},
		{"description over 1024 bytes", "PUT", "/v1/namespaces/new", `{"description":"` + strings.Repeat("d", 1025) + `"}`, nil, 400, api.CodeBadRequest},
		// batch_failed (more in TestErrors_BatchFailed)
		{"batch with a failing operation", "POST", "/v1/batch", `{"ops":[{"op":"put","namespace":"app","key":"k","schema":"nope","value":{}}]}`, nil, 404, api.CodeBatchFailed},
	}

	covered := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, h, body := doJSON(t, c.method, base+c.path, c.body, c.headers)
			wantError(t, c.method+" "+c.path, st, body, c.status, c.code)
			if c.code == api.CodeMethodNotAllowed && h.Get("Allow") == "" {
				t.Fatalf("405 without an Allow header")
			}
		})
		covered[c.code] = true
	}
	for _, code := range allCodes {
		if !covered[code] && unreachableCodes[code] == "" {
			t.Errorf("no case answers %s", code)
		}
	}

	// Nothing above changed the namespace, its schema or its config.
	st, _, body = doJSON(t, http.MethodGet, base+cfg, nil, nil)
	wantStatus(t, "get svc/a after the errors", st, body, http.StatusOK)
	if e := decodeAs[api.ConfigEntry](t, body); e.ModifyRevision != a.ModifyRevision || !jsonEqual(e.Value, a.Value) {
		t.Fatalf("svc/a after the errors = %+v, want %+v", e, a)
	}
	st, _, body = doJSON(t, http.MethodGet, base+ns+"/schemas/svc/versions", nil, nil)
	wantStatus(t, "versions after the errors", st, body, http.StatusOK)
	if l := decodeAs[api.SchemaVersionList](t, body); len(l.Items) != 1 {
		t.Fatalf("svc has %d versions after the errors, want 1", len(l.Items))
	}
	for _, n := range []string{"new", "team", strings.Repeat("a", 64)} {
		st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/"+n, nil, nil)
		if st == http.StatusOK {
			t.Fatalf("namespace %s exists after the errors: %s", n, mustJSON(t, body))
		}
	}
}

func TestErrors_InvalidSchema(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustCreateNamespace(t, base, "other")
	mustRegisterSchema(t, base, "other", "svc", svcSchema)
	mustRegisterSchema(t, base, "app", "svc", svcSchema)

	for _, c := range []struct{ name, schema string }{
		{"type is a number", `{"type":12}`},
		{"unknown type", `{"type":"objekt"}`},
		{"properties is an array", `{"properties":[]}`},
		{"minimum is a string", `{"minimum":"1"}`},
		{"a number", `5`},
		{"a string", `"object"`},
		{"an array", `[{"type":"string"}]`},
		{"$ref to http", `{"$ref":"http://example.com/schema.json"}`},
		{"$ref to https", `{"type":"object","properties":{"a":{"$ref":"https://json-schema.org/draft/2020-12/schema"}}}`},
		{"$ref to file", `{"$ref":"file:///etc/passwd"}`},
		{"$ref to a relative file", `{"$ref":"other.json"}`},
		{"$ref to another namespace", `{"$ref":"schemakv://other/svc@1"}`},
		{"$ref to another namespace, network-path", `{"$ref":"//other/svc@1"}`},
		{"$ref to another namespace, dot-dot", `{"$ref":"../other/svc@1"}`},
		{"$ref without a version", `{"$ref":"svc"}`},
		{"$ref to a missing version", `{"$ref":"svc@9"}`},
		{"$ref to a missing fragment", `{"$ref":"#/$defs/nope"}`},
		{"$ref loop", `{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`},
		{"draft-07", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`},
		{"draft 2019-09", `{"$schema":"https://json-schema.org/draft/2019-09/schema","type":"object"}`},
		{"unknown meta-schema", `{"$schema":"https://example.com/meta","type":"object"}`},
		{"draft-07 below the root", `{"type":"object","properties":{"a":{"$schema":"http://json-schema.org/draft-07/schema#"}}}`},
		{"lookbehind pattern", `{"type":"string","pattern":"(?<=a)b"}`},
		{"lookahead pattern property", `{"type":"object","patternProperties":{"^(?!x)":{}}}`},
		{"backreference pattern", `{"type":"string","pattern":"(a)\\1"}`},
		{"embedded $id", `{"type":"object","properties":{"a":{"$id":"schemakv://app/svc@1","type":"string"}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, h, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/svc", `{"schema":`+c.schema+`}`, nil)
			wantError(t, "register "+c.schema, st, body, http.StatusUnprocessableEntity, api.CodeInvalidSchema)
			if h.Get(httpapi.HeaderIndex) != "" {
				t.Fatalf("rejected schema carries %s %s: it reached raft", httpapi.HeaderIndex, h.Get(httpapi.HeaderIndex))
			}
		})
	}
	st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/app/schemas/svc/versions", nil, nil)
	wantStatus(t, "versions", st, body, http.StatusOK)
	if l := decodeAs[api.SchemaVersionList](t, body); len(l.Items) != 1 {
		t.Fatalf("app/svc has %d versions after the rejected ones, want 1", len(l.Items))
	}
	// The defect is named for the user.
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/svc", `{"schema":{"$ref":"schemakv://other/svc@1"}}`, nil)
	if e := wantError(t, "register $ref to other", st, body, 422, api.CodeInvalidSchema); !strings.Contains(e.Message, "other") {
		t.Fatalf("message %q does not name the refused namespace", e.Message)
	}
	// Draft 2020-12 named explicitly is accepted.
	mustRegisterSchema(t, base, "app", "svc", `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}`)
}

func TestErrors_ValidationFailedListsEveryPointer(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", `{
		"type": "object",
		"properties": {
			"host": {"type": "string", "minLength": 3},
			"port": {"type": "integer", "minimum": 1, "maximum": 65535},
			"mode": {"enum": ["a", "b"]},
			"tags": {"type": "array", "items": {"type": "string"}},
			"limits": {"type": "object", "properties": {"cpu": {"type": "number", "exclusiveMinimum": 0}}, "required": ["cpu"]},
			"a/b": {"type": "boolean"}
		},
		"required": ["host", "port", "name"]
	}`)
	value := `{"host":"x","port":70000,"mode":"c","tags":["ok",5,"fine",null],"limits":{"cpu":0},"a/b":"yes","extra":1}`
	want := map[string]string{ // pointer → keyword suffix
		"":            "/required",
		"/host":       "/minLength",
		"/port":       "/maximum",
		"/mode":       "/enum",
		"/tags/1":     "/type",
		"/tags/3":     "/type",
		"/limits/cpu": "/exclusiveMinimum",
		"/a~1b":       "/type",
		"/extra":      "additionalProperties",
	}
	st, h, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/app/configs/k", `{"schema":"svc","value":`+value+`}`, nil)
	e := wantError(t, "put invalid value", st, body, http.StatusUnprocessableEntity, api.CodeValidationFailed)
	if h.Get(httpapi.HeaderIndex) != "" {
		t.Fatalf("invalid value carries %s: it reached raft", httpapi.HeaderIndex)
	}
	checkDetails(t, e.Details, want)
	if !strings.Contains(e.Message, fmt.Sprintf("%d error(s)", len(e.Details))) {
		t.Fatalf("message %q does not count the %d errors", e.Message, len(e.Details))
	}

	// The same value in a batch: the item carries the details.
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/batch",
		`{"ops":[{"op":"put","namespace":"app","key":"k","schema":"svc","value":`+value+`}]}`, nil)
	be := wantError(t, "batch invalid value", st, body, http.StatusUnprocessableEntity, api.CodeBatchFailed)
	if len(be.Items) != 1 || be.Items[0].Code != api.CodeValidationFailed || be.Items[0].Index != 0 {
		t.Fatalf("batch items = %+v, want one validation_failed at 0", be.Items)
	}
	checkDetails(t, be.Items[0].Details, want)

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs/k", nil, nil)
	wantError(t, "get after the invalid puts", st, body, http.StatusNotFound, api.CodeConfigNotFound)
}

func TestErrors_BatchFailed(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	for _, ns := range []string{"ns-a", "ns-b"} {
		mustCreateNamespace(t, base, ns)
		mustRegisterSchema(t, base, ns, "svc", svcSchema)
	}
	x := mustPutConfig(t, base, "ns-a", "x", "svc", `{"n":1}`, nil)
	mustPutConfig(t, base, "ns-b", "y", "svc", `{"n":1}`, nil)
	stale := x.ModifyRevision - 1

	type item struct {
		index int
		code  string
	}
	for _, c := range []struct {
		name   string
		ops    string
		status int
		items  []item
		raft   bool // failed when applied, not before
	}{
		{
			name: "every check before raft",
			ops: `[
				{"op":"put","namespace":"ns-a","key":"ok","schema":"svc","value":{"n":1}},
				{"op":"put","namespace":"ns-a","key":"bad","schema":"svc","value":{"n":"one"}},
				{"op":"put","namespace":"ns-b","key":"k","schema":"nope","value":{}},
				{"op":"put","namespace":"ns-b","key":"a//b","schema":"svc","value":{}},
				{"op":"put","namespace":"missing","key":"k","schema":"svc","value":{}},
				{"op":"delete","namespace":"ns-a","key":"ok"},
				{"op":"upsert","namespace":"ns-a","key":"u"},
				{"op":"delete","namespace":"ns-a","key":"x","value":{}},
				{"op":"check","namespace":"ns-a","key":"x"},
				{"op":"put","namespace":"NS","key":"k","schema":"svc","value":{}},
				{"op":"put","namespace":"ns-a","key":"novalue","schema":"svc"},
				{"op":"put","namespace":"ns-a","key":"` + strings.Repeat("k", 513) + `","schema":"svc","value":{}},
				{"op":"put","namespace":"ns-a","key":"ref","schema":"svc@0","value":{}},
				{"op":"put","namespace":"ns-a","key":"new","value":{}}
			]`,
			status: http.StatusUnprocessableEntity,
			items: []item{{1, api.CodeValidationFailed}, {2, api.CodeSchemaNotFound}, {3, api.CodeInvalidKey},
				{4, api.CodeNamespaceNotFound}, {5, api.CodeBadRequest}, {6, api.CodeBadRequest}, {7, api.CodeBadRequest},
				{8, api.CodeBadRequest}, {9, api.CodeInvalidName}, {10, api.CodeBadRequest}, {11, api.CodeKeyTooLong},
				{12, api.CodeInvalidSchemaRef}, {13, api.CodeSchemaRequired}},
		},
		{
			name: "first failure sets the status",
			ops: `[
				{"op":"put","namespace":"ns-a","key":"ok","schema":"svc","value":{"n":1}},
				{"op":"put","namespace":"missing","key":"k","schema":"svc","value":{}},
				{"op":"put","namespace":"ns-a","key":"bad","schema":"svc","value":{"n":"one"}}
			]`,
			status: http.StatusNotFound,
			items:  []item{{1, api.CodeNamespaceNotFound}, {2, api.CodeValidationFailed}},
		},
		{
			name: "compare-and-set failures when applied",
			ops: fmt.Sprintf(`[
				{"op":"put","namespace":"ns-a","key":"ok","schema":"svc","value":{"n":1}},
				{"op":"put","namespace":"ns-b","key":"ok","schema":"svc","value":{"n":1}},
				{"op":"check","namespace":"ns-a","key":"x","revision":%d},
				{"op":"delete","namespace":"ns-b","key":"missing"},
				{"op":"put","namespace":"ns-b","key":"y","value":{"n":2},"revision":0},
				{"op":"check","namespace":"ns-a","key":"absent","revision":0}
			]`, stale),
			status: http.StatusPreconditionFailed,
			items:  []item{{2, api.CodeRevisionMismatch}, {3, api.CodeConfigNotFound}, {4, api.CodeRevisionMismatch}},
			raft:   true,
		},
		{
			name:   "a single failing operation is still an item",
			ops:    fmt.Sprintf(`[{"op":"check","namespace":"ns-a","key":"x","revision":%d}]`, stale),
			status: http.StatusPreconditionFailed,
			items:  []item{{0, api.CodeRevisionMismatch}},
			raft:   true,
		},
		{
			name: "a missing key first sets 404",
			ops: `[
				{"op":"put","namespace":"ns-b","key":"ok","schema":"svc","value":{"n":1}},
				{"op":"delete","namespace":"ns-a","key":"missing"},
				{"op":"check","namespace":"ns-a","key":"x","revision":0}
			]`,
			status: http.StatusNotFound,
			items:  []item{{1, api.CodeConfigNotFound}, {2, api.CodeRevisionMismatch}},
			raft:   true,
		},
		{
			name:   "a missing namespace found when applied",
			ops:    `[{"op":"check","namespace":"missing","key":"k","revision":0},{"op":"delete","namespace":"missing","key":"k2"}]`,
			status: http.StatusNotFound,
			items:  []item{{0, api.CodeNamespaceNotFound}, {1, api.CodeNamespaceNotFound}},
			raft:   true,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := takeSnapshot(t, base, []string{"ns-a", "ns-b"}, nil)
			st, h, body := doJSON(t, http.MethodPost, base+"/v1/batch", `{"ops":`+c.ops+`}`, nil)
			e := wantError(t, "batch", st, body, c.status, api.CodeBatchFailed)
			var got []item
			for _, it := range e.Items {
				if it.Message == "" {
					t.Fatalf("item %+v has no message", it)
				}
				got = append(got, item{it.Index, it.Code})
			}
			if !slices.Equal(got, c.items) {
				t.Fatalf("items = %v, want %v", got, c.items)
			}
			after := takeSnapshot(t, base, []string{"ns-a", "ns-b"}, nil)
			before.wantSame(t, after, c.raft)
			if c.raft {
				wantIndex(t, "batch failed in raft", h, before.index+1)
			}
		})
	}
}

// TestErrors_RejectedWritesChangeNothing sends every kind of rejected write
// and compares the state before and after: namespaces, schemas, configs and
// history are unchanged, and the applied index does not move unless the
// write was rejected inside raft (a failed compare-and-set, a namespace that
// exists or is not empty, a key that is missing), where it moves by exactly
// one.
func TestErrors_RejectedWritesChangeNothing(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	for _, ns := range []string{"app", "other"} {
		mustCreateNamespace(t, base, ns)
		mustRegisterSchema(t, base, ns, "svc", svcSchema)
	}
	a := mustPutConfig(t, base, "app", "svc/a", "svc", `{"port":80}`, map[string]string{httpapi.HeaderReason: "setup"})
	mustPutConfig(t, base, "app", "svc/a", "svc", `{"port":81}`, nil)
	o := mustPutConfig(t, base, "other", "o", "svc", `{"n":1}`, nil)
	mustPutConfig(t, base, "app", "gone", "svc", `{}`, nil)
	st, _, body := doJSON(t, http.MethodDelete, base+"/v1/namespaces/app/configs/gone", nil, nil)
	wantStatus(t, "delete gone", st, body, http.StatusOK)
	goneDel := decodeAs[api.WriteResult](t, body).Revision
	keys := []string{"app/svc/a", "app/gone", "other/o", "app/new"}
	cfg := "/v1/namespaces/app/configs/svc/a"
	put := func(v string) string { return `{"schema":"svc","value":` + v + `}` }
	old := strconv.FormatUint(a.ModifyRevision, 10) // no longer current

	for _, c := range []struct {
		errorCase
		raft bool
	}{
		{errorCase{"invalid JSON", "PUT", cfg, `{"value":`, nil, 400, api.CodeInvalidJSON}, false},
		{errorCase{"too deep", "PUT", cfg, put(nested(65)), nil, 400, api.CodeJSONTooDeep}, false},
		{errorCase{"text/plain", "PUT", cfg, put(`{"port":1}`), map[string]string{"Content-Type": "text/plain"}, 415, api.CodeUnsupportedMedia}, false},
		{errorCase{"unknown field", "PUT", cfg, `{"value":{"port":1},"x":1}`, nil, 400, api.CodeBadRequest}, false},
		{errorCase{"missing value", "PUT", cfg, `{"schema":"svc"}`, nil, 400, api.CodeBadRequest}, false},
		{errorCase{"invalid value", "PUT", cfg, put(`{"port":0,"x":1}`), nil, 422, api.CodeValidationFailed}, false},
		{errorCase{"missing schema", "PUT", cfg, `{"schema":"nope","value":{}}`, nil, 404, api.CodeSchemaNotFound}, false},
		{errorCase{"bad schema ref", "PUT", cfg, `{"schema":"svc@x","value":{}}`, nil, 400, api.CodeInvalidSchemaRef}, false},
		{errorCase{"new key without schema", "PUT", "/v1/namespaces/app/configs/new", `{"value":{}}`, nil, 400, api.CodeSchemaRequired}, false},
		{errorCase{"bad key", "PUT", "/v1/namespaces/app/configs/new/../svc/a", put(`{}`), nil, 400, api.CodeInvalidKey}, false},
		{errorCase{"long key", "PUT", "/v1/namespaces/app/configs/" + strings.Repeat("n", 513), put(`{}`), nil, 400, api.CodeKeyTooLong}, false},
		{errorCase{"missing namespace", "PUT", "/v1/namespaces/nope/configs/svc/a", put(`{}`), nil, 404, api.CodeNamespaceNotFound}, false},
		{errorCase{"bad If-Match", "PUT", cfg, put(`{}`), map[string]string{"If-Match": "abc"}, 400, api.CodeBadRequest}, false},
		{errorCase{"long reason", "PUT", cfg, put(`{}`), map[string]string{httpapi.HeaderReason: strings.Repeat("r", 1025)}, 400, api.CodeBadRequest}, false},
		{errorCase{"long principal", "DELETE", cfg, nil, map[string]string{httpapi.HeaderPrincipal: strings.Repeat("p", 257)}, 400, api.CodeBadRequest}, false},
		{errorCase{"body too large", "PUT", cfg, put(`"` + strings.Repeat("x", 4<<20) + `"`), nil, 413, api.CodeBodyTooLarge}, false},
		{errorCase{"value too large", "PUT", cfg, put(`"` + strings.Repeat("x", 512<<10) + `"`), nil, 413, api.CodeValueTooLarge}, false},
		{errorCase{"invalid schema", "POST", "/v1/namespaces/app/schemas/svc", `{"schema":{"$ref":"http://example.com/x"}}`, nil, 422, api.CodeInvalidSchema}, false},
		{errorCase{"schema too large", "POST", "/v1/namespaces/app/schemas/svc", `{"schema":{"title":"` + strings.Repeat("t", 256<<10) + `"}}`, nil, 413, api.CodeSchemaTooLarge}, false},
		{errorCase{"bad schema name", "POST", "/v1/namespaces/app/schemas/Svc", `{"schema":{}}`, nil, 400, api.CodeInvalidName}, false},
		{errorCase{"bad namespace name", "PUT", "/v1/namespaces/New", nil, nil, 400, api.CodeInvalidName}, false},
		{errorCase{"bad force", "DELETE", "/v1/namespaces/app?force=1", nil, nil, 400, api.CodeBadRequest}, false},
		{errorCase{"bad cas", "DELETE", cfg + "?cas=-2", nil, nil, 400, api.CodeBadRequest}, false},
		{errorCase{"rollback to a missing revision", "POST", "/v1/namespaces/app/rollback/svc/a", `{"revision":999999}`, nil, 404, api.CodeRevisionNotFound}, false},
		{errorCase{"rollback to a delete", "POST", "/v1/namespaces/app/rollback/gone", fmt.Sprintf(`{"revision":%d}`, goneDel), nil, 400, api.CodeBadRequest}, false},
		{errorCase{"batch with an invalid value", "POST", "/v1/batch", `{"ops":[{"op":"put","namespace":"other","key":"o","value":{"n":2}},{"op":"put","namespace":"app","key":"svc/a","value":{"port":"x"}}]}`, nil, 422, api.CodeBatchFailed}, false},
		{errorCase{"batch touching a key twice", "POST", "/v1/batch", `{"ops":[{"op":"put","namespace":"other","key":"o","value":{"n":2}},{"op":"delete","namespace":"other","key":"o"}]}`, nil, 400, api.CodeBatchFailed}, false},
		{errorCase{"batch too large", "POST", "/v1/batch", batchOfPuts("app", 1001), nil, 413, api.CodeBatchTooLarge}, false},

		{errorCase{"If-Match an old revision", "PUT", cfg, put(`{"port":2}`), map[string]string{"If-Match": `"` + old + `"`}, 412, api.CodeRevisionMismatch}, true},
		{errorCase{"cas= an old revision", "PUT", cfg + "?cas=" + old, put(`{"port":2}`), nil, 412, api.CodeRevisionMismatch}, true},
		{errorCase{"If-None-Match * on an existing key", "PUT", cfg, put(`{"port":2}`), map[string]string{"If-None-Match": "*"}, 412, api.CodeRevisionMismatch}, true},
		{errorCase{"If-Match a missing key", "PUT", "/v1/namespaces/app/configs/new", put(`{}`), map[string]string{"If-Match": old}, 412, api.CodeRevisionMismatch}, true},
		{errorCase{"delete If-Match an old revision", "DELETE", cfg, nil, map[string]string{"If-Match": old}, 412, api.CodeRevisionMismatch}, true},
		{errorCase{"delete a missing key", "DELETE", "/v1/namespaces/app/configs/gone", nil, nil, 404, api.CodeConfigNotFound}, true},
		{errorCase{"rollback If-Match an old revision", "POST", "/v1/namespaces/app/rollback/svc/a", fmt.Sprintf(`{"revision":%d}`, a.ModifyRevision), map[string]string{"If-Match": old}, 412, api.CodeRevisionMismatch}, true},
		{errorCase{"batch across namespaces with a failed check", "POST", "/v1/batch", fmt.Sprintf(`{"ops":[{"op":"put","namespace":"app","key":"new","schema":"svc","value":{}},{"op":"delete","namespace":"app","key":"svc/a"},{"op":"check","namespace":"other","key":"o","revision":%d}]}`, o.ModifyRevision-1), nil, 412, api.CodeBatchFailed}, true},
		{errorCase{"create an existing namespace", "PUT", "/v1/namespaces/app", `{"description":"again"}`, nil, 409, api.CodeNamespaceExists}, true},
		{errorCase{"delete a namespace with contents", "DELETE", "/v1/namespaces/app", nil, nil, 409, api.CodeNamespaceNotEmpty}, true},
		{errorCase{"delete a missing namespace", "DELETE", "/v1/namespaces/nope", nil, nil, 404, api.CodeNamespaceNotFound}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := takeSnapshot(t, base, []string{"app", "other"}, keys)
			st, h, body := doJSON(t, c.method, base+c.path, c.body, c.headers)
			wantError(t, c.method+" "+c.path, st, body, c.status, c.code)
			after := takeSnapshot(t, base, []string{"app", "other"}, keys)
			before.wantSame(t, after, c.raft)
			if got := h.Get(httpapi.HeaderIndex); c.raft && got != strconv.FormatUint(before.index+1, 10) {
				t.Fatalf("rejected in raft: %s %q, want %d", httpapi.HeaderIndex, got, before.index+1)
			} else if !c.raft && got != "" && got != strconv.FormatUint(before.index, 10) {
				t.Fatalf("rejected before raft: %s %q, want none or %d", httpapi.HeaderIndex, got, before.index)
			}
		})
	}
}

// TestErrors_RevisionMismatchReportsCurrentRevision checks the documented
// api.Error.Revision: "a failed compare-and-set reports the key's modify
// revision", so a client can retry without a read.
func TestErrors_RevisionMismatchReportsCurrentRevision(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	mustPutConfig(t, base, "app", "k", "svc", `{"n":1}`, nil)
	cur := mustPutConfig(t, base, "app", "k", "svc", `{"n":2}`, nil)

	for _, c := range []struct {
		name    string
		method  string
		query   string
		body    string
		headers map[string]string
	}{
		{"put If-Match", "PUT", "", `{"value":{"n":3}}`, map[string]string{"If-Match": `"1"`}},
		{"put If-None-Match", "PUT", "", `{"value":{"n":3}}`, map[string]string{"If-None-Match": "*"}},
		{"delete cas", "DELETE", "?cas=1", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			st, _, resp := doJSON(t, c.method, base+"/v1/namespaces/app/configs/k"+c.query, body, c.headers)
			e := wantError(t, c.name, st, resp, http.StatusPreconditionFailed, api.CodeRevisionMismatch)
			if e.Revision != cur.ModifyRevision {
				t.Errorf("412 reports revision %d, want the key's modify revision %d (api.Error.Revision)", e.Revision, cur.ModifyRevision)
			}
		})
	}
}

// TestErrors_RevisionMismatchRevisionEverywhere extends the test above to
// the other compare-and-set writes: ?cas= on a put, a conditional rollback,
// a condition on a key that does not exist (revision 0, left out of the
// JSON) and every failing operation of a batch, whose item carries the
// revision of its own key.
func TestErrors_RevisionMismatchRevisionEverywhere(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	first := mustPutConfig(t, base, "app", "k", "svc", `{"n":1}`, nil)
	cur := mustPutConfig(t, base, "app", "k", "svc", `{"n":2}`, nil)
	other := mustPutConfig(t, base, "app", "other", "svc", `{"n":1}`, nil)
	stale := strconv.FormatUint(first.ModifyRevision, 10)

	for _, c := range []struct {
		name, method, path, body string
		headers                  map[string]string
		want                     uint64
	}{
		{"put cas", "PUT", "/configs/k?cas=" + stale, `{"value":{"n":3}}`, nil, cur.ModifyRevision},
		{"delete If-Match", "DELETE", "/configs/k", "", map[string]string{"If-Match": stale}, cur.ModifyRevision},
		{"delete If-None-Match", "DELETE", "/configs/k", "", map[string]string{"If-None-Match": "*"}, cur.ModifyRevision},
		{"rollback If-Match", "POST", "/rollback/k", fmt.Sprintf(`{"revision":%d}`, first.ModifyRevision),
			map[string]string{"If-Match": `"` + stale + `"`}, cur.ModifyRevision},
		{"put If-Match on an absent key", "PUT", "/configs/absent", `{"schema":"svc","value":{}}`,
			map[string]string{"If-Match": stale}, 0},
		{"delete cas on an absent key", "DELETE", "/configs/absent?cas=" + stale, "", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			st, _, resp := doJSON(t, c.method, base+"/v1/namespaces/app"+c.path, body, c.headers)
			e := wantError(t, c.name, st, resp, http.StatusPreconditionFailed, api.CodeRevisionMismatch)
			if e.Revision != c.want {
				t.Fatalf("412 reports revision %d, want %d", e.Revision, c.want)
			}
			if _, ok := resp["error"].(map[string]any)["revision"]; ok != (c.want != 0) {
				t.Fatalf("error %s: \"revision\" present %v, want %v", mustJSON(t, resp), ok, c.want != 0)
			}
		})
	}

	t.Run("batch items", func(t *testing.T) {
		ops := fmt.Sprintf(`{"ops":[
			{"op":"check","namespace":"app","key":"k","revision":%d},
			{"op":"put","namespace":"app","key":"new","schema":"svc","value":{}},
			{"op":"put","namespace":"app","key":"absent","schema":"svc","value":{},"revision":%d},
			{"op":"delete","namespace":"app","key":"other","revision":0}
		]}`, first.ModifyRevision, first.ModifyRevision)
		st, _, resp := doJSON(t, http.MethodPost, base+"/v1/batch", ops, nil)
		e := wantError(t, "batch", st, resp, http.StatusPreconditionFailed, api.CodeBatchFailed)
		want := []api.ItemError{
			{Index: 0, Code: api.CodeRevisionMismatch, Revision: cur.ModifyRevision},
			{Index: 2, Code: api.CodeRevisionMismatch, Revision: 0},
			{Index: 3, Code: api.CodeRevisionMismatch, Revision: other.ModifyRevision},
		}
		if len(e.Items) != len(want) {
			t.Fatalf("items %+v, want %d", e.Items, len(want))
		}
		for i, w := range want {
			if g := e.Items[i]; g.Index != w.Index || g.Code != w.Code || g.Revision != w.Revision {
				t.Errorf("item %d = %+v, want index %d %s at revision %d", i, g, w.Index, w.Code, w.Revision)
			}
		}
		// A batch of one still reports the revision in its item.
		st, _, resp = doJSON(t, http.MethodPost, base+"/v1/batch",
			fmt.Sprintf(`{"ops":[{"op":"check","namespace":"app","key":"k","revision":%d}]}`, first.ModifyRevision), nil)
		e = wantError(t, "batch of one", st, resp, http.StatusPreconditionFailed, api.CodeBatchFailed)
		if len(e.Items) != 1 || e.Items[0].Revision != cur.ModifyRevision {
			t.Fatalf("batch of one: items %+v, want one at revision %d", e.Items, cur.ModifyRevision)
		}
	})
}

// TestErrors_MessagesHaveNoPackagePrefix checks that messages of errors
// mapped from the sentinels of lower packages do not start with the Go
// package ("store: ", "schema: ", ...): the code already names the failure.
func TestErrors_MessagesHaveNoPackagePrefix(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	k := mustPutConfig(t, base, "app", "k", "svc", `{"n":1}`, nil)
	ns := base + "/v1/namespaces/app"

	for _, c := range []struct {
		name, method, url string
		body              any
		headers           map[string]string
		status            int
		code, prefix      string // prefix: how the message must start
	}{
		{"namespace exists", "PUT", ns, nil, nil, 409, api.CodeNamespaceExists, `namespace already exists: "app"`},
		{"namespace not empty", "DELETE", ns, nil, nil, 409, api.CodeNamespaceNotEmpty, `namespace not empty: "app"`},
		{"config not found on delete", "DELETE", ns + "/configs/missing", nil, nil, 404, api.CodeConfigNotFound, "config not found: app/missing"},
		{"revision mismatch", "PUT", ns + "/configs/k", `{"value":{"n":2}}`, map[string]string{"If-None-Match": "*"},
			412, api.CodeRevisionMismatch, "revision mismatch: app/k exists"},
		// store wraps this one in "store: read history: %w": only the
		// leading prefix goes.
		{"revision not found", "GET", ns + "/diff/k?from=" + strconv.FormatUint(k.ModifyRevision+1000, 10), nil, nil,
			404, api.CodeRevisionNotFound, ""},
		{"invalid schema", "POST", ns + "/schemas/bad", `{"schema":{"type":"nope"}}`, nil, 422, api.CodeInvalidSchema, "invalid schema: "},
		{"invalid JSON body", "PUT", ns + "/configs/k", `{"value":`, nil, 400, api.CodeInvalidJSON, "invalid JSON: "},
		{"JSON too deep", "PUT", ns + "/configs/k", `{"value":` + nested(100) + `}`, nil, 400, api.CodeJSONTooDeep, "JSON nested too deep: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _, body := doJSON(t, c.method, c.url, c.body, c.headers)
			e := wantError(t, c.name, st, body, c.status, c.code)
			wantNoPackagePrefix(t, e.Message)
			if !strings.HasPrefix(e.Message, c.prefix) {
				t.Fatalf("message %q, want it to start with %q", e.Message, c.prefix)
			}
		})
	}

	// Batch items too.
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/batch", `{"ops":[
		{"op":"delete","namespace":"app","key":"missing"},
		{"op":"check","namespace":"app","key":"k","revision":0}]}`, nil)
	e := wantError(t, "batch", st, body, http.StatusNotFound, api.CodeBatchFailed)
	if len(e.Items) != 2 {
		t.Fatalf("batch items %+v, want 2", e.Items)
	}
	for _, it := range e.Items {
		wantNoPackagePrefix(t, it.Message)
	}
}

// wantNoPackagePrefix fails the test if msg starts with the "pkg: " prefix
// of a package whose sentinels the API maps.
func wantNoPackagePrefix(t *testing.T, msg string) {
	t.Helper()
	for _, p := range []string{"store: ", "schema: ", "cluster: ", "fsm: ", "jsonutil: "} {
		if strings.HasPrefix(msg, p) {
			t.Errorf("message %q starts with the package prefix %q", msg, p)
		}
	}
}

// snapshot is what a rejected write must not change, read stale so the
// reads themselves do not touch raft.
type snapshot struct {
	index uint64            // X-Schemakv-Index of a stale read
	docs  map[string]string // path → JSON with list "revision" fields removed
}

// takeSnapshot reads the namespaces, their schemas and configs, and the
// entry and history of each "ns/key".
func takeSnapshot(t *testing.T, base string, namespaces, keys []string) snapshot {
	t.Helper()
	st, h, body := doJSON(t, http.MethodGet, base+"/v1/namespaces?consistency=stale", nil, nil)
	wantStatus(t, "snapshot index", st, body, http.StatusOK)
	s := snapshot{index: headerIndex(t, h), docs: map[string]string{}}
	paths := []string{"/v1/namespaces"}
	for _, ns := range namespaces {
		paths = append(paths, "/v1/namespaces/"+ns, "/v1/namespaces/"+ns+"/schemas",
			"/v1/namespaces/"+ns+"/schemas/svc/versions", "/v1/namespaces/"+ns+"/configs?limit=1000")
	}
	for _, k := range keys {
		ns, key, _ := strings.Cut(k, "/")
		paths = append(paths, "/v1/namespaces/"+ns+"/configs/"+key, "/v1/namespaces/"+ns+"/history/"+key+"?limit=1000")
	}
	for _, p := range paths {
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		st, h, body := doJSON(t, http.MethodGet, base+p+sep+"consistency=stale", nil, nil)
		if idx := h.Get(httpapi.HeaderIndex); idx != "" && idx != strconv.FormatUint(s.index, 10) {
			t.Fatalf("snapshot: the index moved from %d to %s while reading", s.index, idx)
		}
		delete(body, "revision")
		s.docs[p] = fmt.Sprintf("%d %s", st, mustJSON(t, body))
	}
	return s
}

// wantSame compares two snapshots: the documents must be equal, and the
// index equal too, or one higher if the write was rejected inside raft.
func (s snapshot) wantSame(t *testing.T, after snapshot, raft bool) {
	t.Helper()
	for p, doc := range s.docs {
		if after.docs[p] != doc {
			t.Errorf("%s changed:\nbefore %s\nafter  %s", p, doc, after.docs[p])
		}
	}
	want := s.index
	if raft {
		want++
	}
	if after.index != want {
		t.Errorf("applied index moved from %d to %d, want %d (rejected in raft: %v)", s.index, after.index, want, raft)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// checkDetails checks that details list exactly the pointers of want, each
// with a keyword ending in (or naming) the wanted one.
func checkDetails(t *testing.T, details []api.FieldError, want map[string]string) {
	t.Helper()
	var ptrs []string
	for p := range want {
		ptrs = append(ptrs, p)
	}
	wantPointers(t, details, ptrs...)
	for _, d := range details {
		if !strings.Contains(d.Keyword, want[d.Pointer]) {
			t.Fatalf("detail %+v: keyword should name %s", d, want[d.Pointer])
		}
	}
}

// nested returns a JSON value of arrays nested depth deep.
func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// batchOfPuts returns a batch body of n small puts into ns.
func batchOfPuts(ns string, n int) string {
	var b strings.Builder
	b.WriteString(`{"ops":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"op":"put","namespace":%q,"key":"batch/k%04d","schema":"svc","value":{}}`, ns, i)
	}
	b.WriteString(`]}`)
	return b.String()
}
