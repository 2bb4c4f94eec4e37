package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/store"
)

// Watcher is what blocking queries and watch streams need from the state
// beyond State. *store.Store implements it; a State without it serves
// neither (503).
type Watcher interface {
	View() *store.View
	AppliedCh() <-chan struct{}
	AbandonCh() <-chan struct{}
	SubscribeAny(fs store.Filters, size int) *store.Subscription
	ScanEventsAny(from, to uint64, fs store.Filters, limit int, fn func(store.Batch) error) (uint64, error)
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
	w            Watcher
	maxPer       int
	maxPerStream int
	buffer       int
	progress     time.Duration
	defaultWait  time.Duration
	maxWait      time.Duration

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
		maxPer: l.WatchMaxPerClient, maxPerStream: l.WatchMaxPerStream, buffer: l.WatchBufferBatches, progress: l.WatchProgressInterval,
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
	if ws.maxPerStream <= 0 {
		ws.maxPerStream = 1000
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

// acquire counts n watchers of a client (a blocking query, a stream, or
// the watches of a multiplexed stream); release undoes it.
func (ws *watchState) acquire(client string, n int) (release func(), err error) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.clients[client]+n > ws.maxPer {
		return nil, apiErr(api.CodeTooManyWatchers, "client %s holds %d of at most %d blocking queries and watches; %d more refused",
			client, ws.clients[client], ws.maxPer, n)
	}
	ws.clients[client] += n
	var once sync.Once
	return func() {
		once.Do(func() {
			ws.mu.Lock()
			defer ws.mu.Unlock()
			if ws.clients[client] -= n; ws.clients[client] <= 0 {
				delete(ws.clients, client)
			}
		})
	}, nil
}

// Watchers returns the blocking queries, streams and multiplexed watches
// open on this node (what the per-client limit counts).
func (s *Server) Watchers() int {
	ws := s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	n := 0
	for _, c := range ws.clients {
		n += c
	}
	return n
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
func (n noWatcher) SubscribeAny(store.Filters, int) *store.Subscription {
	return nil
}
func (n noWatcher) ScanEventsAny(uint64, uint64, store.Filters, int, func(store.Batch) error) (uint64, error) {
	return 0, errors.New("httpapi: state does not keep events")
}
func (n noWatcher) OldestRevision() (uint64, error) { return 1, nil }

// watchRequest is a parsed GET or POST /v1/watch.
type watchRequest struct {
	filters store.Filters
	// ids names each filter's watch on a multiplexed stream (POST); nil
	// for GET, whose messages carry no Matches.
	ids      []string
	start    uint64 // first revision wanted; 0: from now
	ndjson   bool
	progress time.Duration
}

// watchFilter builds and checks the filter of one watch.
func watchFilter(ns, key, prefix string, kinds []string) (store.Filter, error) {
	if ns == "" {
		return store.Filter{}, apiErr(api.CodeBadRequest, "namespace is required")
	}
	if err := api.ValidateName(ns); err != nil {
		return store.Filter{}, err
	}
	f := store.Filter{Namespace: ns}
	switch {
	case key != "" && prefix != "":
		return f, apiErr(api.CodeBadRequest, "key and prefix exclude each other")
	case key != "":
		if err := api.ValidateKey(key); err != nil {
			return f, err
		}
		f.Key = key
		f.Kinds = []string{api.KindConfig}
	case prefix != "":
		if len(prefix) > api.MaxKeyLen {
			return f, apiErr(api.CodeBadRequest, "prefix longer than %d bytes", api.MaxKeyLen)
		}
		f.Prefix = prefix
		f.Kinds = []string{api.KindConfig}
	}
	if len(kinds) > 0 {
		f.Kinds = nil
		for _, kind := range kinds {
			switch kind {
			case api.KindConfig, api.KindSchema, api.KindNamespace:
				f.Kinds = append(f.Kinds, kind)
			default:
				return f, apiErr(api.CodeBadRequest, "kinds lists config, schema or namespace, not %q", kind)
			}
		}
	}
	return f, nil
}

// watchFormat parses the format and progress options shared by GET and
// POST.
func (s *Server) watchFormat(c *gin.Context, wr *watchRequest, format, progress string) error {
	switch format {
	case "":
		wr.ndjson = strings.Contains(c.GetHeader("Accept"), "application/x-ndjson")
	case "ndjson":
		wr.ndjson = true
	case "sse":
	default:
		return apiErr(api.CodeBadRequest, "format must be sse or ndjson")
	}
	wr.progress = s.watch.progress
	if progress != "" {
		d, err := time.ParseDuration(progress)
		if err != nil || d < 50*time.Millisecond {
			return apiErr(api.CodeBadRequest, "progress must be a duration of at least 50ms")
		}
		wr.progress = d
	}
	if id := c.GetHeader("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return apiErr(api.CodeBadRequest, "Last-Event-ID must be a revision number")
		}
		wr.start = n + 1
	}
	return nil
}

func (s *Server) parseWatch(c *gin.Context) (*watchRequest, error) {
	var kinds []string
	if k := c.Query("kinds"); k != "" {
		kinds = strings.Split(k, ",")
	}
	f, err := watchFilter(c.Query("namespace"), c.Query("key"), c.Query("prefix"), kinds)
	if err != nil {
		return nil, err
	}
	wr := &watchRequest{filters: store.Filters{f}}
	from, err := queryUint(c, "from_revision")
	if err != nil {
		return nil, err
	}
	wr.start = from
	if err := s.watchFormat(c, wr, c.Query("format"), c.Query("progress")); err != nil {
		return nil, err
	}
	return wr, nil
}

// parseWatchBody parses POST /v1/watch: an api.WatchRequest.
func (s *Server) parseWatchBody(c *gin.Context) (*watchRequest, error) {
	var req api.WatchRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		return nil, err
	}
	if !ok || len(req.Watches) == 0 {
		return nil, apiErr(api.CodeBadRequest, "the body lists at least one watch")
	}
	if max := s.watch.maxPerStream; len(req.Watches) > max {
		return nil, apiErr(api.CodeBadRequest, "%d watches in one stream; at most %d", len(req.Watches), max)
	}
	wr := &watchRequest{start: req.FromRevision}
	seen := make(map[string]bool, len(req.Watches))
	for i, w := range req.Watches {
		if w.ID == "" || len(w.ID) > 64 {
			return nil, apiErr(api.CodeBadRequest, "watches[%d]: id must be 1 to 64 bytes", i)
		}
		if seen[w.ID] {
			return nil, apiErr(api.CodeBadRequest, "watches[%d]: id %q is used twice", i, w.ID)
		}
		seen[w.ID] = true
		f, err := watchFilter(w.Namespace, w.Key, w.Prefix, w.Kinds)
		if err != nil {
			return nil, fmt.Errorf("watches[%d] (%s): %w", i, w.ID, err)
		}
		wr.filters = append(wr.filters, f)
		wr.ids = append(wr.ids, w.ID)
	}
	if err := s.watchFormat(c, wr, req.Format, req.Progress); err != nil {
		return nil, err
	}
	return wr, nil
}

