package ui_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/schemakv/schemakv/api"
)

// seedTeam creates namespace "team" with a schema and one entry, as the
// admin token.
func seedTeam(t *testing.T, srv testServer) {
	t.Helper()
	httpDo(t, srv, http.MethodPut, "/v1/namespaces/team", "application/json", `{}`, http.StatusCreated)
	httpDo(t, srv, http.MethodPost, "/v1/namespaces/team/schemas/app", "application/json",
		`{"schema": {"type": "object", "properties": {"on": {"type": "boolean"}}}}`, http.StatusCreated)
	httpDo(t, srv, http.MethodPut, "/v1/namespaces/team/configs/app", "application/json",
		`{"schema": "app", "value": {"on": true}}`, http.StatusCreated)
	httpDo(t, srv, http.MethodPut, "/v1/namespaces/team/configs/app", "application/json",
		`{"value": {"on": false}}`, http.StatusOK)
}

// as returns srv with another token: httpDo and httpGet then send it.
func as(srv testServer, token string) testServer {
	srv.Token = token
	return srv
}

// TestBrowser_ViewerRefusedAdminPage signs in with a token bound as viewer
// of one namespace: the UI shows no admin navigation and no create, edit,
// delete or rollback controls, and the tokens page, reached by its address,
// says clearly that the server refused it (403).
func TestBrowser_ViewerRefusedAdminPage(t *testing.T) {
	ctx := browser(t)
	srv := startServer(t)
	shots := artifactsDir(t)
	seedTeam(t, srv)
	var tk api.TokenCreated
	if err := json.Unmarshal(httpDo(t, srv, http.MethodPost, "/v1/tokens", "application/json", `{"name":"vera"}`, http.StatusCreated), &tk); err != nil {
		t.Fatal(err)
	}
	httpDo(t, srv, http.MethodPost, "/v1/bindings", "application/json",
		fmt.Sprintf(`{"role":"viewer","namespace":"team","subject_kind":"token","subject":%q}`, tk.ID), http.StatusCreated)
	srv.People["vera"] = tk.Secret
	// The server is what refuses: the viewer's own requests.
	httpDo(t, as(srv, tk.Secret), http.MethodGet, "/v1/tokens", "", "", http.StatusForbidden)
	httpDo(t, as(srv, tk.Secret), http.MethodGet, "/v1/namespaces/team", "", "", http.StatusOK)

	v := tab{t: t, ctx: ctx, srv: srv}
	v.signIn("vera")
	v.waitText("#who", "viewer of team")
	v.waitJS("the team namespace", `document.querySelector('tr[data-ns="team"]')`)
	nav, err := chromedp.Run(v.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('nav a')].filter((a) => a.offsetParent !== null).map((a) => a.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(nav, ",") != "Namespaces" {
		t.Errorf("a viewer of one namespace sees the navigation %q, want only Namespaces", nav)
	}
	none := func(where string, sels ...string) {
		t.Helper()
		for _, sel := range sels {
			n, err := chromedp.Run(v.ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
			if err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s: a viewer sees %d of %s", where, n, sel)
			}
		}
	}
	none("namespaces", "#ns-name", "main .confirm", "main button.danger")
	v.open("/ns/team")
	v.waitJS("the entry", `document.querySelector('tr[data-key="app"]')`)
	none("namespace", "#new-config", "#new-schema")
	v.open("/ns/team/schemas/app")
	none("schema", "#new-version")
	v.open("/ns/team/config/app")
	v.waitText("#current-value", `"on": false`)
	v.waitText("#read-only", "editor role")
	none("config", "#config-form", "#save", "main .confirm")
	v.open("/ns/team/history/app")
	v.waitJS("two revisions", "document.querySelectorAll('#history tbody tr').length === 2")
	none("history", "main .confirm")

	// Typed addresses: the server answers 403 and the page says so.
	for _, route := range []string{"/admin/tokens", "/admin/bindings", "/cluster"} {
		v.open(route)
		v.waitText("main h1", "Forbidden")
		v.waitText("#forbidden", "Your roles do not allow this page")
		if route != "/cluster" {
			v.waitText(`main [data-code="forbidden"]`, "HTTP 403")
		}
	}
	v.open("/admin/tokens")
	v.waitText("main h1", "Forbidden")
	v.screenshot(shots, "forbidden")
}

// TestBrowser_AdminTokensAndBindings has an admin create a token on the
// tokens page (the secret shown once), bind it as editor of a namespace on
// the bindings page, and check that the token then works with the API;
// revoking it on the tokens page ends it.
func TestBrowser_AdminTokensAndBindings(t *testing.T) {
	ctx := browser(t)
	srv := startServer(t)
	shots := artifactsDir(t)
	seedTeam(t, srv)

	a := tab{t: t, ctx: ctx, srv: srv}
	a.signIn("alice")
	a.click(`nav a[data-nav="tokens"]`)
	a.waitJS("the tokens page", "document.querySelector('#token-form') && document.querySelector('#tokens')")
	a.typeInto("#tk-name", "ci")
	a.typeInto("#tk-reason", "deploys\r")
	a.waitJS("the secret", `document.querySelector('#new-secret')?.value.startsWith('skv_')`)
	a.waitText("#new-secret-warn", "shown only this once")
	secret, err := chromedp.Run(a.ctx, chromedp.Evaluate[string](`document.querySelector('#new-secret').value`))
	if err != nil {
		t.Fatal(err)
	}
	a.click("#copy-secret")
	a.waitText("#copy-status", "C")
	a.checkLabels("tokens")
	a.screenshot(shots, "tokens")

	var list api.TokenList
	if err := json.Unmarshal(httpDo(t, srv, http.MethodGet, "/v1/tokens", "", "", http.StatusOK), &list); err != nil {
		t.Fatal(err)
	}
	var id string
	for _, tk := range list.Items {
		if tk.Name == "ci" {
			id = tk.ID
		}
	}
	if id == "" {
		t.Fatalf("no token ci in %+v", list.Items)
	}
	a.waitJS("the new token's row", fmt.Sprintf(`document.querySelector('tr[data-token=%q]')`, id))
	ci := as(srv, secret)
	// Authenticated, but no role yet.
	httpDo(t, ci, http.MethodGet, "/v1/namespaces/team", "", "", http.StatusForbidden)

	a.click(`nav a[data-nav="bindings"]`)
	a.waitJS("the bindings page", "document.querySelector('#binding-form')")
	a.do("role editor", chromedp.SetValue(chromedp.CSS("#rb-role"), "editor"))
	a.typeInto("#rb-ns", "team")
	a.typeInto("#rb-subject", id)
	a.typeInto("#rb-reason", "CI writes team configs")
	a.click("#binding-form button[type=submit]")
	a.waitText("#binding-form", "Bound editor of team")
	a.waitJS("the binding's row", fmt.Sprintf(`[...document.querySelectorAll('#bindings tbody tr')].some((r) => r.textContent.includes(%q) && r.textContent.includes('(ci)'))`, id))
	// A binding of the user's own token shows in the header at once.
	a.do("role viewer", chromedp.SetValue(chromedp.CSS("#rb-role"), "viewer"))
	a.typeInto("#rb-ns", "team")
	a.typeInto("#rb-subject", strings.TrimPrefix(srv.Audit["alice"], "token:alice:"))
	a.click("#binding-form button[type=submit]")
	a.waitText("#who", "viewer of team")
	a.checkLabels("bindings")
	a.screenshot(shots, "bindings")

	// The token now writes in team, and only there.
	httpDo(t, ci, http.MethodPut, "/v1/namespaces/team/configs/ci", "application/json", `{"schema": "app", "value": {"on": true}}`, http.StatusCreated)
	httpDo(t, ci, http.MethodPut, "/v1/namespaces/other", "application/json", `{}`, http.StatusForbidden)

	// Revoke on the tokens page: the answer lists the members that
	// confirmed, and the token stops working.
	a.open("/admin/tokens")
	row := fmt.Sprintf(`tr[data-token=%q]`, id)
	a.click(row + " .confirm button.danger")
	a.typeInto(fmt.Sprintf("#revoke-reason-%s", id), "rotated")
	a.click(row + " .confirm button.danger")
	a.waitText("#revoke-result", "Confirmed by ")
	a.waitText("#revoke-result", "Every member refuses it now.")
	a.waitText(row, "revoked")
	httpDo(t, ci, http.MethodGet, "/v1/namespaces/team/configs/ci", "", "", http.StatusUnauthorized)

	// Unbind the binding on the bindings page.
	a.open("/admin/bindings")
	sel := fmt.Sprintf(`[...document.querySelectorAll('#bindings tbody tr')].find((r) => r.textContent.includes(%q))`, id)
	a.waitJS("the binding", sel)
	a.do("unbind", chromedp.Evaluate[chromedp.Void](sel+".querySelector('button.danger').click()"))
	a.do("confirm", chromedp.Evaluate[chromedp.Void](sel+".querySelector('button.danger').click()"))
	a.waitText("#binding-status", "Binding removed")
	a.waitJS("the binding gone", "!("+sel+")")
}
