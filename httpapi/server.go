package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/cluster"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/internal/jsonutil"
	"github.com/schemakv/schemakv/schema"
	"github.com/schemakv/schemakv/store"
)

// State is what the API reads: the local read model and history.
type State interface {
	View() *store.View
	History(kind, ns, key string, before uint64, limit int) ([]api.Event, uint64, error)
	EventAt(kind, ns, key string, rev uint64) (api.Event, error)
	WaitApplied(done <-chan struct{}, rev uint64) bool
	Backup(w io.Writer) (uint64, error)
}

// Cluster is what the API needs from replication: proposing commands and
// read barriers.
type Cluster interface {
	Apply(ctx context.Context, cmd []byte) (*fsm.Result, error)
	ReadBarrier(ctx context.Context) error
	IsLeader() bool
	Ready() error
	Serving() error
	Stale() cluster.StaleInfo
	Status() cluster.Status
	Members(ctx context.Context) ([]cluster.Member, error)
	Restore(r io.Reader, size int64, index uint64) error
	RemoveServer(ctx context.Context, id string) error
}

// Schemas compiles and caches schemas.
type Schemas interface {
	Compile(namespace, name string, version int, raw []byte, src schema.Source) (*schema.Schema, error)
	Get(namespace, name string, version int, rev uint64, src schema.Source) (*schema.Schema, error)
	Forget(namespace string)
}

// Server is the HTTP API of one node.
type Server struct {
	cfg     Config
	state   State
	cluster Cluster
	schemas Schemas
	log     *slog.Logger
	engine  *gin.Engine

	watch  *watchState      // watch.go
	mig    *migrations      // migrations.go
	reaper *tombstoneReaper // tombstones.go

	importLimits  ImportLimits  // imports.go
	importDrivers driverSet     // uploads running on this node
	importSem     chan struct{} // the validation pool's tokens
	oidcSem       chan struct{} // code exchanges running (oidc.go)

	reqDuration        *prometheus.HistogramVec
	validationFailures *prometheus.CounterVec
}

// Headers of the API.
const (
	HeaderIndex = "X-Schemakv-Index"
	// HeaderPrincipal names the audit principal in dev mode only (auth
	// off); with authentication the authenticated identity is recorded and
	// the header is ignored.
	HeaderPrincipal = "X-Schemakv-Principal"
	HeaderReason    = "X-Schemakv-Reason"
	// HeaderKnownLeader and HeaderLastContact describe a stale read: whether
	// the node knows a leader, and the milliseconds since it last heard from
	// it (0 on the leader).
	HeaderKnownLeader = "X-Schemakv-Known-Leader"
	HeaderLastContact = "X-Schemakv-Last-Contact"
)

