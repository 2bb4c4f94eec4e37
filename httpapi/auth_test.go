package httpapi_test

// Authentication and authorisation over real HTTP against a node with auth
// on (the default): the RBAC matrix generated from the engine's route
// table, token and binding lifecycle, cross-namespace lists, watches and
// batches, and the audit of denied requests.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/node"
)

// adminToken is the bootstrap admin token of the auth tests' nodes.
const adminToken = "skv_httpapi-test-admin-token-0123456789abcdef"

// logBuffer collects a node's logs for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// mustStartAuthNode starts a node with authentication on and the known
// bootstrap admin token.
func mustStartAuthNode(t *testing.T) (*node.Node, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Auth.BootstrapToken = adminToken
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Cluster.RaftLogLevel = "error"
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
	})
	return n, logs
}

func bearer(tok string) map[string]string {
	if tok == "" {
		return nil
	}
	return map[string]string{"Authorization": "Bearer " + tok}
}

// mustToken creates a token bound to role (in ns, or globally; no binding
// when role is empty) and returns it.
func mustToken(t *testing.T, base, name, role, ns string) api.TokenCreated {
	t.Helper()
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/tokens", api.CreateTokenRequest{Name: name, Role: role, Namespace: ns}, bearer(adminToken))
	wantStatus(t, "create token "+name, st, body, http.StatusCreated)
	return decodeAs[api.TokenCreated](t, body)
}

// principalKind is one row of the matrix: a role bound in the "own"
// namespace, a global role, or no role.
type principalKind struct {
	name   string
	role   string // "" = no binding
	global bool
	anon   bool // no credentials at all
}

var matrixPrincipals = []principalKind{
	{name: "anonymous", anon: true},
	{name: "none"},
	{name: "viewer", role: api.RoleViewer},
	{name: "editor", role: api.RoleEditor},
	{name: "admin", role: api.RoleAdmin},
	{name: "global-viewer", role: api.RoleViewer, global: true},
	{name: "global-admin", role: api.RoleAdmin, global: true},
}

// expectedAccess is the hand-written expectation, per route, of who may
// call it, independent of the server's table: "public", "authenticated"
// (any valid identity), "viewer" / "editor" / "admin" of the target
// namespace (or globally), "global-viewer" or "global-admin".
var expectedAccess = map[string]string{
	"GET /v1/health":                                "public",
	"GET /":                                         "public",
	"GET /ui":                                       "public",
	"GET /ui/*filepath":                             "public",
	"GET /v1/ready":                                 "global-viewer",
	"GET /v1/cluster":                               "global-viewer",
	"DELETE /v1/cluster/members/:id":                "global-admin",
	"GET /v1/snapshot":                              "global-admin",
	"POST /v1/snapshot":                             "global-admin",
	"GET /metrics":                                  "global-viewer",
	"GET /v1/namespaces":                            "authenticated",
	"PUT /v1/namespaces/:ns":                        "admin",
	"GET /v1/namespaces/:ns":                        "viewer",
	"DELETE /v1/namespaces/:ns":                     "admin",
	"GET /v1/namespaces/:ns/schemas":                "viewer",
	"POST /v1/namespaces/:ns/schemas/:name":         "admin",
	"GET /v1/namespaces/:ns/schemas/:name":          "viewer",
	"GET /v1/namespaces/:ns/schemas/:name/versions": "viewer",
	"GET /v1/namespaces/:ns/schemas/:name/versions/:version":            "viewer",
	"POST /v1/namespaces/:ns/schema-bundles":                            "admin",
	"GET /v1/namespaces/:ns/schemas/:name/status":                       "viewer",
	"GET /v1/namespaces/:ns/schemas/:name/history":                      "viewer",
	"PUT /v1/namespaces/:ns/schemas/:name/policy":                       "admin",
	"POST /v1/namespaces/:ns/schemas/:name/versions/:version/deprecate": "admin",
	"DELETE /v1/namespaces/:ns/schemas/:name/versions/:version":         "admin",
	"POST /v1/namespaces/:ns/schemas/:name/migrations":                  "admin",
	"GET /v1/namespaces/:ns/schemas/:name/migrations":                   "viewer",
	"GET /v1/namespaces/:ns/schemas/:name/migrations/:id":               "viewer",
	"POST /v1/namespaces/:ns/schemas/:name/migrations/:id/resume":       "admin",
	"POST /v1/namespaces/:ns/indexes":                                   "admin",
	"GET /v1/namespaces/:ns/indexes":                                    "viewer",
	"GET /v1/namespaces/:ns/indexes/:name":                              "viewer",
	"DELETE /v1/namespaces/:ns/indexes/:name":                           "admin",
	"GET /v1/namespaces/:ns/configs":                                    "viewer",
	"GET /v1/namespaces/:ns/configs/*key":                               "viewer",
	"PUT /v1/namespaces/:ns/configs/*key":                               "editor",
	"DELETE /v1/namespaces/:ns/configs/*key":                            "editor",
	"GET /v1/namespaces/:ns/history/*key":                               "viewer",
	"GET /v1/namespaces/:ns/diff/*key":                                  "viewer",
	"POST /v1/namespaces/:ns/rollback/*key":                             "editor",
	"POST /v1/batch":                                                    "editor",
	"POST /v1/imports":                                                  "authenticated", // then each entry needs editor of its namespace
	"PUT /v1/imports/:id/data":                                          "authenticated",
	"GET /v1/imports":                                                   "authenticated", // filtered
	"GET /v1/imports/:id":                                               "authenticated", // creator, or viewer of all its namespaces
	"DELETE /v1/imports/:id":                                            "authenticated", // creator, or editor of all its namespaces
	"GET /v1/watch":                                                     "viewer",
	"POST /v1/watch":                                                    "viewer",
	"GET /v1/whoami":                                                    "authenticated",
	"POST /v1/tokens":                                                   "global-admin",
	"GET /v1/tokens":                                                    "global-admin",
	"DELETE /v1/tokens/:id":                                             "global-admin",
	"POST /v1/bindings":                                                 "global-admin",
	"GET /v1/bindings":                                                  "global-admin",
	"DELETE /v1/bindings/:id":                                           "global-admin",

	// The UI's OIDC sign-in: before there is a credential.
	"GET /v1/auth/oidc":        "public",
	"POST /v1/auth/oidc/token": "public",
}

