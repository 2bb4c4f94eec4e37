package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/schemakv/schemakv/api"
)

// Configs reads and writes the config entries of namespaces. Get one with
// Client.Configs.
type Configs struct{ c *Client }

// Configs returns the config endpoints.
func (c *Client) Configs() *Configs { return &Configs{c: c} }

// Get returns one entry (GET /v1/namespaces/{ns}/configs/{key}); a missing
// one is api.CodeConfigNotFound.
func (cs *Configs) Get(ctx context.Context, ns, key string, opts *ReadOptions) (*api.ConfigEntry, Meta, error) {
	path, err := keyPath(ns, "configs", key)
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.ConfigEntry
	meta, err := cs.c.do(ctx, &request{method: http.MethodGet, path: path, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Put writes an entry (PUT /v1/namespaces/{ns}/configs/{key}) and returns
// it as stored. req.Schema is "name" or "name@version" and may be empty for
// an existing key. A value that fails its schema is api.CodeValidationFailed
// with one detail per failing location; a failed opts.IfMatch is
// api.CodeRevisionMismatch.
func (cs *Configs) Put(ctx context.Context, ns, key string, req api.PutConfigRequest, opts *WriteOptions) (*api.ConfigEntry, Meta, error) {
	path, err := keyPath(ns, "configs", key)
	if err != nil {
		return nil, Meta{}, err
	}
	req.Reason = reasonOr(req.Reason, opts)
	var out api.ConfigEntry
	meta, err := cs.c.do(ctx, &request{method: http.MethodPut, path: path, body: req, write: opts, ifMatch: true}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Delete deletes an entry (DELETE /v1/namespaces/{ns}/configs/{key}),
// conditionally when opts.IfMatch is set.
func (cs *Configs) Delete(ctx context.Context, ns, key string, opts *WriteOptions) (*api.WriteResult, Meta, error) {
	path, err := keyPath(ns, "configs", key)
	if err != nil {
		return nil, Meta{}, err
	}
	var out api.WriteResult
	meta, err := cs.c.do(ctx, &request{method: http.MethodDelete, path: path, write: opts, ifMatch: true}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// ListQuery selects a page of config entries.
type ListQuery struct {
	// Prefix keeps only keys that start with it.
	Prefix string
	// After starts the page after this key; pass the previous page's Next.
	After string
	// Limit is the page size; 0 means the server's default.
	Limit int
}

// List returns one page of entries, in key order
// (GET /v1/namespaces/{ns}/configs). When the page's Next is not empty, pass
// it as q.After for the next page, or use ListAll.
func (cs *Configs) List(ctx context.Context, ns string, q ListQuery, opts *ReadOptions) (*api.ConfigList, Meta, error) {
	path, err := nsPath(ns, "/configs")
	if err != nil {
		return nil, Meta{}, err
	}
	v := url.Values{}
	if q.Prefix != "" {
		v.Set("prefix", q.Prefix)
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out api.ConfigList
	meta, err := cs.c.do(ctx, &request{method: http.MethodGet, path: path, query: v, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// ListAll returns an iterator over every page of entries matching q,
// starting at q.After and following each page's Next; q.Limit is the page
// size. Iteration stops after the last page, when the loop breaks, or after
// yielding an error (with a nil page).
//
// Each page is a separate read: a write between two pages may be missed or
// seen, so the pages together are not one snapshot. Each page's Revision says
// which state it reflects.
//
//	for page, err := range c.Configs().ListAll(ctx, "payments", client.ListQuery{Prefix: "checkout/"}, nil) {
//		if err != nil {
//			return err
//		}
//		for _, e := range page.Items { ... }
//	}
func (cs *Configs) ListAll(ctx context.Context, ns string, q ListQuery, opts *ReadOptions) iter.Seq2[*api.ConfigList, error] {
	return func(yield func(*api.ConfigList, error) bool) {
		for {
			page, _, err := cs.List(ctx, ns, q, opts)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(page, nil) {
				return
			}
			// A server that repeats the cursor would loop forever; stop.
			if page.Next == "" || page.Next == q.After {
				return
			}
			q.After = page.Next
		}
	}
}

// HistoryQuery selects a page of history events.
type HistoryQuery struct {
	// Before returns only events older than this revision; pass the
	// previous page's Next. 0 means from the newest.
	Before uint64
	// Limit is the page size; 0 means the server's default.
	Limit int
}

// History returns the recorded mutations of an entry, newest first
// (GET /v1/namespaces/{ns}/history/{key}). When the answer's Next is not
// zero, pass it as q.Before for older events.
func (cs *Configs) History(ctx context.Context, ns, key string, q HistoryQuery, opts *ReadOptions) (*api.History, Meta, error) {
	path, err := keyPath(ns, "history", key)
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
	meta, err := cs.c.do(ctx, &request{method: http.MethodGet, path: path, query: v, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Diff compares an entry at two history revisions
// (GET /v1/namespaces/{ns}/diff/{key}); to == 0 means the current state.
// A revision that is not in the key's history is api.CodeRevisionNotFound.
func (cs *Configs) Diff(ctx context.Context, ns, key string, from, to uint64, opts *ReadOptions) (*api.Diff, Meta, error) {
	path, err := keyPath(ns, "diff", key)
	if err != nil {
		return nil, Meta{}, err
	}
	v := url.Values{"from": {strconv.FormatUint(from, 10)}}
	if to != 0 {
		v.Set("to", strconv.FormatUint(to, 10))
	}
	var out api.Diff
	meta, err := cs.c.do(ctx, &request{method: http.MethodGet, path: path, query: v, read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Rollback writes again the value and schema version that the entry had at
// the given history revision (POST /v1/namespaces/{ns}/rollback/{key}),
// conditionally when opts.IfMatch is set, and returns the entry as stored.
func (cs *Configs) Rollback(ctx context.Context, ns, key string, revision uint64, opts *WriteOptions) (*api.ConfigEntry, Meta, error) {
	path, err := keyPath(ns, "rollback", key)
	if err != nil {
		return nil, Meta{}, err
	}
	req := api.RollbackRequest{Revision: revision, Reason: reasonOr("", opts)}
	var out api.ConfigEntry
	meta, err := cs.c.do(ctx, &request{method: http.MethodPost, path: path, body: req, write: opts, ifMatch: true}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}
