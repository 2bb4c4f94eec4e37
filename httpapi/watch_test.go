package httpapi_test

// Tests of blocking queries and watch streams (GET /v1/watch) against real
// single nodes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/httpapi"
	"github.com/schemakv/schemakv/node"
	"github.com/schemakv/schemakv/store"
)

// startWatchNode starts a node with limits and returns it.
func startWatchNode(t *testing.T, limits httpapi.Limits) *node.Node {
	t.Helper()
	lw := &testLogWriter{t: t}
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Limits = limits
	cfg.Auth.Dev = true // authentication is beside the point here; auth_test.go covers it
	cfg.Logger = slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Cluster.RaftLogLevel = "error"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("node.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("node.Close: %v", err)
		}
		lw.stop()
	})
	return n
}

// stream is an open watch stream.
type stream struct {
	resp   *http.Response
	r      *bufio.Reader
	ndjson bool
	lastID string
}

// openStream opens GET /v1/watch?query; it fails the test unless the
// answer is 200.
func openStream(t *testing.T, client *http.Client, base, query string, header map[string]string) *stream {
	t.Helper()
	s, status, body := tryStream(client, base, query, header)
	if status != http.StatusOK {
		t.Fatalf("watch %s: status %d: %s", query, status, body)
	}
	t.Cleanup(func() { s.resp.Body.Close() })
	return s
}

func tryStream(client *http.Client, base, query string, header map[string]string) (*stream, int, string) {
	if client == nil {
		client = http.DefaultClient
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/watch?"+query, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, b.String()
	}
	ct := resp.Header.Get("Content-Type")
	return &stream{resp: resp, r: bufio.NewReader(resp.Body), ndjson: ct == "application/x-ndjson"}, resp.StatusCode, ""
}

// next reads one message.
func (s *stream) next() (api.WatchMessage, error) {
	var m api.WatchMessage
	if s.ndjson {
		line, err := s.r.ReadBytes('\n')
		if err != nil {
			return m, err
		}
		return m, json.Unmarshal(line, &m)
	}
	var event, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return m, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if data == "" {
				continue
			}
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				return m, err
			}
			if m.Type != event {
				return m, fmt.Errorf("SSE event %q carries type %q", event, m.Type)
			}
			return m, nil
		case strings.HasPrefix(line, "id: "):
			s.lastID = line[4:]
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
}

// mustNext reads one message within 10s.
func (s *stream) mustNext(t *testing.T) api.WatchMessage {
	t.Helper()
	type res struct {
		m   api.WatchMessage
		err error
	}
	ch := make(chan res, 1)
	go func() { m, err := s.next(); ch <- res{m, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("read stream: %v", r.err)
		}
		return r.m
	case <-time.After(10 * time.Second):
		t.Fatal("no stream message within 10s")
	}
	return api.WatchMessage{}
}

// eventsUntil reads messages until one at revision >= until, returning the
// event messages.
func (s *stream) eventsUntil(t *testing.T, until uint64) []api.WatchMessage {
	t.Helper()
	var out []api.WatchMessage
	for {
		m := s.mustNext(t)
		switch m.Type {
		case api.WatchEvents:
			out = append(out, m)
		case api.WatchCut:
			t.Fatalf("stream cut: %+v", m)
		}
		if m.Revision >= until {
			return out
		}
	}
}

func putRev(t *testing.T, base, ns, key, value string) uint64 {
	t.Helper()
	return mustPutConfig(t, base, ns, key, "svc", value, nil).ModifyRevision
}

