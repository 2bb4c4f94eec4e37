package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/schemakv/schemakv/api"
)

// Schema evolution: policies, checks, deprecation, deletion, bundles and
// migrations. Every change takes dryRun: true answers the same report and
// changes nothing.

func dryRunQuery(dryRun bool) url.Values {
	if !dryRun {
		return nil
	}
	return url.Values{"dry_run": {"true"}}
}

// Check reports what registering req.Schema as the next version of name
// would do, without registering it (POST .../schemas/{name}?dry_run=true):
// the entries that would fail it and the structural changes. Under the
// strict policy a failing check is an *api.Error with code
// api.CodeEvolutionCheckFailed whose Checks hold the same report.
func (s *Schemas) Check(ctx context.Context, ns, name string, req api.RegisterSchemaRequest) (*api.SchemaChangeResult, Meta, error) {
	path, err := schemaPath(ns, name, "")
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.SchemaChangeResult
	meta, err := s.c.do(ctx, &request{method: http.MethodPost, path: path, query: dryRunQuery(true), body: req}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Status returns a schema's policy and, per version, its deprecation and
// pin count (GET .../schemas/{name}/status).
func (s *Schemas) Status(ctx context.Context, ns, name string, opts *ReadOptions) (*api.SchemaStatus, Meta, error) {
	path, err := schemaPath(ns, name, "/status")
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.SchemaStatus
	meta, err := s.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// SetPolicy sets a schema's evolution policy, api.PolicyStrict or
// api.PolicyNone (PUT .../schemas/{name}/policy).
func (s *Schemas) SetPolicy(ctx context.Context, ns, name, policy string, dryRun bool, opts *WriteOptions) (*api.SchemaStatus, Meta, error) {
	path, err := schemaPath(ns, name, "/policy")
	if err != nil {
		return nil, Meta{}, err
	}
	body := api.SetPolicyRequest{Policy: policy, Reason: reasonOr("", opts)}
	return s.status(ctx, http.MethodPut, path, dryRun, body, opts)
}

// Deprecate sets (deprecated true) or lifts the deprecation of a version
// (POST .../versions/{version}/deprecate). A deprecated version takes no
// new pins; entries already pinned to it stay readable and writable.
func (s *Schemas) Deprecate(ctx context.Context, ns, name string, version int, deprecated, dryRun bool, opts *WriteOptions) (*api.SchemaStatus, Meta, error) {
	path, err := schemaPath(ns, name, "/versions/"+strconv.Itoa(version)+"/deprecate")
	if err != nil {
		return nil, Meta{}, err
	}
	body := api.DeprecateRequest{Deprecated: &deprecated, Reason: reasonOr("", opts)}
	return s.status(ctx, http.MethodPost, path, dryRun, body, opts)
}

// DeleteVersion deletes a version that no entry pins, no other version
// references and that is not the latest (DELETE .../versions/{version}).
func (s *Schemas) DeleteVersion(ctx context.Context, ns, name string, version int, dryRun bool, opts *WriteOptions) (*api.SchemaStatus, Meta, error) {
	path, err := schemaPath(ns, name, "/versions/"+strconv.Itoa(version))
	if err != nil {
		return nil, Meta{}, err
	}
	return s.status(ctx, http.MethodDelete, path, dryRun, nil, opts)
}

func (s *Schemas) status(ctx context.Context, method, path string, dryRun bool, body any, opts *WriteOptions) (*api.SchemaStatus, Meta, error) {
	var out api.SchemaStatus
	meta, err := s.c.do(ctx, &request{method: method, path: path, query: dryRunQuery(dryRun), body: body, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// ImportBundle stores many schema versions of a namespace at one revision
// (POST /v1/namespaces/{ns}/schema-bundles), each checked like a
// registration; all are stored or none is.
func (s *Schemas) ImportBundle(ctx context.Context, ns string, req api.BundleRequest, dryRun bool, opts *WriteOptions) (*api.SchemaChangeResult, Meta, error) {
	path, err := nsPath(ns, "/schema-bundles")
	if err != nil {
		return nil, Meta{}, err
	}
	req.Reason = reasonOr(req.Reason, opts)
	var out api.SchemaChangeResult
	meta, err := s.c.do(ctx, &request{method: http.MethodPost, path: path, query: dryRunQuery(dryRun), body: req, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Migrate starts a migration of the entries of name from req.From to
// req.To (POST .../schemas/{name}/migrations); it runs in the background:
// follow it with Migration.
func (s *Schemas) Migrate(ctx context.Context, ns, name string, req api.MigrationRequest, opts *WriteOptions) (*api.Migration, Meta, error) {
	path, err := schemaPath(ns, name, "/migrations")
	if err != nil {
		return nil, Meta{}, err
	}
	req.Reason = reasonOr(req.Reason, opts)
	var out api.Migration
	meta, err := s.c.do(ctx, &request{method: http.MethodPost, path: path, body: req, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// MigrateDryRun reports what a migration would move and which entries
// would stay, changing nothing.
func (s *Schemas) MigrateDryRun(ctx context.Context, ns, name string, req api.MigrationRequest) (*api.MigrationDryRun, Meta, error) {
	path, err := schemaPath(ns, name, "/migrations")
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.MigrationDryRun
	meta, err := s.c.do(ctx, &request{method: http.MethodPost, path: path, query: dryRunQuery(true), body: req}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Migration returns the state of one migration.
func (s *Schemas) Migration(ctx context.Context, ns, name, id string, opts *ReadOptions) (*api.Migration, Meta, error) {
	e, err := escapeName("migration", id)
	if err != nil {
		return nil, Meta{}, err
	}
	path, err := schemaPath(ns, name, "/migrations/"+e)
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.Migration
	meta, err := s.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Migrations lists the migrations of a schema.
func (s *Schemas) Migrations(ctx context.Context, ns, name string, opts *ReadOptions) (*api.MigrationList, Meta, error) {
	path, err := schemaPath(ns, name, "/migrations")
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.MigrationList
	meta, err := s.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// ResumeMigration starts a driver for a running migration on the node the
// request reaches (POST .../migrations/{id}/resume).
func (s *Schemas) ResumeMigration(ctx context.Context, ns, name, id string) (*api.Migration, Meta, error) {
	e, err := escapeName("migration", id)
	if err != nil {
		return nil, Meta{}, err
	}
	path, err := schemaPath(ns, name, "/migrations/"+e+"/resume")
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.Migration
	meta, err := s.c.do(ctx, &request{method: http.MethodPost, path: path}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// History returns the recorded changes of a schema name, newest first
// (GET .../schemas/{name}/history): versions created and deleted, policy and
// deprecation changes, migrations started and finished.
func (s *Schemas) History(ctx context.Context, ns, name string, q HistoryQuery, opts *ReadOptions) (*api.History, Meta, error) {
	path, err := schemaPath(ns, name, "/history")
	if err != nil {
		return nil, Meta{}, err
	}
	v := url.Values{}
	if q.Before != 0 {
		v.Set("before", strconv.FormatUint(q.Before, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out api.History
	meta, err := s.c.do(ctx, &request{method: http.MethodGet, path: path, query: v, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}
