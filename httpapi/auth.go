package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/store"
)

// Authenticator checks the credential of a request: the value of its
// Authorization header. *auth.Authenticator implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, header string) (auth.Principal, error)
}

// nsSource says where a route's namespace comes from.
type nsSource int

const (
	nsFromNone  nsSource = iota // not namespaced
	nsFromParam                 // the :ns path parameter
	nsFromQuery                 // the ?namespace= query parameter (watch streams)
	nsFromBody                  // each operation of the body; the handler authorises them (batch)
)

// rule is the authorisation of one route.
type rule struct {
	public bool
	action auth.Action
	ns     nsSource
}

// routeRules is the one table of authorisation: every route of the engine
// has an entry (New fails otherwise), keyed by method and gin's full path.
// HEAD routes use the rule of their GET.
var routeRules = map[string]rule{
	"GET /v1/health": {public: true},
	// The web UI's static files hold no data; the UI calls the API with the
	// token its user pastes.
	"GET /":                                         {public: true},
	"GET /ui":                                       {public: true},
	"GET /ui/*filepath":                             {public: true},
	"GET /v1/ready":                                 {action: auth.ActionClusterRead},
	"GET /v1/cluster":                               {action: auth.ActionClusterRead},
	"DELETE /v1/cluster/members/:id":                {action: auth.ActionClusterAdmin},
	"GET /v1/snapshot":                              {action: auth.ActionClusterAdmin},
	"POST /v1/snapshot":                             {action: auth.ActionClusterAdmin},
	"GET /metrics":                                  {action: auth.ActionClusterRead},   // public with Config.MetricsOpen
	"GET /v1/namespaces":                            {action: auth.ActionAuthenticated}, // filtered to readable namespaces
	"PUT /v1/namespaces/:ns":                        {action: auth.ActionManage, ns: nsFromParam},
	"GET /v1/namespaces/:ns":                        {action: auth.ActionRead, ns: nsFromParam},
	"DELETE /v1/namespaces/:ns":                     {action: auth.ActionManage, ns: nsFromParam},
	"GET /v1/namespaces/:ns/schemas":                {action: auth.ActionRead, ns: nsFromParam},
	"POST /v1/namespaces/:ns/schemas/:name":         {action: auth.ActionManage, ns: nsFromParam},
	"GET /v1/namespaces/:ns/schemas/:name":          {action: auth.ActionRead, ns: nsFromParam},
	"GET /v1/namespaces/:ns/schemas/:name/versions": {action: auth.ActionRead, ns: nsFromParam},
	"GET /v1/namespaces/:ns/schemas/:name/versions/:version": {action: auth.ActionRead, ns: nsFromParam},
	// Schema evolution: reading is a viewer's, changing an admin's of the
	// namespace (migrations re-pin entries, but as a schema operation).
	"POST /v1/namespaces/:ns/schema-bundles":                            {action: auth.ActionManage, ns: nsFromParam},
	"GET /v1/namespaces/:ns/schemas/:name/status":                       {action: auth.ActionRead, ns: nsFromParam},
	"GET /v1/namespaces/:ns/schemas/:name/history":                      {action: auth.ActionRead, ns: nsFromParam},
	"PUT /v1/namespaces/:ns/schemas/:name/policy":                       {action: auth.ActionManage, ns: nsFromParam},
	"POST /v1/namespaces/:ns/schemas/:name/versions/:version/deprecate": {action: auth.ActionManage, ns: nsFromParam},
	"DELETE /v1/namespaces/:ns/schemas/:name/versions/:version":         {action: auth.ActionManage, ns: nsFromParam},
	"POST /v1/namespaces/:ns/schemas/:name/migrations":                  {action: auth.ActionManage, ns: nsFromParam},
	"GET /v1/namespaces/:ns/schemas/:name/migrations":                   {action: auth.ActionRead, ns: nsFromParam},
	"GET /v1/namespaces/:ns/schemas/:name/migrations/:id":               {action: auth.ActionRead, ns: nsFromParam},
	"POST /v1/namespaces/:ns/schemas/:name/migrations/:id/resume":       {action: auth.ActionManage, ns: nsFromParam},
	// Declared JSON-path indexes: admin of the namespace declares and drops
	// them, a viewer reads them. Where-queries use GET .../configs.
	"POST /v1/namespaces/:ns/indexes":         {action: auth.ActionManage, ns: nsFromParam},
	"GET /v1/namespaces/:ns/indexes":          {action: auth.ActionRead, ns: nsFromParam},
	"GET /v1/namespaces/:ns/indexes/:name":    {action: auth.ActionRead, ns: nsFromParam},
	"DELETE /v1/namespaces/:ns/indexes/:name": {action: auth.ActionManage, ns: nsFromParam},
	"GET /v1/namespaces/:ns/configs":          {action: auth.ActionRead, ns: nsFromParam},
	"GET /v1/namespaces/:ns/configs/*key":     {action: auth.ActionRead, ns: nsFromParam},
	"PUT /v1/namespaces/:ns/configs/*key":     {action: auth.ActionWrite, ns: nsFromParam},
	"DELETE /v1/namespaces/:ns/configs/*key":  {action: auth.ActionWrite, ns: nsFromParam},
	"GET /v1/namespaces/:ns/history/*key":     {action: auth.ActionRead, ns: nsFromParam},
	"GET /v1/namespaces/:ns/diff/*key":        {action: auth.ActionRead, ns: nsFromParam},
	"POST /v1/namespaces/:ns/rollback/*key":   {action: auth.ActionWrite, ns: nsFromParam},
	"POST /v1/batch":                          {action: auth.ActionWrite, ns: nsFromBody},
	// Bulk imports name namespaces per entry: each entry needs editor of
	// its namespace (importNamespaceAllowed); a job is seen and cancelled
	// by its creator or by who holds the role in all its namespaces.
	"POST /v1/imports":         {action: auth.ActionWrite, ns: nsFromBody},
	"PUT /v1/imports/:id/data": {action: auth.ActionWrite, ns: nsFromBody},
	"GET /v1/imports":          {action: auth.ActionAuthenticated},        // filtered
	"GET /v1/imports/:id":      {action: auth.ActionAuthenticated},        // checked in getImport
	"DELETE /v1/imports/:id":   {action: auth.ActionAuthenticated},        // checked in cancelImport
	"POST /v1/watch":           {action: auth.ActionRead, ns: nsFromBody}, // each watch's namespace, in serveWatch
	"GET /v1/watch":            {action: auth.ActionRead, ns: nsFromQuery},
	"GET /v1/whoami":           {action: auth.ActionAuthenticated},
	"POST /v1/tokens":          {action: auth.ActionClusterAdmin},
	"GET /v1/tokens":           {action: auth.ActionClusterAdmin},
	"DELETE /v1/tokens/:id":    {action: auth.ActionClusterAdmin},
	"POST /v1/bindings":        {action: auth.ActionClusterAdmin},
	"GET /v1/bindings":         {action: auth.ActionClusterAdmin},
	"DELETE /v1/bindings/:id":  {action: auth.ActionClusterAdmin},

	// The UI's OIDC sign-in happens before there is a credential: the
	// parameters to start it, and the code exchange (oidc.go), which the
	// identity provider's code, PKCE verifier and nonce protect.
	"GET /v1/auth/oidc":        {public: true},
	"POST /v1/auth/oidc/token": {public: true},
}