var roleRank = map[string]int{api.RoleViewer: 1, api.RoleEditor: 2, api.RoleAdmin: 3}

// expectAllowed computes the expectation for one cell from expectedAccess.
func expectAllowed(access string, p principalKind, ownTarget bool) bool {
	switch access {
	case "public":
		return true
	case "authenticated":
		return !p.anon
	case "global-viewer", "global-admin":
		return p.global && roleRank[p.role] >= roleRank[strings.TrimPrefix(access, "global-")]
	case "viewer", "editor", "admin":
		return roleRank[p.role] >= roleRank[access] && (p.global || ownTarget)
	}
	panic("unknown access " + access)
}

// matrixRequest builds a harmless request for a route: every allowed call
// fails on business rules (exists, not found, bad body) or only reads, so
// the state stays the same for the next cell.
func matrixRequest(method, path, ns string) (string, any) {
	r := strings.NewReplacer(":ns", ns, ":name", "s", ":version", "1", "*key", "missing/key", ":id", "nobody")
	url := r.Replace(path)
	var body any
	switch {
	case path == "/v1/watch" && method != http.MethodPost:
		url += "?namespace=" + ns
	case path == "/v1/watch" && method == http.MethodPost:
		body = api.WatchRequest{Watches: []api.WatchSpec{{ID: "w", Namespace: ns}}}
	case path == "/v1/batch":
		body = api.BatchRequest{Ops: []api.BatchOp{{Op: api.BatchDelete, Namespace: ns, Key: "missing/key"}}}
	case method == http.MethodPut && strings.HasSuffix(path, "/configs/*key"):
		body = map[string]any{"value": map[string]any{}} // no schema for a new key: 400
	case method == http.MethodPost && path == "/v1/snapshot":
		body = "not a snapshot"
	case strings.HasSuffix(path, "/deprecate"):
		// Deprecates s@1: allowed calls change state, but no later cell
		// depends on it (puts of new keys fail earlier, on the schema).
	case method == http.MethodPost || method == http.MethodPut:
		body = "{}" // every POST and PUT here needs fields: 400
	}
	return url, body
}

