package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/schemakv/schemakv/auth"
)

// issuer is a real OIDC issuer over HTTP: discovery and a JWKS that tests
// can rotate or take down.
type issuer struct {
	srv        *httptest.Server
	mu         sync.Mutex
	keys       []jose.JSONWebKey
	down       atomic.Bool
	jwksHits   atomic.Int64
	discovered atomic.Int64
}

func newIssuer(t *testing.T, keys ...jose.JSONWebKey) *issuer {
	t.Helper()
	is := &issuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.discovered.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks",
			"authorization_endpoint": is.srv.URL + "/auth", "token_endpoint": is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.jwksHits.Add(1)
		is.mu.Lock()
		set := jose.JSONWebKeySet{Keys: is.keys}
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) setKeys(keys ...jose.JSONWebKey) {
	is.mu.Lock()
	is.keys = keys
	is.mu.Unlock()
}

// signingKey is a private key with its public JWK.
type signingKey struct {
	alg  jose.SignatureAlgorithm
	priv any
	pub  jose.JSONWebKey
}

func rsaKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{alg: jose.RS256, priv: k, pub: jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}
}

func ecKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{alg: jose.ES256, priv: k, pub: jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}}
}

// sign makes a compact JWS of claims with key k (alg overrides k's).
func sign(t *testing.T, k signingKey, alg jose.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	if alg == "" {
		alg = k.alg
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hs256WithPublicKey is the algorithm-confusion attack: an HS256 token
// whose HMAC secret is the issuer's RSA public key (PEM), which a naive
// verifier would accept.
func hs256WithPublicKey(t *testing.T, k signingKey, claims map[string]any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.pub.Key)
	if err != nil {
		t.Fatal(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: secret, KeyID: k.pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// algNone is an unsigned token ("alg": "none").
func algNone(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"k1"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

const audience = "schemakv-test"

// tokens is an in-memory token table.
type tokens map[string]auth.TokenRecord

func (ts tokens) Token(id string) (auth.TokenRecord, bool) { r, ok := ts[id]; return r, ok }

func newAuthenticator(t *testing.T, is *issuer, refresh time.Duration, ts tokens) *auth.Authenticator {
	t.Helper()
	a, err := auth.New(auth.Config{OIDC: &auth.OIDCConfig{
		IssuerURL: is.srv.URL, Audience: audience, RefreshInterval: refresh, Timeout: 2 * time.Second,
	}}, ts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAuthenticate_Table(t *testing.T) {
	k1, e1 := rsaKey(t, "k1"), ecKey(t, "e1")
	stranger := rsaKey(t, "k9") // never published
	is := newIssuer(t, k1.pub, e1.pub)

	now := time.Now()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": is.srv.URL, "aud": audience, "sub": "user-42", "email": "ada@example.com",
			"groups": []string{"payments-admins", "everyone"},
			"iat":    now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		if mod != nil {
			mod(c)
		}
		return c
	}

	live, liveID, liveHash, _ := auth.NewToken()
	expired, expID, expHash, _ := auth.NewToken()
	revoked, revID, revHash, _ := auth.NewToken()
	unknown, _, _, _ := auth.NewToken()
	ts := tokens{
		liveID: {ID: liveID, Name: "ci", Hash: liveHash, ExpiresAt: now.Add(time.Hour)},
		expID:  {ID: expID, Name: "old", Hash: expHash, ExpiresAt: now.Add(-time.Second)},
		revID:  {ID: revID, Name: "gone", Hash: revHash, Revoked: true},
	}
	a := newAuthenticator(t, is, time.Minute, ts)

	bearer := func(s string) string { return "Bearer " + s }
	tamper := func(jwt string) string {
		parts := strings.Split(jwt, ".")
		p, _ := json.Marshal(claims(func(c map[string]any) { c["sub"] = "admin" }))
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
	}

	for _, tc := range []struct {
		name   string
		header string
		// wantSub is the subject/id of the principal; "" means refused.
		wantSub    string
		wantGroups []string
		wantErr    string
	}{
		{name: "no token", header: "", wantErr: "no credentials"},
		{name: "malformed scheme", header: "Basic dXNlcjpwYXNz", wantErr: "malformed Authorization"},
		{name: "malformed empty bearer", header: "Bearer ", wantErr: "malformed"},
		{name: "malformed two words", header: "Bearer abc def", wantErr: "malformed"},
		{name: "malformed jwt", header: bearer("a.b.c"), wantErr: "malformed jwt"},
		{name: "unknown api token", header: bearer(unknown), wantErr: "unknown token"},
		{name: "expired api token", header: bearer(expired), wantErr: "expired"},
		{name: "revoked api token", header: bearer(revoked), wantErr: "revoked"},
		{name: "valid api token", header: bearer(live), wantSub: liveID},
		{name: "valid api token, lower-case scheme", header: "bearer " + live, wantSub: liveID},
		{name: "valid RS256 jwt", header: bearer(sign(t, k1, "", claims(nil))), wantSub: "user-42", wantGroups: []string{"payments-admins", "everyone"}},
		{name: "valid ES256 jwt", header: bearer(sign(t, e1, "", claims(nil))), wantSub: "user-42"},
		{name: "groups claim as a string", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { c["groups"] = "solo" }))), wantSub: "user-42", wantGroups: []string{"solo"}},
		{name: "alg none", header: bearer(algNone(claims(nil))), wantErr: "unauthenticated"},
		{name: "HS256 signed with the RSA public key", header: bearer(hs256WithPublicKey(t, k1, claims(nil))), wantErr: "unauthenticated"},
		{name: "RS384 not in the allow-list", header: bearer(sign(t, k1, jose.RS384, claims(nil))), wantErr: "unauthenticated"},
		{name: "unknown kid", header: bearer(sign(t, stranger, "", claims(nil))), wantErr: "k9"},
		{name: "signature over another payload", header: bearer(tamper(sign(t, k1, "", claims(nil)))), wantErr: "signature"},
		{name: "wrong issuer", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { c["iss"] = "https://evil.example.com" }))), wantErr: "different provider"},
		{name: "wrong audience", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { c["aud"] = "another-app" }))), wantErr: "audience"},
		{name: "missing audience", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { delete(c, "aud") }))), wantErr: "audience"},
		{name: "future nbf", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }))), wantErr: "not valid before"},
		{name: "nbf within the leeway", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Second).Unix() }))), wantSub: "user-42"},
		{name: "expired jwt", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }))), wantErr: "expired"},
		{name: "expired within the leeway", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() }))), wantSub: "user-42"},
		{name: "missing exp", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { delete(c, "exp") }))), wantErr: "expired"},
		{name: "missing subject", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { delete(c, "sub") }))), wantErr: "subject"},
		{name: "bad groups claim", header: bearer(sign(t, k1, "", claims(func(c map[string]any) { c["groups"] = 7 }))), wantErr: "groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), tc.header)
			if tc.wantSub == "" {
				if err == nil {
					t.Fatalf("accepted as %+v; want refused (%s)", p, tc.wantErr)
				}
				if !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want ErrUnauthenticated mentioning %q", err, tc.wantErr)
				}
				for _, secret := range []string{live, expired, revoked, unknown} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("the error %q holds a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if p.ID != tc.wantSub {
				t.Fatalf("principal %+v; want id %q", p, tc.wantSub)
			}
			if tc.wantGroups != nil && strings.Join(p.Groups, ",") != strings.Join(tc.wantGroups, ",") {
				t.Fatalf("groups %v; want %v", p.Groups, tc.wantGroups)
			}
		})
	}
}

