package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/schemakv/schemakv/api"
)

// Auth manages API tokens and role bindings (global admin only). Get one
// with Client.Auth.
type Auth struct{ c *Client }

// Auth returns the token and role-binding endpoints.
func (c *Client) Auth() *Auth { return &Auth{c: c} }

// WhoAmI returns the authenticated principal and its bindings (GET
// /v1/whoami).
func (a *Auth) WhoAmI(ctx context.Context) (*api.WhoAmI, error) {
	var out api.WhoAmI
	if _, err := a.c.do(ctx, &request{method: http.MethodGet, path: "/v1/whoami"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateToken creates an API token (POST /v1/tokens). The answer holds the
// secret: it is never shown again.
func (a *Auth) CreateToken(ctx context.Context, req api.CreateTokenRequest, opts *WriteOptions) (*api.TokenCreated, Meta, error) {
	req.Reason = reasonOr(req.Reason, opts)
	var out api.TokenCreated
	meta, err := a.c.do(ctx, &request{method: http.MethodPost, path: "/v1/tokens", body: req, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// ListTokens lists every token, revoked ones included (GET /v1/tokens).
func (a *Auth) ListTokens(ctx context.Context, opts *ReadOptions) (*api.TokenList, Meta, error) {
	var out api.TokenList
	meta, err := a.c.do(ctx, &request{method: http.MethodGet, path: "/v1/tokens", read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// RevokeToken revokes a token (DELETE /v1/tokens/{id}). The answer lists
// the members that confirmed they applied the revocation.
func (a *Auth) RevokeToken(ctx context.Context, id string, opts *WriteOptions) (*api.RevokeResult, Meta, error) {
	var out api.RevokeResult
	meta, err := a.c.do(ctx, &request{method: http.MethodDelete, path: "/v1/tokens/" + url.PathEscape(id), write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Bind creates a role binding (POST /v1/bindings).
func (a *Auth) Bind(ctx context.Context, req api.BindRequest, opts *WriteOptions) (*api.RoleBinding, Meta, error) {
	req.Reason = reasonOr(req.Reason, opts)
	var out api.RoleBinding
	meta, err := a.c.do(ctx, &request{method: http.MethodPost, path: "/v1/bindings", body: req, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// ListBindings lists role bindings (GET /v1/bindings), all of them or, with
// namespace set, those scoped to it.
func (a *Auth) ListBindings(ctx context.Context, namespace string, opts *ReadOptions) (*api.BindingList, Meta, error) {
	var q url.Values
	if namespace != "" {
		q = url.Values{"namespace": {namespace}}
	}
	var out api.BindingList
	meta, err := a.c.do(ctx, &request{method: http.MethodGet, path: "/v1/bindings", query: q, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Unbind removes a role binding (DELETE /v1/bindings/{id}).
func (a *Auth) Unbind(ctx context.Context, id string, opts *WriteOptions) (*api.WriteResult, Meta, error) {
	var out api.WriteResult
	meta, err := a.c.do(ctx, &request{method: http.MethodDelete, path: "/v1/bindings/" + url.PathEscape(id), write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}