// TestRBAC_Matrix calls every route of the engine as every kind of
// principal, on its own namespace and on another, and compares the
// outcome with expectedAccess. A denied call must change nothing.
func TestRBAC_Matrix(t *testing.T) {
	t.Parallel()
	n, logs := mustStartAuthNode(t)
	base := n.HTTPURL()
	admin := bearer(adminToken)
	for _, ns := range []string{"own", "other"} {
		st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/"+ns, nil, admin)
		wantStatus(t, "create "+ns, st, body, http.StatusCreated)
		st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/"+ns+"/schemas/s", map[string]any{"schema": map[string]any{"type": "object"}}, admin)
		wantStatus(t, "schema in "+ns, st, body, http.StatusCreated)
		st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/"+ns+"/configs/k", map[string]any{"schema": "s@1", "value": map[string]any{}}, admin)
		wantStatus(t, "config in "+ns, st, body, http.StatusCreated)
	}
	tokens := map[string]string{}
	for _, p := range matrixPrincipals {
		if p.anon {
			continue
		}
		scope := "own"
		if p.global {
			scope = ""
		}
		if p.role == "" {
			scope = ""
		}
		tokens[p.name] = mustToken(t, base, "m-"+p.name, p.role, scope).Secret
	}

	routes := n.API().Routes()
	seen := map[string]bool{}
	var cells, denied int
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		if rt.Method == http.MethodHead {
			key = http.MethodGet + " " + rt.Path
		}
		access, ok := expectedAccess[key]
		if !ok {
			t.Errorf("route %s %s is missing from the expected-access table", rt.Method, rt.Path)
			continue
		}
		seen[key] = true
		for _, p := range matrixPrincipals {
			for _, target := range []string{"own", "other"} {
				url, body := matrixRequest(rt.Method, rt.Path, target)
				before := n.Store().Applied()
				st, err := matrixCall(rt.Method, base+url, body, tokens[p.name])
				if err != nil {
					t.Fatalf("%s %s as %s: %v", rt.Method, url, p.name, err)
				}
				cells++
				want := expectAllowed(access, p, target == "own")
				got := st != http.StatusUnauthorized && st != http.StatusForbidden
				if got != want {
					t.Errorf("%s %s as %s on %s namespace: status %d; want allowed=%v (%s)", rt.Method, rt.Path, p.name, target, st, want, access)
				}
				if !got {
					denied++
					if wantSt := map[bool]int{true: 401, false: 403}[p.anon]; st != wantSt {
						t.Errorf("%s %s as %s: denied with %d; want %d", rt.Method, rt.Path, p.name, st, wantSt)
					}
					if after := n.Store().Applied(); after != before {
						t.Errorf("%s %s as %s: denied, but the revision moved from %d to %d", rt.Method, rt.Path, p.name, before, after)
					}
				}
			}
		}
	}
	for key := range expectedAccess {
		if !seen[key] {
			t.Errorf("expected-access entry %q names no route of the engine", key)
		}
	}
	t.Logf("%d routes, %d cells, %d denied", len(routes), cells, denied)
	if cells < 300 || denied < 100 {
		t.Fatalf("only %d cells (%d denied): the matrix did not run", cells, denied)
	}
	// Denied requests are logged, and no secret ever is.
	out := logs.String()
	if !strings.Contains(out, `"msg":"request denied","status":403`) || !strings.Contains(out, `"msg":"request denied","status":401`) {
		t.Errorf("denied requests are not logged:\n%.2000s", out)
	}
	for name, secret := range tokens {
		if strings.Contains(out, secret) {
			t.Errorf("the logs hold %s's token", name)
		}
	}
	if strings.Contains(out, adminToken) {
		t.Error("the logs hold the admin token")
	}
}

