package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/store"
)

func (s *Server) listNamespaces(c *gin.Context) {
	v, err := s.read(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := api.NamespaceList{Items: []api.Namespace{}, Revision: v.Revision()}
	for _, n := range v.Namespaces() {
		if !s.mayRead(c, n.Name) {
			continue // never list a namespace the principal may not read
		}
		out.Items = append(out.Items, *n)
	}
	s.render(c, http.StatusOK, out)
}

func (s *Server) getNamespace(c *gin.Context) {
	ns, err := nsParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.read(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	n, ok := v.Namespace(ns)
	if !ok {
		s.fail(c, apiErr(api.CodeNamespaceNotFound, "namespace %q not found", ns))
		return
	}
	s.render(c, http.StatusOK, n)
}

func (s *Server) createNamespace(c *gin.Context) {
	ns, err := nsParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req api.CreateNamespaceRequest
	if _, err := s.decodeBody(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if len(req.Description) > 1024 {
		s.fail(c, apiErr(api.CodeBadRequest, "description longer than 1024 bytes"))
		return
	}
	a, err := s.audit(c, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.apply(c, &fsm.CreateNamespace{Audit: a, Name: ns, Description: req.Description})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusCreated, r.Namespace)
}

func (s *Server) deleteNamespace(c *gin.Context) {
	ns, err := nsParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	force := false
	switch c.Query("force") {
	case "", "false":
	case "true":
		force = true
	default:
		s.fail(c, apiErr(api.CodeBadRequest, "force must be true or false"))
		return
	}
	a, err := s.audit(c, "")
	if err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.apply(c, &fsm.DeleteNamespace{Audit: a, Name: ns, Force: force})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.schemas.Forget(ns)
	s.render(c, http.StatusOK, api.WriteResult{Revision: r.Revision})
}

// namespaceOf returns the namespace or the not-found error.
func namespaceOf(v *store.View, ns string) (*api.Namespace, error) {
	n, ok := v.Namespace(ns)
	if !ok {
		return nil, apiErr(api.CodeNamespaceNotFound, "namespace %q not found", ns)
	}
	return n, nil
}
