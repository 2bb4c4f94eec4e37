package client

import (
	"context"
	"net/http"

	"github.com/schemakv/schemakv/api"
)

// Health reports whether the node at the client's address is alive
// (GET /v1/health).
func (c *Client) Health(ctx context.Context, opts *ReadOptions) (*api.Health, Meta, error) {
	var out api.Health
	meta, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/health", read: opts}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}
