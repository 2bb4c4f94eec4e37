package api

import "time"

// OIDC sign-in of the web UI: the authorization code flow with PKCE, the
// node redeeming the code (GET /v1/auth/oidc, POST /v1/auth/oidc/token).
const (
	CodeOIDCNotConfigured = "oidc_not_configured" // 404 no issuer configured, or the UI sign-in is off
	CodeOIDCSignInRefused = "oidc_signin_refused" // 400 the identity provider refused the code, or the nonce does not match: sign in again
	CodeOIDCProvider      = "oidc_provider_error" // 502 the identity provider is unreachable, slow, refuses the node as a client, or sent an id_token that does not verify
	CodeTooManySignIns    = "too_many_sign_ins"   // 429 as many code exchanges are running on the node as it allows
)

func init() {
	for code, status := range map[string]int{
		CodeOIDCNotConfigured: 404, CodeOIDCSignInRefused: 400, CodeOIDCProvider: 502, CodeTooManySignIns: 429,
	} {
		statusOf[code] = status
	}
}

// OIDCSignIn is the answer to GET /v1/auth/oidc: whether the UI offers OIDC
// sign-in and, if so, where to send the browser.
type OIDCSignIn struct {
	Enabled bool `json:"enabled"`
	// Issuer is the configured issuer URL.
	Issuer string `json:"issuer,omitempty"`
	// AuthorizationEndpoint is the issuer's, from its discovery document.
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	ClientID              string `json:"client_id,omitempty"`
	// Scopes to request, joined with spaces in the scope parameter.
	Scopes []string `json:"scopes,omitempty"`
	// RedirectURI is the address of the UI the identity provider sends the
	// browser back to: the configured one, or this request's origin + "/ui/".
	RedirectURI string `json:"redirect_uri,omitempty"`
}

// OIDCTokenRequest is the body of POST /v1/auth/oidc/token.
type OIDCTokenRequest struct {
	// Code is the authorization code the browser brought back.
	Code string `json:"code"`
	// CodeVerifier is the PKCE verifier whose S256 challenge the
	// authorization request sent (RFC 7636: 43 to 128 characters).
	CodeVerifier string `json:"code_verifier"`
	// RedirectURI is the one the authorization request used.
	RedirectURI string `json:"redirect_uri"`
	// Nonce is the one the authorization request sent; the node checks the
	// id_token carries it.
	Nonce string `json:"nonce"`
}

// OIDCToken is the answer to POST /v1/auth/oidc/token: a verified id_token
// to send as "Authorization: Bearer <id_token>" until ExpiresAt, and who it
// is (with the role bindings that apply).
type OIDCToken struct {
	IDToken   string    `json:"id_token"`
	ExpiresAt time.Time `json:"expires_at"`
	Principal WhoAmI    `json:"principal"`
}
