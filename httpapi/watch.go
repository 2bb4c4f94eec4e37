package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

// Watcher is what blocking queries and watch streams need from the state
// beyond State. *store.Store implements it; a State without it serves
// neither (503).
type Watcher interface {
	View() *store.View
	AppliedCh() <-chan struct{}
	AbandonCh() <-chan struct{}
	Subscribe(f store.Filter, size int) *store.Subscription
	ScanEvents(from, to uint64, f store.Filter, limit int, fn func(store.Batch) error) (uint64, error)
	OldestRevision() (uint64, error)
}

// writeGrace bounds one write of a long response: a client that stops
// reading is dropped after it instead of holding a goroutine forever.
const writeGrace = 30 * time.Second

// replayPage bounds the events read from the history in one bbolt read
// transaction while a stream replays.
const replayPage = 1000

// watchState is the API's watch machinery: limits, counts per client and
// the shutdown signal.
type watchState struct {
	w           Watcher
	maxPer      int
	buffer      int
	progress    time.Duration
	defaultWait time.Duration
	maxWait     time.Duration

	mu      sync.Mutex
	clients map[string]int
	servers map[*http.Server]chan struct{}

	// Encodings of recent live batches, shared by the streams that send
	// the same events: one write fans out to many streams, and encoding it
	// once per stream would dominate the cost.
	encMu    sync.Mutex
	enc      map[encKey][]byte
	encOrder []encKey
}

type encKey struct {
	first  *api.Event
	n      int
	ndjson bool
}

// encodingCache bounds the shared encodings kept.
const encodingCache = 256

// encoded returns the wire form of an events message, shared between
// streams sending the same slice of events.
func (ws *watchState) encoded(m api.WatchMessage, ndjson bool) ([]byte, error) {
	if len(m.Events) == 0 {
		return encodeMessage(m, ndjson)
	}
	k := encKey{first: &m.Events[0], n: len(m.Events), ndjson: ndjson}
	ws.encMu.Lock()
	b, ok := ws.enc[k]
	ws.encMu.Unlock()
	if ok {
		return b, nil
	}
	b, err := encodeMessage(m, ndjson)
	if err != nil {
		return nil, err
	}
	ws.encMu.Lock()
	defer ws.encMu.Unlock()
	if _, ok := ws.enc[k]; !ok {
		ws.enc[k] = b
		ws.encOrder = append(ws.encOrder, k)
		if len(ws.encOrder) > encodingCache {
			delete(ws.enc, ws.encOrder[0])
			ws.encOrder = ws.encOrder[1:]
		}
	}
	return b, nil
}

func newWatchState(st State, l Limits) *watchState {
	ws := &watchState{
		maxPer: l.WatchMaxPerClient, buffer: l.WatchBufferBatches, progress: l.WatchProgressInterval,
		defaultWait: l.WatchDefaultWait, maxWait: l.WatchMaxWait,
		clients: map[string]int{}, servers: map[*http.Server]chan struct{}{}, enc: map[encKey][]byte{},
	}
	ws.w, _ = st.(Watcher)
	if ws.w == nil {
		ws.w = noWatcher{st}
	}
	if ws.maxPer <= 0 {
		ws.maxPer = 4096
	}
	if ws.buffer <= 0 {
		ws.buffer = 64
	}
	if ws.progress <= 0 {
		ws.progress = 10 * time.Second
	}
	if ws.maxWait <= 0 {
		ws.maxWait = 10 * time.Minute
	}
	if ws.defaultWait <= 0 {
		ws.defaultWait = 5 * time.Minute
	}
	ws.defaultWait = min(ws.defaultWait, ws.maxWait)
	return ws
}

// acquire counts one blocking query or stream of a client; release undoes
// it.
func (ws *watchState) acquire(client string) (release func(), err error) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.clients[client] >= ws.maxPer {
		return nil, apiErr(api.CodeTooManyWatchers, "client %s already holds %d blocking queries and watch streams", client, ws.maxPer)
	}
	ws.clients[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			ws.mu.Lock()
			defer ws.mu.Unlock()
			if ws.clients[client]--; ws.clients[client] <= 0 {
				delete(ws.clients, client)
			}
		})
	}, nil
}

