package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/schemakv/schemakv/api"
)

// tab drives one browser tab of a test. Every wait is on a DOM condition,
// never a fixed sleep.
type tab struct {
	t   *testing.T
	ctx context.Context
	srv testServer
}

// stepTimeout bounds one step (a wait included), so a broken page fails
// the test in a minute rather than at the test's deadline.
const stepTimeout = 90 * time.Second

func (b tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until the JavaScript expression is truthy.
func (b tab) waitJS(what, expr string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](fmt.Sprintf("Boolean(%s)", expr), chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.body.innerText"))
		b.t.Fatalf("wait for %s (%s): %v\npage text:\n%s", what, expr, err, page)
	}
}

// waitText waits until the element's text contains s.
func (b tab) waitText(sel, s string) {
	b.t.Helper()
	b.waitJS(fmt.Sprintf("%s to contain %q", sel, s),
		fmt.Sprintf("document.querySelector(%q)?.textContent.includes(%q)", sel, s))
}

func (b tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// open navigates to a route of the UI and waits until it has rendered.
func (b tab) open(route string) {
	b.t.Helper()
	b.do("open "+route, chromedp.Navigate(b.srv.URL+"/ui/#"+route))
	b.waitJS("the view of "+route, "document.querySelector('main')?.dataset.ready && !document.querySelector('main').hasAttribute('aria-busy')")
}

// checkLabels fails the test when a control on the page has no label: every
// input, list and text area needs a <label> or an aria-label, and every
// button a name.
func (b tab) checkLabels(where string) {
	b.t.Helper()
	bad, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input, select, textarea, button')]
	  .filter((e) => e.offsetParent !== null)
	  .filter((e) => e.tagName === 'BUTTON' ? !e.textContent.trim() && !e.getAttribute('aria-label')
	    : !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
	  .map((e) => e.outerHTML.slice(0, 120))`))
	if err != nil {
		b.t.Fatalf("check labels on %s: %v", where, err)
	}
	for _, e := range bad {
		b.t.Errorf("%s: control without a label: %s", where, e)
	}
}

// typeInto replaces a field's text by typing it, as a user does.
func (b tab) typeInto(sel, s string) {
	b.t.Helper()
	// chromedp.Clear leaves number inputs as they are: empty the field in
	// the page, then type.
	b.do("type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf("document.querySelector(%q).value = ''", sel)),
		chromedp.SendKeys(chromedp.CSS(sel), s))
}

// setText sets a text area's content at once, as a paste does.
func (b tab) setText(sel, s string) {
	b.t.Helper()
	v, err := json.Marshal(s)
	if err != nil {
		b.t.Fatal(err)
	}
	b.do("set "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		"{ const e = document.querySelector(%q); e.value = %s; e.dispatchEvent(new Event('input')); }", sel, v)))
}

func (b tab) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// screenshot writes a PNG of the whole page to the artefacts directory.
func (b tab) screenshot(dir, name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
}

// signIn pastes the server's token on the sign-in page.
func (b tab) signIn(principal string) {
	b.t.Helper()
	b.do("open the UI", chromedp.Navigate(b.srv.URL+"/"))
	b.do("sign-in form", chromedp.WaitVisible(chromedp.CSS("#token")))
	// Each person has a token of their own: the server records who they
	// are, and the UI shows the token's name.
	if tok := b.srv.People[principal]; tok != "" {
		b.typeInto("#token", tok)
	} else if b.srv.Token != "" {
		b.typeInto("#token", b.srv.Token)
	}
	b.typeInto("#principal", principal)
	b.click("form.signin button[type=submit]")
	b.waitText("#who", "Signed in as "+principal)
	// A viewer has no create form: wait for the view itself to be ready.
	b.waitJS("the namespaces view", "document.querySelector('main')?.dataset.view === 'namespaces' && document.querySelector('main').dataset.ready && !document.querySelector('main').hasAttribute('aria-busy')")
}

func (b tab) entry(ns, key string) api.ConfigEntry {
	b.t.Helper()
	res, body := httpGet(b.t, b.srv, "/v1/namespaces/"+ns+"/configs/"+key)
	if res.StatusCode != 200 {
		b.t.Fatalf("GET %s/%s: %d %s", ns, key, res.StatusCode, body)
	}
	var e api.ConfigEntry
	if err := json.Unmarshal(body, &e); err != nil {
		b.t.Fatal(err)
	}
	return e
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a json.RawMessage, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

const checkoutSchema = `{
  "type": "object",
  "properties": {
    "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 60000, "description": "how long to wait"},
    "retries": {"type": "integer", "minimum": 0, "maximum": 10},
    "currency": {"enum": ["EUR", "USD", "GBP"]}
  },
  "required": ["timeout_ms", "currency"]
}`

// TestBrowser_Scenario walks through the UI as a user would, in headless
// Chromium against a real node: sign in, create a namespace and a schema,
// create a config through the generated form (a validation error shows at
// its field), edit it in a second tab while the first one updates live, hit
// the compare-and-set conflict, compare revisions and roll back.
func TestBrowser_Scenario(t *testing.T) {
	ctx := browser(t) // first: without Chromium the test skips before starting a node
	srv := startServer(t)
	shots := artifactsDir(t)
	a := tab{t: t, ctx: ctx, srv: srv}

	a.signIn("alice")

	// A namespace.
	a.typeInto("#ns-name", "payments")
	// By keyboard: Enter in a field submits its form.
	a.typeInto("#ns-desc", "Payments team\r")
	a.waitJS("the new namespace's row", `document.querySelector('tr[data-ns="payments"]')`)

	// A schema: the editor reports a syntax error while the JSON is
	// incomplete and shows which objects are closed.
	a.click(`tr[data-ns="payments"] a`)
	a.click("#new-schema")
	a.typeInto("#schema-name", "checkout")
	a.do("schema text", chromedp.SetValue(chromedp.CSS("#schema-doc"), checkoutSchema[:len(checkoutSchema)-1]))
	a.do("type into the schema", chromedp.SendKeys(chromedp.CSS("#schema-doc"), " "))
	a.waitText("#schema-doc-err", "JSON syntax error")
	a.do("finish the schema", chromedp.SendKeys(chromedp.CSS("#schema-doc"), "}"))
	a.waitJS("the syntax error to clear", "document.querySelector('#schema-doc-err').textContent === ''")
	a.waitText(".closed-list", "by default (additionalProperties: false added)")
	a.typeInto("#schema-reason", "first version")
	a.click("#dry-run")
	a.waitText("main", "Dry run: nothing was changed.")
	a.checkLabels("schema editor")
	a.screenshot(shots, "schema-editor")
	a.click("#register")
	a.waitJS("the schema view", "document.querySelector('#schema-version')")
	a.screenshot(shots, "schema")

	// A config through the generated form: required markers, an enum as a
	// list, and the server's validation error at its field.
	a.open("/ns/payments/new-config")
	a.waitJS("required markers", `document.querySelector('[data-pointer="/timeout_ms"] .req') && document.querySelector('[data-pointer="/currency"] .req') && !document.querySelector('[data-pointer="/retries"] .req')`)
	a.typeInto("#cfg-key", "checkout/eu")
	a.typeInto(`[data-pointer="/timeout_ms"] input`, "0")
	a.do("choose EUR", chromedp.SetValue(chromedp.CSS(`[data-pointer="/currency"] select`), "0"))
	a.typeInto("#cfg-reason", "CR-1")
	a.click("#save")
	a.waitText(`[data-pointer="/timeout_ms"] .field-error`, "/timeout_ms")
	a.waitJS("the field marked invalid", `document.querySelector('[data-pointer="/timeout_ms"] input').getAttribute('aria-invalid') === 'true'`)
	a.waitJS("focus on the invalid field", `document.activeElement === document.querySelector('[data-pointer="/timeout_ms"] input')`)
	if got := a.text(`[data-pointer="/currency"] .field-error`); got != "" {
		t.Errorf("currency shows an error it does not have: %q", got)
	}
	a.screenshot(shots, "validation")
	a.checkLabels("new config")
	a.typeInto(`[data-pointer="/timeout_ms"] input`, "2500")
	a.click("#save")
	a.waitJS("the config view", "document.querySelector('#current-value')")
	a.waitText("#current-value", `"timeout_ms": 2500`)
	first := a.entry("payments", "checkout/eu")
	if !sameJSON(first.Value, `{"currency":"EUR","timeout_ms":2500}`) || first.Reason != "CR-1" || first.ModifiedBy != a.srv.Audit["alice"] {
		t.Fatalf("created entry = %s reason %q by %q", first.Value, first.Reason, first.ModifiedBy)
	}

	// Tab A starts an edit; tab B (bob) saves a change first. Tab A's view
	// of the entry updates live, its unsaved edit stays, and saving it
	// shows the conflict instead of overwriting bob's change.
	a.waitText(".live", "Live")
	a.typeInto(`[data-pointer="/retries"] input`, "5")

	b := tab{t: t, ctx: newTab(t, a.ctx), srv: srv}
	b.signIn("bob")
	b.open("/ns/payments/config/checkout/eu")
	b.typeInto(`[data-pointer="/timeout_ms"] input`, "3000")
	b.typeInto("#cfg-reason", "CR-2")
	b.click("#save")
	b.waitText("#save-result", "Saved as revision")
	second := b.entry("payments", "checkout/eu")

	a.waitText("#current-value", `"timeout_ms": 3000`)
	a.waitText("#entry-by", "bob")
	a.waitText("#live-banner", "while you were editing")
	a.screenshot(shots, "live-update")
	a.click("#save")
	a.waitJS("the conflict", "document.querySelector('#conflict')")
	a.waitText("#conflict", "revision "+strconv.FormatUint(second.ModifyRevision, 10))
	a.waitJS("the conflict's diff", `document.querySelector('#conflict table.diff tr[data-kind="changed"]')`)
	a.screenshot(shots, "conflict")
	a.checkLabels("config")
	if e := a.entry("payments", "checkout/eu"); e.ModifyRevision != second.ModifyRevision {
		t.Fatalf("the conflicting save changed the entry: revision %d, want %d", e.ModifyRevision, second.ModifyRevision)
	}
	// Keep mine: the next save replaces bob's revision on purpose.
	a.click("#keep-mine")
	a.typeInto("#cfg-reason", "CR-3")
	a.click("#save")
	a.waitText("#save-result", "Saved as revision")
	third := a.entry("payments", "checkout/eu")
	if !sameJSON(third.Value, `{"currency":"EUR","retries":5,"timeout_ms":2500}`) || third.Reason != "CR-3" {
		t.Fatalf("after keeping mine: %s reason %q", third.Value, third.Reason)
	}

	// History: who, why, when; compare two revisions; roll back to the first.
	a.click("#history-link")
	a.waitJS("three revisions", "document.querySelectorAll('#history tbody tr').length === 3")
	for _, want := range []string{"alice", "bob", "CR-1", "CR-2", "CR-3"} {
		a.waitText("#history", want)
	}
	a.click("#compare")
	a.waitJS("the diff", `document.querySelector('#diff-out table.diff') && document.querySelector('#patch')`)
	a.waitText("#patch", "/retries")
	a.screenshot(shots, "history")
	a.checkLabels("history")
	row := fmt.Sprintf(`tr[data-revision="%d"]`, first.ModifyRevision)
	a.click(row + " .confirm button")
	a.typeInto(fmt.Sprintf("#rb-reason-%d", first.ModifyRevision), "back to CR-1")
	a.click(row + " .confirm button.danger")
	a.waitText("#rollback-result", "Rolled back to revision")
	a.waitJS("the rollback in the history", "document.querySelectorAll('#history tbody tr').length === 4")
	rolled := a.entry("payments", "checkout/eu")
	if !sameJSON(rolled.Value, string(first.Value)) || rolled.Reason != "back to CR-1" {
		t.Fatalf("after rollback: %s reason %q, want %s", rolled.Value, rolled.Reason, first.Value)
	}

	// Tab B, still open on the entry and not edited, follows live.
	b.waitText("#current-value", `"timeout_ms": 2500`)
	b.waitText("#live-banner", "back to CR-1")

	// On a phone-sized screen the entry's page needs no sideways scrolling.
	b.do("narrow screen", chromedp.EmulateViewport(390, 844))
	b.waitJS("no sideways scrolling", "document.documentElement.scrollWidth <= window.innerWidth")
	b.screenshot(shots, "narrow")

	// Strict mode: a version 2 that the stored entry would fail is refused
	// by the dry run, which names the entry and where it fails.
	a.open("/ns/payments/schema-edit/checkout")
	a.setText("#schema-doc", strings.Replace(checkoutSchema, `"maximum": 60000`, `"maximum": 2000`, 1))
	a.click("#dry-run")
	a.waitJS("the failing entries", "document.querySelector('table.failures')")
	a.waitText("table.failures", "checkout/eu")
	a.waitText("table.failures", "/timeout_ms")
	a.screenshot(shots, "schema-dry-run")
	// A compatible version 2 (one more optional field) registers; the
	// schema page compares the versions.
	a.setText("#schema-doc", strings.Replace(checkoutSchema, `"currency": {`, `"region": {"type": "string"}, "currency": {`, 1))
	a.click("#register")
	a.waitJS("the schema page", "document.querySelector('#diff-from')")
	a.waitJS("the versions' diff", `document.querySelector('table.diff tr[data-kind="added"]')`)
	a.waitText("table.diff", "region")
	// One entry is pinned to v1, none to v2.
	a.waitJS("pins per version", `[...document.querySelectorAll('#schema-status tbody tr')].map((r) => r.cells[1].textContent).join() === '1,0'`)

	// Delete the entry through compare-and-set, with a reason.
	a.open("/ns/payments/config/checkout/eu")
	a.click("#main .confirm button.danger")
	a.typeInto("#delete-reason", "retired")
	a.click("#main .confirm button.danger")
	a.waitJS("the namespace page", "document.querySelector('#new-config')")
	if res, body := httpGet(t, srv, "/v1/namespaces/payments/configs/checkout/eu"); res.StatusCode != 404 {
		t.Fatalf("after delete: %d %s", res.StatusCode, body)
	}
	// Put it back for the namespace page's screenshot.
	a.open("/ns/payments/history/checkout/eu")
	a.waitJS("history with the delete", "document.querySelectorAll('#history tbody tr').length === 5")
	a.click(row + " .confirm button")
	a.click(row + " .confirm button.danger")
	a.waitText("#rollback-result", "Rolled back to revision")

	a.open("/ns/payments")
	a.waitJS("the config list", `document.querySelector('tr[data-key="checkout/eu"]')`)
	// Where-queries: without an index the server wants allow_scan (and the
	// UI shows why); with it, clauses filter the list and the plan shows.
	a.setText("#cfg-where", "currency==USD")
	a.click("form.inline button[type=submit]")
	a.waitJS("index_required shown", `document.querySelector('main [data-code="index_required"]')`)
	a.click("#cfg-scan")
	a.click("form.inline button[type=submit]")
	a.waitText(".table-wrap", "No configs match.")
	a.waitText("#cfg-plan", "scan")
	a.setText("#cfg-where", "currency==EUR\ntimeout_ms>=2000")
	a.click("form.inline button[type=submit]")
	a.waitJS("the matching entry", `document.querySelector('tr[data-key="checkout/eu"]')`)
	a.setText("#cfg-where", "")
	a.screenshot(shots, "namespace")
	a.checkLabels("namespace")
	a.open("/cluster")
	a.waitJS("the cluster table", "document.querySelector('#cluster table')")
	a.screenshot(shots, "cluster")
	a.open("/")
	a.screenshot(shots, "namespaces")
	a.checkLabels("namespaces")

	// Narrow screens: lists and tables scroll inside their box, never the
	// page. Signing out forgets the token and shows the sign-in page.
	for _, route := range []string{"/", "/ns/payments", "/ns/payments/history/checkout/eu", "/ns/payments/schemas/checkout", "/cluster", "/admin/tokens", "/admin/bindings"} {
		b.open(route)
		b.waitJS("no sideways scrolling on "+route, "document.documentElement.scrollWidth <= window.innerWidth")
	}
	b.click("#signout")
	b.do("the sign-in page", chromedp.WaitVisible(chromedp.CSS("#token")))
	b.waitJS("the token forgotten", "sessionStorage.getItem('schemakv.token') === null")
}

// TestBrowser_Modules checks the UI's own logic in the browser: the line
// diff, the JSON syntax message, and the generated form's value and its
// placement of server errors.
func TestBrowser_Modules(t *testing.T) {
	ctx := browser(t)
	srv := startServer(t)
	b := tab{t: t, ctx: ctx, srv: srv}
	b.do("open the UI", chromedp.Navigate(srv.URL+"/ui/"))
	b.do("sign-in form", chromedp.WaitVisible(chromedp.CSS("#token")))
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(async () => {
  const d = await import('/ui/diff.js');
  const f = await import('/ui/form.js');
  const out = {};
  out.rows = d.lineDiff(d.pretty({b: 2, a: 1}), d.pretty({a: 1, c: 4, b: 3})).map((r) => r.kind);
  out.memberRows = d.lineDiff(d.pretty({t: 3000}), d.pretty({r: 5, t: 2500})).map((r) => r.kind);
  out.syntax = f.jsonSyntaxError('{"a": 1,\n "b": }');
  out.noSyntax = f.jsonSyntaxError('{"a": [1, 2]}');
  const form = new f.SchemaForm({type: 'object', required: ['a'], properties: {
    a: {type: 'integer'},
    o: {type: 'object', properties: {x: {enum: [1, 'two']}}, required: ['x']},
    tags: {type: 'array'},
    off: {type: 'boolean'},
  }}, {a: 5, o: {x: 'two'}, tags: ['p'], off: false, extra: true});
  out.value = form.value().value;
  out.placed = form.showErrors([
    {pointer: '/o', keyword: '/properties/o/required', message: "missing property 'x'"},
    {pointer: '/tags/0', keyword: '/properties/tags/items', message: 'bad'},
    {pointer: '/nope/deep', keyword: '/additionalProperties', message: 'unknown'},
  ]).map((p) => p.pointer);
  out.invalid = [...document.querySelectorAll('[aria-invalid="true"]')].length;
  return JSON.stringify(out);
})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	var got struct {
		Rows, MemberRows []string
		Syntax, NoSyntax string
		Value            json.RawMessage
		Placed           []string
		Invalid          int
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if want := []string{"same", "same", "changed", "added", "same"}; !reflect.DeepEqual(got.Rows, want) {
		t.Errorf("lineDiff kinds = %v, want %v", got.Rows, want)
	}
	// A member added before a changed one is an addition, and the changed
	// member faces its old line.
	if want := []string{"same", "added", "changed", "same"}; !reflect.DeepEqual(got.MemberRows, want) {
		t.Errorf("lineDiff of members = %v, want %v", got.MemberRows, want)
	}
	if !strings.Contains(got.Syntax, "line 2") || got.NoSyntax != "" {
		t.Errorf("jsonSyntaxError = %q and %q", got.Syntax, got.NoSyntax)
	}
	if !sameJSON(got.Value, `{"a": 5, "o": {"x": "two"}, "tags": ["p"], "off": false, "extra": true}`) {
		t.Errorf("form value = %s", got.Value)
	}
	// A missing required member goes to its own field; an error inside a
	// JSON box to the box; one below no field to the form.
	if want := []string{"/o/x", "/tags", ""}; !reflect.DeepEqual(got.Placed, want) {
		t.Errorf("errors placed at %q, want %q", got.Placed, want)
	}
}

// TestBrowser_Namespaces creates and deletes namespaces from the list: an
// empty one goes at once, a non-empty one only when "also everything in it"
// is ticked (the server's 409 is shown otherwise).
func TestBrowser_Namespaces(t *testing.T) {
	ctx := browser(t)
	srv := startServer(t)
	a := tab{t: t, ctx: ctx, srv: srv}
	a.signIn("alice")
	for _, ns := range []string{"empty", "full"} {
		a.typeInto("#ns-name", ns)
		a.click("form button[type=submit]")
		a.waitJS("the row of "+ns, fmt.Sprintf(`document.querySelector('tr[data-ns=%q]')`, ns))
	}
	// Give "full" a schema through the UI's own API module, as the
	// sign-in left it (same token, same headers).
	if _, err := chromedp.Run(a.ctx, chromedp.Evaluate[[]byte](`import('/ui/api.js').then((m) =>
	  m.request('POST', '/v1/namespaces/full/schemas/s', {body: {schema: {type: 'object'}}})).then((r) => r.status)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("register a schema: %v", err)
	}
	a.open("/")
	a.waitText(`tr[data-ns="full"]`, "1") // one schema

	a.click(`tr[data-ns="empty"] .confirm button.danger`)
	a.click(`tr[data-ns="empty"] .confirm button.danger`)
	a.waitJS("the empty namespace gone", `!document.querySelector('tr[data-ns="empty"]')`)

	a.click(`tr[data-ns="full"] .confirm button.danger`)
	a.click(`tr[data-ns="full"] .confirm button.danger`)
	a.waitText(`main [data-code="namespace_not_empty"]`, "full not deleted")
	// The question stays open: tick the box and confirm again.
	a.click(`tr[data-ns="full"] .confirm input[type=checkbox]`)
	a.click(`tr[data-ns="full"] .confirm button.danger`)
	a.waitJS("the full namespace gone", `!document.querySelector('tr[data-ns="full"]')`)
	if res, body := httpGet(t, srv, "/v1/namespaces/full"); res.StatusCode != 404 {
		t.Fatalf("after a forced delete: %d %s", res.StatusCode, body)
	}
}

// TestBrowser_WatchResumesAfterCut restores a snapshot under an open entry
// page: the server cuts its watch stream ("state restored"), the page
// reconnects from the cut's resume_from, and a change made afterwards
// still shows live.
func TestBrowser_WatchResumesAfterCut(t *testing.T) {
	ctx := browser(t)
	srv := startServer(t)
	httpDo(t, srv, "PUT", "/v1/namespaces/ops", "application/json", `{}`, 201)
	httpDo(t, srv, "POST", "/v1/namespaces/ops/schemas/limits", "application/json", `{"schema": {"type": "object", "properties": {"max": {"type": "integer"}}}}`, 201)
	httpDo(t, srv, "PUT", "/v1/namespaces/ops/configs/api", "application/json", `{"schema": "limits", "value": {"max": 1}}`, 201)

	a := tab{t: t, ctx: ctx, srv: srv}
	a.signIn("alice")
	a.open("/ns/ops/config/api")
	a.waitText(".live", "Live")
	// Resource timing lists a fetch once its response has ended: the first
	// stream is still open.
	const endedStreams = `performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/v1/watch')).length`
	if n, err := chromedp.Run(a.ctx, chromedp.Evaluate[int](endedStreams)); err != nil || n != 0 {
		t.Fatalf("watch streams ended before the restore: %d (%v)", n, err)
	}

	snap := httpDo(t, srv, "GET", "/v1/snapshot", "", "", 200)
	httpDo(t, srv, "POST", "/v1/snapshot", "application/octet-stream", string(snap), 200)
	httpDo(t, srv, "PUT", "/v1/namespaces/ops/configs/api", "application/json", `{"value": {"max": 4321}, "reason": "after the restore"}`, 200)
	a.waitText("#current-value", "4321")
	a.waitText("#live-banner", "after the restore")
	a.waitJS("the cut stream ended", endedStreams+" >= 1")
}

// httpDo sends one request with the test server's token and checks its
// status; it returns the body.
func httpDo(t *testing.T, srv testServer, method, path, ctype, body string, want int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if srv.Token != "" {
		req.Header.Set("Authorization", "Bearer "+srv.Token)
	}
	res, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	return b
}
