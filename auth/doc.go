// Package auth authenticates requests and decides what they may do. It
// knows no HTTP types: package httpapi hands it the bearer credential of a
// request and asks one question per route.
//
//   - Principals (principal.go): who a request is — an API token or an OIDC
//     subject with its groups.
//   - API tokens (token.go): 32 random bytes from crypto/rand, printed as
//     "skv_" + base64url. Only the SHA-256 hash is ever stored (in the
//     replicated state); the token id is derived from the hash, so a lookup
//     needs no secret-dependent index, and the full hash is compared in
//     constant time. SHA-256 without a salt or stretching is sound here
//     because the secrets have 256 bits of entropy: there is no dictionary
//     to attack.
//   - OIDC (oidc.go): bearer JWTs verified with github.com/coreos/go-oidc/v3
//     against a configured issuer: discovery, a JWKS cache refreshed on an
//     unknown key id at most once per RefreshInterval, an algorithm
//     allow-list, issuer, audience, exp and nbf with a small leeway. When
//     the issuer cannot be reached, tokens signed by cached keys still
//     verify and everything else is refused: nothing fails open.
//   - OIDC sign-in of the web UI (oidc_signin.go): the node redeems an
//     authorization code at the issuer's token endpoint (PKCE; a client
//     secret if configured), verifies the id_token with the same verifier
//     as bearer JWTs and checks its nonce. No error it returns holds the
//     code, the verifier, a secret, a token or the issuer's raw answer.
//   - RBAC (rbac.go): roles admin ⊇ editor ⊇ viewer, bound globally or to
//     one namespace, to a token id, an OIDC subject or an OIDC group.
//     Authorize is the one decision function; it denies by default.
//
// Concurrency: an Authenticator is safe for concurrent use; Authorize is a
// pure function.
package auth
