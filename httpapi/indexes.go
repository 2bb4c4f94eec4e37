package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/index"
	"github.com/schemakv/schemakv/store"
)

// HeaderQueryPlan names the plan of a where-query: "index:NAME" or "scan".
const HeaderQueryPlan = "X-Schemakv-Query-Plan"

// Defaults of the index limits (Limits.MaxIndexesPerNamespace,
// Limits.MaxQueryExamined) when they are zero.
const (
	DefaultMaxIndexesPerNamespace = 16
	DefaultMaxQueryExamined       = store.DefaultMaxExamined
)

func (s *Server) maxIndexes() int {
	if n := s.cfg.Limits.MaxIndexesPerNamespace; n > 0 {
		return n
	}
	return DefaultMaxIndexesPerNamespace
}

func (s *Server) maxExamined() int {
	if n := s.cfg.Limits.MaxQueryExamined; n > 0 {
		return n
	}
	return DefaultMaxQueryExamined
}

func (s *Server) createIndex(c *gin.Context) {
	ns, err := nsParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req api.CreateIndexRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"name": "...", "path": "a.b", "schema": "optional"}`))
		return
	}
	if err := api.ValidateName(req.Name); err != nil {
		s.fail(c, err)
		return
	}
	path, err := index.ParsePath(req.Path)
	if err != nil {
		s.fail(c, err)
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
	if req.Schema != "" {
		if err := api.ValidateName(req.Schema); err != nil {
			s.fail(c, err)
			return
		}
		sv, ok := v.LatestSchema(ns, req.Schema)
		if !ok {
			s.fail(c, apiErr(api.CodeSchemaNotFound, "schema %s/%s not found", ns, req.Schema))
			return
		}
		if err := checkScalarPath(sv.Schema, path); err != nil {
			s.fail(c, err)
			return
		}
	}
	if _, ok := v.Index(ns, req.Name); ok {
		s.fail(c, apiErr(api.CodeIndexExists, "index %s/%s already exists", ns, req.Name))
		return
	}
	r, err := s.apply(c, &fsm.CreateIndex{
		Audit: a, Namespace: ns, Name: req.Name, Path: path.String(), Schema: req.Schema, MaxIndexes: s.maxIndexes(),
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	// With its counts when this node has applied the write (it has, unless
	// the write was forwarded and this node is still behind).
	if v := s.state.View(); v.Revision() >= r.Revision {
		if d, ok := v.Index(ns, req.Name); ok {
			s.render(c, http.StatusCreated, d)
			return
		}
	}
	s.render(c, http.StatusCreated, r.Index)
}

// checkScalarPath checks, as far as the schema's own properties tell, that
// the path can hold a scalar: a path through or to a property typed only
// object or array is refused (index_not_scalar), and a property the schema
// does not declare under a closed object is refused (invalid_path).
// Where the schema composes ($ref, allOf, ...) it cannot tell, and accepts.
func checkScalarPath(raw json.RawMessage, p index.Path) error {
	var node map[string]any
	if err := json.Unmarshal(raw, &node); err != nil {
		return nil
	}
	for i, seg := range p {
		props, _ := node["properties"].(map[string]any)
		child, ok := props[seg].(map[string]any)
		if !ok {
			if props != nil && node["additionalProperties"] == nil && node["unevaluatedProperties"] == nil && node["$ref"] == nil && node["allOf"] == nil {
				return apiErr(api.CodeInvalidPath, "the schema declares no property %q at %s (objects are closed by default)", seg, index.Path(p[:i+1]))
			}
			return nil
		}
		node = child
	}
	types := map[string]bool{}
	switch t := node["type"].(type) {
	case string:
		types[t] = true
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				types[s] = true
			}
		}
	}
	if len(types) > 0 && !types["string"] && !types["number"] && !types["integer"] && !types["boolean"] && !types["null"] {
		return apiErr(api.CodeIndexNotScalar, "the schema types %s as %s: only strings, numbers, booleans and null are indexed", p, strings.Join(keys(types), " or "))
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (s *Server) listIndexes(c *gin.Context) {
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
	out := api.IndexList{Items: []api.Index{}, Revision: v.Revision()}
	for _, d := range v.Indexes(ns) {
		out.Items = append(out.Items, *d)
	}
	s.render(c, http.StatusOK, out)
}

func (s *Server) indexParams(c *gin.Context) (ns, name string, err error) {
	if ns, err = nsParam(c); err != nil {
		return "", "", err
	}
	name = c.Param("name")
	return ns, name, api.ValidateName(name)
}

func (s *Server) getIndex(c *gin.Context) {
	ns, name, err := s.indexParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	d, ok := v.Index(ns, name)
	if !ok {
		s.fail(c, apiErr(api.CodeIndexNotFound, "index %s/%s not found", ns, name))
		return
	}
	s.render(c, http.StatusOK, d)
}

func (s *Server) deleteIndex(c *gin.Context) {
	ns, name, err := s.indexParams(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.audit(c, "")
	if err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.apply(c, &fsm.DropIndex{Audit: a, Namespace: ns, Name: name})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, api.WriteResult{Revision: r.Revision})
}

// queryConfigs answers GET .../configs?where=... (see store.View.Query).
// Everything is parsed before the read, so bad input never blocks.
func (s *Server) queryConfigs(c *gin.Context, ns string, where []string) {
	clauses, err := index.ParseQuery(where)
	if err != nil {
		s.fail(c, err)
		return
	}
	limit, err := s.limitParam(c, 100)
	if err != nil {
		s.fail(c, err)
		return
	}
	q := store.Query{
		Namespace: ns, Prefix: c.Query("prefix"), After: c.Query("after"),
		Clauses: clauses, Limit: limit, MaxExamined: s.maxExamined(),
	}
	if q.After == "" {
		q.After = c.Query("continue")
	}
	switch c.Query("allow_scan") {
	case "", "false":
	case "true":
		q.AllowScan = true
	default:
		s.fail(c, apiErr(api.CodeBadRequest, "allow_scan must be true or false"))
		return
	}
	if q.Schema = c.Query("schema"); q.Schema != "" {
		if err := api.ValidateName(q.Schema); err != nil {
			s.fail(c, err)
			return
		}
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	res, err := v.Query(q)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := api.ConfigList{Items: make([]api.ConfigEntry, 0, len(res.Items)), Revision: v.Revision(),
		Plan: res.Plan, Examined: res.Examined}
	for _, e := range res.Items {
		out.Items = append(out.Items, *e)
	}
	if res.More && len(res.Items) > 0 {
		out.Next = res.Items[len(res.Items)-1].Key
	}
	c.Header(HeaderQueryPlan, res.Plan)
	s.render(c, http.StatusOK, out)
}