// shutdownCh returns a channel closed when the http.Server serving r starts
// shutting down, so that long responses end and Shutdown does not wait for
// them. It registers with each server once.
func (ws *watchState) shutdownCh(r *http.Request) <-chan struct{} {
	hs, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if hs == nil {
		return nil
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ch, ok := ws.servers[hs]
	if !ok {
		ch = make(chan struct{})
		ws.servers[hs] = ch
		hs.RegisterOnShutdown(func() { close(ch) })
	}
	return ch
}

// noWatcher serves a State that is not a Watcher: reads do not block and
// streams fail.
type noWatcher struct{ State }

func (n noWatcher) AppliedCh() <-chan struct{} { return nil }
func (n noWatcher) AbandonCh() <-chan struct{} { return nil }
func (n noWatcher) Subscribe(store.Filter, int) *store.Subscription {
	return nil
}
func (n noWatcher) ScanEvents(uint64, uint64, store.Filter, int, func(store.Batch) error) (uint64, error) {
	return 0, errors.New("httpapi: state does not keep events")
}
func (n noWatcher) OldestRevision() (uint64, error) { return 1, nil }

// watchRequest is a parsed GET /v1/watch.
type watchRequest struct {
	filter   store.Filter
	start    uint64 // first revision wanted; 0: from now
	ndjson   bool
	progress time.Duration
}

func (s *Server) parseWatch(c *gin.Context) (*watchRequest, error) {
	ns := c.Query("namespace")
	if ns == "" {
		return nil, apiErr(api.CodeBadRequest, "namespace is required")
	}
	if err := api.ValidateName(ns); err != nil {
		return nil, err
	}
	wr := &watchRequest{filter: store.Filter{Namespace: ns}, progress: s.watch.progress}
	key, prefix := c.Query("key"), c.Query("prefix")
	switch {
	case key != "" && prefix != "":
		return nil, apiErr(api.CodeBadRequest, "key and prefix exclude each other")
	case key != "":
		if err := api.ValidateKey(key); err != nil {
			return nil, err
		}
		wr.filter.Key = key
		wr.filter.Kinds = []string{api.KindConfig}
	case prefix != "":
		wr.filter.Prefix = prefix
		wr.filter.Kinds = []string{api.KindConfig}
	}
	if k := c.Query("kinds"); k != "" {
		wr.filter.Kinds = nil
		for _, kind := range strings.Split(k, ",") {
			switch kind {
			case api.KindConfig, api.KindSchema, api.KindNamespace:
				wr.filter.Kinds = append(wr.filter.Kinds, kind)
			default:
				return nil, apiErr(api.CodeBadRequest, "kinds lists config, schema or namespace, not %q", kind)
			}
		}
	}
	from, err := queryUint(c, "from_revision")
	if err != nil {
		return nil, err
	}
	wr.start = from
	if id := c.GetHeader("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return nil, apiErr(api.CodeBadRequest, "Last-Event-ID must be a revision number")
		}
		wr.start = n + 1
	}
	switch c.Query("format") {
	case "":
		wr.ndjson = strings.Contains(c.GetHeader("Accept"), "application/x-ndjson")
	case "ndjson":
		wr.ndjson = true
	case "sse":
	default:
		return nil, apiErr(api.CodeBadRequest, "format must be sse or ndjson")
	}
	if p := c.Query("progress"); p != "" {
		d, err := time.ParseDuration(p)
		if err != nil || d < 50*time.Millisecond {
			return nil, apiErr(api.CodeBadRequest, "progress must be a duration of at least 50ms")
		}
		wr.progress = d
	}
	return wr, nil
}

