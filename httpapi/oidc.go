package httpapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
)

// OIDCSignIn runs the web UI's OIDC sign-in: the authorization code flow
// with PKCE, where the browser visits the identity provider and the node
// redeems the code. *auth.Authenticator implements it.
type OIDCSignIn interface {
	// OIDCSignInEnabled reports whether the sign-in is offered.
	OIDCSignInEnabled() bool
	// OIDCRedirectURL is the configured redirect URL; empty means the
	// request's origin + "/ui/".
	OIDCRedirectURL() string
	// OIDCSignIn returns where to send the browser (auth.ErrOIDCSignInOff,
	// auth.ErrOIDCProvider).
	OIDCSignIn(ctx context.Context) (auth.OIDCSignInParams, error)
	// ExchangeOIDCCode redeems a code and verifies the id_token
	// (auth.ErrOIDCCodeRefused, auth.ErrOIDCProvider).
	ExchangeOIDCCode(ctx context.Context, x auth.OIDCCodeExchange) (auth.OIDCSession, error)
}

// Limits of the code exchange (POST /v1/auth/oidc/token). A code is opaque
// and its size is the provider's choice: 4 KiB holds the largest seen in
// practice (Entra ID's are about 1 KiB).
const (
	MaxOIDCTokenRequestBytes = 16 << 10 // the whole body → 413 body_too_large
	MaxOIDCCodeBytes         = 4096     // code → 400
	MaxOIDCRedirectURIBytes  = 2048     // redirect_uri → 400
	MaxOIDCNonceBytes        = 512      // nonce → 400
	// MaxOIDCExchanges bounds the code exchanges running at once on a node:
	// each holds an outgoing request to the identity provider for up to
	// its timeout, and the route is public → 429 too_many_sign_ins.
	MaxOIDCExchanges = 16
)

// codeVerifierRE is RFC 7636 §4.1: 43 to 128 unreserved characters.
var codeVerifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// visibleASCII is RFC 6749's VSCHAR (the characters of a code or a state).
var visibleASCII = regexp.MustCompile(`^[\x20-\x7e]+$`)

// oidcSignIn answers GET /v1/auth/oidc: whether the UI offers OIDC sign-in
// and where it sends the browser. Without an issuer it says enabled=false
// (200), so the UI shows only the token form.
func (s *Server) oidcSignIn(c *gin.Context) {
	if s.cfg.OIDC == nil || !s.cfg.OIDC.OIDCSignInEnabled() {
		s.render(c, http.StatusOK, api.OIDCSignIn{Enabled: false})
		return
	}
	p, err := s.cfg.OIDC.OIDCSignIn(c.Request.Context())
	if errors.Is(err, auth.ErrOIDCSignInOff) {
		s.render(c, http.StatusOK, api.OIDCSignIn{Enabled: false})
		return
	}
	if err != nil {
		s.log.Warn("oidc sign-in unavailable", "remote", c.ClientIP(), "err", err)
		s.fail(c, err)
		return
	}
	redirect := p.RedirectURL
	if redirect == "" {
		redirect = requestOrigin(c) + "/ui/"
	}
	c.Header("Cache-Control", "no-store")
	s.render(c, http.StatusOK, api.OIDCSignIn{
		Enabled: true, Issuer: p.Issuer, AuthorizationEndpoint: p.AuthorizationEndpoint,
		ClientID: p.ClientID, Scopes: p.Scopes, RedirectURI: redirect,
	})
}