// New builds the API.
func New(cfg Config, st State, cl Cluster, sc Schemas) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Limits.MaxSnapshotBytes == 0 {
		cfg.Limits.MaxSnapshotBytes = DefaultLimits().MaxSnapshotBytes
	}
	s := &Server{
		cfg: cfg, state: st, cluster: cl, schemas: sc, log: cfg.Logger,
		reqDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "schemakv_http_request_duration_seconds",
			Help:    "HTTP request latency by route, method and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"route", "method", "code"}),
		validationFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "schemakv_validation_failures_total",
			Help: "Config values rejected by their schema, by namespace.",
		}, []string{"namespace"}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.reqDuration, s.validationFailures} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	s.watch = newWatchState(st, cfg.Limits)
	s.importLimits = cfg.Limits.Imports.withDefaults()
	s.importSem = make(chan struct{}, validationWorkers())
	s.oidcSem = make(chan struct{}, MaxOIDCExchanges)
	s.mig = newMigrations(s)
	s.reaper = newTombstoneReaper(s, cfg.TombstoneTTL)
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	_ = e.SetTrustedProxies(nil)
	e.Use(s.recover, s.observe, s.limitBody, s.authenticate)
	e.NoRoute(func(c *gin.Context) {
		s.fail(c, apiErr(api.CodeRouteNotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		s.fail(c, apiErr(api.CodeMethodNotAllowed, "method %s not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
	s.engine = e
	s.routes()
	if err := s.checkRouteRules(); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler returns the http.Handler serving the API.
func (s *Server) Handler() http.Handler { return s.engine }

func (s *Server) routes() {
	e := s.engine
	// Every GET route answers HEAD with the same handler: gin does not do
	// it on its own, and net/http sends a HEAD response's status and headers
	// (Content-Length included) while dropping the body.
	get := func(r gin.IRoutes, path string, h gin.HandlerFunc) {
		r.GET(path, h)
		r.HEAD(path, h)
	}
	get(e, "/v1/health", s.health)
	get(e, "/v1/ready", s.ready)
	get(e, "/v1/cluster", s.clusterStatus)
	e.DELETE("/v1/cluster/members/:id", s.removeMember)
	e.GET("/v1/snapshot", s.saveSnapshot)
	e.POST("/v1/snapshot", s.restoreSnapshot)
	if s.cfg.Gatherer != nil {
		h := promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})
		get(e, "/metrics", gin.WrapH(h))
	}
	v1 := e.Group("/v1")
	get(v1, "/namespaces", s.listNamespaces)
	v1.PUT("/namespaces/:ns", s.createNamespace)
	get(v1, "/namespaces/:ns", s.getNamespace)
	v1.DELETE("/namespaces/:ns", s.deleteNamespace)

	get(v1, "/namespaces/:ns/schemas", s.listSchemas)
	v1.POST("/namespaces/:ns/schemas/:name", s.registerSchema)
	get(v1, "/namespaces/:ns/schemas/:name", s.getLatestSchema)
	get(v1, "/namespaces/:ns/schemas/:name/versions", s.listSchemaVersions)
	get(v1, "/namespaces/:ns/schemas/:name/versions/:version", s.getSchemaVersion)
	// Schema evolution (evolution.go, migrations.go).
	v1.POST("/namespaces/:ns/schema-bundles", s.registerBundle)
	get(v1, "/namespaces/:ns/schemas/:name/status", s.schemaStatus)
	get(v1, "/namespaces/:ns/schemas/:name/history", s.schemaHistory)
	v1.PUT("/namespaces/:ns/schemas/:name/policy", s.setSchemaPolicy)
	v1.POST("/namespaces/:ns/schemas/:name/versions/:version/deprecate", s.deprecateVersion)
	v1.DELETE("/namespaces/:ns/schemas/:name/versions/:version", s.deleteSchemaVersion)
	v1.POST("/namespaces/:ns/schemas/:name/migrations", s.startMigration)
	get(v1, "/namespaces/:ns/schemas/:name/migrations", s.listMigrations)
	get(v1, "/namespaces/:ns/schemas/:name/migrations/:id", s.getMigration)
	v1.POST("/namespaces/:ns/schemas/:name/migrations/:id/resume", s.resumeMigration)

	get(v1, "/namespaces/:ns/configs", s.listConfigs)
	get(v1, "/namespaces/:ns/configs/*key", s.getConfig)
	v1.PUT("/namespaces/:ns/configs/*key", s.putConfig)
	v1.DELETE("/namespaces/:ns/configs/*key", s.deleteConfig)
	get(v1, "/namespaces/:ns/history/*key", s.configHistory)
	get(v1, "/namespaces/:ns/diff/*key", s.configDiff)
	v1.POST("/namespaces/:ns/rollback/*key", s.rollbackConfig)

	v1.POST("/namespaces/:ns/indexes", s.createIndex)
	get(v1, "/namespaces/:ns/indexes", s.listIndexes)
	get(v1, "/namespaces/:ns/indexes/:name", s.getIndex)
	v1.DELETE("/namespaces/:ns/indexes/:name", s.deleteIndex)

	v1.POST("/batch", s.batch)
	get(v1, "/watch", s.watchStream)
	v1.POST("/watch", s.watchStreamMulti)
	s.importRoutes(v1)

	s.uiRoutes() // ui.go: the web UI under /ui/
	// The UI's OIDC sign-in (oidc.go); public, see routeRules.
	get(v1, "/auth/oidc", s.oidcSignIn)
	v1.POST("/auth/oidc/token", s.oidcToken)
	// Authentication state (tokens.go); admin only, see routeRules.
	get(v1, "/whoami", s.whoami)
	v1.POST("/tokens", s.createToken)
	get(v1, "/tokens", s.listTokens)
	v1.DELETE("/tokens/:id", s.revokeToken)
	v1.POST("/bindings", s.bind)
	get(v1, "/bindings", s.listBindings)
	v1.DELETE("/bindings/:id", s.unbind)
}

func (s *Server) health(c *gin.Context) {
	s.render(c, http.StatusOK, api.Health{
		Status: "ok", NodeID: s.cfg.NodeID, Applied: s.state.View().Revision(),
		Leader: s.cluster.IsLeader(), Version: s.cfg.Version,
	})
}

func (s *Server) ready(c *gin.Context) {
	h := api.Health{Status: "ready", NodeID: s.cfg.NodeID, Applied: s.state.View().Revision(),
		Leader: s.cluster.IsLeader(), Version: s.cfg.Version}
	if err := s.cluster.Ready(); err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, h)
}

// jsonContentType is the Content-Type of every JSON body.
const jsonContentType = "application/json; charset=utf-8"

// render writes v as the JSON body of the response. It is the one writer of
// JSON bodies, success and error alike. HTML characters are not escaped, so
// "<", ">" and "&" come back as sent and a stored value is returned byte for
// byte as stored; the body ends in a newline. A value that cannot be encoded
// (a bug) becomes a 500 in the one error shape.
func (s *Server) render(c *gin.Context, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.Error("encode response", "method", c.Request.Method, "path", c.Request.URL.Path, "type", fmt.Sprintf("%T", v), "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(api.ErrorBody{Error: apiErr(api.CodeInternal, "encode response: %v", err)})
	}
	c.Data(status, jsonContentType, buf.Bytes())
}

// recover turns a panic in a handler into a 500 in the one error shape.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("handler panic", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", r)
			s.fail(c, apiErr(api.CodeInternal, "internal error"))
		}
	}()
	c.Next()
}