// namespaces returns the namespaces the request watches, each once.
func (wr *watchRequest) namespaces() []string {
	var out []string
	for _, f := range wr.filters {
		if !slices.Contains(out, f.Namespace) {
			out = append(out, f.Namespace)
		}
	}
	return out
}

// eventsMessage is the events message of one batch; on a multiplexed
// stream it says which watch sees which event.
func (wr *watchRequest) eventsMessage(b store.Batch) api.WatchMessage {
	m := api.WatchMessage{Type: api.WatchEvents, Revision: b.Revision, Events: b.Events}
	if wr.ids == nil {
		return m
	}
	m.Matches = map[string][]int{}
	for i, f := range wr.filters {
		for j := range b.Events {
			if f.Match(&b.Events[j]) {
				m.Matches[wr.ids[i]] = append(m.Matches[wr.ids[i]], j)
			}
		}
	}
	return m
}

// watchStream serves GET /v1/watch: one watch given by query parameters.
func (s *Server) watchStream(c *gin.Context) {
	wr, err := s.parseWatch(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.serveWatch(c, wr)
}

// watchStreamMulti serves POST /v1/watch: many watches on one stream.
func (s *Server) watchStreamMulti(c *gin.Context) {
	wr, err := s.parseWatchBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.serveWatch(c, wr)
}

// serveWatch serves a watch stream: the history from the start revision,
// then live changes, as Server-Sent Events or NDJSON. See api.WatchMessage
// for the contract.
//
// The subscription is registered before the history is read: it delivers
// the batches after its Start, and the replay covers start..Start, so the
// switch-over has neither gap nor duplicate. Each message is written with
// its own write deadline, and a reader slower than the subscription's
// buffer is cut with a resume point.
func (s *Server) serveWatch(c *gin.Context, wr *watchRequest) {
	// Every watched namespace needs the viewer role (a multiplexed stream
	// names them in its body): one forbidden watch refuses the stream.
	for _, ns := range wr.namespaces() {
		if !s.authorizeNamespace(c, auth.ActionRead, ns) {
			return
		}
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
	release, err := s.watch.acquire(c.ClientIP(), len(wr.filters))
	if err != nil {
		s.fail(c, err)
		return
	}
	defer release()
	sub := w.SubscribeAny(wr.filters, s.watch.buffer)
	defer sub.Close()
	fromNow := wr.start == 0
	if fromNow {
		// "From now" starts after everything this node has applied — what
		// a read now would see, as in etcd — not after what the event
		// dispatcher has offered so far, which can lag a write behind: a
		// client that writes and then watches must not be sent its own
		// write. The batches in between are skipped below.
		wr.start = max(w.View().Revision(), sub.Start) + 1
	}
	if !fromNow {
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
	c.Header(HeaderIndex, strconv.FormatUint(max(sub.Start, wr.start-1), 10))
	c.Status(http.StatusOK)

	// pos: every matching event up to pos has been sent.
	pos := sub.Start
	if wr.start > 0 {
		pos = wr.start - 1
		for from := wr.start; from <= sub.Start; {
			next, err := w.ScanEventsAny(from, sub.Start, wr.filters, replayPage, func(b store.Batch) error {
				pos = b.Revision
				return out.send(wr.eventsMessage(b))
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
	recheck := s.streamAuth(c, wr.namespaces())
	for {
		select {
		case b, ok := <-sub.C:
			if recheck(false) != nil {
				_ = out.send(api.WatchMessage{Type: api.WatchCut, ResumeFrom: pos + 1, Reason: "credentials revoked or expired, or access removed"})
				return
			}
			if !ok {
				cut, why := sub.Cut()
				_ = out.send(api.WatchMessage{Type: api.WatchCut, ResumeFrom: max(cut, pos+1), Reason: why})
				return
			}
			if b.Revision < wr.start {
				continue
			}
			var msg []byte
			if wr.ids == nil {
				msg, err = s.watch.encoded(wr.eventsMessage(b), wr.ndjson)
			} else {
				msg, err = encodeMessage(wr.eventsMessage(b), wr.ndjson)
			}
			if err != nil || out.write(msg) != nil {
				return
			}
			pos = b.Revision
		case <-ticker.C:
			if recheck(true) != nil {
				_ = out.send(api.WatchMessage{Type: api.WatchCut, ResumeFrom: pos + 1, Reason: "credentials revoked or expired, or access removed"})
				return
			}
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