// TestWatch_OrderedBatchedExactlyOnceAcrossResume covers SSE and NDJSON:
// every change in revision order, once, a batch's events in one message,
// and a resume by Last-Event-ID or from_revision with nothing missed or
// repeated.
func TestWatch_OrderedBatchedExactlyOnceAcrossResume(t *testing.T) {
	t.Parallel()
	n := startWatchNode(t, httpapi.DefaultLimits())
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "w")
	mustCreateNamespace(t, base, "other")
	sv := mustRegisterSchema(t, base, "w", "svc", openSchema)
	mustRegisterSchema(t, base, "other", "svc", openSchema)

	var want []uint64
	for i := range 5 {
		want = append(want, putRev(t, base, "w", "a/"+strconv.Itoa(i), `{"n":1}`))
		putRev(t, base, "other", "a/x", `{"n":1}`) // never seen
	}
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/batch", api.BatchRequest{Ops: []api.BatchOp{
		{Op: "put", Namespace: "w", Key: "a/b1", Schema: "svc", Value: json.RawMessage(`{"n":2}`)},
		{Op: "put", Namespace: "w", Key: "a/b2", Schema: "svc", Value: json.RawMessage(`{"n":2}`)},
		{Op: "put", Namespace: "other", Key: "x", Schema: "svc", Value: json.RawMessage(`{"n":2}`)},
		{Op: "delete", Namespace: "w", Key: "a/0"},
	}}, nil)
	wantStatus(t, "batch", st, body, http.StatusOK)
	batchRev := decodeAs[api.BatchResult](t, body).Revision
	want = append(want, batchRev)

	for _, format := range []string{"format=sse", "format=ndjson"} {
		s := openStream(t, nil, base, "namespace=w&prefix=a/&from_revision="+strconv.FormatUint(sv.CreateRevision, 10)+"&"+format, nil)
		msgs := s.eventsUntil(t, batchRev)
		var got []uint64
		for _, m := range msgs {
			got = append(got, m.Revision)
			for _, ev := range m.Events {
				if ev.Revision != m.Revision || ev.Namespace != "w" || !strings.HasPrefix(ev.Key, "a/") {
					t.Fatalf("%s: event %+v in message at %d", format, ev, m.Revision)
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: revisions %v, want %v", format, got, want)
		}
		last := msgs[len(msgs)-1]
		if len(last.Events) != 3 || last.Events[0].Key != "a/b1" || last.Events[1].Key != "a/b2" ||
			last.Events[2].Op != api.OpDelete || last.Events[2].PrevRevision != want[0] {
			t.Fatalf("%s: batch message %+v, want a/b1, a/b2 and the delete of a/0 together", format, last)
		}
		if ev := msgs[0].Events[0]; ev.Op != api.OpPut || string(ev.Value) != `{"n":1}` || ev.Schema != "svc" ||
			ev.SchemaVersion != 1 || ev.Principal != "anonymous" || ev.Time.IsZero() || ev.Kind != api.KindConfig {
			t.Fatalf("%s: first event %+v lacks what changed", format, ev)
		}
		if format == "format=sse" && s.lastID != strconv.FormatUint(batchRev, 10) {
			t.Fatalf("SSE id %q, want %d", s.lastID, batchRev)
		}
	}

	// Resume after the third change: the rest, then live changes, once.
	resumeAfter := want[2]
	s := openStream(t, nil, base, "namespace=w&prefix=a/", map[string]string{"Last-Event-ID": strconv.FormatUint(resumeAfter, 10)})
	live := putRev(t, base, "w", "a/live", `{"n":3}`)
	var got []uint64
	for _, m := range s.eventsUntil(t, live) {
		got = append(got, m.Revision)
	}
	if w := append(append([]uint64{}, want[3:]...), live); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Fatalf("resumed after %d: %v, want %v", resumeAfter, got, w)
	}
}

