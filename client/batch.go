package client

import (
	"context"
	"net/http"

	"github.com/schemakv/schemakv/api"
)

// Batch commits every operation of req at one revision, or none of them
// (POST /v1/batch). When any operation fails the error is an *api.Error with
// code api.CodeBatchFailed whose Items name each failing operation by index.
// Compare-and-set conditions go in each operation's Revision; opts.IfMatch
// is not accepted.
func (c *Client) Batch(ctx context.Context, req api.BatchRequest, opts *WriteOptions) (*api.BatchResult, Meta, error) {
	req.Reason = reasonOr(req.Reason, opts)
	var out api.BatchResult
	meta, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/batch", body: req, write: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}