// watchStream serves GET /v1/watch: the history from the start revision,
// then live changes, as Server-Sent Events or NDJSON. See api.WatchMessage
// and docs/watch.md for the contract.
//
// The subscription is registered before the history is read: it delivers
// the batches after its Start, and the replay covers start..Start, so the
// switch-over has neither gap nor duplicate. Each message is written with
// its own write deadline, and a reader slower than the subscription's
// buffer is cut with a resume point.
func (s *Server) watchStream(c *gin.Context) {
	wr, err := s.parseWatch(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	w := s.watch.w
	if _, ok := w.(noWatcher); ok {
		s.fail(c, apiErr(api.CodeShuttingDown, "this node does not serve watches"))
		return
	}
	if c.Query("consistency") == "linearizable" {
		if err := s.cluster.ReadBarrier(c.Request.Context()); err != nil {
			s.fail(c, err)
			return
		}
	}
	release, err := s.watch.acquire(c.ClientIP())
	if err != nil {
		s.fail(c, err)
		return
	}
	defer release()
	sub := w.Subscribe(wr.filter, s.watch.buffer)
	defer sub.Close()
	if wr.start > 0 {
		oldest, err := w.OldestRevision()
		if err != nil {
			s.fail(c, err)
			return
		}
		if wr.start < oldest {
			s.fail(c, &store.CompactedError{From: wr.start, Oldest: oldest, Current: w.View().Revision()})
			return
		}
	}

	out := &streamWriter{c: c, rc: http.NewResponseController(c.Writer), ndjson: wr.ndjson}
	_ = out.rc.SetReadDeadline(time.Time{})
	if wr.ndjson {
		c.Header("Content-Type", "application/x-ndjson")
	} else {
		c.Header("Content-Type", "text/event-stream")
	}
	c.Header("Cache-Control", "no-cache")
	c.Header("X-Accel-Buffering", "no")
	c.Header(HeaderIndex, strconv.FormatUint(sub.Start, 10))
	c.Status(http.StatusOK)

	// pos: every matching event up to pos has been sent.
	pos := sub.Start
	if wr.start > 0 {
		pos = wr.start - 1
		for from := wr.start; from <= sub.Start; {
			next, err := w.ScanEvents(from, sub.Start, wr.filter, replayPage, func(b store.Batch) error {
				pos = b.Revision
				return out.send(api.WatchMessage{Type: api.WatchEvents, Revision: b.Revision, Events: b.Events})
			})
			if err != nil {
				if errors.Is(err, store.ErrCompacted) {
					_ = out.send(api.WatchMessage{Type: api.WatchCut, ResumeFrom: from, Reason: "history compacted"})
				}
				return
			}
			from = next
		}
		pos = max(pos, sub.Start)
	}
	if out.send(api.WatchMessage{Type: api.WatchProgress, Revision: pos}) != nil {
		return
	}

	ticker := time.NewTicker(wr.progress)
	defer ticker.Stop()
	ctx := c.Request.Context()
	shutdown := s.watch.shutdownCh(c.Request)
	for {
		select {
		case b, ok := <-sub.C:
			if !ok {
				cut, why := sub.Cut()
				_ = out.send(api.WatchMessage{Type: api.WatchCut, ResumeFrom: max(cut, pos+1), Reason: why})
				return
			}
			if b.Revision < wr.start {
				continue
			}
			msg, err := s.watch.encoded(api.WatchMessage{Type: api.WatchEvents, Revision: b.Revision, Events: b.Events}, wr.ndjson)
			if err != nil || out.write(msg) != nil {
				return
			}
			pos = b.Revision
		case <-ticker.C:
			// Everything dispatched before d has been offered; with the
			// buffer empty, it has been sent.
			d := sub.Dispatched()
			if len(sub.C) > 0 {
				continue
			}
			pos = max(pos, d)
			if out.send(api.WatchMessage{Type: api.WatchProgress, Revision: pos}) != nil {
				return
			}
		case <-shutdown:
			_ = out.send(api.WatchMessage{Type: api.WatchCut, ResumeFrom: pos + 1, Reason: "shutting down"})
			return
		case <-ctx.Done():
			return
		}
	}
}

// streamWriter writes watch messages as SSE or NDJSON, flushing each.
type streamWriter struct {
	c      *gin.Context
	rc     *http.ResponseController
	ndjson bool
}

// encodeMessage returns the wire form of m: one NDJSON line, or one SSE
// message whose id is the revision (for a cut, the revision before the
// resume point, so an EventSource reconnects from there).
func encodeMessage(m api.WatchMessage, ndjson bool) ([]byte, error) {
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	if ndjson {
		return data.Bytes(), nil
	}
	id := m.Revision
	if m.Type == api.WatchCut {
		id = m.ResumeFrom - 1
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "id: %d\nevent: %s\ndata: %s\n\n", id, m.Type, bytes.TrimRight(data.Bytes(), "\n"))
	return buf.Bytes(), nil
}

func (sw *streamWriter) send(m api.WatchMessage) error {
	b, err := encodeMessage(m, sw.ndjson)
	if err != nil {
		return err
	}
	return sw.write(b)
}

// write sends one encoded message under its own write deadline and flushes
// it.
func (sw *streamWriter) write(b []byte) error {
	_ = sw.rc.SetWriteDeadline(time.Now().Add(writeGrace))
	if _, err := sw.c.Writer.Write(b); err != nil {
		return err
	}
	return sw.rc.Flush()
}