// Routes returns every route the engine serves (gin's own table).
func (s *Server) Routes() gin.RoutesInfo { return s.engine.Routes() }

func (s *Server) ruleOf(method, path string) (rule, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	r, ok := routeRules[method+" "+path]
	if ok && path == "/metrics" && s.cfg.MetricsOpen {
		r = rule{public: true}
	}
	return r, ok
}

// checkRouteRules fails when a route has no authorisation rule: a route
// nobody classified must not be served at all.
func (s *Server) checkRouteRules() error {
	for _, r := range s.engine.Routes() {
		if _, ok := s.ruleOf(r.Method, r.Path); !ok {
			return fmt.Errorf("httpapi: route %s %s has no entry in the authorisation table (httpapi/auth.go)", r.Method, r.Path)
		}
	}
	return nil
}

// Context keys of the authenticated request.
const (
	ctxPrincipal = "schemakv.principal"
	ctxDecision  = "schemakv.decision"
)

// devAnonymous is the audit principal of a dev-mode request without an
// X-Schemakv-Principal header.
const devAnonymous = "anonymous"

// authenticate is the middleware of every route: it authenticates the
// request and checks the route's rule. A denied request changes nothing:
// it ends here, before any handler runs, with 401 or 403 in the one error
// shape, and is logged (method, route, remote, principal, reason; never a
// credential).
func (s *Server) authenticate(c *gin.Context) {
	ru, known := s.ruleOf(c.Request.Method, c.FullPath())
	if known && ru.public {
		c.Next()
		return
	}
	if s.cfg.DevMode {
		c.Next()
		return
	}
	s.waitMinRevision(c)
	p, err := s.cfg.Auth.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
	if err != nil {
		s.deny(c, http.StatusUnauthorized, "", err.Error())
		s.fail(c, apiErr(api.CodeUnauthenticated, "%s", authMessage(err)))
		return
	}
	c.Set(ctxPrincipal, p)
	if !known { // no route: 404/405 for whoever is authenticated
		c.Next()
		return
	}
	var ns string
	switch ru.ns {
	case nsFromParam:
		ns = c.Param("ns")
	case nsFromQuery:
		ns = c.Query("namespace")
	case nsFromBody:
		// Authenticated; the handler authorises every namespace the body
		// names (authorizeNamespace) before it acts on any.
		c.Next()
		return
	}
	if ru.ns == nsFromQuery && ns == "" {
		// A watch without a namespace is a bad request for everyone; let
		// the handler say so (it never streams without one).
		c.Next()
		return
	}
	if !s.authorized(c, p, ru.action, ns) {
		return
	}
	c.Set(ctxDecision, decisionCtx{action: ru.action, ns: ns, auth: s.state.View().AuthState()})
	c.Next()
}