func TestWatch_KeyKindsAndNamespaceEvents(t *testing.T) {
	t.Parallel()
	n := startWatchNode(t, httpapi.DefaultLimits())
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "k")
	all := openStream(t, nil, base, "namespace=k&format=ndjson", nil)
	key := openStream(t, nil, base, "namespace=k&key=one", nil)
	schemas := openStream(t, nil, base, "namespace=k&kinds=schema", nil)
	for _, s := range []*stream{all, key, schemas} {
		if m := s.mustNext(t); m.Type != api.WatchProgress {
			t.Fatalf("first message %+v, want progress", m)
		}
	}
	sv := mustRegisterSchema(t, base, "k", "svc", openSchema)
	putRev(t, base, "k", "two", `{}`)
	r1 := putRev(t, base, "k", "one", `{}`)
	if m := key.eventsUntil(t, r1); len(m) != 1 || m[0].Events[0].Key != "one" {
		t.Fatalf("key stream %+v, want only one", m)
	}
	if m := schemas.eventsUntil(t, sv.CreateRevision); len(m) != 1 || m[0].Events[0].Kind != api.KindSchema {
		t.Fatalf("schema stream %+v", m)
	}
	if m := all.eventsUntil(t, r1); len(m) != 3 {
		t.Fatalf("namespace stream %+v, want 3 messages", m)
	}
	st, _, body := doJSON(t, http.MethodDelete, base+"/v1/namespaces/k?force=true", nil, nil)
	wantStatus(t, "delete namespace", st, body, http.StatusOK)
	del := decodeAs[api.WriteResult](t, body).Revision
	m := all.eventsUntil(t, del)
	if len(m) != 1 || len(m[0].Events) != 3 || m[0].Events[2].Kind != api.KindNamespace || m[0].Events[2].Op != api.OpDelete {
		t.Fatalf("namespace delete %+v, want two config deletes and the namespace delete together", m)
	}
	for _, q := range []string{"", "namespace=BAD", "namespace=k&key=a&prefix=b", "namespace=k&kinds=x",
		"namespace=k&from_revision=x", "namespace=k&format=xml", "namespace=k&progress=1ms"} {
		if _, st, body := tryStream(nil, base, q, nil); st != http.StatusBadRequest && st != 400 {
			t.Fatalf("watch?%s: %d %s, want 400", q, st, body)
		}
	}
}

func TestWatch_ProgressWhileIdle(t *testing.T) {
	t.Parallel()
	n := startWatchNode(t, httpapi.DefaultLimits())
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "p")
	mustCreateNamespace(t, base, "q")
	s := openStream(t, nil, base, "namespace=p&progress=100ms", nil)
	first := s.mustNext(t)
	if first.Type != api.WatchProgress || first.Revision != n.Store().Applied() {
		t.Fatalf("first message %+v, want progress at %d", first, n.Store().Applied())
	}
	mustRegisterSchema(t, base, "q", "svc", openSchema)
	unrelated := n.Store().Applied()
	start := time.Now()
	for {
		m := s.mustNext(t)
		if m.Type != api.WatchProgress {
			t.Fatalf("idle stream sent %+v", m)
		}
		if m.Revision >= unrelated {
			break // bookmarks advance past changes the filter skips
		}
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("progress took %v", time.Since(start))
	}
}

func TestWatch_CompactedStartIs410(t *testing.T) {
	t.Parallel()
	n := startWatchNode(t, httpapi.DefaultLimits())
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "c")
	mustRegisterSchema(t, base, "c", "svc", openSchema)
	first := putRev(t, base, "c", "k", `{"n":1}`)
	for i := 2; i <= 4; i++ {
		putRev(t, base, "c", "k", fmt.Sprintf(`{"n":%d}`, i))
	}
	res, err := n.Store().CompactWith(store.RetentionConfig{Default: store.Retention{MinVersions: 1, MinAge: time.Nanosecond}}, time.Now().Add(time.Second))
	if err != nil || res.Deleted == 0 {
		t.Fatalf("compact: %+v %v", res, err)
	}
	cur := n.Store().Applied()
	_, st, body := tryStream(nil, base, "namespace=c&from_revision="+strconv.FormatUint(first, 10), nil)
	if st != http.StatusGone {
		t.Fatalf("watch from compacted %d: %d %s, want 410", first, st, body)
	}
	var eb struct{ Error api.Error }
	if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error.Code != api.CodeCompacted ||
		eb.Error.OldestRevision != res.Oldest || eb.Error.CurrentRevision != cur {
		t.Fatalf("410 body %s, want compacted with oldest %d current %d", body, res.Oldest, cur)
	}
	s := openStream(t, nil, base, "namespace=c&from_revision="+strconv.FormatUint(res.Oldest, 10), nil)
	if m := s.mustNext(t); m.Type != api.WatchEvents || m.Revision != res.Oldest {
		t.Fatalf("watch from oldest: %+v", m)
	}
}

