package auth

import "strings"

// Kind is how a principal authenticated.
type Kind string

// Principal kinds.
const (
	KindToken Kind = "token" // an API token
	KindOIDC  Kind = "oidc"  // an OIDC JWT
)

// Principal is an authenticated identity.
type Principal struct {
	Kind Kind
	// ID is the token id (KindToken) or the OIDC subject (KindOIDC).
	ID string
	// Name is for people: the token's name, or the OIDC name/email claim.
	Name string
	// Subject is the OIDC "sub" claim; empty for tokens.
	Subject string
	// Groups are the OIDC groups claim's values; empty for tokens.
	Groups []string
}

// Audit is the principal as recorded in history and logs: "token:NAME:ID"
// or "oidc:SUBJECT". Token names cannot hold ':' or spaces, so the form is
// unambiguous.
func (p Principal) Audit() string {
	switch p.Kind {
	case KindToken:
		return "token:" + p.Name + ":" + p.ID
	case KindOIDC:
		return "oidc:" + p.Subject
	}
	return "unknown:" + strings.ReplaceAll(p.ID, " ", "_")
}
