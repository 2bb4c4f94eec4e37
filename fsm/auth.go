package fsm

import (
	"fmt"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

// Command types of the authentication state (reserved range 5-8).
const (
	TypeCreateToken Type = 5
	TypeRevokeToken Type = 6
	TypeBind        Type = 7
	TypeUnbind      Type = 8
)

// CreateToken stores an API token. The proposer generated the secret and
// hashed it: only the hash (and the id derived from it) enters the log.
// Bindings, when set, are created in the same entry, so a token never
// exists half set up. Bootstrap makes it the cluster's first admin token:
// it fails with store.ErrAuthBootstrapped if one was created before, so
// however many nodes try, one wins.
type CreateToken struct {
	Audit
	ID   string `json:"id"`
	Name string `json:"name"`
	Hash []byte `json:"hash"`
	// ExpiresAt is Unix nanoseconds; 0 means never.
	ExpiresAt int64             `json:"expires_at,omitempty"`
	Bindings  []api.RoleBinding `json:"bindings,omitempty"`
	Bootstrap bool              `json:"bootstrap,omitempty"`
}

// RevokeToken revokes a token.
type RevokeToken struct {
	Audit
	ID string `json:"id"`
}

// Bind creates a role binding; the proposer stamps its id.
type Bind struct {
	Audit
	Binding api.RoleBinding `json:"binding"`
}

// Unbind removes a role binding.
type Unbind struct {
	Audit
	ID string `json:"id"`
}

func applyCreateToken(tx *store.Txn, rev uint64, body []byte) *Result {
	var c CreateToken
	mustDecode(rev, body, &c)
	if c.Bootstrap && tx.AuthBootstrapped() {
		return fail(rev, store.ErrAuthBootstrapped)
	}
	if _, ok := tx.Token(c.ID); ok {
		return fail(rev, fmt.Errorf("%w: %s", store.ErrTokenExists, c.ID))
	}
	for _, b := range c.Bindings {
		if err := checkBinding(tx, b, c.ID); err != nil {
			return fail(rev, err)
		}
	}
	a := c.Audit.store()
	tk, err := tx.CreateToken(store.Token{
		Token: api.Token{ID: c.ID, Name: c.Name, ExpiresAt: store.TokenExpiry(c.ExpiresAt)},
		Hash:  c.Hash,
	}, a)
	mustWrite(rev, err)
	res := &Result{Revision: rev, Token: &tk.Token}
	for _, b := range c.Bindings {
		nb, err := tx.PutBinding(b, a)
		mustWrite(rev, err)
		res.Bindings = append(res.Bindings, *nb)
	}
	if c.Bootstrap {
		tx.SetAuthBootstrapped()
	}
	return res
}

func applyRevokeToken(tx *store.Txn, rev uint64, body []byte) *Result {
	var c RevokeToken
	mustDecode(rev, body, &c)
	old, ok := tx.Token(c.ID)
	if !ok {
		return fail(rev, fmt.Errorf("%w: %s", store.ErrTokenNotFound, c.ID))
	}
	if old.Revoked {
		return fail(rev, fmt.Errorf("%w: %s", store.ErrTokenRevoked, c.ID))
	}
	tk, err := tx.RevokeToken(c.ID, c.Audit.store())
	mustWrite(rev, err)
	return &Result{Revision: rev, Token: &tk.Token}
}

func applyBind(tx *store.Txn, rev uint64, body []byte) *Result {
	var c Bind
	mustDecode(rev, body, &c)
	if err := checkBinding(tx, c.Binding, ""); err != nil {
		return fail(rev, err)
	}
	b, err := tx.PutBinding(c.Binding, c.Audit.store())
	mustWrite(rev, err)
	return &Result{Revision: rev, Bindings: []api.RoleBinding{*b}}
}

func applyUnbind(tx *store.Txn, rev uint64, body []byte) *Result {
	var c Unbind
	mustDecode(rev, body, &c)
	if _, ok := tx.Binding(c.ID); !ok {
		return fail(rev, fmt.Errorf("%w: %s", store.ErrBindingNotFound, c.ID))
	}
	mustWrite(rev, tx.DeleteBinding(c.ID, c.Audit.store()))
	return &Result{Revision: rev}
}

// checkBinding refuses a binding whose id is taken or that repeats an
// existing one (same role, scope and subject), or that names a token that
// does not exist (newToken is the one being created with it).
func checkBinding(tx *store.Txn, b api.RoleBinding, newToken string) error {
	if _, ok := tx.Binding(b.ID); ok {
		return fmt.Errorf("%w: id %s", store.ErrBindingExists, b.ID)
	}
	for _, o := range tx.Bindings() {
		if o.Role == b.Role && o.Namespace == b.Namespace && o.SubjectKind == b.SubjectKind && o.Subject == b.Subject {
			return fmt.Errorf("%w: %s (%s %s %s in %q)", store.ErrBindingExists, o.ID, o.Role, o.SubjectKind, o.Subject, o.Namespace)
		}
	}
	if b.SubjectKind == api.SubjectToken && b.Subject != newToken {
		if _, ok := tx.Token(b.Subject); !ok {
			return fmt.Errorf("%w: %s", store.ErrTokenNotFound, b.Subject)
		}
	}
	return nil
}
