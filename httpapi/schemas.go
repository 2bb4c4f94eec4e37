package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/internal/jsonutil"
)

func (s *Server) listSchemas(c *gin.Context) {
	ns, err := nsParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	items := v.Schemas(ns)
	if items == nil {
		items = []api.SchemaSummary{}
	}
	s.render(c, http.StatusOK, api.SchemaList{Items: items, Revision: v.Revision()})
}

func (s *Server) registerSchema(c *gin.Context) {
	ns, err := nsParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	name := c.Param("name")
	if err := api.ValidateName(name); err != nil {
		s.fail(c, err)
		return
	}
	var req api.RegisterSchemaRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok || len(req.Schema) == 0 || string(req.Schema) == "null" {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"schema": {...}}`))
		return
	}
	if len(req.Schema) > s.cfg.Limits.MaxSchemaBytes {
		s.fail(c, apiErr(api.CodeSchemaTooLarge, "schema of %d bytes exceeds %d bytes", len(req.Schema), s.cfg.Limits.MaxSchemaBytes))
		return
	}
	a, err := s.audit(c, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	raw, err := jsonutil.Compact(req.Schema)
	if err != nil {
		s.fail(c, err)
		return
	}
	// Compile against the latest state: the version number is checked again
	// when the command applies, so a concurrent registration makes this one
	// fail with schema_conflict rather than both taking the same number.
	if err := s.cluster.ReadBarrier(c.Request.Context()); err != nil {
		s.fail(c, err)
		return
	}
	v := s.state.View()
	if _, err := namespaceOf(v, ns); err != nil {
		s.fail(c, err)
		return
	}
	next := 1
	if latest, ok := v.LatestSchema(ns, name); ok {
		next = latest.Version + 1
	}
	if _, err := s.schemas.Compile(ns, name, next, raw, v); err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.apply(c, &fsm.RegisterSchema{
		Audit: a, Namespace: ns, Name: name, Version: next,
		Schema: json.RawMessage(raw), Description: req.Description,
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusCreated, r.Schema)
}

func (s *Server) getLatestSchema(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	sv, found := v.LatestSchema(ns, name)
	if !found {
		s.fail(c, apiErr(api.CodeSchemaNotFound, "schema %s/%s not found", ns, name))
		return
	}
	s.render(c, http.StatusOK, sv)
}

func (s *Server) listSchemaVersions(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := api.SchemaVersionList{Revision: v.Revision()}
	for _, sv := range v.SchemaVersions(ns, name) {
		out.Items = append(out.Items, *sv)
	}
	if len(out.Items) == 0 {
		s.fail(c, apiErr(api.CodeSchemaNotFound, "schema %s/%s not found", ns, name))
		return
	}
	s.render(c, http.StatusOK, out)
}

func (s *Server) getSchemaVersion(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	ver, err := strconv.Atoi(c.Param("version"))
	if err != nil || ver < 1 {
		s.fail(c, apiErr(api.CodeBadRequest, "version must be a positive integer"))
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	sv, found := v.SchemaVersion(ns, name, ver)
	if !found {
		s.fail(c, apiErr(api.CodeSchemaNotFound, "schema %s/%s has no version %d", ns, name, ver))
		return
	}
	s.render(c, http.StatusOK, sv)
}

func (s *Server) schemaParams(c *gin.Context) (ns, name string, ok bool) {
	ns, err := nsParam(c)
	if err != nil {
		s.fail(c, err)
		return "", "", false
	}
	name = c.Param("name")
	if err := api.ValidateName(name); err != nil {
		s.fail(c, err)
		return "", "", false
	}
	return ns, name, true
}