// decisionCtx is what the middleware decided on, kept for reauthorize.
type decisionCtx struct {
	action auth.Action
	ns     string
	auth   *store.AuthState
}

// reauthorize runs authentication and the route's decision again if the
// tokens or bindings changed since the middleware ran. A blocking query
// calls it after its wait, so an answer never goes to a token revoked (or
// a binding removed) while it waited. It renders nothing: a failure is
// returned for the handler to render.
func (s *Server) reauthorize(c *gin.Context) error {
	v, ok := c.Get(ctxDecision)
	if !ok {
		return nil // dev mode, or a route without a namespace decision
	}
	d := v.(decisionCtx)
	view := s.state.View()
	if view.AuthState() == d.auth {
		return nil
	}
	p, err := s.cfg.Auth.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
	if err != nil {
		s.deny(c, http.StatusUnauthorized, "", "after wait: "+err.Error())
		return apiErr(api.CodeUnauthenticated, "%s", authMessage(err))
	}
	if dec := auth.Authorize(p, view.Bindings(), d.action, d.ns); !dec.Allowed {
		s.deny(c, http.StatusForbidden, p.Audit(), "after wait: "+dec.Reason)
		return apiErr(api.CodeForbidden, "%s may not %s: %s", p.Audit(), d.action, dec.Reason)
	}
	return nil
}

// waitMinRevision lets ?min_revision=N cover the credentials too: a token
// created (or bound) at revision N on another node authenticates here once
// this node has applied N. The wait is bounded like the read's; a bad value
// is left for the handler to refuse.
func (s *Server) waitMinRevision(c *gin.Context) {
	n, err := strconv.ParseUint(c.Query("min_revision"), 10, 64)
	if err != nil || n <= s.state.View().Revision() {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 30*time.Second)
	defer cancel()
	s.state.WaitApplied(ctx.Done(), n)
}

// authMessage is an authentication failure's text without the code's
// "unauthenticated: " prefix (the error code already says it).
func authMessage(err error) string {
	return strings.TrimPrefix(err.Error(), auth.ErrUnauthenticated.Error()+": ")
}

// authorized runs the one decision function for principal p and, when it
// denies, logs and answers 403.
func (s *Server) authorized(c *gin.Context, p auth.Principal, action auth.Action, ns string) bool {
	d := auth.Authorize(p, s.state.View().Bindings(), action, ns)
	if d.Allowed {
		return true
	}
	s.deny(c, http.StatusForbidden, p.Audit(), d.Reason)
	s.fail(c, apiErr(api.CodeForbidden, "%s may not %s: %s", p.Audit(), action, d.Reason))
	return false
}

// authorizeNamespace is authorized for handlers that learn a namespace
// from the body. In dev mode everything is allowed.
func (s *Server) authorizeNamespace(c *gin.Context, action auth.Action, ns string) bool {
	p, ok := principal(c)
	if !ok {
		return s.cfg.DevMode
	}
	return s.authorized(c, p, action, ns)
}

// mayRead reports whether the request's principal may read namespace ns
// (filters of lists that span namespaces).
func (s *Server) mayRead(c *gin.Context, ns string) bool {
	p, ok := principal(c)
	if !ok {
		return s.cfg.DevMode
	}
	return auth.Authorize(p, s.state.View().Bindings(), auth.ActionRead, ns).Allowed
}