// matrixCall sends one request and returns its status; streams (watch)
// are cut once the status is known.
func matrixCall(method, url string, body any, token string) (int, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		rd = bytes.NewReader(mustMarshal(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// A connection of its own: a HEAD of a stream is answered at once, but
	// its handler streams on, and a kept-alive connection would wait.
	req.Close = true
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestAuth_TokenLifecycle: create, use, list, revoke; a revoked token is
// refused at once; the audit names the token; secrets are shown once.
func TestAuth_TokenLifecycle(t *testing.T) {
	t.Parallel()
	n, logs := mustStartAuthNode(t)
	base := n.HTTPURL()
	ed := mustToken(t, base, "deployer", api.RoleEditor, "pay")
	if !strings.HasPrefix(ed.Secret, "skv_") || len(ed.Bindings) != 1 || ed.Bindings[0].Subject != ed.ID {
		t.Fatalf("created %+v: want an skv_ secret and one binding to its id", ed)
	}
	st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/pay", nil, bearer(adminToken))
	wantStatus(t, "create pay", st, body, http.StatusCreated)
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/pay/schemas/s", map[string]any{"schema": map[string]any{"type": "object"}}, bearer(adminToken))
	wantStatus(t, "schema", st, body, http.StatusCreated)

	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/pay/configs/a", map[string]any{"schema": "s@1", "value": map[string]any{}, "reason": "CR-7"}, bearer(ed.Secret))
	wantStatus(t, "put as deployer", st, body, http.StatusCreated)
	if e := decodeAs[api.ConfigEntry](t, body); e.ModifiedBy != "token:deployer:"+ed.ID || e.Reason != "CR-7" {
		t.Fatalf("entry %+v: want modified by token:deployer:%s with reason CR-7", e, ed.ID)
	}
	// The placeholder header does not override the authenticated identity.
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/pay/configs/a", map[string]any{"value": map[string]any{}},
		map[string]string{"Authorization": "Bearer " + ed.Secret, "X-Schemakv-Principal": "mallory"})
	wantStatus(t, "put with a spoofed principal header", st, body, http.StatusOK)
	if e := decodeAs[api.ConfigEntry](t, body); e.ModifiedBy != "token:deployer:"+ed.ID {
		t.Fatalf("spoofed header recorded: %+v", e)
	}

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/whoami", nil, bearer(ed.Secret))
	wantStatus(t, "whoami", st, body, http.StatusOK)
	if w := decodeAs[api.WhoAmI](t, body); w.ID != ed.ID || len(w.Bindings) != 1 || w.Bindings[0].Role != api.RoleEditor {
		t.Fatalf("whoami %+v", w)
	}

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/tokens", nil, bearer(adminToken))
	wantStatus(t, "list tokens", st, body, http.StatusOK)
	if raw := fmt.Sprint(body); strings.Contains(raw, ed.Secret) || strings.Contains(raw, "hash") {
		t.Fatalf("token list shows a secret or hash: %s", raw)
	}
	if l := decodeAs[api.TokenList](t, body); len(l.Items) != 2 {
		t.Fatalf("token list %+v: want the bootstrap token and deployer", l)
	}

	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/tokens/"+ed.ID, nil, bearer(adminToken))
	wantStatus(t, "revoke", st, body, http.StatusOK)
	rr := decodeAs[api.RevokeResult](t, body)
	if !rr.Complete || len(rr.Confirmed) != 1 || !rr.Token.Revoked || rr.Token.RevokedBy == "" {
		t.Fatalf("revoke %+v: want confirmed by the one member", rr)
	}
	for _, q := range []string{"", "?consistency=stale"} {
		st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/pay/configs/a"+q, nil, bearer(ed.Secret))
		wantError(t, "revoked token read"+q, st, body, http.StatusUnauthorized, api.CodeUnauthenticated)
	}
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/tokens/"+ed.ID, nil, bearer(adminToken))
	wantError(t, "revoke twice", st, body, http.StatusConflict, api.CodeTokenRevoked)
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/tokens/tknothere", nil, bearer(adminToken))
	wantError(t, "revoke unknown", st, body, http.StatusNotFound, api.CodeTokenNotFound)

	// Expiry: a token with a short ttl stops working.
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/tokens", api.CreateTokenRequest{Name: "brief", TTL: "1s", Role: api.RoleViewer, Namespace: "pay"}, bearer(adminToken))
	wantStatus(t, "create brief", st, body, http.StatusCreated)
	brief := decodeAs[api.TokenCreated](t, body)
	if brief.ExpiresAt == nil {
		t.Fatal("ttl set no expiry")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/pay", nil, bearer(brief.Secret))
		if st == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired token still answered %d %v", st, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Bad requests.
	for _, tc := range []struct {
		what string
		req  any
	}{
		{"bad name", api.CreateTokenRequest{Name: "has space"}},
		{"bad ttl", api.CreateTokenRequest{Name: "x", TTL: "-1h"}},
		{"bad role", api.CreateTokenRequest{Name: "x", Role: "root"}},
		{"ns without role", api.CreateTokenRequest{Name: "x", Namespace: "pay"}},
		{"unknown field", map[string]any{"name": "x", "secret": "mine"}},
	} {
		st, _, body = doJSON(t, http.MethodPost, base+"/v1/tokens", tc.req, bearer(adminToken))
		wantError(t, tc.what, st, body, http.StatusBadRequest, api.CodeBadRequest)
	}
	if strings.Contains(logs.String(), ed.Secret) || strings.Contains(logs.String(), brief.Secret) {
		t.Fatal("a token secret reached the logs")
	}
}

// TestAuth_Bindings: bind, list, unbind, with immediate effect; OIDC-style
// subjects are accepted; duplicates refused.
func TestAuth_Bindings(t *testing.T) {
	t.Parallel()
	n, _ := mustStartAuthNode(t)
	base := n.HTTPURL()
	tok := mustToken(t, base, "later", "", "")
	st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/pay", nil, bearer(tok.Secret))
	wantError(t, "no binding yet", st, body, http.StatusForbidden, api.CodeForbidden)

	bind := api.BindRequest{Role: api.RoleViewer, SubjectKind: api.SubjectToken, Subject: tok.ID, Namespace: "pay"}
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/bindings", bind, bearer(adminToken))
	wantStatus(t, "bind", st, body, http.StatusCreated)
	b := decodeAs[api.RoleBinding](t, body)
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/bindings", bind, bearer(adminToken))
	wantError(t, "bind twice", st, body, http.StatusConflict, api.CodeBindingExists)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/pay", nil, bearer(tok.Secret))
	wantError(t, "bound viewer, namespace absent", st, body, http.StatusNotFound, api.CodeNamespaceNotFound)

	for _, bad := range []api.BindRequest{
		{Role: "owner", SubjectKind: api.SubjectToken, Subject: tok.ID},
		{Role: api.RoleViewer, SubjectKind: "email", Subject: "x"},
		{Role: api.RoleViewer, SubjectKind: api.SubjectOIDCGroup, Subject: ""},
		{Role: api.RoleViewer, SubjectKind: api.SubjectOIDCUser, Subject: "u", Namespace: "Bad_NS"},
	} {
		st, _, body = doJSON(t, http.MethodPost, base+"/v1/bindings", bad, bearer(adminToken))
		if st != http.StatusBadRequest {
			t.Errorf("bind %+v: status %d %v; want 400", bad, st, body)
		}
	}
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/bindings", api.BindRequest{Role: api.RoleViewer, SubjectKind: api.SubjectToken, Subject: "tkmissing"}, bearer(adminToken))
	wantError(t, "bind an unknown token", st, body, http.StatusNotFound, api.CodeTokenNotFound)
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/bindings", api.BindRequest{Role: api.RoleEditor, SubjectKind: api.SubjectOIDCGroup, Subject: "pay-eng"}, bearer(adminToken))
	wantStatus(t, "bind a group", st, body, http.StatusCreated)

	st, _, body = doJSON(t, http.MethodGet, base+"/v1/bindings?namespace=pay", nil, bearer(adminToken))
	wantStatus(t, "list", st, body, http.StatusOK)
	if l := decodeAs[api.BindingList](t, body); len(l.Items) != 1 || l.Items[0].ID != b.ID {
		t.Fatalf("bindings of pay: %+v", l)
	}
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/bindings/"+b.ID, nil, bearer(adminToken))
	wantStatus(t, "unbind", st, body, http.StatusOK)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/pay", nil, bearer(tok.Secret))
	wantError(t, "after unbind", st, body, http.StatusForbidden, api.CodeForbidden)
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/bindings/"+b.ID, nil, bearer(adminToken))
	wantError(t, "unbind twice", st, body, http.StatusNotFound, api.CodeBindingNotFound)
}

// TestAuth_NoCrossNamespaceLeaks: lists, watches and batches that span
// namespaces show or touch only what the principal may.
func TestAuth_NoCrossNamespaceLeaks(t *testing.T) {
	t.Parallel()
	n, _ := mustStartAuthNode(t)
	base := n.HTTPURL()
	admin := bearer(adminToken)
	for _, ns := range []string{"mine", "theirs"} {
		st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/"+ns, nil, admin)
		wantStatus(t, ns, st, body, http.StatusCreated)
		st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/"+ns+"/schemas/s", map[string]any{"schema": map[string]any{"type": "object"}}, admin)
		wantStatus(t, ns, st, body, http.StatusCreated)
	}
	ed := mustToken(t, base, "ed", api.RoleEditor, "mine").Secret

	st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces", nil, bearer(ed))
	wantStatus(t, "list namespaces", st, body, http.StatusOK)
	if names := namespaceNames(decodeAs[api.NamespaceList](t, body).Items); len(names) != 1 || names[0] != "mine" {
		t.Fatalf("editor of mine lists %v; want [mine]", names)
	}

	before := n.Store().Applied()
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/batch", api.BatchRequest{Ops: []api.BatchOp{
		{Op: api.BatchPut, Namespace: "mine", Key: "a", Schema: "s", Value: []byte(`{}`)},
		{Op: api.BatchPut, Namespace: "theirs", Key: "a", Schema: "s", Value: []byte(`{}`)},
	}}, bearer(ed))
	wantError(t, "batch into theirs", st, body, http.StatusForbidden, api.CodeForbidden)
	if after := n.Store().Applied(); after != before {
		t.Fatalf("a refused batch moved the revision from %d to %d", before, after)
	}

	for _, q := range []string{"?namespace=theirs", "?namespace=theirs&format=ndjson", "?namespace=theirs&from=1"} {
		st, err := matrixCall(http.MethodGet, base+"/v1/watch"+q, nil, ed)
		if err != nil || st != http.StatusForbidden {
			t.Errorf("watch %s: status %d, %v; want 403", q, st, err)
		}
	}
	if st, err := matrixCall(http.MethodGet, base+"/v1/watch", nil, ed); err != nil || st != http.StatusBadRequest {
		t.Errorf("watch without a namespace: status %d, %v; want 400", st, err)
	}
	// A multiplexed stream with one watch on a namespace the caller may not
	// read is refused whole.
	multi := api.WatchRequest{Watches: []api.WatchSpec{{ID: "a", Namespace: "mine"}, {ID: "b", Namespace: "theirs"}}}
	if st, err := matrixCall(http.MethodPost, base+"/v1/watch", multi, ed); err != nil || st != http.StatusForbidden {
		t.Errorf("multiplexed watch over theirs: status %d, %v; want 403", st, err)
	}
	multi.Watches = multi.Watches[:1]
	if st, err := matrixCall(http.MethodPost, base+"/v1/watch", multi, ed); err != nil || st != http.StatusOK {
		t.Errorf("multiplexed watch over mine: status %d, %v; want 200", st, err)
	}
	// A blocking query on the other namespace is refused before it blocks.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/theirs/configs?index=1&wait=5s", nil, bearer(ed))
	wantError(t, "blocking query on theirs", st, body, http.StatusForbidden, api.CodeForbidden)
}