func TestWatch_TooManyWatchersIs429(t *testing.T) {
	t.Parallel()
	l := httpapi.DefaultLimits()
	l.WatchMaxPerClient = 2
	n := startWatchNode(t, l)
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "l")
	openStream(t, nil, base, "namespace=l", nil).mustNext(t)
	idx := strconv.FormatUint(n.Store().Applied(), 10)
	done := make(chan int, 1)
	go func() {
		st, _, _ := doJSONNoFatal(http.MethodGet, base+"/v1/namespaces/l?wait=20s&index="+idx, nil, nil)
		done <- st
	}()
	time.Sleep(300 * time.Millisecond) // let it block
	if _, st, body := tryStream(nil, base, "namespace=l", nil); st != http.StatusTooManyRequests {
		t.Fatalf("third watcher (a stream): %d %s, want 429", st, body)
	}
	st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/l?wait=1s&index="+idx, nil, nil)
	wantStatus(t, "third watcher", st, body, http.StatusTooManyRequests)
	if code := errorCode(body); code != api.CodeTooManyWatchers {
		t.Fatalf("code %q", code)
	}
	// A read that does not block is not a watcher.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/l", nil, nil)
	wantStatus(t, "plain read", st, body, http.StatusOK)
	mustRegisterSchema(t, base, "l", "svc", openSchema)
	if st := <-done; st != http.StatusOK {
		t.Fatalf("blocking query: %d", st)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWatch_SlowConsumerIsCutAndResumes reads nothing from a stream with a
// tiny socket buffer while large batches commit: the server cuts it with a
// resume point instead of buffering without bound, and a resume from there
// delivers the rest exactly once.
func TestWatch_SlowConsumerIsCutAndResumes(t *testing.T) {
	t.Parallel()
	l := httpapi.DefaultLimits()
	l.WatchBufferBatches = 2
	n := startWatchNode(t, l)
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "s")
	sv := mustRegisterSchema(t, base, "s", "svc", openSchema)
	slowClient := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		},
	}).DialContext}}
	s := openStream(t, slowClient, base, "namespace=s&format=ndjson", nil)
	big := strings.Repeat("x", 60<<10)
	var revs []uint64
	start := time.Now()
	for i := range 16 {
		var ops []api.BatchOp
		for j := range 8 {
			ops = append(ops, api.BatchOp{Op: "put", Namespace: "s", Key: fmt.Sprintf("k%d", j), Schema: "svc",
				Value: json.RawMessage(fmt.Sprintf(`{"v":%q,"i":%d}`, big, i))})
		}
		st, _, body := doJSON(t, http.MethodPost, base+"/v1/batch", api.BatchRequest{Ops: ops}, nil)
		wantStatus(t, "batch", st, body, http.StatusOK)
		revs = append(revs, decodeAs[api.BatchResult](t, body).Revision)
	}
	t.Logf("16 batches of 480 KiB written in %v", time.Since(start))
	var got []uint64
	var cut api.WatchMessage
	for cut.Type == "" {
		m := s.mustNext(t)
		switch m.Type {
		case api.WatchEvents:
			got = append(got, m.Revision)
		case api.WatchCut:
			cut = m
		}
	}
	if len(got) >= len(revs) || cut.Reason != "slow consumer" {
		t.Fatalf("got %d of %d batches then %+v, want a cut for a slow consumer", len(got), len(revs), cut)
	}
	r := openStream(t, nil, base, "namespace=s&from_revision="+strconv.FormatUint(cut.ResumeFrom, 10), nil)
	for _, m := range r.eventsUntil(t, revs[len(revs)-1]) {
		got = append(got, m.Revision)
	}
	if fmt.Sprint(got) != fmt.Sprint(revs) {
		t.Fatalf("with the resume: %v, want %v (schema at %d)", got, revs, sv.CreateRevision)
	}
}

