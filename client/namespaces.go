package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/schemakv/schemakv/api"
)

// Namespaces manages namespaces. Get one with Client.Namespaces.
type Namespaces struct{ c *Client }

// Namespaces returns the namespace endpoints.
func (c *Client) Namespaces() *Namespaces { return &Namespaces{c: c} }

// List returns every namespace (GET /v1/namespaces).
func (n *Namespaces) List(ctx context.Context, opts *ReadOptions) (*api.NamespaceList, Meta, error) {
	var out api.NamespaceList
	meta, err := n.c.do(ctx, &request{method: http.MethodGet, path: "/v1/namespaces", read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Get returns one namespace (GET /v1/namespaces/{ns}); a missing one is
// api.CodeNamespaceNotFound.
func (n *Namespaces) Get(ctx context.Context, ns string, opts *ReadOptions) (*api.Namespace, Meta, error) {
	path, err := nsPath(ns, "")
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.Namespace
	meta, err := n.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Create creates a namespace (PUT /v1/namespaces/{ns}); an existing one is
// api.CodeNamespaceExists.
func (n *Namespaces) Create(ctx context.Context, ns string, req api.CreateNamespaceRequest, opts *WriteOptions) (*api.Namespace, Meta, error) {
	path, err := nsPath(ns, "")
	if err != nil {
		return nil, Meta{}, err
	}
	req.Reason = reasonOr(req.Reason, opts)
	var out api.Namespace
	meta, err := n.c.do(ctx, &request{method: http.MethodPut, path: path, body: req, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Delete deletes a namespace (DELETE /v1/namespaces/{ns}). Without force a
// namespace that still holds configs or schemas is refused with
// api.CodeNamespaceNotEmpty; with force its contents are deleted too.
func (n *Namespaces) Delete(ctx context.Context, ns string, force bool, opts *WriteOptions) (*api.WriteResult, Meta, error) {
	path, err := nsPath(ns, "")
	if err != nil {
		return nil, Meta{}, err
	}
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	var out api.WriteResult
	meta, err := n.c.do(ctx, &request{method: http.MethodDelete, path: path, query: q, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}
