package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrUnauthenticated is the error of every failed authentication; the
// wrapped message says why (never with the credential in it).
var ErrUnauthenticated = errors.New("unauthenticated")

// TokenLookup finds an API token record by id. The replicated state (the
// store's read model) implements it.
type TokenLookup interface {
	Token(id string) (TokenRecord, bool)
}

// TokenLookupFunc adapts a function to TokenLookup.
type TokenLookupFunc func(id string) (TokenRecord, bool)

// Token calls f.
func (f TokenLookupFunc) Token(id string) (TokenRecord, bool) { return f(id) }

// Config configures an Authenticator.
type Config struct {
	// OIDC, when set, accepts bearer JWTs from one issuer.
	OIDC *OIDCConfig
	// Now is the clock for token expiry; nil means time.Now.
	Now func() time.Time
}

// Authenticator turns a bearer credential into a Principal.
type Authenticator struct {
	tokens TokenLookup
	oidc   *oidcVerifier
	now    func() time.Time
}

// New builds an Authenticator over the token records. With OIDC configured
// it does not contact the issuer yet: discovery happens on the first JWT
// (and is retried, rate limited, while the issuer is unreachable).
func New(cfg Config, tokens TokenLookup) (*Authenticator, error) {
	if tokens == nil {
		return nil, errors.New("auth: New: no token lookup")
	}
	a := &Authenticator{tokens: tokens, now: cfg.Now}
	if a.now == nil {
		a.now = time.Now
	}
	if cfg.OIDC != nil {
		v, err := newOIDCVerifier(*cfg.OIDC, a.now)
		if err != nil {
			return nil, err
		}
		a.oidc = v
	}
	return a, nil
}

// OIDCEnabled reports whether JWTs are accepted.
func (a *Authenticator) OIDCEnabled() bool { return a.oidc != nil }

// Authenticate checks the value of an Authorization header ("Bearer X").
// Every failure wraps ErrUnauthenticated.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (Principal, error) {
	if header == "" {
		return Principal{}, fmt.Errorf("%w: no credentials (send Authorization: Bearer <token>)", ErrUnauthenticated)
	}
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, fmt.Errorf("%w: malformed Authorization header (want Bearer <token>)", ErrUnauthenticated)
	}
	cred = strings.TrimSpace(cred)
	if cred == "" || strings.ContainsAny(cred, " \t") {
		return Principal{}, fmt.Errorf("%w: malformed bearer credential", ErrUnauthenticated)
	}
	if looksLikeJWT(cred) {
		if a.oidc == nil {
			return Principal{}, fmt.Errorf("%w: a JWT was sent but OIDC is not configured", ErrUnauthenticated)
		}
		return a.oidc.verify(ctx, cred)
	}
	return checkToken(cred, a.tokens, a.now())
}