// TestOIDC_KeyRotation: a token signed with a new key is accepted once the
// JWKS is refreshed on its unknown kid; a key the issuer removed stops
// verifying at that refresh.
func TestOIDC_KeyRotation(t *testing.T) {
	k1, k2 := rsaKey(t, "k1"), rsaKey(t, "k2")
	is := newIssuer(t, k1.pub)
	a := newAuthenticator(t, is, 50*time.Millisecond, tokens{})
	claims := map[string]any{"iss": is.srv.URL, "aud": audience, "sub": "u", "exp": time.Now().Add(time.Hour).Unix()}
	old, rotated := "Bearer "+sign(t, k1, "", claims), "Bearer "+sign(t, k2, "", claims)

	if _, err := a.Authenticate(context.Background(), old); err != nil {
		t.Fatalf("k1 before rotation: %v", err)
	}
	is.setKeys(k2.pub) // rotate: k2 in, k1 out
	if _, err := a.Authenticate(context.Background(), old); err != nil {
		t.Fatalf("k1 is still cached until a refresh: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := a.Authenticate(context.Background(), rotated)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("k2 never accepted: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // the refresh is rate limited
	}
	if _, err := a.Authenticate(context.Background(), old); err == nil {
		t.Fatal("k1 was removed by the issuer but still verifies after the refresh")
	}
}

// TestOIDC_RefreshIsRateLimited: a flood of tokens with unknown key ids
// fetches the JWKS at most once per RefreshInterval.
func TestOIDC_RefreshIsRateLimited(t *testing.T) {
	k1 := rsaKey(t, "k1")
	is := newIssuer(t, k1.pub)
	a := newAuthenticator(t, is, time.Hour, tokens{})
	claims := map[string]any{"iss": is.srv.URL, "aud": audience, "sub": "u", "exp": time.Now().Add(time.Hour).Unix()}
	for i := 0; i < 50; i++ {
		k := rsaKey(t, "x"+string(rune('a'+i%26)))
		if _, err := a.Authenticate(context.Background(), "Bearer "+sign(t, k, "", claims)); err == nil {
			t.Fatal("a token signed with an unpublished key was accepted")
		}
		if i == 4 {
			break // key generation is slow; five unknown kids make the point
		}
	}
	if n := is.jwksHits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times for 5 unknown kids within the interval; want 1", n)
	}
}

