package httpapi

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

// HeaderAnswerIndex carries, on a blocking query's response, the revision
// of the answer itself: the newest revision that changed it (deletes
// included), at least 1, never lower on a later answer of the same node.
// X-Schemakv-Index stays the revision of the state the answer was read
// from; either may be passed as the next ?index.
const HeaderAnswerIndex = "X-Schemakv-Answer-Index"

// blockingQuery is a parsed ?index=N&wait=D.
type blockingQuery struct {
	index uint64
	wait  time.Duration
}

// blockingParams parses index and wait. Without index the read does not
// block (wait alone is ignored, as in Consul).
func (s *Server) blockingParams(c *gin.Context) (*blockingQuery, error) {
	iv, ok := c.GetQuery("index")
	if !ok {
		return nil, nil
	}
	n, err := strconv.ParseUint(iv, 10, 64)
	if err != nil {
		return nil, apiErr(api.CodeBadRequest, "index must be a revision number")
	}
	bq := &blockingQuery{index: n, wait: s.watch.defaultWait}
	if w := c.Query("wait"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d <= 0 {
			return nil, apiErr(api.CodeBadRequest, "wait must be a positive duration such as 30s")
		}
		bq.wait = min(d, s.watch.maxWait)
	}
	return bq, nil
}

// answerFunc computes the revision of a route's answer in view v and adds
// to ws the channels closed when it may change.
type answerFunc func(v *store.View, ws *store.WatchSet) uint64

// answerFor returns the answer revision of the request's route. Routes
// without their own rule answer with the applied revision, which every
// commit raises.
func (s *Server) answerFor(c *gin.Context) answerFunc {
	ns := c.Param("ns")
	switch c.FullPath() {
	case "/v1/namespaces":
		return func(v *store.View, ws *store.WatchSet) uint64 {
			ws.Chans = append(ws.Chans, s.watch.w.AppliedCh())
			return v.LastEventRevision()
		}
	case "/v1/namespaces/:ns":
		return func(v *store.View, ws *store.WatchSet) uint64 { return v.NamespaceRevision(ns, ws) }
	case "/v1/namespaces/:ns/schemas":
		return func(v *store.View, ws *store.WatchSet) uint64 { return v.SchemaListRevision(ns, ws) }
	case "/v1/namespaces/:ns/schemas/:name", "/v1/namespaces/:ns/schemas/:name/versions",
		"/v1/namespaces/:ns/schemas/:name/versions/:version":
		name := c.Param("name")
		return func(v *store.View, ws *store.WatchSet) uint64 { return v.SchemaRevision(ns, name, ws) }
	case "/v1/namespaces/:ns/configs":
		prefix := c.Query("prefix")
		return func(v *store.View, ws *store.WatchSet) uint64 { return v.ConfigListRevision(ns, prefix, ws) }
	case "/v1/namespaces/:ns/configs/*key", "/v1/namespaces/:ns/history/*key", "/v1/namespaces/:ns/diff/*key":
		key := strings.TrimPrefix(c.Param("key"), "/")
		return func(v *store.View, ws *store.WatchSet) uint64 { return v.ConfigRevision(ns, key, ws) }
	}
	return func(v *store.View, ws *store.WatchSet) uint64 {
		ws.Chans = append(ws.Chans, s.watch.w.AppliedCh())
		return max(v.Revision(), 1)
	}
}

// block waits until the answer's revision exceeds bq.index, the wait (plus
// up to wait/16 of jitter, so that clients woken together do not return
// together) runs out, the client goes away, the server shuts down, or the
// state is replaced by a snapshot (the client must then re-read). It
// returns the view to answer from. Wake-ups are the closing of the radix
// tree channels under the answer: no polling, and writes elsewhere do not
// wake it.
func (s *Server) block(c *gin.Context, bq *blockingQuery) (*store.View, error) {
	w := s.watch.w
	answer := s.answerFor(c)
	v := w.View()
	var ws store.WatchSet
	rev := answer(v, &ws)
	if rev > bq.index {
		c.Header(HeaderAnswerIndex, strconv.FormatUint(rev, 10))
		return v, nil
	}
	release, err := s.watch.acquire(c.ClientIP(), 1)
	if err != nil {
		return nil, err
	}
	defer release()
	wait := bq.wait + rand.N(bq.wait/16+1)
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(wait + writeGrace))
	timer := time.NewTimer(wait)
	defer timer.Stop()
	ctx := c.Request.Context()
	shutdown := s.watch.shutdownCh(c.Request)
	for {
		abandon := w.AbandonCh()
		ws.Chans = ws.Chans[:0]
		v = w.View()
		rev = answer(v, &ws)
		if rev > bq.index {
			break
		}
		var ch [6]<-chan struct{}
		if len(ws.Chans) > len(ch) {
			ws.Chans = append(ws.Chans[:0], w.AppliedCh()) // never: answers use at most 5
		}
		copy(ch[:], ws.Chans)
		woke := false
		select {
		case <-ch[0]:
		case <-ch[1]:
		case <-ch[2]:
		case <-ch[3]:
		case <-ch[4]:
		case <-ch[5]:
		case <-abandon:
			woke = true
		case <-timer.C:
			woke = true
		case <-shutdown:
			woke = true
		case <-ctx.Done():
			woke = true // the client is gone; what is written does not matter
		}
		if woke {
			v = w.View()
			rev = answer(v, nil)
			break
		}
	}
	c.Header(HeaderAnswerIndex, strconv.FormatUint(rev, 10))
	return v, nil
}
