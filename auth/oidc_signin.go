package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// OIDCUIConfig configures sign-in to the web UI with the OAuth 2.0
// authorization code flow and PKCE (RFC 7636). The browser talks to the
// identity provider only by top-level navigation (authorize); the node
// redeems the code at the token endpoint ("backend for frontend"), because
// the UI's content security policy allows it no other origin and a token
// endpoint rarely answers cross-origin requests. The id_token it gets back
// is verified like any bearer JWT and becomes the UI's bearer token.
type OIDCUIConfig struct {
	// Disabled turns the UI sign-in off; JWTs are still accepted.
	Disabled bool
	// ClientID is the OAuth client the UI signs in as; empty means
	// Audience. The id_token's "aud" must still contain Audience.
	ClientID string
	// ClientSecret authenticates the node at the token endpoint, for
	// identity providers that register the UI as a confidential client;
	// empty means a public client (PKCE only). Never logged.
	ClientSecret string
	// Scopes requested; nil means DefaultOIDCUIScopes. Must contain
	// "openid".
	Scopes []string
	// RedirectURL is the address of the UI the identity provider sends
	// the browser back to ("https://config.example.com/ui/"); empty means
	// the origin of the request that asked for the sign-in parameters
	// followed by "/ui/". Set it when the node is reached through a proxy
	// that changes the host or the scheme.
	RedirectURL string
}

// DefaultOIDCUIScopes are the scopes of the UI sign-in unless configured.
var DefaultOIDCUIScopes = []string{"openid", "profile", "email"}

// Validate reports whether the UI sign-in configuration can be used.
func (c OIDCUIConfig) Validate() error {
	if c.Scopes != nil {
		if !slices.Contains(c.Scopes, "openid") {
			return errors.New(`auth: oidc: the UI scopes must include "openid"`)
		}
		for _, s := range c.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
				return fmt.Errorf("auth: oidc: scope %q is not a scope token", s)
			}
		}
	}
	if c.RedirectURL != "" {
		u, err := url.Parse(c.RedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" {
			return fmt.Errorf("auth: oidc: the UI redirect URL %q must be an absolute http(s) URL without credentials, query or fragment", c.RedirectURL)
		}
	}
	return nil
}

func (c OIDCUIConfig) withDefaults(audience string) OIDCUIConfig {
	if c.ClientID == "" {
		c.ClientID = audience
	}
	if c.Scopes == nil {
		c.Scopes = DefaultOIDCUIScopes
	}
	return c
}

// Errors of the sign-in flow (besides ErrUnauthenticated, which it never
// returns: a refused sign-in is not a refused credential).
var (
	// ErrOIDCSignInOff: no issuer is configured, or the UI sign-in is
	// disabled.
	ErrOIDCSignInOff = errors.New("auth: oidc sign-in is not configured")
	// ErrOIDCCodeRefused: the identity provider refused the code (unknown,
	// used, expired, another redirect URI, a code verifier that does not
	// match the challenge), or the id_token's nonce is not this sign-in's.
	// The user starts again.
	ErrOIDCCodeRefused = errors.New("auth: oidc sign-in refused")
	// ErrOIDCProvider: the identity provider could not be reached in time,
	// answered something unusable, refused the node as a client, or sent an
	// id_token that does not verify. An operator has to look.
	ErrOIDCProvider = errors.New("auth: oidc identity provider failed")
)

// OIDCSignInParams are what the UI needs to send the browser to the
// identity provider.
type OIDCSignInParams struct {
	Issuer                string
	AuthorizationEndpoint string
	ClientID              string
	Scopes                []string
	// RedirectURL is the configured one; empty means the caller derives it
	// from the request (OIDCUIConfig.RedirectURL).
	RedirectURL string
}

// OIDCCodeExchange is a code the browser brought back, with what proves it
// belongs to this sign-in.
type OIDCCodeExchange struct {
	Code         string
	CodeVerifier string
	// RedirectURI is the one the authorization request used; the identity
	// provider checks it again.
	RedirectURI string
	// Nonce is the one the authorization request sent; the id_token must
	// carry it.
	Nonce string
}

// OIDCSession is a completed sign-in: the verified id_token, which the UI
// sends as its bearer token until ExpiresAt.
type OIDCSession struct {
	IDToken   string
	ExpiresAt time.Time
	Principal Principal
}

// OIDCSignInEnabled reports whether the UI sign-in is offered.
func (a *Authenticator) OIDCSignInEnabled() bool {
	return a.oidc != nil && !a.oidc.cfg.UI.Disabled
}

// OIDCRedirectURL returns the configured redirect URL of the UI sign-in
// (OIDCUIConfig.RedirectURL); empty means the caller derives it from the
// request.
func (a *Authenticator) OIDCRedirectURL() string {
	if !a.OIDCSignInEnabled() {
		return ""
	}
	return a.oidc.cfg.UI.RedirectURL
}

// OIDCSignIn returns the parameters of a sign-in, running discovery first
// if it has not succeeded yet. Errors: ErrOIDCSignInOff, ErrOIDCProvider.
func (a *Authenticator) OIDCSignIn(ctx context.Context) (OIDCSignInParams, error) {
	if !a.OIDCSignInEnabled() {
		return OIDCSignInParams{}, ErrOIDCSignInOff
	}
	v := a.oidc
	m, err := v.meta(ctx)
	if err != nil {
		return OIDCSignInParams{}, fmt.Errorf("%w: %v", ErrOIDCProvider, err)
	}
	// The UI navigates to this address: only http(s), never javascript:.
	if u, err := url.Parse(m.endpoint.AuthURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return OIDCSignInParams{}, fmt.Errorf("%w: the discovery document of %s has no usable authorization_endpoint", ErrOIDCProvider, v.cfg.IssuerURL)
	}
	ui := v.cfg.UI
	return OIDCSignInParams{
		Issuer: v.cfg.IssuerURL, AuthorizationEndpoint: m.endpoint.AuthURL,
		ClientID: ui.ClientID, Scopes: slices.Clone(ui.Scopes), RedirectURL: ui.RedirectURL,
	}, nil
}

