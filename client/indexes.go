package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/schemakv/schemakv/api"
)

// Indexes declares, reads and drops the secondary indexes of namespaces.
// Get one with Client.Indexes.
type Indexes struct{ c *Client }

// Indexes returns the index endpoints.
func (c *Client) Indexes() *Indexes { return &Indexes{c: c} }

// Create declares an index (POST /v1/namespaces/{ns}/indexes). Over
// existing entries it starts in state building and becomes ready in the
// background; poll Get for progress. Errors: api.CodeInvalidPath,
// api.CodeIndexNotScalar, api.CodeIndexExists, api.CodeTooManyIndexes.
func (ix *Indexes) Create(ctx context.Context, ns string, req api.CreateIndexRequest, opts *WriteOptions) (*api.Index, Meta, error) {
	path, err := nsPath(ns, "/indexes")
	if err != nil {
		return nil, Meta{}, err
	}
	req.Reason = reasonOr(req.Reason, opts)
	var out api.Index
	meta, err := ix.c.do(ctx, &request{method: http.MethodPost, path: path, body: req, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// List returns a namespace's indexes in name order.
func (ix *Indexes) List(ctx context.Context, ns string, opts *ReadOptions) (*api.IndexList, Meta, error) {
	path, err := nsPath(ns, "/indexes")
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.IndexList
	meta, err := ix.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Get returns one index with its state and progress; a missing one is
// api.CodeIndexNotFound.
func (ix *Indexes) Get(ctx context.Context, ns, name string, opts *ReadOptions) (*api.Index, Meta, error) {
	path, err := indexPath(ns, name)
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.Index
	meta, err := ix.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Delete drops an index and its entries.
func (ix *Indexes) Delete(ctx context.Context, ns, name string, opts *WriteOptions) (*api.WriteResult, Meta, error) {
	path, err := indexPath(ns, name)
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.WriteResult
	meta, err := ix.c.do(ctx, &request{method: http.MethodDelete, path: path, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

func indexPath(ns, name string) (string, error) {
	e, err := escapeName("index", name)
	if err != nil {
		return "", err
	}
	return nsPath(ns, "/indexes/"+e)
}

// WhereQuery is a where-query over a namespace's config entries
// (GET /v1/namespaces/{ns}/configs?where=...).
type WhereQuery struct {
	// Where holds the clauses, combined with AND, such as
	// "owner.team==payments", "limits.max_rps>=100",
	// "region=in=(eu,us)", "exists(feature_flags.beta)".
	Where []string
	// Schema keeps only entries pinned to this schema (and lets the query
	// use indexes restricted to it).
	Schema string
	// Prefix, After and Limit page as in ListQuery.
	Prefix, After string
	Limit         int
	// AllowScan lets the server scan (a bounded number of entries) when no
	// clause has a ready index.
	AllowScan bool
	// WaitIndex, when not 0, makes it a blocking query: the answer comes
	// when its revision exceeds WaitIndex (pass the previous answer's
	// Meta index), or after Wait (0: the server's default).
	WaitIndex uint64
	Wait      time.Duration
}

// Query returns one page of the entries matching q, in key order. The
// page's Plan says how it was answered ("index:NAME" or "scan"). Errors:
// api.CodeIndexRequired, api.CodeQueryTooBroad, api.CodeInvalidQuery,
// api.CodeUnknownOperator, api.CodeInvalidPath.
func (cs *Configs) Query(ctx context.Context, ns string, q WhereQuery, opts *ReadOptions) (*api.ConfigList, Meta, error) {
	path, err := nsPath(ns, "/configs")
	if err != nil {
		return nil, Meta{}, err
	}
	v := url.Values{"where": q.Where}
	for k, s := range map[string]string{"schema": q.Schema, "prefix": q.Prefix, "after": q.After} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.AllowScan {
		v.Set("allow_scan", "true")
	}
	if q.WaitIndex > 0 {
		v.Set("index", strconv.FormatUint(q.WaitIndex, 10))
		if q.Wait > 0 {
			v.Set("wait", q.Wait.String())
		}
	}
	var out api.ConfigList
	meta, err := cs.c.do(ctx, &request{method: http.MethodGet, path: path, query: v, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}
