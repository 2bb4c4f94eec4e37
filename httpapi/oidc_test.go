package httpapi_test

// The web UI's OIDC sign-in over real HTTP: a node whose issuer is a real
// OAuth 2.0 / OIDC provider on loopback (internal/oidctest), the code
// exchange with PKCE, and everything it must refuse.

import (
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
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/httpapi"
	"github.com/schemakv/schemakv/internal/oidctest"
	"github.com/schemakv/schemakv/node"
)

const (
	oidcClient = "schemakv-ui"
	// idpDebug is in every error answer of the test provider's token
	// endpoint: it must never reach the node's logs or answers.
	idpDebug = "IDP-RAW-BODY-MARKER"
)

// mustStartOIDCNode starts a node with authentication on, the known admin
// token, and issuer p; mod adjusts the OIDC configuration. The node's UI
// address is registered at p as a redirect URI.
func mustStartOIDCNode(t *testing.T, p *oidctest.Provider, mod func(*auth.OIDCConfig)) (*node.Node, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Auth.BootstrapToken = adminToken
	cfg.Auth.OIDC = &auth.OIDCConfig{IssuerURL: p.URL(), Audience: oidcClient, Timeout: 3 * time.Second}
	if mod != nil {
		mod(cfg.Auth.OIDC)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
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
	p.AddRedirectURI(n.HTTPURL() + "/ui/")
	return n, logs
}

// signInStart is what the UI keeps between the authorization request and
// the exchange, and the code the provider sent back.
type signInStart struct {
	code, verifier, nonce, redirect string
}

// mustAuthorize runs the authorization request (as the browser would) and
// returns the code with what goes with it.
func mustAuthorize(t *testing.T, p *oidctest.Provider, redirect string) signInStart {
	t.Helper()
	s := signInStart{verifier: oidctest.NewVerifier(), nonce: "n-" + oidctest.NewVerifier()[:16], redirect: redirect}
	code, err := p.Authorize(oidcClient, redirect, "st-1", s.nonce, oidctest.Challenge(s.verifier))
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	s.code = code
	return s
}

func (s signInStart) body() api.OIDCTokenRequest {
	return api.OIDCTokenRequest{Code: s.code, CodeVerifier: s.verifier, RedirectURI: s.redirect, Nonce: s.nonce}
}

// TestOIDCSignIn_Params: GET /v1/auth/oidc says enabled=false without an
// issuer (and the exchange answers 404), and with one names the
// provider's authorization endpoint, the client, the scopes and the
// redirect URI (the request's origin + /ui/, or the configured one).
func TestOIDCSignIn_Params(t *testing.T) {
	t.Parallel()
	plain, _ := mustStartAuthNode(t)
	st, _, body := doJSON(t, http.MethodGet, plain.HTTPURL()+"/v1/auth/oidc", nil, nil)
	wantStatus(t, "params without issuer", st, body, http.StatusOK)
	if got := decodeAs[api.OIDCSignIn](t, body); got.Enabled {
		t.Fatalf("no issuer configured, but %+v", got)
	}
	st, _, body = doJSON(t, http.MethodPost, plain.HTTPURL()+"/v1/auth/oidc/token", api.OIDCTokenRequest{Code: "c"}, nil)
	wantError(t, "exchange without issuer", st, body, http.StatusNotFound, api.CodeOIDCNotConfigured)

	p := oidctest.Start(t, oidctest.Config{ClientID: oidcClient})
	n, _ := mustStartOIDCNode(t, p, nil)
	st, h, body := doJSON(t, http.MethodGet, n.HTTPURL()+"/v1/auth/oidc", nil, nil)
	wantStatus(t, "params", st, body, http.StatusOK)
	got := decodeAs[api.OIDCSignIn](t, body)
	want := api.OIDCSignIn{Enabled: true, Issuer: p.URL(), AuthorizationEndpoint: p.URL() + "/authorize", ClientID: oidcClient,
		Scopes: []string{"openid", "profile", "email"}, RedirectURI: n.HTTPURL() + "/ui/"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("params = %+v\nwant     %+v", got, want)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
	}

	p2 := oidctest.Start(t, oidctest.Config{ClientID: "other-client"})
	n2, _ := mustStartOIDCNode(t, p2, func(c *auth.OIDCConfig) {
		c.UI = auth.OIDCUIConfig{ClientID: "other-client", Scopes: []string{"openid", "groups"}, RedirectURL: "https://config.example.com/ui/"}
	})
	_, _, body = doJSON(t, http.MethodGet, n2.HTTPURL()+"/v1/auth/oidc", nil, nil)
	if got := decodeAs[api.OIDCSignIn](t, body); got.ClientID != "other-client" || got.RedirectURI != "https://config.example.com/ui/" || strings.Join(got.Scopes, " ") != "openid groups" {
		t.Fatalf("configured params = %+v", got)
	}

	p3 := oidctest.Start(t, oidctest.Config{ClientID: oidcClient})
	n3, _ := mustStartOIDCNode(t, p3, func(c *auth.OIDCConfig) { c.UI.Disabled = true })
	_, _, body = doJSON(t, http.MethodGet, n3.HTTPURL()+"/v1/auth/oidc", nil, nil)
	if got := decodeAs[api.OIDCSignIn](t, body); got.Enabled {
		t.Fatalf("UI sign-in disabled, but %+v", got)
	}
	st, _, body = doJSON(t, http.MethodPost, n3.HTTPURL()+"/v1/auth/oidc/token", mustAuthorize(t, p3, n3.HTTPURL()+"/ui/").body(), nil)
	wantError(t, "exchange with the UI sign-in disabled", st, body, http.StatusNotFound, api.CodeOIDCNotConfigured)
}

// TestOIDCSignIn_Exchange: a good code becomes a verified id_token whose
// principal has the roles bound to its group; a replayed code, a wrong
// verifier, a nonce of another sign-in, a foreign redirect URI, missing or
// malformed fields and an oversize body are refused with a clear 4xx, and
// nothing is issued. No code, verifier, token or raw provider answer is
// ever logged.
func TestOIDCSignIn_Exchange(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t, oidctest.Config{ClientID: oidcClient, ErrorDebug: idpDebug,
		User: oidctest.User{Subject: "ada", Name: "Ada Lovelace", Email: "ada@example.com", Groups: []string{"pay-readers"}}})
	n, logs := mustStartOIDCNode(t, p, nil)
	base := n.HTTPURL()
	redirect := base + "/ui/"
	admin := bearer(adminToken)
	st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/pay", nil, admin)
	wantStatus(t, "create pay", st, body, http.StatusCreated)
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/bindings", api.BindRequest{Role: api.RoleViewer, Namespace: "pay",
		SubjectKind: api.SubjectOIDCGroup, Subject: "pay-readers"}, admin)
	wantStatus(t, "bind the group", st, body, http.StatusCreated)

	exchange := func(b any) (int, map[string]any) {
		t.Helper()
		st, _, body := doJSON(t, http.MethodPost, base+"/v1/auth/oidc/token", b, nil)
		if _, ok := body["id_token"]; ok && st != http.StatusOK {
			t.Fatalf("a refused exchange (%d) returned an id_token", st)
		}
		return st, body
	}
	var secrets []string // what must never be logged

	// The good path.
	good := mustAuthorize(t, p, redirect)
	secrets = append(secrets, good.code, good.verifier)
	st, body = exchange(good.body())
	wantStatus(t, "exchange", st, body, http.StatusOK)
	tok := decodeAs[api.OIDCToken](t, body)
	secrets = append(secrets, tok.IDToken)
	if tok.Principal.Subject != "ada" || tok.Principal.Audit != "oidc:ada" || tok.Principal.Name != "Ada Lovelace" ||
		len(tok.Principal.Bindings) != 1 || tok.Principal.Bindings[0].Namespace != "pay" || tok.Principal.Bindings[0].Role != api.RoleViewer {
		t.Fatalf("principal = %+v; want ada, viewer of pay", tok.Principal)
	}
	if d := time.Until(tok.ExpiresAt); d < 50*time.Minute || d > 61*time.Minute {
		t.Fatalf("expires_at %v is not the id_token's exp (an hour)", tok.ExpiresAt)
	}
	// The id_token is a bearer token of the API, with the group's role.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/pay", nil, bearer(tok.IDToken))
	wantStatus(t, "read pay with the id_token", st, body, http.StatusOK)
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/tokens", nil, bearer(tok.IDToken))
	wantError(t, "admin page with the id_token", st, body, http.StatusForbidden, api.CodeForbidden)

	before := n.Store().Applied()
	issued := p.TokensIssued()

	// Refused by the provider: the exchange reaches it, nothing is issued.
	st, body = exchange(good.body())
	if e := wantError(t, "replayed code", st, body, http.StatusBadRequest, api.CodeOIDCSignInRefused); !strings.Contains(e.Message, "invalid_grant") {
		t.Errorf("replayed code: message %q does not say invalid_grant", e.Message)
	}
	wrong := mustAuthorize(t, p, redirect)
	secrets = append(secrets, wrong.code, wrong.verifier)
	bad := wrong.body()
	bad.CodeVerifier = oidctest.NewVerifier() // well formed, not the one of the challenge
	reqs := p.TokenRequests()
	st, body = exchange(bad)
	if e := wantError(t, "wrong verifier", st, body, http.StatusBadRequest, api.CodeOIDCSignInRefused); !strings.Contains(e.Message, "PKCE verification failed") {
		t.Errorf("wrong verifier: message %q does not give the provider's reason", e.Message)
	}
	if p.TokenRequests() != reqs+1 {
		t.Fatalf("wrong verifier: the provider saw %d requests; want it asked once", p.TokenRequests()-reqs)
	}
	// The code is burnt by the failed attempt, even with the right verifier.
	st, body = exchange(wrong.body())
	wantError(t, "code after a wrong verifier", st, body, http.StatusBadRequest, api.CodeOIDCSignInRefused)

	// Refused by the node after the provider answered: another nonce.
	other := mustAuthorize(t, p, redirect)
	secrets = append(secrets, other.code, other.verifier)
	ob := other.body()
	ob.Nonce = "not-the-nonce-of-this-sign-in"
	st, body = exchange(ob)
	if e := wantError(t, "nonce of another sign-in", st, body, http.StatusBadRequest, api.CodeOIDCSignInRefused); !strings.Contains(e.Message, "nonce") {
		t.Errorf("nonce mismatch: message %q", e.Message)
	}
	issued++ // the provider did issue one, which the node threw away

	// Refused by the node before the provider is asked.
	fresh := mustAuthorize(t, p, redirect)
	secrets = append(secrets, fresh.code, fresh.verifier)
	with := func(mod func(*api.OIDCTokenRequest)) api.OIDCTokenRequest {
		b := fresh.body()
		mod(&b)
		return b
	}
	reqs = p.TokenRequests()
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		msg    string
	}{
		{"foreign redirect_uri", with(func(b *api.OIDCTokenRequest) { b.RedirectURI = "https://evil.example.com/ui/" }), 400, api.CodeBadRequest, "not this server's UI"},
		{"another path of this origin", with(func(b *api.OIDCTokenRequest) { b.RedirectURI = base + "/v1/health" }), 400, api.CodeBadRequest, "not this server's UI"},
		{"missing code", with(func(b *api.OIDCTokenRequest) { b.Code = "" }), 400, api.CodeBadRequest, "code is required"},
		{"missing code_verifier", with(func(b *api.OIDCTokenRequest) { b.CodeVerifier = "" }), 400, api.CodeBadRequest, "code_verifier is required"},
		{"missing redirect_uri", with(func(b *api.OIDCTokenRequest) { b.RedirectURI = "" }), 400, api.CodeBadRequest, "redirect_uri is required"},
		{"missing nonce", with(func(b *api.OIDCTokenRequest) { b.Nonce = "" }), 400, api.CodeBadRequest, "nonce is required"},
		{"short code_verifier", with(func(b *api.OIDCTokenRequest) { b.CodeVerifier = "abc" }), 400, api.CodeBadRequest, "RFC 7636"},
		{"code_verifier with a space", with(func(b *api.OIDCTokenRequest) { b.CodeVerifier = strings.Repeat("a", 42) + " " }), 400, api.CodeBadRequest, "RFC 7636"},
		{"code too long", with(func(b *api.OIDCTokenRequest) { b.Code = strings.Repeat("c", httpapi.MaxOIDCCodeBytes+1) }), 400, api.CodeBadRequest, "visible ASCII"},
		{"code with a control character", with(func(b *api.OIDCTokenRequest) { b.Code = "a\nb" }), 400, api.CodeBadRequest, "visible ASCII"},
		{"redirect_uri too long", with(func(b *api.OIDCTokenRequest) {
			b.RedirectURI = redirect + strings.Repeat("x", httpapi.MaxOIDCRedirectURIBytes)
		}), 400, api.CodeBadRequest, "longer than"},
		{"nonce too long", with(func(b *api.OIDCTokenRequest) { b.Nonce = strings.Repeat("n", httpapi.MaxOIDCNonceBytes+1) }), 400, api.CodeBadRequest, "nonce must be"},
		{"unknown field", `{"code":"c","code_verifier":"v","redirect_uri":"r","nonce":"n","state":"s"}`, 400, api.CodeBadRequest, "unknown field"},
		{"not JSON", `code=abc`, 400, api.CodeInvalidJSON, ""},
		{"no body", "", 400, api.CodeBadRequest, "body must be"},
		{"oversize body", with(func(b *api.OIDCTokenRequest) { b.Code = strings.Repeat("c", httpapi.MaxOIDCTokenRequestBytes) }), 413, api.CodeBodyTooLarge, "exceeds"},
		{"oversize body, chunked", io.MultiReader(strings.NewReader(`{"code":"`), strings.NewReader(strings.Repeat("c", httpapi.MaxOIDCTokenRequestBytes)), strings.NewReader(`"}`)), 413, api.CodeBodyTooLarge, "exceeds"},
	} {
		st, body := exchange(tc.body)
		if e := wantError(t, tc.name, st, body, tc.status, tc.code); !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: message %q does not say %q", tc.name, e.Message, tc.msg)
		}
	}
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/auth/oidc/token", fresh.body(), map[string]string{"Content-Type": "text/plain"})
	wantError(t, "text/plain body", st, body, http.StatusUnsupportedMediaType, api.CodeUnsupportedMedia)
	if got := p.TokenRequests(); got != reqs {
		t.Fatalf("malformed exchanges reached the provider %d times; want none", got-reqs)
	}
	// The untouched code still works: nothing above consumed it.
	st, body = exchange(fresh.body())
	wantStatus(t, "the fresh code after the refusals", st, body, http.StatusOK)
	secrets = append(secrets, decodeAs[api.OIDCToken](t, body).IDToken)
	issued++

	if got := p.TokensIssued(); got != issued {
		t.Errorf("the provider issued %d tokens; want %d", got, issued)
	}
	if after := n.Store().Applied(); after != before {
		t.Errorf("sign-ins moved the revision from %d to %d; they change nothing", before, after)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"oidc sign-in refused"`) || !strings.Contains(out, `"msg":"oidc sign-in"`) {
		t.Errorf("sign-ins are not logged:\n%.3000s", out)
	}
	for _, s := range append(secrets, idpDebug) {
		if strings.Contains(out, s) {
			t.Errorf("the logs hold %.20s…", s)
		}
	}
}

// TestOIDCSignIn_ConfidentialClient: with a client secret the node
// authenticates at the token endpoint; a wrong secret is the operator's
// problem (502, the provider's error code), and no secret is logged.
func TestOIDCSignIn_ConfidentialClient(t *testing.T) {
	t.Parallel()
	const secret, wrongSecret = "right-client-secret-42", "wrong-client-secret-43"
	p := oidctest.Start(t, oidctest.Config{ClientID: oidcClient, ClientSecret: secret, ErrorDebug: idpDebug, User: oidctest.User{Subject: "bo"}})
	n, logs := mustStartOIDCNode(t, p, func(c *auth.OIDCConfig) { c.UI.ClientSecret = secret })
	st, _, body := doJSON(t, http.MethodPost, n.HTTPURL()+"/v1/auth/oidc/token", mustAuthorize(t, p, n.HTTPURL()+"/ui/").body(), nil)
	wantStatus(t, "exchange with the secret", st, body, http.StatusOK)

	n2, logs2 := mustStartOIDCNode(t, p, func(c *auth.OIDCConfig) { c.UI.ClientSecret = wrongSecret })
	st, _, body = doJSON(t, http.MethodPost, n2.HTTPURL()+"/v1/auth/oidc/token", mustAuthorize(t, p, n2.HTTPURL()+"/ui/").body(), nil)
	if e := wantError(t, "wrong client secret", st, body, http.StatusBadGateway, api.CodeOIDCProvider); !strings.Contains(e.Message, "invalid_client") {
		t.Errorf("wrong secret: message %q does not name invalid_client", e.Message)
	}
	for _, out := range []string{logs.String(), logs2.String(), string(mustJSON(t, body))} {
		for _, s := range []string{secret, wrongSecret, idpDebug} {
			if strings.Contains(out, s) {
				t.Errorf("%q appears in the logs or the answer", s)
			}
		}
	}
}

// TestOIDCSignIn_ProviderDown: a provider that accepts the connection and
// never answers costs the node its timeout and gives 502 in the one error
// shape; so does one that is gone; discovery failing gives 502 on the
// parameters too. While exchanges hang, a node runs at most
// MaxOIDCExchanges of them and refuses more with 429.
func TestOIDCSignIn_ProviderDown(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	p := oidctest.Start(t, oidctest.Config{ClientID: oidcClient, User: oidctest.User{Subject: "cy"}})
	n, _ := mustStartOIDCNode(t, p, func(c *auth.OIDCConfig) { c.Timeout = timeout })
	base, redirect := n.HTTPURL(), n.HTTPURL()+"/ui/"
	url := base + "/v1/auth/oidc/token"
	// Discovery is done while the provider is up.
	st, _, body := doJSON(t, http.MethodGet, base+"/v1/auth/oidc", nil, nil)
	wantStatus(t, "params", st, body, http.StatusOK)

	p.Hang(true)
	start := time.Now()
	st, _, body = doJSON(t, http.MethodPost, url, mustAuthorize(t, p, redirect).body(), nil)
	took := time.Since(start)
	if e := wantError(t, "hanging provider", st, body, http.StatusBadGateway, api.CodeOIDCProvider); !strings.Contains(e.Message, "did not answer within 2s") {
		t.Errorf("hanging provider: message %q", e.Message)
	}
	if took < timeout-100*time.Millisecond || took > timeout+3*time.Second {
		t.Errorf("hanging provider: answered after %v; want about the %v timeout", took, timeout)
	}

	// The concurrency bound, while the provider hangs.
	before := p.TokenRequests()
	var wg sync.WaitGroup
	statuses := make(chan int, httpapi.MaxOIDCExchanges)
	for i := 0; i < httpapi.MaxOIDCExchanges; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := api.OIDCTokenRequest{Code: fmt.Sprintf("hung-%d", i), CodeVerifier: oidctest.NewVerifier(), RedirectURI: redirect, Nonce: "n"}
			st, _, _ := doJSONNoFatal(http.MethodPost, url, b, nil)
			statuses <- st
		}()
	}
	deadline := time.Now().Add(timeout / 2)
	for p.TokenRequests()-before < httpapi.MaxOIDCExchanges {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d exchanges reached the provider", p.TokenRequests()-before, httpapi.MaxOIDCExchanges)
		}
		time.Sleep(5 * time.Millisecond) // polling a counter of another process' requests
	}
	st, _, body = doJSON(t, http.MethodPost, url, api.OIDCTokenRequest{Code: "one-more", CodeVerifier: oidctest.NewVerifier(), RedirectURI: redirect, Nonce: "n"}, nil)
	wantError(t, "one exchange too many", st, body, http.StatusTooManyRequests, api.CodeTooManySignIns)
	p.Hang(false)
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusBadRequest && st != http.StatusBadGateway {
			t.Errorf("a held exchange ended with %d; want 400 (unknown code) or 502 (timeout)", st)
		}
	}

	// The provider gone: refused connections, answered at once.
	code := mustAuthorize(t, p, redirect)
	p.Close()
	start = time.Now()
	st, _, body = doJSON(t, http.MethodPost, url, code.body(), nil)
	wantError(t, "provider gone", st, body, http.StatusBadGateway, api.CodeOIDCProvider)
	if took := time.Since(start); took > timeout {
		t.Errorf("provider gone: answered after %v", took)
	}

	// Discovery failing: the parameters cannot be given.
	gone := oidctest.Start(t, oidctest.Config{ClientID: oidcClient})
	n2, _ := mustStartOIDCNode(t, gone, nil)
	gone.Close()
	st, _, body = doJSON(t, http.MethodGet, n2.HTTPURL()+"/v1/auth/oidc", nil, nil)
	if e := wantError(t, "params with the issuer down", st, body, http.StatusBadGateway, api.CodeOIDCProvider); !strings.Contains(e.Message, "discovery") {
		t.Errorf("params with the issuer down: message %q", e.Message)
	}
	var raw map[string]any
	if err := json.Unmarshal(mustJSON(t, body), &raw); err != nil || raw["error"] == nil {
		t.Fatalf("not the one error shape: %s", mustJSON(t, body))
	}
}
