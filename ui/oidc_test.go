package ui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/internal/oidctest"
	"github.com/schemakv/schemakv/node"
)

// TestBrowser_OIDCSignIn signs in through a real OIDC provider on loopback
// (internal/oidctest) with the authorization code flow and PKCE: from a
// deep link, by keyboard, the browser goes to the provider and back, the
// node redeems the code, and the UI shows the subject with the role bound
// to its group (viewer of one namespace), lands on the deep link, and is
// refused an admin page. An answer whose state was tampered with is
// refused before anything is exchanged; a provider's refusal is shown; an
// expired id_token sends the user to the sign-in page with a notice.
func TestBrowser_OIDCSignIn(t *testing.T) {
	ctx := browser(t)
	const client = "schemakv-ui"
	p := oidctest.Start(t, oidctest.Config{ClientID: client,
		User: oidctest.User{Subject: "vera-sub", Name: "Vera Viewer", Email: "vera@example.com", Groups: []string{"team-readers"}}})
	srv := startServerWith(t, func(c *node.Config) {
		// A tiny leeway: the expiry below shows at the id_token's exp.
		c.Auth.OIDC = &auth.OIDCConfig{IssuerURL: p.URL(), Audience: client, Leeway: time.Millisecond}
	})
	p.AddRedirectURI(srv.URL + "/ui/")
	shots := artifactsDir(t)
	seedTeam(t, srv)
	httpDo(t, srv, http.MethodPost, "/v1/bindings", "application/json",
		`{"role":"viewer","namespace":"team","subject_kind":"oidc_group","subject":"team-readers"}`, http.StatusCreated)
	host := strings.TrimPrefix(p.URL(), "http://")

	v := tab{t: t, ctx: ctx, srv: srv}
	v.do("open a deep link", chromedp.Navigate(srv.URL+"/ui/#/ns/team"))
	v.waitText("#oidc-signin", "Sign in with "+host)
	v.waitJS("the token form beside it", "document.querySelector('form.signin #token')")
	v.waitJS("the focus on the button", "document.activeElement?.id === 'oidc-signin'")
	v.checkLabels("sign-in")
	v.screenshot(shots, "oidc-signin")

	// By keyboard: Enter on the focused button.
	issued := p.TokensIssued()
	v.do("press Enter", chromedp.KeyEvent("\r"))
	v.waitAcross("signed in", `document.querySelector('#who')?.textContent.includes("Signed in as Vera Viewer (viewer of team)")`)
	v.waitJS("the deep link's page", `location.hash === '#/ns/team' && document.querySelector('tr[data-key="app"]')`)
	v.waitJS("the code gone from the address", "location.search === ''")
	if got := p.TokensIssued(); got != issued+1 {
		t.Fatalf("the provider issued %d id_tokens for one sign-in", got-issued)
	}
	jwt, err := chromedp.Run(v.ctx, chromedp.Evaluate[bool](`(sessionStorage.getItem('schemakv.token') || '').split('.').length === 3`))
	if err != nil || !jwt {
		t.Fatalf("the session's bearer token is not the id_token (%v)", err)
	}
	nav, err := chromedp.Run(v.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('nav a')].filter((a) => a.offsetParent !== null).map((a) => a.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(nav, ",") != "Namespaces" {
		t.Errorf("a viewer of one namespace sees the navigation %q, want only Namespaces", nav)
	}
	v.open("/admin/tokens")
	v.waitText("main h1", "Forbidden")
	v.waitText(`main [data-code="forbidden"]`, "oidc:vera-sub may not")

	// A tampered answer: stop on the provider's page, change the state
	// the app sent, approve. The code is good; the state is not this tab's.
	v.click("#signout")
	v.waitJS("the sign-in page", "document.querySelector('#oidc-signin')")
	p.Consent(true)
	requests := p.TokenRequests()
	v.click("#oidc-signin")
	v.waitAcross("the provider's page", "document.querySelector('#approve')")
	href, err := chromedp.Run(v.ctx, chromedp.Evaluate[string](`document.querySelector('#approve').href`))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("nonce")) < 16 || len(q.Get("state")) < 16 ||
		q.Get("redirect_uri") != srv.URL+"/ui/" || q.Get("scope") != "openid profile email" || q.Get("client_id") != client {
		t.Fatalf("the authorization request is not what the flow needs: %s", u.RawQuery)
	}
	q.Set("state", "tampered"+q.Get("state"))
	u.RawQuery = q.Encode()
	v.do("approve with another state", chromedp.Navigate(u.String()))
	v.waitAcross("the refusal", `document.querySelector('#signin-error')?.textContent.includes('the state does not match')`)
	v.waitText("#signin-error", "Nothing was exchanged")
	v.waitJS("not signed in, the code gone", `sessionStorage.getItem('schemakv.token') === null && location.search === '' && document.querySelector('#who').textContent === ''`)
	if got := p.TokenRequests(); got != requests {
		t.Fatalf("the tampered answer's code was sent to the token endpoint (%d requests)", got-requests)
	}

	// The provider refusing.
	p.Consent(false)
	p.Deny("access_denied")
	v.click("#oidc-signin")
	v.waitAcross("the provider's refusal", `document.querySelector('#signin-error')?.textContent.includes('did not sign you in: access_denied')`)
	p.Deny("")

	// Expiry: an id_token for a few seconds; the first API answer after
	// its exp is 401, and the UI says why it asks to sign in again.
	const ttl = 8 * time.Second
	p.SetTokenTTL(ttl)
	v.click("#oidc-signin")
	v.waitAcross("signed in again", `document.querySelector('#who')?.textContent.includes('Signed in as Vera Viewer')`)
	expMS, err := chromedp.Run(v.ctx, chromedp.Evaluate[float64](`Date.parse(sessionStorage.getItem('schemakv.expires'))`))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.UnixMilli(int64(expMS))
	if d := time.Until(exp); d <= 0 || d > ttl {
		t.Fatalf("expires_at %v is not the id_token's exp (%v from now)", exp, ttl)
	}
	time.Sleep(time.Until(exp) + 200*time.Millisecond) // the condition is the clock: wait past exp
	v.open("/ns/team")
	v.waitText("#signin-notice", "Your session expired: sign in again.")
	v.waitJS("signed out", `sessionStorage.getItem('schemakv.token') === null && location.hash.startsWith('#/signin?next=') && document.querySelector('#who').textContent === '' && document.querySelector('#signout').hidden`)
	v.checkLabels("sign-in after expiry")
	// The two ways to sign in stack on a phone-sized screen.
	v.do("narrow screen", chromedp.EmulateViewport(390, 844))
	v.waitJS("no sideways scrolling", "document.documentElement.scrollWidth <= window.innerWidth")
	v.waitJS("stacked", "document.querySelector('#oidc-signin').getBoundingClientRect().bottom < document.querySelector('#token').getBoundingClientRect().top")
	v.screenshot(shots, "oidc-signin-narrow")
	v.do("wide screen", chromedp.EmulateViewport(1280, 900))
	// Signing in again goes back to the page that found the expiry.
	p.SetTokenTTL(time.Hour)
	v.click("#oidc-signin")
	v.waitAcross("back on the namespace", fmt.Sprintf(`location.hash === %q && document.querySelector('tr[data-key="app"]')`, "#/ns/team"))
}

// waitAcross is waitJS for a condition on a page the tab is navigating to
// (through the identity provider and back): an evaluation that meets a
// document going away fails, so it is retried, polling, until the
// condition holds on the page that stays.
func (b tab) waitAcross(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf("Boolean(%s)", expr)))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("location.href + '\\n' + document.body.innerText"))
			b.t.Fatalf("wait for %s (%s): %v\npage:\n%s", what, expr, err, page)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