// oidcToken answers POST /v1/auth/oidc/token: it redeems the code the
// browser brought back and returns the verified id_token. Nothing is
// stored: the id_token is the session, held by the browser. A refused
// exchange issues nothing and is logged without the code, the verifier or
// anything the identity provider sent.
func (s *Server) oidcToken(c *gin.Context) {
	if s.cfg.OIDC == nil || !s.cfg.OIDC.OIDCSignInEnabled() {
		s.fail(c, apiErr(api.CodeOIDCNotConfigured, "OIDC sign-in is not configured on this server (start it with --oidc-issuer)"))
		return
	}
	if c.Request.ContentLength > MaxOIDCTokenRequestBytes {
		s.fail(c, apiErr(api.CodeBodyTooLarge, "request body of %d bytes exceeds %d bytes", c.Request.ContentLength, MaxOIDCTokenRequestBytes))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxOIDCTokenRequestBytes)
	var req api.OIDCTokenRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"code", "code_verifier", "redirect_uri", "nonce"}`))
		return
	}
	if err := s.checkOIDCTokenRequest(c, req); err != nil {
		s.fail(c, err)
		return
	}
	select {
	case s.oidcSem <- struct{}{}:
		defer func() { <-s.oidcSem }()
	default:
		s.fail(c, apiErr(api.CodeTooManySignIns, "%d sign-ins are being completed on this node; try again in a moment", MaxOIDCExchanges))
		return
	}
	sess, err := s.cfg.OIDC.ExchangeOIDCCode(c.Request.Context(), auth.OIDCCodeExchange{
		Code: req.Code, CodeVerifier: req.CodeVerifier, RedirectURI: req.RedirectURI, Nonce: req.Nonce,
	})
	if err != nil {
		// The errors of ExchangeOIDCCode hold no secret (auth's contract).
		s.log.Warn("oidc sign-in refused", "remote", c.ClientIP(), "err", err)
		s.fail(c, err)
		return
	}
	s.log.Info("oidc sign-in", "remote", c.ClientIP(), "principal", sess.Principal.Audit(), "expires_at", sess.ExpiresAt)
	c.Header("Cache-Control", "no-store") // RFC 6749 §5.1
	s.render(c, http.StatusOK, api.OIDCToken{IDToken: sess.IDToken, ExpiresAt: sess.ExpiresAt.UTC(), Principal: s.whoAmIOf(sess.Principal)})
}

// checkOIDCTokenRequest refuses a malformed exchange before the identity
// provider is asked. The redirect URI must be one the node itself would
// hand out: the configured one, or this request's origin + "/ui/"; so the
// node never redeems a code for an address that is not its UI.
func (s *Server) checkOIDCTokenRequest(c *gin.Context, req api.OIDCTokenRequest) error {
	switch {
	case req.Code == "":
		return apiErr(api.CodeBadRequest, "code is required")
	case len(req.Code) > MaxOIDCCodeBytes || !visibleASCII.MatchString(req.Code):
		return apiErr(api.CodeBadRequest, "code must be 1 to %d visible ASCII characters", MaxOIDCCodeBytes)
	case req.CodeVerifier == "":
		return apiErr(api.CodeBadRequest, "code_verifier is required")
	case !codeVerifierRE.MatchString(req.CodeVerifier):
		return apiErr(api.CodeBadRequest, "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' (RFC 7636)")
	case req.Nonce == "":
		return apiErr(api.CodeBadRequest, "nonce is required")
	case len(req.Nonce) > MaxOIDCNonceBytes || !visibleASCII.MatchString(req.Nonce):
		return apiErr(api.CodeBadRequest, "nonce must be 1 to %d visible ASCII characters", MaxOIDCNonceBytes)
	case req.RedirectURI == "":
		return apiErr(api.CodeBadRequest, "redirect_uri is required")
	case len(req.RedirectURI) > MaxOIDCRedirectURIBytes:
		return apiErr(api.CodeBadRequest, "redirect_uri longer than %d bytes", MaxOIDCRedirectURIBytes)
	}
	allowed := []string{requestOrigin(c) + "/ui/"}
	if u := s.cfg.OIDC.OIDCRedirectURL(); u != "" {
		allowed = append(allowed, u)
	}
	for _, a := range allowed {
		if req.RedirectURI == a {
			return nil
		}
	}
	return apiErr(api.CodeBadRequest, "redirect_uri %q is not this server's UI (want %q)", req.RedirectURI, allowed[len(allowed)-1])
}

// requestOrigin is the scheme and host the request was sent to. Proxy
// headers are not trusted (SetTrustedProxies(nil)): behind a proxy that
// changes them, configure the redirect URL.
func requestOrigin(c *gin.Context) string {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}
