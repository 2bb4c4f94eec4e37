package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/internal/jsonutil"
)

func (s *Server) listConfigs(c *gin.Context) {
	ns, err := nsParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if where := c.QueryArray("where"); len(where) > 0 {
		s.queryConfigs(c, ns, where) // indexes.go
		return
	}
	limit, err := s.limitParam(c, 100)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	items, more := v.ListConfigs(ns, c.Query("prefix"), c.Query("after"), limit)
	out := api.ConfigList{Items: make([]api.ConfigEntry, 0, len(items)), Revision: v.Revision()}
	for _, e := range items {
		out.Items = append(out.Items, *e)
	}
	if more && len(items) > 0 {
		out.Next = items[len(items)-1].Key
	}
	s.render(c, http.StatusOK, out)
}

func (s *Server) getConfig(c *gin.Context) {
	ns, key, err := nsKeyParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	e, ok := v.Config(ns, key)
	if !ok {
		s.fail(c, apiErr(api.CodeConfigNotFound, "config %s/%s not found", ns, key))
		return
	}
	setETag(c, e.ModifyRevision)
	s.renderEntry(c, http.StatusOK, e)
}

func (s *Server) putConfig(c *gin.Context) {
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
	req, ok, err := s.decodePutBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"schema": "name@version", "value": ...}`))
		return
	}
	a, err := s.audit(c, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.writeViewNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	op, err := s.validatedPut(v, ns, key, req.Schema, req.Value)
	if err != nil {
		s.fail(c, err)
		return
	}
	op.Revision = cas
	r, err := s.apply(c, &fsm.Txn{Audit: a, Ops: []fsm.Op{op}})
	if err != nil {
		s.fail(c, err)
		return
	}
	e := r.Entries[0]
	setETag(c, e.ModifyRevision)
	status := http.StatusOK
	if e.Version == 1 {
		status = http.StatusCreated
	}
	s.renderEntry(c, status, e)
}

func (s *Server) deleteConfig(c *gin.Context) {
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
	a, err := s.audit(c, "")
	if err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.apply(c, &fsm.Txn{Audit: a, Ops: []fsm.Op{{Op: api.BatchDelete, Namespace: ns, Key: key, Revision: cas}}})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, api.WriteResult{Revision: r.Revision})
}

// casParam reads a compare-and-set condition from If-Match ("N" or N),
// If-None-Match: * (the key must not exist), or ?cas=N (0: must not exist).
func casParam(c *gin.Context) (*uint64, error) {
	var src, val string
	switch {
	case c.GetHeader("If-Match") != "":
		src, val = "If-Match", strings.Trim(strings.TrimPrefix(c.GetHeader("If-Match"), "W/"), `"`)
	case c.GetHeader("If-None-Match") != "":
		if c.GetHeader("If-None-Match") != "*" {
			return nil, apiErr(api.CodeBadRequest, "If-None-Match supports only *")
		}
		zero := uint64(0)
		return &zero, nil
	case c.Query("cas") != "":
		src, val = "cas", c.Query("cas")
	default:
		return nil, nil
	}
	n, err := strconv.ParseUint(val, 10, 64)
	if err != nil {
		return nil, apiErr(api.CodeBadRequest, "%s must be a modify revision such as \"42\"", src)
	}
	return &n, nil
}

func setETag(c *gin.Context, rev uint64) {
	c.Header("ETag", `"`+strconv.FormatUint(rev, 10)+`"`)
}

// decodePutBody is decodeBody for the body of a put, the most frequent
// write. The usual body — the members "schema", "value" and "reason" once
// each, the strings without escapes — is split without encoding/json, whose
// decoder scanned the value twice and copied it; any other body is decoded
// by decodeBody's rules, with their errors.
func (s *Server) decodePutBody(c *gin.Context) (req api.PutConfigRequest, ok bool, err error) {
	b, err := s.readBody(c)
	if err != nil || b == nil {
		return req, false, err
	}
	if splitPutBody(b, &req) {
		return req, true, nil
	}
	req = api.PutConfigRequest{}
	return req, true, decodeBytes(b, &req)
}

// splitPutBody fills req from b if b has the usual shape (see
// decodePutBody); the result is what encoding/json decodes.
func splitPutBody(b []byte, req *api.PutConfigRequest) bool {
	var seen [3]bool
	return jsonutil.Members(b, 0, func(key string, value []byte) bool {
		var ok bool
		switch key {
		case "schema":
			req.Schema, ok = jsonutil.PlainString(value)
			ok = ok && !seen[0]
			seen[0] = true
		case "value":
			req.Value = value
			ok = !seen[1]
			seen[1] = true
		case "reason":
			req.Reason, ok = jsonutil.PlainString(value)
			ok = ok && !seen[2]
			seen[2] = true
		}
		return ok
	})
}
