package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
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
	// Compile and check against the latest state: the version number (and,
	// under the strict policy, the pins of the previous version) is checked
	// again when the command applies, so a concurrent registration makes
	// this one fail with schema_conflict rather than both taking the same
	// number (evolution.go).
	out, err := s.changeSchemas(c, ns, []api.BundleSchema{{
		Name: name, Schema: req.Schema, Description: req.Description, Policy: req.Policy,
	}}, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	if out.DryRun {
		s.render(c, http.StatusOK, out)
		return
	}
	s.render(c, http.StatusCreated, out.Versions[0])
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
