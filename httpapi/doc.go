// Package httpapi is schemakv's HTTP API (/v1) on gin. Handlers decode the
// request, check limits and names, validate values against their pinned
// schema, call the cluster (writes, read barriers) or the local state
// (reads), and render. Every failure is rendered by one function from one
// table (errors.go) as {"error": {"code", "message", ...}}, and a request
// that fails changes nothing.
//
// Only this package imports gin. Handlers never ask who leads: the Cluster
// interface forwards, batches and fences as it must.
//
// # Responses
//
// Every JSON body, success or error, is written by one function (render):
// application/json; charset=utf-8, ending in a newline, and without HTML
// escaping, so "<", ">" and "&" come back as sent and a stored value is
// returned byte for byte as stored. Every GET route also answers HEAD.
//
// # Bulk imports
//
// /v1/imports runs import jobs (imports.go, imports_ingest.go). The node that
// receives an upload drives it: a pipeline decodes the stream, validates
// chunks on a pool of GOMAXPROCS-1 workers shared by every upload on the
// node, and proposes numbered, idempotent chunk commands, re-proposing them
// across leader changes. The job's state is replicated (fsm), so any node
// answers for it and another node can take the upload over at the
// acknowledged offset.
// # Schema evolution
//
// evolution.go checks a schema change against the stored entries (strict
// policy), reports it (dry runs, structural diff) and retries a check a
// concurrent write made stale; migrations.go runs migrations: each node
// drives the migrations it started and, while it leads, every running one;
// Server.Close stops those drivers.
//
// # Web UI
//
// ui.go serves the embedded web UI (package ui) under /ui/ and redirects /
// there, with a Content-Security-Policy that lets the pages load only their
// own files and call only this server. The files are public; the data the
// UI shows comes through the same /v1 routes, with the user's token.
//
// oidc.go is the UI's OIDC sign-in, shaped as a "backend for frontend":
// the browser goes to the identity provider by top-level navigation only
// (the CSP allows it no other origin for requests), comes back to /ui/ with
// a code, and POSTs the code, its PKCE verifier and nonce to
// /v1/auth/oidc/token; the node redeems it at the token endpoint and hands
// back the verified id_token, which the UI then sends as its bearer token.
// The node keeps no session state. Both routes are public, the exchange is
// bounded (body, fields, MaxOIDCExchanges at once, the issuer timeout) and
// only for a redirect URI of this UI.
//
// # Identity
//
// Until authentication lands, the principal recorded in history is taken
// from the X-Schemakv-Principal header ("anonymous" when absent). It is a
// label, not a credential.
package httpapi
