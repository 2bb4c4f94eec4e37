// Package oidctest is a small, real OpenID Connect provider for tests: the
// authorization code flow with PKCE (S256 only) over HTTP on 127.0.0.1.
//
// It serves discovery (/.well-known/openid-configuration), a JWKS with one
// RSA key (/jwks), an authorization endpoint (/authorize) that approves the
// configured user at once by redirecting to the redirect URI with a
// one-time code, and a token endpoint (/token) that redeems the code after
// checking the client, the redirect URI and the PKCE code verifier against
// the challenge, and answers with an RS256 id_token (iss, aud, sub, name,
// email, groups, nonce, iat, exp).
//
// It is no mock: the node under test talks to it over real HTTP exactly as
// it would to a production identity provider, and a browser follows its
// redirects. Tests of several packages (httpapi, ui) import it, so it is a
// non-test file; nothing else imports it.
//
// A code is burnt by its first redemption attempt, successful or not, as
// RFC 6749 §4.1.2 asks of a code used twice. A Provider is safe for
// concurrent use.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// User is who the provider signs in.
type User struct {
	Subject string
	Name    string
	Email   string
	Groups  []string
}

// Config configures a Provider.
type Config struct {
	// ClientID is the one registered client. Required.
	ClientID string
	// ClientSecret, when set, makes the client confidential: the token
	// endpoint then requires it (HTTP Basic or client_secret_post).
	ClientSecret string
	// RedirectURIs are the registered redirect URIs; an authorization
	// request with another one is refused with a 400 page, as real
	// providers do. AddRedirectURI adds one later (a node's address is
	// known only once it runs).
	RedirectURIs []string
	// User is signed in by every authorization request.
	User User
	// TokenTTL is the lifetime of an id_token; zero means an hour.
	TokenTTL time.Duration
	// CodeTTL is the lifetime of a code; zero means a minute.
	CodeTTL time.Duration
	// ErrorDebug, when set, is added to every error answer of the token
	// endpoint as a non-standard field, so a test can show that a
	// provider's raw answer never reaches the logs or the API's answer.
	ErrorDebug string
}

// Provider is a running test identity provider.
type Provider struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	jwk jose.JSONWebKey

	mu        sync.Mutex
	cfg       Config
	codes     map[string]*grant
	hangToken chan struct{} // non-nil: /token waits for it (or the request's end)
	deny      string        // non-empty: /authorize answers this OAuth error
	consent   bool          // /authorize shows a page to approve on

	tokenRequests atomic.Int64
	tokensIssued  atomic.Int64
}

// grant is what a code was issued for.
type grant struct {
	clientID, redirectURI, challenge, nonce string
	user                                    User
	expires                                 time.Time
	used                                    bool
}

// KeyID is the key id of the provider's signing key.
const KeyID = "oidctest-rs256"

// Start starts a provider on 127.0.0.1; it stops when the test ends.
func Start(tb testing.TB, cfg Config) *Provider {
	tb.Helper()
	if cfg.ClientID == "" {
		tb.Fatal("oidctest: Config.ClientID is required")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("oidctest: generate key: %v", err)
	}
	p := &Provider{key: key, cfg: cfg, codes: map[string]*grant{},
		jwk: jose.JSONWebKey{Key: &key.PublicKey, KeyID: KeyID, Algorithm: string(jose.RS256), Use: "sig"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	tb.Cleanup(p.Close)
	return p
}

// URL is the issuer: discovery is at URL + "/.well-known/openid-configuration".
func (p *Provider) URL() string { return p.srv.URL }

// Close stops the provider; later requests fail to connect.
func (p *Provider) Close() {
	p.Hang(false)
	p.srv.Close()
}

// AddRedirectURI registers one more redirect URI.
func (p *Provider) AddRedirectURI(uri string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg.RedirectURIs = append(p.cfg.RedirectURIs, uri)
}

// SetUser changes who the next authorization request signs in.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg.User = u
}

// SetTokenTTL changes the lifetime of the id_tokens issued from now on.
func (p *Provider) SetTokenTTL(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg.TokenTTL = d
}

// Deny makes /authorize send the browser back with this OAuth error
// ("access_denied") instead of a code; "" approves again.
func (p *Provider) Deny(oauthError string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deny = oauthError
}

// Consent makes /authorize show a page with an "Approve" link (id
// "approve") instead of approving at once; the link is the same request
// with approve=1. A browser test uses it to stop on the provider's page.
func (p *Provider) Consent(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.consent = on
}

// Hang makes the token endpoint accept requests and never answer them
// (until Hang(false) or the request is abandoned): a provider that is
// down without refusing connections.
func (p *Provider) Hang(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && p.hangToken == nil:
		p.hangToken = make(chan struct{})
	case !on && p.hangToken != nil:
		close(p.hangToken)
		p.hangToken = nil
	}
}

// TokenRequests is how many requests reached the token endpoint.
func (p *Provider) TokenRequests() int64 { return p.tokenRequests.Load() }

// TokensIssued is how many id_tokens the token endpoint issued.
func (p *Provider) TokensIssued() int64 { return p.tokensIssued.Load() }