// TestOIDC_IssuerDown: with the issuer unreachable, tokens signed by cached
// keys still verify, and nothing else gets in.
func TestOIDC_IssuerDown(t *testing.T) {
	k1, k2 := rsaKey(t, "k1"), rsaKey(t, "k2")
	is := newIssuer(t, k1.pub)
	a := newAuthenticator(t, is, 10*time.Millisecond, tokens{})
	claims := func(exp time.Time) map[string]any {
		return map[string]any{"iss": is.srv.URL, "aud": audience, "sub": "u", "exp": exp.Unix()}
	}
	good := "Bearer " + sign(t, k1, "", claims(time.Now().Add(time.Hour)))
	if _, err := a.Authenticate(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	is.down.Store(true)
	is.setKeys(k1.pub, k2.pub)
	time.Sleep(20 * time.Millisecond) // past the refresh interval: refreshes are attempted, and fail
	if _, err := a.Authenticate(context.Background(), good); err != nil {
		t.Fatalf("cached key refused while the issuer is down: %v", err)
	}
	for name, h := range map[string]string{
		"new key":      "Bearer " + sign(t, k2, "", claims(time.Now().Add(time.Hour))),
		"expired":      "Bearer " + sign(t, k1, "", claims(time.Now().Add(-time.Hour))),
		"alg none":     "Bearer " + algNone(claims(time.Now().Add(time.Hour))),
		"hs256 attack": "Bearer " + hs256WithPublicKey(t, k1, claims(time.Now().Add(time.Hour))),
	} {
		if p, err := a.Authenticate(context.Background(), h); err == nil {
			t.Errorf("%s: accepted as %+v while the issuer is down", name, p)
		}
	}
}

// TestOIDC_IssuerDownAtFirstUse: discovery fails, so every JWT is refused;
// once the issuer is back (and the retry interval passed) they verify.
func TestOIDC_IssuerDownAtFirstUse(t *testing.T) {
	k1 := rsaKey(t, "k1")
	is := newIssuer(t, k1.pub)
	is.down.Store(true)
	a := newAuthenticator(t, is, 30*time.Millisecond, tokens{})
	h := "Bearer " + sign(t, k1, "", map[string]any{"iss": is.srv.URL, "aud": audience, "sub": "u", "exp": time.Now().Add(time.Hour).Unix()})
	if _, err := a.Authenticate(context.Background(), h); err == nil || !strings.Contains(err.Error(), "discovery") {
		t.Fatalf("issuer down at first use: err = %v; want a discovery failure", err)
	}
	is.down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := a.Authenticate(context.Background(), h)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never accepted after the issuer came back: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOIDCConfig_Validate(t *testing.T) {
	for _, c := range []auth.OIDCConfig{
		{Audience: "a"},
		{IssuerURL: "https://x"},
		{IssuerURL: "https://x", Audience: "a", Algorithms: []string{"HS256"}},
		{IssuerURL: "https://x", Audience: "a", Algorithms: []string{"none"}},
		{IssuerURL: "https://x", Audience: "a", Leeway: time.Hour},
		{IssuerURL: "https://x", Audience: "a", UI: auth.OIDCUIConfig{Scopes: []string{"profile"}}},
		{IssuerURL: "https://x", Audience: "a", UI: auth.OIDCUIConfig{Scopes: []string{"openid", "a b"}}},
		{IssuerURL: "https://x", Audience: "a", UI: auth.OIDCUIConfig{Scopes: []string{}}},
		{IssuerURL: "https://x", Audience: "a", UI: auth.OIDCUIConfig{RedirectURL: "/ui/"}},
		{IssuerURL: "https://x", Audience: "a", UI: auth.OIDCUIConfig{RedirectURL: "javascript:alert(1)"}},
		{IssuerURL: "https://x", Audience: "a", UI: auth.OIDCUIConfig{RedirectURL: "https://u:p@h/ui/"}},
		{IssuerURL: "https://x", Audience: "a", UI: auth.OIDCUIConfig{RedirectURL: "https://h/ui/#x"}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: valid; want an error", c)
		}
	}
	if err := (auth.OIDCConfig{IssuerURL: "https://x", Audience: "a"}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
	ui := auth.OIDCUIConfig{ClientID: "ui", ClientSecret: "s", Scopes: []string{"openid", "groups"}, RedirectURL: "https://config.example.com/schemakv/ui/"}
	if err := (auth.OIDCConfig{IssuerURL: "https://x", Audience: "a", UI: ui}).Validate(); err != nil {
		t.Errorf("full UI config: %v", err)
	}
}
