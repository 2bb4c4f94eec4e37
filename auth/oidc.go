package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// OIDCConfig configures the verification of bearer JWTs from one issuer.
type OIDCConfig struct {
	// IssuerURL is the issuer ("https://accounts.google.com"); its
	// /.well-known/openid-configuration names the JWKS. Required.
	IssuerURL string
	// Audience is the client id every token's "aud" must contain. Required.
	Audience string
	// Algorithms is the allow-list of signing algorithms; empty means
	// RS256 and ES256. "none" and HMAC algorithms are never accepted.
	Algorithms []string
	// GroupsClaim names the claim holding the groups (a string or a list of
	// strings); empty means "groups".
	GroupsClaim string
	// Leeway is the clock skew allowed on exp and nbf; zero means 30s.
	// At most 5 minutes.
	Leeway time.Duration
	// RefreshInterval is the least time between two fetches of the JWKS
	// (on an unknown key id) or two discovery attempts; zero means 30s.
	RefreshInterval time.Duration
	// Timeout bounds one request to the issuer; zero means 10s.
	Timeout time.Duration
	// HTTPClient talks to the issuer; nil means a client with Timeout.
	HTTPClient *http.Client
	// UI configures sign-in to the web UI with the authorization code flow
	// and PKCE (oidc_signin.go); its zero value offers it with defaults.
	UI OIDCUIConfig
}

// Defaults of OIDCConfig.
const (
	DefaultOIDCLeeway          = 30 * time.Second
	DefaultOIDCRefreshInterval = 30 * time.Second
	DefaultOIDCTimeout         = 10 * time.Second
	DefaultGroupsClaim         = "groups"
	// MaxOIDCLeeway bounds Leeway: go-oidc itself allows 5 minutes on nbf.
	MaxOIDCLeeway = 5 * time.Minute
)

// allowedAlgs are the algorithms the allow-list may name.
var allowedAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true,
}

// Validate reports whether the configuration can be used.
func (c OIDCConfig) Validate() error {
	switch {
	case c.IssuerURL == "":
		return errors.New("auth: oidc: IssuerURL is required")
	case c.Audience == "":
		return errors.New("auth: oidc: Audience (the client id) is required")
	case c.Leeway < 0 || c.Leeway > MaxOIDCLeeway:
		return fmt.Errorf("auth: oidc: Leeway must be between 0 and %v", MaxOIDCLeeway)
	case c.RefreshInterval < 0 || c.Timeout < 0:
		return errors.New("auth: oidc: RefreshInterval and Timeout must not be negative")
	}
	for _, a := range c.Algorithms {
		if !allowedAlgs[a] {
			return fmt.Errorf("auth: oidc: algorithm %q is not allowed (asymmetric algorithms only: RS256, ES256, ...)", a)
		}
	}
	return c.UI.Validate()
}

func (c OIDCConfig) withDefaults() OIDCConfig {
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"RS256", "ES256"}
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultGroupsClaim
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultOIDCLeeway
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = DefaultOIDCRefreshInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultOIDCTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	c.UI = c.UI.withDefaults(c.Audience)
	return c
}

// oidcVerifier discovers the issuer lazily and verifies JWTs.
type oidcVerifier struct {
	cfg OIDCConfig
	now func() time.Time

	mu          sync.Mutex
	verifier    *oidc.IDTokenVerifier // nil until discovery succeeded
	provider    providerMeta          // set with verifier
	lastAttempt time.Time
	lastErr     error
}

// providerMeta is what the sign-in flow needs from the discovery document.
type providerMeta struct {
	endpoint oauth2.Endpoint
	// authMethods is token_endpoint_auth_methods_supported; empty means
	// client_secret_basic (RFC 8414).
	authMethods []string
}

func newOIDCVerifier(cfg OIDCConfig, now func() time.Time) (*oidcVerifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &oidcVerifier{cfg: cfg.withDefaults(), now: now}, nil
}