// maxIdPDescription bounds the identity provider's error_description
// quoted in an error.
const maxIdPDescription = 200

// ExchangeOIDCCode redeems an authorization code at the issuer's token
// endpoint (with the PKCE code verifier, and the client secret if one is
// configured), bounded by OIDCConfig.Timeout; verifies the id_token of the
// answer exactly as a bearer JWT is verified (issuer, audience, algorithms,
// expiry); and checks that its nonce is x.Nonce. Errors: ErrOIDCSignInOff,
// ErrOIDCCodeRefused, ErrOIDCProvider. No error holds the code, the
// verifier, the client secret, a token or the provider's raw answer.
func (a *Authenticator) ExchangeOIDCCode(ctx context.Context, x OIDCCodeExchange) (OIDCSession, error) {
	if !a.OIDCSignInEnabled() {
		return OIDCSession{}, ErrOIDCSignInOff
	}
	if x.Code == "" || x.CodeVerifier == "" || x.RedirectURI == "" || x.Nonce == "" {
		return OIDCSession{}, fmt.Errorf("%w: code, code verifier, redirect URI and nonce are required", ErrOIDCCodeRefused)
	}
	v := a.oidc
	m, err := v.meta(ctx)
	if err != nil {
		return OIDCSession{}, fmt.Errorf("%w: %v", ErrOIDCProvider, err)
	}
	if m.endpoint.TokenURL == "" {
		return OIDCSession{}, fmt.Errorf("%w: the discovery document of %s names no token_endpoint", ErrOIDCProvider, v.cfg.IssuerURL)
	}
	ui := v.cfg.UI
	ep := m.endpoint
	ep.AuthStyle = authStyle(ui.ClientSecret, m.authMethods)
	conf := oauth2.Config{ClientID: ui.ClientID, ClientSecret: ui.ClientSecret, Endpoint: ep, RedirectURL: x.RedirectURI, Scopes: ui.Scopes}
	xctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, v.cfg.HTTPClient), v.cfg.Timeout)
	defer cancel()
	tok, err := conf.Exchange(xctx, x.Code, oauth2.VerifierOption(x.CodeVerifier))
	if err != nil {
		return OIDCSession{}, exchangeError(xctx, err, v.cfg.Timeout)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return OIDCSession{}, fmt.Errorf("%w: the token endpoint answered without an id_token (is the openid scope granted to the client?)", ErrOIDCProvider)
	}
	p, idt, err := v.verifyToken(ctx, raw)
	if err != nil {
		return OIDCSession{}, fmt.Errorf("%w: the id_token from the token endpoint does not verify: %s", ErrOIDCProvider,
			strings.TrimPrefix(err.Error(), ErrUnauthenticated.Error()+": "))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(x.Nonce)) != 1 {
		return OIDCSession{}, fmt.Errorf("%w: the id_token's nonce is not the one this sign-in sent", ErrOIDCCodeRefused)
	}
	return OIDCSession{IDToken: raw, ExpiresAt: idt.Expiry, Principal: p}, nil
}

// authStyle is how the node authenticates at the token endpoint: a public
// client sends only its client_id; a confidential one uses HTTP Basic
// unless the provider supports only client_secret_post.
func authStyle(secret string, methods []string) oauth2.AuthStyle {
	switch {
	case secret == "":
		return oauth2.AuthStyleInParams
	case len(methods) == 0 || slices.Contains(methods, "client_secret_basic"):
		return oauth2.AuthStyleInHeader
	case slices.Contains(methods, "client_secret_post"):
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// exchangeError classifies a failed code exchange. The provider's error
// code and description are kept (quoted, the description shortened); its
// raw answer never is: oauth2.RetrieveError's text holds the body.
func exchangeError(ctx context.Context, err error, timeout time.Duration) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := ""
		if re.Response != nil {
			status = re.Response.Status
		}
		if re.ErrorCode == "" {
			return fmt.Errorf("%w: the token endpoint answered %s without an OAuth error code", ErrOIDCProvider, status)
		}
		msg := fmt.Sprintf("the identity provider answered %s %q", status, re.ErrorCode)
		if d := re.ErrorDescription; d != "" {
			if len(d) > maxIdPDescription {
				d = d[:maxIdPDescription] + "…"
			}
			msg += fmt.Sprintf(" (%q)", d)
		}
		switch re.ErrorCode {
		case "invalid_grant", "invalid_request":
			// The code, verifier or redirect URI the browser brought.
			return fmt.Errorf("%w: %s", ErrOIDCCodeRefused, msg)
		}
		// invalid_client, unauthorized_client, unsupported_grant_type, ...:
		// the node's registration, not the user.
		return fmt.Errorf("%w: %s", ErrOIDCProvider, msg)
	}
	// oauth2 formats transport errors with %v: ask the context.
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: the token endpoint did not answer within %v", ErrOIDCProvider, timeout)
	}
	return fmt.Errorf("%w: token endpoint: %v", ErrOIDCProvider, err)
}