// TestAuth_RevocationEndsStreamsAndBlockingQueries: a watch stream opened
// with a token ends once the token is revoked, and a blocking query that
// waited across the revocation answers 401, not the data.
func TestAuth_RevocationEndsStreamsAndBlockingQueries(t *testing.T) {
	t.Parallel()
	n, _ := mustStartAuthNode(t)
	base := n.HTTPURL()
	admin := bearer(adminToken)
	st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/w", nil, admin)
	wantStatus(t, "create w", st, body, http.StatusCreated)
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/w/schemas/s", map[string]any{"schema": map[string]any{"type": "object"}}, admin)
	wantStatus(t, "schema", st, body, http.StatusCreated)
	watcher := mustToken(t, base, "watcher", api.RoleViewer, "w")
	poller := mustToken(t, base, "poller", api.RoleViewer, "w")

	s := openStream(t, nil, base, "namespace=w&format=ndjson", bearer(watcher.Secret))
	if m, err := s.next(); err != nil || m.Type != api.WatchProgress {
		t.Fatalf("first message %+v, %v; want progress", m, err)
	}

	type answer struct {
		status int
		body   map[string]any
	}
	blocked := make(chan answer, 1)
	go func() {
		st, _, body := doJSONNoFatal(http.MethodGet, fmt.Sprintf("%s/v1/namespaces/w/configs?index=%d&wait=30s", base, n.Store().Applied()), nil, bearer(poller.Secret))
		blocked <- answer{st, body}
	}()
	time.Sleep(100 * time.Millisecond) // let the query block (its answer is checked either way)

	for _, tk := range []api.TokenCreated{watcher, poller} {
		st, _, body = doJSON(t, http.MethodDelete, base+"/v1/tokens/"+tk.ID, nil, admin)
		wantStatus(t, "revoke "+tk.Name, st, body, http.StatusOK)
	}
	// A write that wakes the blocked query and would reach the stream.
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/w/configs/secret", map[string]any{"schema": "s", "value": map[string]any{}}, admin)
	wantStatus(t, "write after revocation", st, body, http.StatusCreated)

	select {
	case a := <-blocked:
		if a.status != http.StatusUnauthorized {
			t.Fatalf("blocking query across a revocation answered %d %v; want 401", a.status, a.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the blocking query never answered")
	}
	for {
		m, err := s.next()
		if err != nil {
			t.Fatalf("stream ended without a cut message: %v", err)
		}
		if m.Type == api.WatchEvents {
			for _, ev := range m.Events {
				if ev.Key == "secret" {
					t.Fatalf("the stream of a revoked token delivered %+v", ev)
				}
			}
		}
		if m.Type == api.WatchCut {
			if !strings.Contains(m.Reason, "revoked") {
				t.Fatalf("cut %+v; want the revocation as reason", m)
			}
			return
		}
	}
}

// TestAuth_Imports: a bulk import checks every entry's namespace (editor);
// a job is visible to its creator and to who may read all it touched, and
// cancelled only by its creator or who may write all it touched.
func TestAuth_Imports(t *testing.T) {
	t.Parallel()
	n, _ := mustStartAuthNode(t)
	base := n.HTTPURL()
	admin := bearer(adminToken)
	for _, ns := range []string{"mine", "theirs"} {
		st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/"+ns, nil, admin)
		wantStatus(t, ns, st, body, http.StatusCreated)
		st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/"+ns+"/schemas/s", map[string]any{"schema": map[string]any{"type": "object"}}, admin)
		wantStatus(t, ns, st, body, http.StatusCreated)
	}
	ed := mustToken(t, base, "importer", api.RoleEditor, "mine")
	other := mustToken(t, base, "other", api.RoleEditor, "theirs")

	upload := `{"namespace":"mine","key":"a","schema":"s","value":{}}` + "\n" +
		`{"namespace":"theirs","key":"a","schema":"s","value":{}}` + "\n"
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/imports?mode=best-effort&format=ndjson", upload,
		map[string]string{"Authorization": "Bearer " + ed.Secret, "Content-Type": "application/x-ndjson"})
	if st != http.StatusOK && st != http.StatusAccepted {
		t.Fatalf("import: %d %v", st, body)
	}
	id := decodeAs[api.ImportJob](t, body).ID
	var job api.ImportJob
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _, body = doJSON(t, http.MethodGet, base+"/v1/imports/"+id, nil, bearer(ed.Secret))
		wantStatus(t, "get own job", st, body, http.StatusOK)
		if job = decodeAs[api.ImportJob](t, body); job.Final() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never ended: %+v", job)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if job.Applied != 1 || job.Failed != 1 || len(job.Errors) != 1 || job.Errors[0].Code != api.CodeForbidden || job.Errors[0].Namespace != "theirs" {
		t.Fatalf("job %+v: want mine/a applied and theirs/a refused as forbidden", job)
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/theirs/configs/a", nil, admin)
	wantError(t, "theirs/a", st, body, http.StatusNotFound, api.CodeConfigNotFound)

	// The other editor neither sees nor cancels the job.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/imports/"+id, nil, bearer(other.Secret))
	wantError(t, "other's get", st, body, http.StatusForbidden, api.CodeForbidden)
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/imports/"+id, nil, bearer(other.Secret))
	wantError(t, "other's cancel", st, body, http.StatusForbidden, api.CodeForbidden)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/imports", nil, bearer(other.Secret))
	wantStatus(t, "other's list", st, body, http.StatusOK)
	if l := decodeAs[api.ImportList](t, body); len(l.Items) != 0 {
		t.Fatalf("other's list shows %+v", l.Items)
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/imports", nil, admin)
	wantStatus(t, "admin's list", st, body, http.StatusOK)
	if l := decodeAs[api.ImportList](t, body); len(l.Items) != 1 {
		t.Fatalf("admin's list: %+v", l.Items)
	}
}
