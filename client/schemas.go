package client

import (
	"context"
	"net/http"
	"strconv"

	"github.com/schemakv/schemakv/api"
)

// Schemas manages the versioned schemas of namespaces. Get one with
// Client.Schemas.
type Schemas struct{ c *Client }

// Schemas returns the schema endpoints.
func (c *Client) Schemas() *Schemas { return &Schemas{c: c} }

// List returns the schema names of a namespace with their versions
// (GET /v1/namespaces/{ns}/schemas).
func (s *Schemas) List(ctx context.Context, ns string, opts *ReadOptions) (*api.SchemaList, Meta, error) {
	path, err := nsPath(ns, "/schemas")
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.SchemaList
	meta, err := s.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Register stores req.Schema as the next version of the named schema
// (POST /v1/namespaces/{ns}/schemas/{name}) and returns that version. An
// invalid schema is api.CodeInvalidSchema; under the strict evolution policy
// a version that existing configs would fail is api.CodeValidationFailed.
func (s *Schemas) Register(ctx context.Context, ns, name string, req api.RegisterSchemaRequest, opts *WriteOptions) (*api.SchemaVersion, Meta, error) {
	path, err := schemaPath(ns, name, "")
	if err != nil {
		return nil, Meta{}, err
	}
	req.Reason = reasonOr(req.Reason, opts)
	var out api.SchemaVersion
	meta, err := s.c.do(ctx, &request{method: http.MethodPost, path: path, body: req, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Latest returns the newest version of the named schema
// (GET /v1/namespaces/{ns}/schemas/{name}).
func (s *Schemas) Latest(ctx context.Context, ns, name string, opts *ReadOptions) (*api.SchemaVersion, Meta, error) {
	path, err := schemaPath(ns, name, "")
	if err != nil {
		return nil, Meta{}, err
	}
	return s.get(ctx, path, opts)
}

// Get returns one version of the named schema
// (GET /v1/namespaces/{ns}/schemas/{name}/versions/{version}).
func (s *Schemas) Get(ctx context.Context, ns, name string, version int, opts *ReadOptions) (*api.SchemaVersion, Meta, error) {
	path, err := schemaPath(ns, name, "/versions/"+strconv.Itoa(version))
	if err != nil {
		return nil, Meta{}, err
	}
	return s.get(ctx, path, opts)
}

func (s *Schemas) get(ctx context.Context, path string, opts *ReadOptions) (*api.SchemaVersion, Meta, error) {
	var out api.SchemaVersion
	meta, err := s.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Versions returns every version of the named schema
// (GET /v1/namespaces/{ns}/schemas/{name}/versions).
func (s *Schemas) Versions(ctx context.Context, ns, name string, opts *ReadOptions) (*api.SchemaVersionList, Meta, error) {
	path, err := schemaPath(ns, name, "/versions")
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.SchemaVersionList
	meta, err := s.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

func schemaPath(ns, name, suffix string) (string, error) {
	n, err := escapeName("schema", name)
	if err != nil {
		return "", err
	}
	return nsPath(ns, "/schemas/"+n+suffix)
}