// get returns the verifier, running discovery if it has not succeeded yet
// and the last attempt is older than RefreshInterval.
func (v *oidcVerifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if !v.lastAttempt.IsZero() && time.Since(v.lastAttempt) < v.cfg.RefreshInterval {
		return nil, v.lastErr
	}
	v.lastAttempt = time.Now()
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, v.cfg.HTTPClient), v.cfg.Timeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.cfg.IssuerURL)
	if err != nil {
		v.lastErr = fmt.Errorf("auth: oidc discovery of %s: %w", v.cfg.IssuerURL, err)
		return nil, v.lastErr
	}
	var meta struct {
		JWKSURI     string   `json:"jwks_uri"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		v.lastErr = fmt.Errorf("auth: oidc discovery of %s: no jwks_uri", v.cfg.IssuerURL)
		return nil, v.lastErr
	}
	v.provider = providerMeta{endpoint: p.Endpoint(), authMethods: meta.AuthMethods}
	ks := &keySet{url: meta.JWKSURI, cfg: v.cfg}
	algs := v.cfg.Algorithms
	leeway := v.cfg.Leeway
	v.verifier = oidc.NewVerifier(v.cfg.IssuerURL, ks, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: algs,
		// go-oidc rejects exp < now; checking against now - leeway
		// allows the configured skew.
		Now: func() time.Time { return v.now().Add(-leeway) },
	})
	return v.verifier, nil
}

// meta returns what discovery found, running it if needed (see get).
func (v *oidcVerifier) meta(ctx context.Context) (providerMeta, error) {
	if _, err := v.get(ctx); err != nil {
		return providerMeta{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.provider, nil
}

func (v *oidcVerifier) verify(ctx context.Context, raw string) (Principal, error) {
	p, _, err := v.verifyToken(ctx, raw)
	return p, err
}

// verifyToken is verify that also returns the verified token (its nonce
// and expiry serve the sign-in flow).
func (v *oidcVerifier) verifyToken(ctx context.Context, raw string) (Principal, *oidc.IDToken, error) {
	ver, err := v.get(ctx)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return Principal{}, nil, fmt.Errorf("%w: jwt claims: %v", ErrUnauthenticated, err)
	}
	// go-oidc allows a fixed 5 minutes of skew on nbf; apply ours.
	if nb, ok := claims["nbf"]; ok {
		var nbf float64
		if err := json.Unmarshal(nb, &nbf); err != nil {
			return Principal{}, nil, fmt.Errorf("%w: jwt nbf is not a number", ErrUnauthenticated)
		}
		if t := time.Unix(int64(nbf), 0); v.now().Add(v.cfg.Leeway).Before(t) {
			return Principal{}, nil, fmt.Errorf("%w: jwt not valid before %s", ErrUnauthenticated, t.UTC().Format(time.RFC3339))
		}
	}
	if tok.Subject == "" {
		return Principal{}, nil, fmt.Errorf("%w: jwt has no subject", ErrUnauthenticated)
	}
	p := Principal{Kind: KindOIDC, ID: tok.Subject, Subject: tok.Subject}
	for _, c := range []string{"name", "email", "preferred_username"} {
		var s string
		if raw, ok := claims[c]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
			p.Name = s
			break
		}
	}
	if g, ok := claims[v.cfg.GroupsClaim]; ok {
		var list []string
		var one string
		switch {
		case json.Unmarshal(g, &list) == nil:
			p.Groups = list
		case json.Unmarshal(g, &one) == nil:
			p.Groups = []string{one}
		default:
			return Principal{}, nil, fmt.Errorf("%w: jwt claim %q is neither a string nor a list of strings", ErrUnauthenticated, v.cfg.GroupsClaim)
		}
	}
	return p, tok, nil
}

// keySet is the issuer's JWKS, cached. A token signed with a key id the
// cache does not hold triggers a fetch, at most once per RefreshInterval;
// when a fetch fails, the cached keys stay in use.
type keySet struct {
	url string
	cfg OIDCConfig

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	lastFetch time.Time
}

// maxJWKSBytes bounds a JWKS document.
const maxJWKSBytes = 1 << 20

// VerifySignature implements oidc.KeySet.
func (ks *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	algs := make([]jose.SignatureAlgorithm, len(ks.cfg.Algorithms))
	for i, a := range ks.cfg.Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("jwt must have exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := ks.find(kid)
	if len(keys) == 0 {
		if err := ks.refresh(ctx); err != nil {
			return nil, fmt.Errorf("no cached key %q and the JWKS could not be refreshed: %w", kid, err)
		}
		if keys = ks.find(kid); len(keys) == 0 {
			return nil, fmt.Errorf("no key %q in the issuer's JWKS", kid)
		}
	}
	for _, k := range keys {
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("jwt signature does not verify")
}

func (ks *keySet) find(kid string) []jose.JSONWebKey {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	var out []jose.JSONWebKey
	for _, k := range ks.keys {
		if (kid == "" || k.KeyID == kid) && k.IsPublic() && (k.Use == "" || k.Use == "sig") {
			out = append(out, k)
		}
	}
	return out
}

// errRefreshLimited is a refresh refused by the rate limit.
var errRefreshLimited = errors.New("JWKS refreshed too recently")

func (ks *keySet) refresh(ctx context.Context) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if !ks.lastFetch.IsZero() && time.Since(ks.lastFetch) < ks.cfg.RefreshInterval {
		return errRefreshLimited
	}
	ks.lastFetch = time.Now()
	fctx, cancel := context.WithTimeout(ctx, ks.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return err
	}
	resp, err := ks.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch JWKS: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return fmt.Errorf("decode JWKS: %w", err)
	}
	// The new set replaces the old one: a key the issuer removed stops
	// verifying at the first refresh.
	ks.keys = set.Keys
	return nil
}
