package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/schemakv/schemakv/api"
)

// Imports is the bulk import API (/v1/imports).
type Imports struct{ c *Client }

// Imports returns the bulk import API. Uploads can take long: give the
// client a Config.Timeout that covers them (a negative one means none).
func (c *Client) Imports() *Imports { return &Imports{c: c} }

// ImportOptions describe a new import job.
type ImportOptions struct {
	// Mode is api.ImportAtomic (the default) or api.ImportBestEffort.
	Mode string
	// DryRun only validates and reports.
	DryRun bool
	// Reason is recorded in the history of every imported entry.
	Reason string
	// Format is api.ImportNDJSON, api.ImportJSONArray, api.ImportTar (a tar
	// of the GitOps layout) or api.ImportTarGzip (the same, gzip-compressed;
	// it cannot resume); "" lets the server tell from the first bytes (a
	// tar by its header, not a tar.gz).
	Format string
	// Size is the upload's size in bytes when known (for the ETA).
	Size int64
}

func (o ImportOptions) query() url.Values {
	q := url.Values{}
	if o.Mode != "" {
		q.Set("mode", o.Mode)
	}
	if o.DryRun {
		q.Set("dry_run", "true")
	}
	if o.Reason != "" {
		q.Set("reason", o.Reason)
	}
	if o.Format != "" {
		q.Set("format", o.Format)
	}
	if o.Size > 0 {
		q.Set("size", strconv.FormatInt(o.Size, 10))
	}
	return q
}

// Create creates an empty job (POST /v1/imports); send its data with Upload.
func (im *Imports) Create(ctx context.Context, opts ImportOptions) (*api.ImportJob, error) {
	var out api.ImportJob
	_, err := im.c.do(ctx, &request{method: http.MethodPost, path: "/v1/imports", query: opts.query()}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Start creates a job and uploads all of data in one request. It returns
// when the upload is received; the job goes on in the background (see Wait).
func (im *Imports) Start(ctx context.Context, data io.Reader, opts ImportOptions) (*api.ImportJob, error) {
	var out api.ImportJob
	_, err := im.c.do(ctx, &request{method: http.MethodPost, path: "/v1/imports", query: opts.query(),
		raw: data, rawType: "application/octet-stream"}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Upload sends data that starts at offset of the job's upload (PUT
// /v1/imports/{id}/data). offset must be the job's acknowledged Offset (0 at
// first); after a broken upload, Get the job and resume from its Offset.
// final ends the upload: the job then finishes in the background.
func (im *Imports) Upload(ctx context.Context, id string, offset int64, data io.Reader, final bool) (*api.ImportJob, error) {
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}}
	if final {
		q.Set("final", "true")
	}
	var out api.ImportJob
	_, err := im.c.do(ctx, &request{method: http.MethodPut, path: "/v1/imports/" + url.PathEscape(id) + "/data",
		query: q, raw: data, rawType: "application/octet-stream"}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns a job (GET /v1/imports/{id}).
func (im *Imports) Get(ctx context.Context, id string) (*api.ImportJob, error) {
	var out api.ImportJob
	if _, err := im.c.do(ctx, &request{method: http.MethodGet, path: "/v1/imports/" + url.PathEscape(id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List returns every job the cluster keeps (GET /v1/imports).
func (im *Imports) List(ctx context.Context) (*api.ImportList, error) {
	var out api.ImportList
	if _, err := im.c.do(ctx, &request{method: http.MethodGet, path: "/v1/imports"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Cancel cancels a running job (DELETE /v1/imports/{id}).
func (im *Imports) Cancel(ctx context.Context, id string) (*api.ImportJob, error) {
	var out api.ImportJob
	if _, err := im.c.do(ctx, &request{method: http.MethodDelete, path: "/v1/imports/" + url.PathEscape(id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Wait polls a job every interval (200ms when 0) until it ends, calling
// progress (when not nil) with every state it reads.
func (im *Imports) Wait(ctx context.Context, id string, interval time.Duration, progress func(*api.ImportJob)) (*api.ImportJob, error) {
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		j, err := im.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(j)
		}
		if j.Final() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
