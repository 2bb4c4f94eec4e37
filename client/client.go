package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/schemakv/schemakv/api"
)

// Request headers understood by the server.
const (
	headerPrincipal = "X-Schemakv-Principal"
	headerReason    = "X-Schemakv-Reason"
	headerIndex     = "X-Schemakv-Index"
)

// maxErrorBody bounds how much of an error response is read. A server error
// body is small even with every validation detail; anything larger comes from
// something else (a proxy's HTML page) and only its start is useful.
const maxErrorBody = 4 << 20

// Client talks to one schemakv server address. It is safe for concurrent use
// by multiple goroutines.
type Client struct {
	base      *url.URL
	addrs     []*url.URL // base first, then Config.Addresses (watch.go)
	token     string
	principal string
	http      *http.Client
}

// New returns a Client for cfg. It checks the address but does not contact
// the server.
func New(cfg Config) (*Client, error) {
	addr := cfg.Address
	if addr == "" && len(cfg.Addresses) > 0 {
		addr = cfg.Addresses[0]
	}
	if addr == "" {
		addr = DefaultAddress
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	base, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("client: invalid address %q: %w", cfg.Address, err)
	}
	if base.Scheme != "http" && base.Scheme != "https" {
		return nil, fmt.Errorf("client: invalid address %q: scheme must be http or https", cfg.Address)
	}
	if base.Host == "" {
		return nil, fmt.Errorf("client: invalid address %q: no host", cfg.Address)
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("client: invalid address %q: query or fragment not allowed", cfg.Address)
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""

	timeout := cfg.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = 0
	}
	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	if hc.Timeout == 0 {
		hc.Timeout = timeout
	}
	tr, err := tlsTransport(cfg, &hc)
	if err != nil {
		return nil, err
	}
	if tr != nil {
		hc.Transport = tr
	}
	addrs, err := watchAddresses(base, cfg.Addresses)
	if err != nil {
		return nil, err
	}
	return &Client{base: base, addrs: addrs, token: cfg.Token, principal: cfg.Principal, http: &hc}, nil
}

// Address returns the base URL the client sends requests to.
func (c *Client) Address() string { return c.base.String() }

// ReadOptions tunes one read. A nil *ReadOptions means the defaults.
type ReadOptions struct {
	// Stale lets the node answer from its local state at once, without
	// confirming with the leader (consistency=stale). The default is a
	// linearizable read.
	Stale bool
}

// WriteOptions tunes one write. A nil *WriteOptions means the defaults.
type WriteOptions struct {
	// Reason is recorded in the history with the change
	// (X-Schemakv-Reason). A reason in the request body, where the request
	// has one, takes precedence. A reason with control characters (a
	// newline) can travel only in a body: requests without one (deletes)
	// refuse it.
	Reason string
	// IfMatch makes the write conditional on the object's modify revision
	// (If-Match); 0 means "must not exist". Only config Put, Delete and
	// Rollback accept it; other writes fail with an error before sending.
	IfMatch *uint64
}

// Revision returns a pointer to rev, for WriteOptions.IfMatch.
func Revision(rev uint64) *uint64 { return &rev }

// Meta describes a successful response.
type Meta struct {
	// Index is the store revision the answer reflects (X-Schemakv-Index), or
	// 0 if the server did not send one.
	Index uint64
}

// IsCode reports whether err is, or wraps, an *api.Error with the given code
// (one of the api.Code* constants).
func IsCode(err error, code string) bool {
	var apiErr *api.Error
	return errors.As(err, &apiErr) && apiErr.Code == code
}

// request is one API call as the typed methods describe it.
type request struct {
	method string
	// path is the escaped path below the base URL, such as
	// "/v1/namespaces/payments".
	path  string
	query url.Values
	body  any
	read  *ReadOptions
	write *WriteOptions
	// ifMatch is set for the routes that accept a compare-and-set condition.
	ifMatch bool
	// raw, when set, is sent as the body as is, with Content-Type rawType
	// (import uploads).
	raw     io.Reader
	rawType string
}

