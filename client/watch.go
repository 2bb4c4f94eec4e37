package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schemakv/schemakv/api"
)

// ErrCompacted is matched (errors.Is) by the error of a watch whose start is
// older than the history the server retains. The caller must re-read the
// current state (a list) and watch again from its revision + 1; see
// [CompactedError] and [Cache], which does this itself.
var ErrCompacted = errors.New("client: watch start is older than the retained history")

// CompactedError is the error of a watch refused with 410 Gone.
type CompactedError struct {
	// Oldest is the oldest revision a watch can start from; Current the
	// node's applied revision.
	Oldest, Current uint64
	// Err is the server's error.
	Err *api.Error
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("client: watch: history compacted (oldest revision %d, current %d)", e.Oldest, e.Current)
}

// Is makes errors.Is(err, ErrCompacted) hold.
func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }

// Unwrap returns the server's *api.Error, so IsCode(err, api.CodeCompacted)
// holds too.
func (e *CompactedError) Unwrap() error { return e.Err }

// WatchOptions selects what a watch delivers.
type WatchOptions struct {
	// Namespace is required, unless Watches is set.
	Namespace string
	// Key or Prefix narrows the watch to one config key or to the keys with
	// the prefix; with neither, the whole namespace (configs, schemas and
	// the namespace itself) is watched.
	Key, Prefix string
	// Kinds lists api.Kind* values to deliver; empty means the server's
	// default (configs only with Key or Prefix, else everything).
	Kinds []string
	// FromRevision is the first revision to deliver (inclusive): pass a
	// list's revision + 1 to follow it. 0 means changes from now on.
	FromRevision uint64
	// Progress delivers progress batches (no events) too: each says that
	// everything up to its revision has been delivered.
	Progress bool
	// ProgressInterval asks the server for progress events this often
	// while idle (0: 10s). A connection silent for three intervals is
	// considered dead and replaced.
	ProgressInterval time.Duration
	// Watches, when set, multiplexes many watches on one stream (POST
	// /v1/watch) instead of the one that Namespace, Key, Prefix and Kinds
	// describe (which must then be empty): each batch holds the union of
	// their events, and WatchBatch.Matches says which watch sees which.
	// A server takes up to 1,000 watches per stream by default.
	Watches []api.WatchSpec
}

// WatchBatch is the changes of one revision, delivered together. A progress
// batch has no events.
type WatchBatch struct {
	Revision uint64
	Events   []api.Event
	// Matches, for a multiplexed watch (WatchOptions.Watches), maps each
	// watch's ID to the indexes in Events of the events it sees.
	Matches map[string][]int
}

// Watcher delivers a watch's batches on C in revision order, each once,
// across reconnections. C is closed when the watch ends: Err then says
// why.
type Watcher struct {
	// C delivers the batches.
	C <-chan WatchBatch

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
	next   uint64
}

// Err returns why the watch ended once C is closed: the context's error
// after Close or cancellation, a *CompactedError (errors.Is ErrCompacted)
// when the resume point was compacted away, or another *api.Error the
// server answered with (a bad request).
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Next returns the revision the watch would resume from: one past the last
// revision delivered or confirmed by a progress event.
func (w *Watcher) Next() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// Close ends the watch and waits for its goroutine.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
}

// Watch starts a watch (GET /v1/watch, NDJSON). It connects before it
// returns, so a bad request or a compacted start fails here. Afterwards it
// reconnects on any failure, moving to the next of the client's addresses
// and resuming from the last revision it delivered, so the batches on C
// have neither gaps nor duplicates; it gives up only on an answer that a
// retry cannot change (4xx, 410 included).
func (c *Client) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	switch {
	case len(opts.Watches) > 0 && (opts.Namespace != "" || opts.Key != "" || opts.Prefix != "" || len(opts.Kinds) > 0):
		return nil, errors.New("client: watch: Watches excludes Namespace, Key, Prefix and Kinds")
	case len(opts.Watches) == 0 && opts.Namespace == "":
		return nil, errors.New("client: watch: Namespace is required")
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan WatchBatch, 64)
	w := &Watcher{C: ch, cancel: cancel, done: make(chan struct{}), next: opts.FromRevision}
	hc := *c.http
	hc.Timeout = 0 // a stream lasts; liveness comes from progress events
	ws := &watchSession{c: c, hc: &hc, opts: opts, w: w, ch: ch}
	body, err := ws.connect(ctx, 0)
	if err != nil {
		cancel()
		return nil, err
	}
	go ws.run(ctx, body)
	return w, nil
}

type watchSession struct {
	c    *Client
	hc   *http.Client
	opts WatchOptions
	w    *Watcher
	ch   chan WatchBatch
	addr int
}

type streamBody struct {
	resp *http.Response
	r    *bufio.Reader
}