// Sign signs claims as the provider's id_tokens are signed (for tests
// that need a token outside the flow).
func (p *Provider) Sign(claims map[string]any) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: p.key, KeyID: KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(b)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Challenge is the S256 PKCE challenge of a code verifier.
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewVerifier returns a random PKCE code verifier (32 bytes, base64url).
func NewVerifier() string { return randomString(32) }

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("oidctest: crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// AuthorizeURL is the authorization request a client would send the
// browser to.
func (p *Provider) AuthorizeURL(clientID, redirectURI, state, nonce, challenge string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"scope": {"openid profile email"}, "state": {state}, "nonce": {nonce},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	return p.srv.URL + "/authorize?" + q.Encode()
}

// Authorize runs an authorization request as a browser would, without
// following the redirect, and returns the code it brings back.
func (p *Provider) Authorize(clientID, redirectURI, state, nonce, challenge string) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(p.AuthorizeURL(clientID, redirectURI, state, nonce, challenge))
	if err != nil {
		return "", err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		return "", fmt.Errorf("oidctest: authorize answered %s", res.Status)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		return "", err
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("oidctest: authorize: %s", e)
	}
	if q.Get("state") != state {
		return "", fmt.Errorf("oidctest: authorize returned state %q, want %q", q.Get("state"), state)
	}
	return q.Get("code"), nil
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	u := p.srv.URL
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token", "jwks_uri": u + "/jwks",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                      []string{"openid", "profile", "email", "groups"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{p.jwk}})
}

// verifierRE is RFC 7636's code verifier: 43 to 128 unreserved characters.
var verifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	cfg, deny, consent := p.cfg, p.deny, p.consent
	p.mu.Unlock()
	// Errors about the client or the redirect URI are shown here, never
	// sent to an unverified address (RFC 6749 §4.1.2.1).
	if q.Get("client_id") != cfg.ClientID {
		http.Error(w, "oidctest: unknown client_id", http.StatusBadRequest)
		return
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(cfg.RedirectURIs, redirect) {
		http.Error(w, "oidctest: redirect_uri is not registered for this client", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		u, _ := url.Parse(redirect) // registered, so it parses
		if s := q.Get("state"); s != "" {
			params.Set("state", s)
		}
		u.RawQuery = params.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	switch {
	case deny != "":
		back(url.Values{"error": {deny}})
		return
	case q.Get("response_type") != "code":
		back(url.Values{"error": {"unsupported_response_type"}})
		return
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		back(url.Values{"error": {"invalid_scope"}, "error_description": {"openid is required"}})
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		back(url.Values{"error": {"invalid_request"}, "error_description": {"PKCE with S256 is required"}})
		return
	}
	if consent && q.Get("approve") != "1" {
		q.Set("approve", "1")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>oidctest</title><h1>Sign in to %s?</h1><p>as %s</p><a id=\"approve\" href=\"/authorize?%s\">Approve</a>\n",
			html.EscapeString(cfg.ClientID), html.EscapeString(cfg.User.Subject), html.EscapeString(q.Encode()))
		return
	}
	code := randomString(24)
	p.mu.Lock()
	p.codes[code] = &grant{clientID: cfg.ClientID, redirectURI: redirect, challenge: q.Get("code_challenge"),
		nonce: q.Get("nonce"), user: cfg.User, expires: time.Now().Add(orDefault(cfg.CodeTTL, time.Minute))}
	p.mu.Unlock()
	back(url.Values{"code": {code}})
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.tokenRequests.Add(1)
	p.mu.Lock()
	hang, cfg := p.hangToken, p.cfg
	p.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	fail := func(status int, code, desc string) {
		body := map[string]any{"error": code, "error_description": desc}
		if cfg.ErrorDebug != "" {
			body["debug"] = cfg.ErrorDebug
		}
		writeJSON(w, status, body)
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	f := r.PostForm
	// Client authentication.
	clientID, secret, basic := r.BasicAuth()
	if basic {
		clientID, _ = url.QueryUnescape(clientID)
		secret, _ = url.QueryUnescape(secret)
	} else {
		clientID, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if clientID != cfg.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(cfg.ClientSecret)) != 1 {
		fail(http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if f.Get("grant_type") != "authorization_code" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	code, verifier := f.Get("code"), f.Get("code_verifier")
	p.mu.Lock()
	g, ok := p.codes[code]
	reused := ok && g.used
	if ok {
		g.used = true // burnt by the first attempt
	}
	p.mu.Unlock()
	switch {
	case !ok:
		fail(http.StatusBadRequest, "invalid_grant", "unknown code")
		return
	case reused:
		fail(http.StatusBadRequest, "invalid_grant", "code already used")
		return
	case time.Now().After(g.expires):
		fail(http.StatusBadRequest, "invalid_grant", "code expired")
		return
	case g.clientID != clientID:
		fail(http.StatusBadRequest, "invalid_grant", "code issued to another client")
		return
	case f.Get("redirect_uri") != g.redirectURI:
		fail(http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	case !verifierRE.MatchString(verifier):
		fail(http.StatusBadRequest, "invalid_request", "code_verifier is missing or malformed")
		return
	case subtle.ConstantTimeCompare([]byte(Challenge(verifier)), []byte(g.challenge)) != 1:
		fail(http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	now := time.Now()
	claims := map[string]any{
		"iss": p.srv.URL, "aud": clientID, "sub": g.user.Subject, "azp": clientID,
		"iat": now.Unix(), "exp": now.Add(orDefault(cfg.TokenTTL, time.Hour)).Unix(),
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if g.user.Name != "" {
		claims["name"] = g.user.Name
	}
	if g.user.Email != "" {
		claims["email"] = g.user.Email
	}
	if g.user.Groups != nil {
		claims["groups"] = g.user.Groups
	}
	idt, err := p.Sign(claims)
	if err != nil {
		fail(http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	p.tokensIssued.Add(1)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": randomString(24), "token_type": "Bearer",
		"expires_in": int(orDefault(cfg.TokenTTL, time.Hour).Seconds()), "id_token": idt,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
