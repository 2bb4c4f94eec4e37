package target

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/schemakv/schemakv/api"
)

// WatchesPerStream is how many of the benchmark's watchers the schemakv
// target multiplexes on one stream (POST /v1/watch), as etcd's client
// multiplexes the watches of one client on one gRPC stream. 1 gives one
// GET /v1/watch stream per watcher.
var WatchesPerStream = 100

// watchGroup is one multiplexed stream being filled or running.
type watchGroup struct {
	node   int
	prefix string
	ctx    context.Context
	subs   []*muxWatch
	opened chan struct{} // closed once the stream answered (err says how)
	err    error
}

type muxWatch struct {
	onEvent func(uint64)
	done    chan error
}

type watchMux struct {
	mu      sync.Mutex
	pending map[string]*watchGroup // node/prefix -> group being filled
}

// watchMuxed joins a group for node and prefix, opening its stream when it
// is full or 10 ms after its first member joined.
func (s *Schemakv) watchMuxed(ctx context.Context, node int, prefix string, created func(), onEvent func(uint64)) error {
	m := &muxWatch{onEvent: onEvent, done: make(chan error, 1)}
	k := strconv.Itoa(node) + "/" + prefix
	s.mux.mu.Lock()
	if s.mux.pending == nil {
		s.mux.pending = map[string]*watchGroup{}
	}
	g := s.mux.pending[k]
	if g == nil {
		g = &watchGroup{node: node, prefix: prefix, ctx: ctx, opened: make(chan struct{})}
		s.mux.pending[k] = g
		time.AfterFunc(10*time.Millisecond, func() { s.openGroup(k, g) })
	}
	g.subs = append(g.subs, m)
	if len(g.subs) >= WatchesPerStream {
		delete(s.mux.pending, k)
		go s.runGroup(g)
	}
	s.mux.mu.Unlock()
	<-g.opened
	if g.err != nil {
		return g.err
	}
	created()
	select {
	case err := <-m.done:
		return err
	case <-ctx.Done():
		return nil
	}
}

func (s *Schemakv) openGroup(k string, g *watchGroup) {
	s.mux.mu.Lock()
	if s.mux.pending[k] != g {
		s.mux.mu.Unlock()
		return // already full and running
	}
	delete(s.mux.pending, k)
	s.mux.mu.Unlock()
	s.runGroup(g)
}

// runGroup opens the group's stream and dispatches its events to its
// members by watch id (the member's index) until the stream ends.
func (s *Schemakv) runGroup(g *watchGroup) {
	req := api.WatchRequest{Format: "ndjson"}
	for i := range g.subs {
		req.Watches = append(req.Watches, api.WatchSpec{ID: strconv.Itoa(i), Namespace: Namespace, Prefix: g.prefix})
	}
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(g.ctx, http.MethodPost, s.urls[g.node]+"/v1/watch", bytes.NewReader(body))
	if err != nil {
		g.err = err
		close(g.opened)
		return
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := s.wc.Do(hreq)
	if err != nil {
		g.err = err
		close(g.opened)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		g.err = fmt.Errorf("watch: %d %s", resp.StatusCode, b)
		close(g.opened)
		return
	}
	close(g.opened)
	fail := func(err error) {
		for _, m := range g.subs {
			m.done <- err
		}
	}
	br := bufio.NewReaderSize(resp.Body, 256<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			if g.ctx.Err() == nil {
				fail(err)
			}
			return
		}
		var msg api.WatchMessage
		if err := json.Unmarshal(line, &msg); err != nil {
			fail(err)
			return
		}
		switch msg.Type {
		case api.WatchEvents:
			for id, evs := range msg.Matches {
				i, err := strconv.Atoi(id)
				if err != nil || i < 0 || i >= len(g.subs) {
					continue
				}
				for range evs {
					g.subs[i].onEvent(msg.Revision)
				}
			}
		case api.WatchCut:
			fail(fmt.Errorf("watch cut: resume from %d (%s)", msg.ResumeFrom, msg.Reason))
			return
		}
	}
}