// observe records latency by route and logs the request at debug level.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start)
	code := strconv.Itoa(c.Writer.Status())
	s.reqDuration.WithLabelValues(route, c.Request.Method, code).Observe(d.Seconds())
	s.log.Debug("request", "method", c.Request.Method, "route", route, "status", c.Writer.Status(),
		"duration_ms", float64(d.Microseconds())/1000)
}

// limitBody rejects bodies over the limit before reading them when the
// length is declared, and caps the reader otherwise.
func (s *Server) limitBody(c *gin.Context) {
	max := s.cfg.Limits.MaxBodyBytes
	if c.Request.Method == http.MethodPost && c.Request.URL.Path == "/v1/snapshot" {
		max = s.cfg.Limits.MaxSnapshotBytes // a whole state, not a request
	}
	if isImportUpload(c.Request) {
		max = s.importLimits.MaxBytes // streamed, never held whole
	}
	if c.Request.ContentLength > max {
		s.fail(c, apiErr(api.CodeBodyTooLarge, "request body of %d bytes exceeds %d bytes", c.Request.ContentLength, max))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
	c.Next()
}

// readBody reads a JSON request body, checking media type, size and depth.
// An empty body gives nil.
func (s *Server) readBody(c *gin.Context) ([]byte, error) {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, apiErr(api.CodeUnsupportedMedia, "content type %q is not supported; send application/json", ct)
		}
	}
	// A declared length (limitBody has checked it) sizes the buffer once.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(c.Request.ContentLength, 0), s.cfg.Limits.MaxBodyBytes)+bytes.MinRead))
	if _, err := buf.ReadFrom(c.Request.Body); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if len(b) == 0 {
		return nil, nil
	}
	if err := jsonutil.Check(b, s.cfg.Limits.MaxJSONDepth); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeBody reads the body into v, refusing unknown fields. It reports
// whether there was a body.
func (s *Server) decodeBody(c *gin.Context, v any) (bool, error) {
	b, err := s.readBody(c)
	if err != nil || b == nil {
		return false, err
	}
	return true, decodeBytes(b, v)
}

// decodeBytes decodes a body that readBody returned into v, refusing unknown
// fields.
func decodeBytes(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiErr(api.CodeBadRequest, "request body: %v", err)
	}
	return nil
}

// audit builds the who/why of a write from the request. bodyReason, when
// set, wins over the X-Schemakv-Reason header.
func (s *Server) audit(c *gin.Context, bodyReason string) (fsm.Audit, error) {
	p := s.auditPrincipal(c)
	if len(p) > 256 {
		return fsm.Audit{}, apiErr(api.CodeBadRequest, "principal longer than 256 bytes")
	}
	r := bodyReason
	if r == "" {
		r = c.GetHeader(HeaderReason)
	}
	if len(r) > s.cfg.Limits.MaxReasonBytes {
		return fsm.Audit{}, apiErr(api.CodeBadRequest, "reason longer than %d bytes", s.cfg.Limits.MaxReasonBytes)
	}
	return fsm.NewAudit(p, r), nil
}

