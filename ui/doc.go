// Package ui holds the web UI: static HTML, CSS and JavaScript modules,
// embedded in the binary with go:embed and served by httpapi under /ui/.
//
// There is no build step and no JavaScript toolchain: the files in static/
// are what the browser runs (ES modules, no framework). The UI talks only to
// the server that served it, through the public HTTP API, sending the API
// token the user pasted at sign-in as "Authorization: Bearer <token>" on
// every request (kept in sessionStorage, so it lasts as long as the tab).
//
// With an OIDC issuer configured, oidc.js signs in with the authorization
// code flow and PKCE: the browser reaches the identity provider only by
// top-level navigation, and the server redeems the code (POST
// /v1/auth/oidc/token) and returns the verified id_token, which becomes the
// bearer token. The page checks the state; the server checks the nonce.
// Live updates read POST /v1/watch as NDJSON through fetch() streaming,
// because EventSource cannot send an Authorization header.
//
// After sign-in the UI reads GET /v1/whoami and hides what the user's role
// bindings do not allow (roles.js mirrors auth.Authorize); the server still
// decides every request, and a 403 shows as a "Forbidden" page. admin.js
// holds the global admin's pages: tokens and role bindings.
//
// The package has no state and imports only the standard library, so any
// layer may serve its files; only httpapi does. The browser tests in
// browser_test.go drive the UI in headless Chromium against a real node.
package ui