// blockingGet runs GET url and returns its status, answer index and time.
func blockingGet(url string) (status int, answer uint64, took time.Duration, err error) {
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	answer, _ = strconv.ParseUint(resp.Header.Get(httpapi.HeaderAnswerIndex), 10, 64)
	return resp.StatusCode, answer, time.Since(start), nil
}

type blockResult struct {
	status int
	answer uint64
	took   time.Duration
	err    error
}

func goBlocking(url string) <-chan blockResult {
	ch := make(chan blockResult, 1)
	go func() {
		st, a, d, err := blockingGet(url)
		ch <- blockResult{st, a, d, err}
	}()
	return ch
}

// TestBlocking_WakesOnTheAnswersChangesOnly covers one entry, a prefix list
// (deletes raise it), a namespace and the namespace list, an unrelated
// write that must not answer, and the monotonic answer index.
func TestBlocking_WakesOnTheAnswersChangesOnly(t *testing.T) {
	t.Parallel()
	n := startWatchNode(t, httpapi.DefaultLimits())
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "b")
	mustRegisterSchema(t, base, "b", "svc", openSchema)
	putRev(t, base, "b", "x/1", `{}`)
	putRev(t, base, "b", "x/2", `{}`)
	putRev(t, base, "b", "y/1", `{}`)
	idx := n.Store().Applied()
	q := "?wait=30s&index=" + strconv.FormatUint(idx, 10)

	entry := goBlocking(base + "/v1/namespaces/b/configs/x/1" + q)
	list := goBlocking(base + "/v1/namespaces/b/configs?prefix=x/&wait=30s&index=" + strconv.FormatUint(idx, 10))
	ns := goBlocking(base + "/v1/namespaces/b" + q)
	nss := goBlocking(base + "/v1/namespaces" + q)
	unrelated := goBlocking(base + "/v1/namespaces/b/configs?prefix=y/&wait=1s&index=" + strconv.FormatUint(idx, 10))
	time.Sleep(200 * time.Millisecond) // let them block; a too-early write only makes them answer at once

	st, _, body := doJSON(t, http.MethodDelete, base+"/v1/namespaces/b/configs/x/2", nil, nil)
	wantStatus(t, "delete x/2", st, body, http.StatusOK)
	delRev := decodeAs[api.WriteResult](t, body).Revision
	for name, ch := range map[string]<-chan blockResult{"list": list, "namespace": ns, "namespaces": nss} {
		r := <-ch
		if r.err != nil || r.status != http.StatusOK || r.answer != delRev || r.took > 10*time.Second {
			t.Fatalf("%s after a delete: %+v, want 200 with answer index %d", name, r, delRev)
		}
	}
	select {
	case r := <-entry:
		t.Fatalf("entry x/1 answered after a delete of x/2: %+v", r)
	default:
	}
	putRev(t, base, "b", "x/1", `{"n":2}`)
	if r := <-entry; r.status != http.StatusOK || r.answer <= delRev {
		t.Fatalf("entry: %+v", r)
	}
	if r := <-unrelated; r.status != http.StatusOK || r.took < time.Second || r.answer > idx {
		t.Fatalf("unrelated prefix: %+v, want the wait to run out (1s) with its old answer index", r)
	}

	// A deleted entry: 404 whose index is its delete, and a blocking GET on
	// it answers when it comes back.
	st, a, _, _ := blockingGet(base + "/v1/namespaces/b/configs/x/2?index=0")
	if st != http.StatusNotFound || a != delRev {
		t.Fatalf("deleted entry: %d index %d, want 404 at %d", st, a, delRev)
	}
	back := goBlocking(base + "/v1/namespaces/b/configs/x/2?wait=30s&index=" + strconv.FormatUint(delRev, 10))
	time.Sleep(100 * time.Millisecond)
	r2 := putRev(t, base, "b", "x/2", `{}`)
	if r := <-back; r.status != http.StatusOK || r.answer != r2 {
		t.Fatalf("re-created entry: %+v, want %d", r, r2)
	}

	for _, bad := range []string{"index=x", "index=-1", "index=1&wait=x", "index=1&wait=-1s", "index=1&wait=0s"} {
		st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/b/configs?"+bad, nil, nil)
		wantStatus(t, bad, st, body, http.StatusBadRequest)
	}
}

