package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/store"
)

func (s *Server) configHistory(c *gin.Context) {
	ns, key, err := nsKeyParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.historyPage(c, api.KindConfig, ns, key, s.read,
		apiErr(api.CodeConfigNotFound, "config %s/%s has no history", ns, key))
}

// historyPage answers one page (?before=&limit=) of an object's history,
// newest first, from the view read picks; an object without any event is
// notFound.
func (s *Server) historyPage(c *gin.Context, kind, ns, key string, read func(*gin.Context) (*store.View, error), notFound error) {
	before, err := queryUint(c, "before")
	if err != nil {
		s.fail(c, err)
		return
	}
	limit, err := s.limitParam(c, 100)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := read(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	events, next, err := s.state.History(kind, ns, key, before, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(events) == 0 && before == 0 {
		s.fail(c, notFound)
		return
	}
	if events == nil {
		events = []api.Event{}
	}
	s.render(c, http.StatusOK, api.History{Items: events, Revision: v.Revision(), Next: next})
}

func (s *Server) configDiff(c *gin.Context) {
	ns, key, err := nsKeyParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	from, err := queryUint(c, "from")
	if err != nil {
		s.fail(c, err)
		return
	}
	if from == 0 {
		s.fail(c, apiErr(api.CodeBadRequest, "from is required: a revision of the key's history"))
		return
	}
	to, err := queryUint(c, "to")
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := s.read(c); err != nil {
		s.fail(c, err)
		return
	}
	fromEv, err := s.state.EventAt(api.KindConfig, ns, key, from)
	if err != nil {
		s.fail(c, err)
		return
	}
	var toEv api.Event
	if to == 0 {
		evs, _, err := s.state.History(api.KindConfig, ns, key, 0, 1)
		if err != nil {
			s.fail(c, err)
			return
		}
		toEv = evs[0] // from exists, so the history is not empty
	} else if toEv, err = s.state.EventAt(api.KindConfig, ns, key, to); err != nil {
		s.fail(c, err)
		return
	}
	patch, err := diffJSON(fromEv.Value, toEv.Value)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, api.Diff{
		Namespace: ns, Key: key, From: fromEv, To: toEv, Patch: patch,
		SchemaChanged: fromEv.Schema != toEv.Schema || fromEv.SchemaVersion != toEv.SchemaVersion,
	})
}

func (s *Server) rollbackConfig(c *gin.Context) {
	ns, key, err := nsKeyParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	cas, err := casParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req api.RollbackRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok || req.Revision == 0 {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"revision": N}`))
		return
	}
	a, err := s.audit(c, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	ev, err := s.state.EventAt(api.KindConfig, ns, key, req.Revision)
	if err != nil {
		s.fail(c, err)
		return
	}
	if ev.Op != api.OpPut {
		s.fail(c, apiErr(api.CodeBadRequest, "revision %d deleted %s/%s: there is no value to restore (use DELETE)", req.Revision, ns, key))
		return
	}
	v, err := s.writeViewNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	op, err := s.validatedPut(v, ns, key, api.SchemaRef(ev.Schema, ev.SchemaVersion), ev.Value)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The rollback is a compare-and-set write against the state the caller
	// saw (If-Match) or, without one, against the state this node sees now:
	// a concurrent write in between makes it fail rather than be overwritten.
	if cas == nil {
		cur := uint64(0)
		if e, ok := v.Config(ns, key); ok {
			cur = e.ModifyRevision
		}
		cas = &cur
	}
	op.Revision = cas
	op.RollbackOf = req.Revision
	r, err := s.apply(c, &fsm.Txn{Audit: a, Ops: []fsm.Op{op}})
	if err != nil {
		s.fail(c, err)
		return
	}
	setETag(c, r.Entries[0].ModifyRevision)
	s.render(c, http.StatusOK, r.Entries[0])
}
