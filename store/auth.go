package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/schemakv/schemakv/api"
	bolt "go.etcd.io/bbolt"
)

// Buckets and meta key of the authentication state: API tokens (by id, the
// record holds only the secret's hash), role bindings (by id), and the
// marker that the cluster's bootstrap admin token was created.
var (
	bucketTokens     = []byte("tokens")
	bucketBindings   = []byte("bindings")
	keyBootstrapped  = []byte("auth_bootstrapped")
	bootstrappedTrue = []byte{1}
)

// Errors of the authentication state.
var (
	ErrTokenNotFound    = errors.New("store: token not found")
	ErrTokenExists      = errors.New("store: token already exists")
	ErrTokenRevoked     = errors.New("store: token already revoked")
	ErrBindingNotFound  = errors.New("store: binding not found")
	ErrBindingExists    = errors.New("store: binding already exists")
	ErrAuthBootstrapped = errors.New("store: auth already bootstrapped")
)

// Token is the stored form of an API token: its description and the
// SHA-256 hash of its secret. The secret itself is never stored.
type Token struct {
	api.Token
	Hash []byte `json:"hash"`
}

// AuthState is the immutable authentication state of one View. It is small
// (tokens and bindings number in the hundreds), so a write copies it.
type AuthState struct {
	tokens       map[string]*Token
	bindings     map[string]*api.RoleBinding
	bindingList  []api.RoleBinding // by id; shared, read-only
	bootstrapped bool
}

func emptyAuth() *AuthState {
	return &AuthState{tokens: map[string]*Token{}, bindings: map[string]*api.RoleBinding{}}
}

func (a *AuthState) clone() *AuthState {
	return &AuthState{tokens: maps.Clone(a.tokens), bindings: maps.Clone(a.bindings), bootstrapped: a.bootstrapped}
}

func (a *AuthState) sortBindings() {
	a.bindingList = make([]api.RoleBinding, 0, len(a.bindings))
	for _, id := range slices.Sorted(maps.Keys(a.bindings)) {
		a.bindingList = append(a.bindingList, *a.bindings[id])
	}
}

// Token returns a token by id.
func (v *View) Token(id string) (*Token, bool) {
	t, ok := v.auth.tokens[id]
	return t, ok
}

// Tokens returns every token (revoked ones included) in id order.
func (v *View) Tokens() []*Token {
	out := make([]*Token, 0, len(v.auth.tokens))
	for _, id := range slices.Sorted(maps.Keys(v.auth.tokens)) {
		out = append(out, v.auth.tokens[id])
	}
	return out
}

// Bindings returns every role binding in id order. The slice is shared and
// must not be modified.
func (v *View) Bindings() []api.RoleBinding { return v.auth.bindingList }

// AuthBootstrapped reports whether the bootstrap admin token was created.
func (v *View) AuthBootstrapped() bool { return v.auth.bootstrapped }

// AuthState returns the view's authentication state. The pointer changes
// exactly when a token or binding changes, so a long-lived reader (a watch
// stream) can tell when to check its credentials again.
func (v *View) AuthState() *AuthState { return v.auth }

// authForWrite returns the transaction's own copy of the auth state.
func (t *Txn) authForWrite() *AuthState {
	if !t.authCopied {
		t.auth = t.auth.clone()
		t.authCopied = true
	}
	return t.auth
}

// Token reads a token, seeing this transaction's writes.
func (t *Txn) Token(id string) (*Token, bool) {
	tk, ok := t.auth.tokens[id]
	return tk, ok
}

// Binding reads a binding, seeing this transaction's writes.
func (t *Txn) Binding(id string) (*api.RoleBinding, bool) {
	b, ok := t.auth.bindings[id]
	return b, ok
}

// Bindings returns the bindings, seeing this transaction's writes, in no
// particular order.
func (t *Txn) Bindings() []*api.RoleBinding {
	return slices.Collect(maps.Values(t.auth.bindings))
}

// AuthBootstrapped reports whether the bootstrap admin token exists,
// seeing this transaction's writes.
func (t *Txn) AuthBootstrapped() bool { return t.auth.bootstrapped }

// SetAuthBootstrapped records that the bootstrap admin token was created;
// later bootstrap attempts (another node, a restart) then do nothing.
func (t *Txn) SetAuthBootstrapped() {
	t.authForWrite().bootstrapped = true
	t.put(bucketMeta, keyBootstrapped, bootstrappedTrue)
}