// do sends r and decodes a 2xx body into out (unless out is nil). Any
// non-2xx answer is returned as an *api.Error.
func (c *Client) do(ctx context.Context, r *request, out any) (Meta, error) {
	if ctx == nil {
		return Meta{}, errors.New("client: nil context")
	}
	what := r.method + " " + r.path

	query := url.Values{}
	for k, v := range r.query {
		query[k] = v
	}
	if r.method == http.MethodGet {
		consistency := "linearizable"
		if r.read != nil && r.read.Stale {
			consistency = "stale"
		}
		query.Set("consistency", consistency)
	}

	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return Meta{}, fmt.Errorf("client: %s: encode request: %w", what, err)
		}
		body = bytes.NewReader(b)
	}
	if r.raw != nil {
		body = r.raw
	}

	u := *c.base
	u.RawPath = c.base.EscapedPath() + r.path
	u.Path, _ = url.PathUnescape(u.RawPath) // r.path was built with url.PathEscape
	u.RawQuery = query.Encode()

	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return Meta{}, fmt.Errorf("client: %s: %w", what, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "schemakv-go-client")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.raw != nil && r.rawType != "" {
		req.Header.Set("Content-Type", r.rawType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.principal != "" {
		req.Header.Set(headerPrincipal, c.principal)
	}
	if w := r.write; w != nil {
		switch {
		case w.Reason == "":
		case validHeaderValue(w.Reason):
			req.Header.Set(headerReason, w.Reason)
		case body == nil:
			// Only the header can carry this request's reason.
			return Meta{}, fmt.Errorf("client: %s: reason contains control characters, which an HTTP header cannot carry", what)
		}
		// Otherwise the request body carries the reason (see reasonOr).
		if w.IfMatch != nil {
			if !r.ifMatch {
				return Meta{}, fmt.Errorf("client: %s: IfMatch is not supported by this request", what)
			}
			req.Header.Set("If-Match", strconv.Quote(strconv.FormatUint(*w.IfMatch, 10)))
		}
	}

	resp, err := c.http.Do(req)
	if err != nil {
		// A *url.Error already names the method and URL.
		return Meta{}, fmt.Errorf("client: %w", err)
	}
	defer func() {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Meta{}, decodeError(resp)
	}
	meta := Meta{}
	if s := resp.Header.Get(headerIndex); s != "" {
		if idx, err := strconv.ParseUint(s, 10, 64); err == nil {
			meta.Index = idx
		}
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return Meta{}, fmt.Errorf("client: %s: decode %d response: %w", what, resp.StatusCode, err)
		}
	}
	return meta, nil
}

// decodeError turns a non-2xx response into an *api.Error. A body that is
// not the API's error shape (a proxy's page, an empty 502) becomes
// api.CodeInternal with the HTTP status in the message.
func decodeError(resp *http.Response) error {
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var eb api.ErrorBody
	if readErr == nil && json.Unmarshal(raw, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
		return eb.Error
	}
	msg := fmt.Sprintf("unexpected HTTP status %s", resp.Status)
	if snippet := strings.TrimSpace(string(raw)); snippet != "" {
		const max = 200
		if len(snippet) > max {
			snippet = snippet[:max] + "..."
		}
		msg += ": " + snippet
	} else if readErr != nil {
		msg += ": reading body: " + readErr.Error()
	}
	return &api.Error{Code: api.CodeInternal, Message: msg}
}

// Path building. Every segment is escaped with url.PathEscape; keys keep
// their slashes. Names and keys that cannot be a valid path are refused
// before sending, with the code the server would use: an empty segment or a
// "." or ".." segment could be normalised by a proxy or router into another
// key, and a delete must never reach a different key than the caller named.

func escapeName(kind, name string) (string, error) {
	if name == "" {
		return "", &api.Error{Code: api.CodeInvalidName, Message: kind + " name is empty"}
	}
	// A "/" would be decoded by the server's router into a path separator
	// and address another object.
	if name == "." || name == ".." || strings.Contains(name, "/") {
		return "", &api.Error{Code: api.CodeInvalidName, Message: fmt.Sprintf("invalid %s name %q", kind, name)}
	}
	return url.PathEscape(name), nil
}

func escapeKey(key string) (string, error) {
	if key == "" {
		return "", &api.Error{Code: api.CodeInvalidKey, Message: "config key is empty"}
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		if s == "" || s == "." || s == ".." {
			return "", &api.Error{Code: api.CodeInvalidKey, Message: fmt.Sprintf("invalid config key %q: empty, \".\" or \"..\" segment", key)}
		}
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/"), nil
}

// nsPath returns "/v1/namespaces/{ns}" followed by the given escaped
// suffix.
func nsPath(ns string, suffix string) (string, error) {
	e, err := escapeName("namespace", ns)
	if err != nil {
		return "", err
	}
	return "/v1/namespaces/" + e + suffix, nil
}

// keyPath returns "/v1/namespaces/{ns}/{route}/{key...}".
func keyPath(ns, route, key string) (string, error) {
	k, err := escapeKey(key)
	if err != nil {
		return "", err
	}
	return nsPath(ns, "/"+route+"/"+k)
}

// reasonOr returns the body's reason, or the options' reason when the body
// has none, so that servers reading either place see it.
func reasonOr(body string, w *WriteOptions) string {
	if body == "" && w != nil {
		return w.Reason
	}
	return body
}

// validHeaderValue reports whether net/http will send v as a header value:
// no control characters other than tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}