// TestBlocking_RestoreReturnsWaiters: a snapshot install wakes every waiter
// so that it re-reads.
func TestBlocking_RestoreReturnsWaiters(t *testing.T) {
	t.Parallel()
	n := startWatchNode(t, httpapi.DefaultLimits())
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "r")
	sn, err := n.Store().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	ch := goBlocking(base + "/v1/namespaces/r?wait=30s&index=" + strconv.FormatUint(n.Store().Applied(), 10))
	// The query must be waiting before the restore (one arriving after it
	// rightly waits for a change).
	for deadline := time.Now().Add(10 * time.Second); n.API().Watchers() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the blocking query did not start within 10s")
		}
	}
	time.Sleep(20 * time.Millisecond) // from counted to waiting on its channels
	if err := n.Store().Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if r := <-ch; r.status != http.StatusOK || r.took > 10*time.Second {
		t.Fatalf("after restore: %+v", r)
	}
}

// TestWatch_ThousandBlockingQueriesAndStreamsSeeAChange opens 1,000
// blocking queries and 1,000 streams on one node; one write must reach them
// all.
func TestWatch_ThousandBlockingQueriesAndStreamsSeeAChange(t *testing.T) {
	t.Parallel()
	n := startWatchNode(t, httpapi.DefaultLimits())
	base := n.HTTPURL()
	mustCreateNamespace(t, base, "m")
	mustRegisterSchema(t, base, "m", "svc", openSchema)
	putRev(t, base, "m", "k", `{}`)
	idx := strconv.FormatUint(n.Store().Applied(), 10)
	const N = 1000
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * N, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var ready sync.WaitGroup
	var streams []*stream
	var mu sync.Mutex
	for range N / 50 {
		ready.Add(1)
		go func() {
			defer ready.Done()
			for range 50 {
				s, st, body := tryStream(client, base, "namespace=m&key=k&format=ndjson", nil)
				if st != http.StatusOK {
					t.Errorf("stream: %d %s", st, body)
					return
				}
				if m, err := s.next(); err != nil || m.Type != api.WatchProgress {
					t.Errorf("first message %+v %v", m, err)
				}
				mu.Lock()
				streams = append(streams, s)
				mu.Unlock()
			}
		}()
	}
	ready.Wait()
	if t.Failed() {
		return
	}
	defer func() {
		for _, s := range streams {
			s.resp.Body.Close()
		}
	}()
	var answered atomic.Int64
	var wg sync.WaitGroup
	for range N {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(base + "/v1/namespaces/m/configs/k?wait=60s&index=" + idx)
			if err != nil {
				t.Errorf("blocking query: %v", err)
				return
			}
			_, _ = bytes.NewBuffer(nil).ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				answered.Add(1)
			}
		}()
	}
	waitFor(t, "1,000 blocking queries waiting", func() bool { return n.Store().Subscribers() == N && answered.Load() == 0 })
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	rev := putRev(t, base, "m", "k", `{"n":1}`)
	var seen atomic.Int64
	var sw sync.WaitGroup
	for _, s := range streams {
		sw.Add(1)
		go func() {
			defer sw.Done()
			for {
				m, err := s.next()
				if err != nil {
					t.Errorf("stream: %v", err)
					return
				}
				if m.Type == api.WatchEvents && m.Revision == rev {
					seen.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	sw.Wait()
	took := time.Since(start)
	if answered.Load() != N || seen.Load() != N {
		t.Fatalf("%d blocking queries and %d streams saw the change, want %d each", answered.Load(), seen.Load(), N)
	}
	if took > 20*time.Second {
		t.Fatalf("fan-out took %v", took)
	}
	t.Logf("1,000 blocking queries and 1,000 streams answered in %v", took)
}