// CreateToken stores a new token, stamping its revision and audit fields.
func (t *Txn) CreateToken(tk Token, a Audit) (*Token, error) {
	tk.CreateRevision, tk.ModifyRevision = t.rev, t.rev
	tk.CreatedBy, tk.CreatedAt, tk.Reason = a.Principal, a.Time, a.Reason
	if err := t.putToken(&tk); err != nil {
		return nil, err
	}
	return &tk, t.record(api.Event{Kind: api.KindToken, Op: api.OpCreate, Key: tk.ID}, a)
}

// RevokeToken marks a token revoked. The record stays, so the id is never
// reused and listings show who revoked it.
func (t *Txn) RevokeToken(id string, a Audit) (*Token, error) {
	old, ok := t.Token(id)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrTokenNotFound, id)
	}
	tk := *old
	tk.Revoked, tk.RevokedBy, tk.ModifyRevision = true, a.Principal, t.rev
	at := a.Time
	tk.RevokedAt = &at
	if err := t.putToken(&tk); err != nil {
		return nil, err
	}
	return &tk, t.record(api.Event{Kind: api.KindToken, Op: api.OpRevoke, Key: id, PrevRevision: old.ModifyRevision}, a)
}

func (t *Txn) putToken(tk *Token) error {
	b, err := marshal(tk)
	if err != nil {
		return fmt.Errorf("store: encode token: %w", err)
	}
	t.put(bucketTokens, []byte(tk.ID), b)
	t.authForWrite().tokens[tk.ID] = tk
	return nil
}

// PutBinding stores a new role binding, stamping its revision and audit
// fields.
func (t *Txn) PutBinding(b api.RoleBinding, a Audit) (*api.RoleBinding, error) {
	b.CreateRevision, b.CreatedBy, b.CreatedAt, b.Reason = t.rev, a.Principal, a.Time, a.Reason
	raw, err := marshal(&b)
	if err != nil {
		return nil, fmt.Errorf("store: encode binding: %w", err)
	}
	t.put(bucketBindings, []byte(b.ID), raw)
	st := t.authForWrite()
	st.bindings[b.ID] = &b
	return &b, t.record(api.Event{Kind: api.KindBinding, Op: api.OpCreate, Key: b.ID, Value: raw}, a)
}

// DeleteBinding removes a role binding.
func (t *Txn) DeleteBinding(id string, a Audit) error {
	old, ok := t.Binding(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrBindingNotFound, id)
	}
	t.put(bucketBindings, []byte(id), nil)
	delete(t.authForWrite().bindings, id)
	return t.record(api.Event{Kind: api.KindBinding, Op: api.OpDelete, Key: id, PrevRevision: old.CreateRevision}, a)
}

// commitAuth returns the auth state the committed view carries.
func (t *Txn) commitAuth() *AuthState {
	if t.authCopied {
		t.auth.sortBindings()
	}
	return t.auth
}

// loadAuth reads the authentication state from the file. A file written
// before these buckets existed has none: the state is empty.
func loadAuth(tx *bolt.Tx, v *View) error {
	st := emptyAuth()
	st.bootstrapped = tx.Bucket(bucketMeta).Get(keyBootstrapped) != nil
	if b := tx.Bucket(bucketTokens); b != nil {
		err := b.ForEach(func(k, raw []byte) error {
			var tk Token
			if err := json.Unmarshal(raw, &tk); err != nil {
				return fmt.Errorf("token %q: %w", k, err)
			}
			st.tokens[tk.ID] = &tk
			return nil
		})
		if err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketBindings); b != nil {
		err := b.ForEach(func(k, raw []byte) error {
			var rb api.RoleBinding
			if err := json.Unmarshal(raw, &rb); err != nil {
				return fmt.Errorf("binding %q: %w", k, err)
			}
			st.bindings[rb.ID] = &rb
			return nil
		})
		if err != nil {
			return err
		}
	}
	st.sortBindings()
	v.auth = st
	return nil
}

// TokenExpiry converts a command's expiry (Unix nanoseconds, 0 = never)
// into a token's ExpiresAt.
func TokenExpiry(unixNano int64) *time.Time {
	if unixNano == 0 {
		return nil
	}
	t := time.Unix(0, unixNano).UTC()
	return &t
}
