package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/schemakv/schemakv/api"
)

// Cluster returns the cluster's members, roles, leader and indexes as seen
// by the node the client talks to.
func (c *Client) Cluster(ctx context.Context) (*api.ClusterStatus, Meta, error) {
	var out api.ClusterStatus
	meta, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/cluster"}, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// RemoveMember removes a server from the cluster's raft configuration at
// once (the leader does it; any node forwards).
func (c *Client) RemoveMember(ctx context.Context, id string) (Meta, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return Meta{}, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("invalid member id %q", id)}
	}
	return c.do(ctx, &request{method: http.MethodDelete, path: "/v1/cluster/members/" + url.PathEscape(id)}, nil)
}

// SnapshotSave writes a consistent copy of the whole state to w (a backup).
// With opts.Stale the node answers from its own state without a leader (for
// recovering from a lost quorum). It is not bounded by Config.Timeout, only
// by ctx, since a state can be large.
func (c *Client) SnapshotSave(ctx context.Context, w io.Writer, opts *ReadOptions) (Meta, error) {
	base := *c.base
	if opts != nil && opts.Stale {
		base.RawQuery = "consistency=stale"
	}
	resp, err := c.raw(ctx, &base, http.MethodGet, nil)
	if err != nil {
		return Meta{}, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return Meta{}, fmt.Errorf("client: snapshot save: %w", err)
	}
	return metaOf(resp), nil
}

// SnapshotRestore replaces the whole cluster's state with a snapshot from
// SnapshotSave. Only the leader restores: when the node answers not_leader,
// the client finds the leader through /v1/cluster and sends it there.
func (c *Client) SnapshotRestore(ctx context.Context, r io.ReadSeeker) (Meta, error) {
	// The HTTP client closes a body that is an io.Closer; the file must
	// stay open for a second attempt at the leader.
	resp, err := c.raw(ctx, c.base, http.MethodPost, io.NopCloser(r))
	if IsCode(err, api.CodeNotLeader) {
		st, _, cerr := c.Cluster(ctx)
		if cerr != nil {
			return Meta{}, cerr
		}
		var leader *url.URL
		for _, m := range st.Members {
			if m.Leader && m.HTTPAddr != "" {
				u := *c.base
				u.Host = m.HTTPAddr
				leader = &u
			}
		}
		if leader == nil {
			return Meta{}, err
		}
		if _, serr := r.Seek(0, io.SeekStart); serr != nil {
			return Meta{}, fmt.Errorf("client: snapshot restore: %w", serr)
		}
		resp, err = c.raw(ctx, leader, http.MethodPost, io.NopCloser(r))
	}
	if err != nil {
		return Meta{}, err
	}
	defer resp.Body.Close()
	return metaOf(resp), nil
}

// raw sends a snapshot request to base without the client's timeout.
func (c *Client) raw(ctx context.Context, base *url.URL, method string, body io.Reader) (*http.Response, error) {
	u := *base
	u.Path = base.Path + "/v1/snapshot"
	u.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("client: snapshot: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.principal != "" {
		req.Header.Set(headerPrincipal, c.principal)
	}
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func metaOf(resp *http.Response) Meta {
	var m Meta
	if idx, err := strconv.ParseUint(resp.Header.Get(headerIndex), 10, 64); err == nil {
		m.Index = idx
	}
	return m
}
