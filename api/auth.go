package api

import "time"

// Object kinds of the authentication state recorded in the history. Their
// events carry no namespace, so no namespace watch ever sees them.
const (
	KindToken   = "token"
	KindBinding = "binding"
)

// OpRevoke records a token revocation.
const OpRevoke = "revoke"

// Roles of the RBAC model: each one includes the ones after it.
const (
	RoleAdmin  = "admin"
	RoleEditor = "editor"
	RoleViewer = "viewer"
)

// Subject kinds a role binding can name.
const (
	SubjectToken     = "token"      // an API token, by id
	SubjectOIDCUser  = "oidc_user"  // an OIDC subject ("sub" claim)
	SubjectOIDCGroup = "oidc_group" // an OIDC group (the configured groups claim)
)

// Token describes an API token. The secret itself is shown once, in
// TokenCreated, and stored only as a SHA-256 hash.
type Token struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// ExpiresAt is when the token stops authenticating; nil means never.
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	Revoked        bool       `json:"revoked"`
	RevokedBy      string     `json:"revoked_by,omitempty"`
	RevokedAt      *time.Time `json:"revoked_at,omitempty"`
	CreateRevision uint64     `json:"create_revision"`
	ModifyRevision uint64     `json:"modify_revision"`
	CreatedBy      string     `json:"created_by"`
	CreatedAt      time.Time  `json:"created_at"`
	Reason         string     `json:"reason,omitempty"`
}

// CreateTokenRequest is the body of POST /v1/tokens.
type CreateTokenRequest struct {
	// Name is a label for people: 1 to 64 characters of a-z, A-Z, 0-9,
	// '-', '_' and '.'.
	Name string `json:"name"`
	// TTL, a Go duration such as "720h", sets an expiry; empty means none.
	TTL string `json:"ttl,omitempty"`
	// Role, when set, binds the new token to this role in the same
	// replicated command; Namespace scopes it ("" = global).
	Role      string `json:"role,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// TokenCreated is the answer to POST /v1/tokens: the only time the secret
// is shown.
type TokenCreated struct {
	Token
	// Secret is the bearer token: send it as "Authorization: Bearer <secret>".
	Secret string `json:"secret"`
	// Bindings are the role bindings created with the token.
	Bindings []RoleBinding `json:"bindings,omitempty"`
}

// TokenList is the body of GET /v1/tokens.
type TokenList struct {
	Items    []Token `json:"items"`
	Revision uint64  `json:"revision"`
}

// RevokeResult is the answer to DELETE /v1/tokens/:id: the revocation's
// revision and which cluster members confirmed they applied it.
type RevokeResult struct {
	Token Token `json:"token"`
	// Revision is the raft index of the revocation.
	Revision uint64 `json:"revision"`
	// Confirmed lists the members that applied the revocation before the
	// answer; Unconfirmed those that did not answer or lag behind it (they
	// may still accept the token until they apply it).
	Confirmed   []string `json:"confirmed"`
	Unconfirmed []string `json:"unconfirmed,omitempty"`
	// Complete reports that every member of the raft configuration
	// confirmed.
	Complete bool `json:"complete"`
}

// RoleBinding attaches a role, globally or in one namespace, to a subject.
type RoleBinding struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	// Namespace scopes the role; "" means every namespace and the
	// cluster-wide operations.
	Namespace      string    `json:"namespace,omitempty"`
	SubjectKind    string    `json:"subject_kind"`
	Subject        string    `json:"subject"`
	CreateRevision uint64    `json:"create_revision"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	Reason         string    `json:"reason,omitempty"`
}

// BindRequest is the body of POST /v1/bindings.
type BindRequest struct {
	Role        string `json:"role"`
	Namespace   string `json:"namespace,omitempty"`
	SubjectKind string `json:"subject_kind"`
	Subject     string `json:"subject"`
	Reason      string `json:"reason,omitempty"`
}

// BindingList is the body of GET /v1/bindings.
type BindingList struct {
	Items    []RoleBinding `json:"items"`
	Revision uint64        `json:"revision"`
}

// WhoAmI is the body of GET /v1/whoami: the authenticated principal and
// the bindings that apply to it.
type WhoAmI struct {
	Kind     string        `json:"kind"`
	ID       string        `json:"id"`
	Name     string        `json:"name,omitempty"`
	Subject  string        `json:"subject,omitempty"`
	Groups   []string      `json:"groups,omitempty"`
	Audit    string        `json:"audit"`
	Bindings []RoleBinding `json:"bindings"`
}