// connect opens the stream at address i, resuming from w.next.
func (ws *watchSession) connect(ctx context.Context, i int) (*streamBody, error) {
	base := ws.c.addrs[i%len(ws.c.addrs)]
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + "/v1/watch"
	u.RawPath = ""
	q := url.Values{"namespace": {ws.opts.Namespace}, "format": {"ndjson"}, "progress": {ws.opts.ProgressInterval.String()}}
	if ws.opts.Key != "" {
		q.Set("key", ws.opts.Key)
	}
	if ws.opts.Prefix != "" {
		q.Set("prefix", ws.opts.Prefix)
	}
	if len(ws.opts.Kinds) > 0 {
		q.Set("kinds", strings.Join(ws.opts.Kinds, ","))
	}
	if next := ws.w.Next(); next > 0 {
		q.Set("from_revision", strconv.FormatUint(next, 10))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if len(ws.opts.Watches) > 0 {
		u.RawQuery = ""
		body, merr := json.Marshal(api.WatchRequest{Watches: ws.opts.Watches, FromRevision: ws.w.Next(),
			Format: "ndjson", Progress: ws.opts.ProgressInterval.String()})
		if merr != nil {
			return nil, fmt.Errorf("client: watch: %w", merr)
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	req.Header.Set("User-Agent", "schemakv-go-client")
	if ws.c.token != "" {
		req.Header.Set("Authorization", "Bearer "+ws.c.token)
	}
	resp, err := ws.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: watch %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		err := decodeError(resp)
		resp.Body.Close()
		var ae *api.Error
		if errors.As(err, &ae) && ae.Code == api.CodeCompacted {
			return nil, &CompactedError{Oldest: ae.OldestRevision, Current: ae.CurrentRevision, Err: ae}
		}
		return nil, err
	}
	// A watch "from now" is from the revision the stream started after
	// (its X-Schemakv-Index): a reconnect before the first message then
	// resumes there instead of skipping what happened in between.
	if ws.w.Next() == 0 {
		if idx, err := strconv.ParseUint(resp.Header.Get("X-Schemakv-Index"), 10, 64); err == nil {
			ws.setNext(idx + 1)
		}
	}
	return &streamBody{resp: resp, r: bufio.NewReaderSize(resp.Body, 64<<10)}, nil
}

// permanent reports whether a connect error ends the watch.
func permanent(err error) bool {
	var ae *api.Error
	if errors.As(err, &ae) {
		st := api.StatusOf(ae.Code)
		return st >= 400 && st < 500 && st != http.StatusTooManyRequests
	}
	return false
}

func (ws *watchSession) run(ctx context.Context, body *streamBody) {
	w := ws.w
	defer close(w.done)
	defer close(ws.ch)
	backoff := 50 * time.Millisecond
	for {
		if body != nil {
			failed := ws.read(ctx, body)
			body.resp.Body.Close()
			if failed {
				ws.addr++ // the node went away or went silent: try another
			} else {
				backoff = 50 * time.Millisecond
			}
		}
		if ctx.Err() != nil {
			ws.finish(ctx.Err())
			return
		}
		var err error
		body, err = ws.connect(ctx, ws.addr)
		if err == nil {
			continue
		}
		if permanent(err) {
			ws.finish(err)
			return
		}
		ws.addr++
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			ws.finish(ctx.Err())
			return
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (ws *watchSession) finish(err error) {
	ws.w.mu.Lock()
	ws.w.err = err
	ws.w.mu.Unlock()
}

// read delivers a stream's messages until it ends. It reports whether the
// stream failed (as opposed to a cut, after which the same node is fine).
func (ws *watchSession) read(ctx context.Context, body *streamBody) (failed bool) {
	idle := time.AfterFunc(3*ws.opts.ProgressInterval, func() { body.resp.Body.Close() })
	defer idle.Stop()
	for {
		line, err := body.r.ReadBytes('\n')
		if err != nil {
			return true
		}
		idle.Reset(3 * ws.opts.ProgressInterval)
		var m api.WatchMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return true
		}
		switch m.Type {
		case api.WatchEvents:
			if m.Revision < ws.w.Next() {
				continue // already delivered (cannot happen with a correct server)
			}
			if !ws.deliver(ctx, WatchBatch{Revision: m.Revision, Events: m.Events, Matches: m.Matches}) {
				return false
			}
		case api.WatchProgress:
			if m.Revision+1 < ws.w.Next() {
				continue
			}
			ws.setNext(m.Revision + 1)
			if ws.opts.Progress && !ws.deliver(ctx, WatchBatch{Revision: m.Revision}) {
				return false
			}
		case api.WatchCut:
			ws.setNext(max(ws.w.Next(), m.ResumeFrom))
			return m.Reason != "slow consumer"
		}
	}
}

func (ws *watchSession) setNext(n uint64) {
	ws.w.mu.Lock()
	ws.w.next = max(ws.w.next, n)
	ws.w.mu.Unlock()
}

func (ws *watchSession) deliver(ctx context.Context, b WatchBatch) bool {
	select {
	case ws.ch <- b:
		ws.setNext(b.Revision + 1)
		return true
	case <-ctx.Done():
		return false
	}
}

// watchAddresses returns base followed by the other addresses, parsed like
// Config.Address, without duplicates.
func watchAddresses(base *url.URL, extra []string) ([]*url.URL, error) {
	out := []*url.URL{base}
	seen := map[string]bool{base.String(): true}
	for _, a := range extra {
		if !strings.Contains(a, "://") {
			a = "http://" + a
		}
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("client: invalid address %q in Addresses", a)
		}
		u.Path = strings.TrimRight(u.Path, "/")
		if !seen[u.String()] {
			seen[u.String()] = true
			out = append(out, u)
		}
	}
	return out, nil
}