// streamAuth returns the check a long-lived stream runs before it sends
// more: it authenticates the request again and re-runs the decision for
// reading each namespace whenever the tokens or bindings changed (or always, with
// force, for expiry). A stream thus stops once its token is revoked or its
// binding removed, on every node, as soon as the node applies the change.
func (s *Server) streamAuth(c *gin.Context, namespaces []string) func(force bool) error {
	if _, ok := principal(c); !ok {
		return func(bool) error { return nil } // dev mode
	}
	header := c.GetHeader("Authorization")
	last := s.state.View().AuthState()
	return func(force bool) error {
		v := s.state.View()
		if !force && v.AuthState() == last {
			return nil
		}
		last = v.AuthState()
		p, err := s.cfg.Auth.Authenticate(c.Request.Context(), header)
		if err != nil {
			s.deny(c, http.StatusUnauthorized, "", "stream ended: "+err.Error())
			return err
		}
		for _, ns := range namespaces {
			if d := auth.Authorize(p, v.Bindings(), auth.ActionRead, ns); !d.Allowed {
				s.deny(c, http.StatusForbidden, p.Audit(), "stream ended: "+d.Reason)
				return fmt.Errorf("forbidden: %s", d.Reason)
			}
		}
		return nil
	}
}

// mayWriteEntry is the check of one entry of a bulk import: an error in
// the one error shape (403 forbidden) when the principal may not write
// namespace ns. The denial is logged like a refused request.
func (s *Server) mayWriteEntry(c *gin.Context, ns string) error {
	p, ok := principal(c)
	if !ok {
		return nil // dev mode
	}
	if d := auth.Authorize(p, s.state.View().Bindings(), auth.ActionWrite, ns); !d.Allowed {
		s.deny(c, http.StatusForbidden, p.Audit(), "import entry: "+d.Reason)
		return apiErr(api.CodeForbidden, "%s may not write: %s", p.Audit(), d.Reason)
	}
	return nil
}

// mayAccessJob reports whether the principal may see (ActionRead) or
// cancel (ActionWrite) an import job: its creator may, and so may whoever
// holds the action in every namespace the job touched (a job that touched
// none yet is its creator's, or a global admin's).
func (s *Server) mayAccessJob(c *gin.Context, j *api.ImportJob, action auth.Action) bool {
	p, ok := principal(c)
	if !ok {
		return s.cfg.DevMode
	}
	if j.Principal == p.Audit() {
		return true
	}
	bindings := s.state.View().Bindings()
	if len(j.Namespaces) == 0 {
		return auth.Authorize(p, bindings, auth.ActionClusterAdmin, "").Allowed
	}
	for _, ns := range j.Namespaces {
		if !auth.Authorize(p, bindings, action, ns).Allowed {
			return false
		}
	}
	return true
}

// authorizeJob is mayAccessJob that answers 403 (and logs) when it denies.
func (s *Server) authorizeJob(c *gin.Context, j *api.ImportJob, action auth.Action) bool {
	if s.mayAccessJob(c, j, action) {
		return true
	}
	p, _ := principal(c)
	reason := fmt.Sprintf("import %s belongs to %s and touches %v", j.ID, j.Principal, j.Namespaces)
	s.deny(c, http.StatusForbidden, p.Audit(), reason)
	s.fail(c, apiErr(api.CodeForbidden, "%s may not %s %s", p.Audit(), action, reason))
	return false
}

// deny logs a refused request.
func (s *Server) deny(c *gin.Context, status int, who, reason string) {
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	s.log.Warn("request denied", "status", status, "method", c.Request.Method, "route", route,
		"path", c.Request.URL.Path, "remote", c.ClientIP(), "principal", who, "reason", reason)
}

// principal returns the request's authenticated principal.
func principal(c *gin.Context) (auth.Principal, bool) {
	v, ok := c.Get(ctxPrincipal)
	if !ok {
		return auth.Principal{}, false
	}
	p, ok := v.(auth.Principal)
	return p, ok
}

// auditPrincipal is who a write is recorded as: the authenticated
// principal, or in dev mode the X-Schemakv-Principal header (unchecked).
func (s *Server) auditPrincipal(c *gin.Context) string {
	if p, ok := principal(c); ok {
		return p.Audit()
	}
	if !s.cfg.DevMode {
		return devAnonymous // not reached: every non-public route is authenticated
	}
	if h := c.GetHeader(HeaderPrincipal); h != "" {
		return h
	}
	return devAnonymous
}