// read applies the requested consistency and returns the view to answer
// from: consistency=linearizable (default) runs a read barrier;
// consistency=stale answers at once; min_revision=N first waits until this
// node has applied N.
//
// index=N makes it a blocking query (watch_blocking.go): after the barrier
// (one, at the start) it waits on this node until the answer's revision
// exceeds N, or up to wait.
func (s *Server) read(c *gin.Context) (*store.View, error) {
	ctx := c.Request.Context()
	bq, err := s.blockingParams(c)
	if err != nil {
		return nil, err
	}
	linearizable := true
	switch c.Query("consistency") {
	case "", "linearizable":
	case "stale":
		linearizable = false
		if err := s.cluster.Serving(); err != nil {
			return nil, err // restarted and not caught up: an answer could go back in time
		}
		info := s.cluster.Stale()
		c.Header(HeaderKnownLeader, strconv.FormatBool(info.KnownLeader))
		c.Header(HeaderLastContact, strconv.FormatInt(info.LastContact.Milliseconds(), 10))
		if ms := c.Query("max_stale"); ms != "" {
			d, err := time.ParseDuration(ms)
			if err != nil || d < 0 {
				return nil, apiErr(api.CodeBadRequest, "max_stale must be a duration such as 5s")
			}
			// Too stale (or no leader contact at all): answer as a
			// linearizable read instead, like Consul's max_stale.
			linearizable = !info.KnownLeader || info.LastContact > d
		}
	default:
		return nil, apiErr(api.CodeBadRequest, "consistency must be linearizable or stale")
	}
	if linearizable {
		if err := s.cluster.ReadBarrier(ctx); err != nil {
			return nil, err
		}
	}
	if mr := c.Query("min_revision"); mr != "" {
		n, err := strconv.ParseUint(mr, 10, 64)
		if err != nil {
			return nil, apiErr(api.CodeBadRequest, "min_revision must be a revision number")
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if !s.state.WaitApplied(wctx.Done(), n) {
			return nil, apiErr(api.CodeTimeout, "revision %d not applied on this node within 30s", n)
		}
	}
	v := s.state.View()
	if bq != nil {
		if v, err = s.block(c, bq); err != nil {
			return nil, err
		}
		if err := s.reauthorize(c); err != nil {
			return nil, err
		}
	}
	c.Header(HeaderIndex, strconv.FormatUint(v.Revision(), 10))
	return v, nil
}

// apply encodes and proposes a command.
func (s *Server) apply(c *gin.Context, cmd any) (*fsm.Result, error) {
	b, err := fsm.Encode(cmd)
	if err != nil {
		return nil, err
	}
	r, err := s.cluster.Apply(c.Request.Context(), b)
	if err != nil {
		return nil, err
	}
	c.Header(HeaderIndex, strconv.FormatUint(r.Revision, 10))
	if r.Err != nil {
		return r, r.Err
	}
	return r, nil
}

// nsParam returns the validated :ns parameter.
func nsParam(c *gin.Context) (string, error) {
	ns := c.Param("ns")
	return ns, api.ValidateName(ns)
}

// nsKeyParams returns the validated :ns and *key parameters.
func nsKeyParams(c *gin.Context) (ns, key string, err error) {
	if ns, err = nsParam(c); err != nil {
		return "", "", err
	}
	key, err = keyParam(c)
	return ns, key, err
}

// readNamespace is read for a route under a namespace: the view, or the
// namespace_not_found error.
func (s *Server) readNamespace(c *gin.Context, ns string) (*store.View, error) {
	v, err := s.read(c)
	if err != nil {
		return nil, err
	}
	if _, err := namespaceOf(v, ns); err != nil {
		return nil, err
	}
	return v, nil
}

// writeViewNamespace is writeView for a write under a namespace.
func (s *Server) writeViewNamespace(c *gin.Context, ns string) (*store.View, error) {
	v, err := s.writeView(c)
	if err != nil {
		return nil, err
	}
	if _, err := namespaceOf(v, ns); err != nil {
		return nil, err
	}
	return v, nil
}

// keyParam returns the validated *key parameter without its leading '/'.
func keyParam(c *gin.Context) (string, error) {
	k := strings.TrimPrefix(c.Param("key"), "/")
	return k, api.ValidateKey(k)
}

// queryUint parses an optional unsigned query parameter.
func queryUint(c *gin.Context, name string) (uint64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, apiErr(api.CodeBadRequest, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// limitParam parses ?limit=, defaulting to def (also when 0). Either is
// capped at Limits.MaxListLimit.
func (s *Server) limitParam(c *gin.Context, def int) (int, error) {
	n, err := queryUint(c, "limit")
	if err != nil {
		return 0, err
	}
	if n == 0 {
		n = uint64(def)
	}
	return int(min(n, uint64(s.cfg.Limits.MaxListLimit))), nil
}

// noDeadline clears a connection's write deadline.
var noDeadline time.Time
