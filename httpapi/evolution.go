package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/internal/jsonutil"
	"github.com/schemakv/schemakv/schema"
	"github.com/schemakv/schemakv/store"
)

// Limits of schema evolution requests.
const (
	// MaxBundleSchemas is the most schema versions one bundle holds (400
	// bad_request beyond); the body limit applies too.
	MaxBundleSchemas = 500
	// MaxReportedFailures is the most failing entries one check lists;
	// the rest are counted in failures_omitted.
	MaxReportedFailures = fsm.MaxReportedFailures
	// evolutionAttempts bounds the retries of a strict registration whose
	// check a concurrent write made stale (409 evolution_conflict after).
	evolutionAttempts = 5
)

// beforeProposeHook, when set (by tests only), runs between a schema
// change's check and its proposal: the window a concurrent write must not
// slip through.
var beforeProposeHook atomic.Pointer[func(ns string)]

// dryRunParam parses ?dry_run=.
func dryRunParam(c *gin.Context) (bool, error) {
	switch c.Query("dry_run") {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, apiErr(api.CodeBadRequest, "dry_run must be true or false")
}

// overlaySource resolves $refs to the versions registered and to the
// earlier versions of the same bundle.
type overlaySource struct {
	v     *store.View
	extra map[string][]byte
}

func (o overlaySource) SchemaText(ns, name string, version int) ([]byte, bool) {
	if b, ok := o.extra[api.SchemaRef(name, version)]; ok {
		return b, true
	}
	return o.v.SchemaText(ns, name, version)
}

// planSchemas compiles the versions of a registration or bundle against
// view v, checks the stored entries each would evolve, and returns the
// command to propose with the report. Under the strict policy the first
// new version of an existing name is checked against every entry pinned to
// its previous version; under none only a dry run checks (to report).
func (s *Server) planSchemas(v *store.View, ns string, in []api.BundleSchema, dryRun bool) (*fsm.RegisterSchemas, []api.SchemaCheck, error) {
	cmd := &fsm.RegisterSchemas{Namespace: ns, CheckedRevision: v.Revision()}
	checks := make([]api.SchemaCheck, 0, len(in))
	latest := map[string]int{}
	policies := map[string]string{}
	src := overlaySource{v: v, extra: map[string][]byte{}}
	for i, it := range in {
		where := "" // prefix of messages: which item of a bundle
		if len(in) > 1 {
			where = fmt.Sprintf("schemas[%d] (%s): ", i, it.Name)
		}
		if err := api.ValidateName(it.Name); err != nil {
			return nil, nil, fmt.Errorf("%s%w", where, err)
		}
		if len(it.Schema) == 0 || string(it.Schema) == "null" {
			return nil, nil, apiErr(api.CodeBadRequest, "%s\"schema\" is required", where)
		}
		if len(it.Schema) > s.cfg.Limits.MaxSchemaBytes {
			return nil, nil, apiErr(api.CodeSchemaTooLarge, "%sschema of %d bytes exceeds %d bytes", where, len(it.Schema), s.cfg.Limits.MaxSchemaBytes)
		}
		if it.Policy != "" && !fsm.ValidPolicy(it.Policy) {
			return nil, nil, apiErr(api.CodeInvalidPolicy, "%spolicy must be %q or %q, not %q", where, api.PolicyStrict, api.PolicyNone, it.Policy)
		}
		raw, err := jsonutil.Compact(it.Schema)
		if err != nil {
			return nil, nil, err
		}
		prev, seen := latest[it.Name]
		if !seen {
			if sv, ok := v.LatestSchema(ns, it.Name); ok {
				prev = sv.Version
			}
		}
		ver := prev + 1
		if it.Version != 0 && it.Version != ver {
			return nil, nil, apiErr(api.CodeSchemaConflict, "%sversion %d given, but the next version is %d", where, it.Version, ver)
		}
		policy, known := policies[it.Name]
		if !known {
			policy = api.PolicyStrict
			if prev > 0 {
				policy = v.SchemaMeta(ns, it.Name).Policy
			} else if it.Policy != "" {
				policy = it.Policy
			}
			policies[it.Name] = policy
		}
		if it.Policy != "" && it.Policy != policy {
			return nil, nil, apiErr(api.CodeInvalidPolicy, "%s%s/%s has policy %s; change it with PUT .../policy", where, ns, it.Name, policy)
		}
		compiled, err := s.schemas.Compile(ns, it.Name, ver, raw, src)
		if err != nil {
			return nil, nil, fmt.Errorf("%s%w", where, err)
		}
		src.extra[api.SchemaRef(it.Name, ver)] = raw
		item := fsm.SchemaItem{Name: it.Name, Version: ver, Schema: json.RawMessage(raw), Description: it.Description, Policy: it.Policy}
		check := api.SchemaCheck{Namespace: ns, Name: it.Name, Version: ver, Policy: policy}
		if prev > 0 {
			check.From = prev
			var prevText []byte
			if seen {
				prevText = src.extra[api.SchemaRef(it.Name, prev)]
			} else if sv, ok := v.SchemaVersion(ns, it.Name, prev); ok {
				prevText = sv.Schema
			}
			check.Changes = schema.Compare(prevText, raw)
		}
		if prev > 0 && !seen && (policy == api.PolicyStrict || dryRun) {
			r, err := checkEntries(v, ns, it.Name, prev, compiled, MaxReportedFailures)
			if err != nil {
				return nil, nil, err
			}
			check.Checked, check.Failed, check.Failures, check.FailuresOmitted = r.checked, r.failed, r.failures, r.failed-len(r.failures)
			item.Checked = policy == api.PolicyStrict
		}
		latest[it.Name] = ver
		cmd.Items = append(cmd.Items, item)
		checks = append(checks, check)
	}
	return cmd, checks, nil
}

// checkResult is the outcome of validating the entries of one version.
type checkResult struct {
	checked, failed int
	failures        []api.EntryFailure
}

// checkEntries validates every entry of ns pinned to name@from against sch,
// listing the first limit failures in key order. It reads one immutable
// view, so the answer is exact at v.Revision(). Large sets are validated on
// every core.
func checkEntries(v *store.View, ns, name string, from int, sch *schema.Schema, limit int) (checkResult, error) {
	var entries []*api.ConfigEntry
	v.PinnedConfigs(ns, name, from, "", func(e *api.ConfigEntry) bool {
		entries = append(entries, e)
		return true
	})
	workers := runtime.GOMAXPROCS(0)
	if len(entries) < 1024 {
		workers = 1
	}
	per := (len(entries) + workers - 1) / max(workers, 1)
	parts := make([]checkResult, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := min(w*per, len(entries)), min((w+1)*per, len(entries))
		wg.Add(1)
		go func(part *checkResult, es []*api.ConfigEntry) {
			defer wg.Done()
			for _, e := range es {
				part.checked++
				details, total, verr := sch.Validate(e.Value)
				if verr != nil {
					details, total = []api.FieldError{{Message: verr.Error()}}, 1
				}
				if total == 0 {
					continue
				}
				part.failed++
				if len(part.failures) < limit {
					part.failures = append(part.failures, api.EntryFailure{Key: e.Key, SchemaVersion: from, Errors: details})
				}
			}
		}(&parts[w], entries[lo:hi])
	}
	wg.Wait()
	var r checkResult
	for _, p := range parts {
		r.checked += p.checked
		r.failed += p.failed
		for _, f := range p.failures {
			if len(r.failures) < limit {
				r.failures = append(r.failures, f)
			}
		}
	}
	return r, nil
}

// refused reports whether a strict check failed.
func refused(checks []api.SchemaCheck) bool {
	for _, ch := range checks {
		if ch.Policy == api.PolicyStrict && ch.Failed > 0 {
			return true
		}
	}
	return false
}

func refusal(checks []api.SchemaCheck) error {
	n := 0
	for _, ch := range checks {
		if ch.Policy == api.PolicyStrict {
			n += ch.Failed
		}
	}
	return &api.Error{Code: api.CodeEvolutionCheckFailed, Checks: checks,
		Message: fmt.Sprintf("%d stored config entr%s would fail the new version under the strict policy (see checks)", n, plural(n, "y", "ies"))}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// changeSchemas plans, checks and proposes a registration or bundle. It
// retries when a concurrent write pinned a checked version after the
// check (the FSM refuses such a stale check with ErrEvolutionConflict).
func (s *Server) changeSchemas(c *gin.Context, ns string, items []api.BundleSchema, reason string) (*api.SchemaChangeResult, error) {
	dryRun, err := dryRunParam(c)
	if err != nil {
		return nil, err
	}
	a, err := s.audit(c, reason)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		// The check must see every write committed before it, so it reads
		// after a barrier even on the leader.
		if err := s.cluster.ReadBarrier(c.Request.Context()); err != nil {
			return nil, err
		}
		v := s.state.View()
		if _, err := namespaceOf(v, ns); err != nil {
			return nil, err
		}
		cmd, checks, err := s.planSchemas(v, ns, items, dryRun)
		if err != nil {
			return nil, err
		}
		if refused(checks) {
			return nil, refusal(checks)
		}
		if dryRun {
			c.Header(HeaderIndex, strconv.FormatUint(v.Revision(), 10))
			return &api.SchemaChangeResult{DryRun: true, Revision: v.Revision(), Checks: checks}, nil
		}
		cmd.Audit = a
		if h := beforeProposeHook.Load(); h != nil {
			(*h)(ns)
		}
		r, err := s.apply(c, cmd)
		if errors.Is(err, fsm.ErrEvolutionConflict) && attempt < evolutionAttempts {
			s.log.Info("strict schema check went stale; checking again", "namespace", ns, "attempt", attempt, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		v, err = s.viewAt(c, r.Revision)
		if err != nil {
			return nil, err
		}
		out := &api.SchemaChangeResult{Revision: r.Revision, Checks: checks}
		for _, it := range cmd.Items {
			if sv, ok := v.SchemaVersion(ns, it.Name, it.Version); ok {
				out.Versions = append(out.Versions, *sv)
			}
		}
		return out, nil
	}
}

// viewAt waits until this node has applied rev and returns its view.
func (s *Server) viewAt(c *gin.Context, rev uint64) (*store.View, error) {
	if !s.state.WaitApplied(c.Request.Context().Done(), rev) {
		return nil, apiErr(api.CodeTimeout, "revision %d not applied on this node in time", rev)
	}
	return s.state.View(), nil
}

func (s *Server) registerBundle(c *gin.Context) {
	ns, err := nsParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req api.BundleRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok || len(req.Schemas) == 0 {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"schemas": [{"name": ..., "schema": {...}}, ...]} with at least one schema`))
		return
	}
	if len(req.Schemas) > MaxBundleSchemas {
		s.fail(c, apiErr(api.CodeBadRequest, "bundle of %d schemas exceeds %d", len(req.Schemas), MaxBundleSchemas))
		return
	}
	out, err := s.changeSchemas(c, ns, req.Schemas, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusCreated
	if out.DryRun {
		status = http.StatusOK
	}
	s.render(c, status, out)
}

func (s *Server) schemaStatus(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	st, err := statusOf2(v, ns, name)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, st)
}

// statusOf2 builds the status of a schema name from a view.
func statusOf2(v *store.View, ns, name string) (*api.SchemaStatus, error) {
	versions := v.SchemaVersions(ns, name)
	if len(versions) == 0 {
		return nil, apiErr(api.CodeSchemaNotFound, "schema %s/%s not found", ns, name)
	}
	m := v.SchemaMeta(ns, name)
	out := &api.SchemaStatus{Namespace: ns, Name: name, Policy: m.Policy, Revision: v.Revision()}
	for _, sv := range versions {
		p := v.PinStat(ns, name, sv.Version)
		out.Versions = append(out.Versions, api.SchemaVersionStatus{
			Version: sv.Version, Deprecated: m.IsDeprecated(sv.Version), Pins: p.Count, LastPinRevision: p.LastPin,
		})
	}
	return out, nil
}

// schemaChange runs a policy, deprecation or delete command: a dry run
// answers the status as it would be after the checks the handler made;
// otherwise the command is applied and the status read back.
func (s *Server) schemaChange(c *gin.Context, ns, name string, check func(v *store.View) error, cmd func(a fsm.Audit) any, reason string, preview func(st *api.SchemaStatus)) {
	dryRun, err := dryRunParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.audit(c, reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.writeViewNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := check(v); err != nil {
		s.fail(c, err)
		return
	}
	if dryRun {
		st, err := statusOf2(v, ns, name)
		if err != nil {
			s.fail(c, err)
			return
		}
		preview(st)
		c.Header(HeaderIndex, strconv.FormatUint(v.Revision(), 10))
		s.render(c, http.StatusOK, st)
		return
	}
	r, err := s.apply(c, cmd(a))
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err = s.viewAt(c, r.Revision)
	if err != nil {
		s.fail(c, err)
		return
	}
	st, err := statusOf2(v, ns, name)
	if err != nil {
		s.fail(c, err)
		return
	}
	st.Revision = r.Revision
	s.render(c, http.StatusOK, st)
}

func (s *Server) setSchemaPolicy(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	var req api.SetPolicyRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"policy": "strict"|"none"}`))
		return
	}
	if !fsm.ValidPolicy(req.Policy) {
		s.fail(c, apiErr(api.CodeInvalidPolicy, "policy must be %q or %q, not %q", api.PolicyStrict, api.PolicyNone, req.Policy))
		return
	}
	s.schemaChange(c, ns, name,
		func(v *store.View) error { return schemaMust(v, ns, name, 0) },
		func(a fsm.Audit) any {
			return &fsm.SetSchemaPolicy{Audit: a, Namespace: ns, Name: name, Policy: req.Policy}
		}, req.Reason,
		func(st *api.SchemaStatus) { st.Policy = req.Policy })
}

func (s *Server) deprecateVersion(c *gin.Context) {
	ns, name, ver, ok := s.versionParams(c)
	if !ok {
		return
	}
	var req api.DeprecateRequest
	if _, err := s.decodeBody(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	dep := req.Deprecated == nil || *req.Deprecated
	s.schemaChange(c, ns, name,
		func(v *store.View) error { return schemaMust(v, ns, name, ver) },
		func(a fsm.Audit) any {
			return &fsm.DeprecateVersion{Audit: a, Namespace: ns, Name: name, Version: ver, Deprecated: dep}
		}, req.Reason,
		func(st *api.SchemaStatus) {
			for i := range st.Versions {
				if st.Versions[i].Version == ver {
					st.Versions[i].Deprecated = dep
				}
			}
		})
}

func (s *Server) deleteSchemaVersion(c *gin.Context) {
	ns, name, ver, ok := s.versionParams(c)
	if !ok {
		return
	}
	s.schemaChange(c, ns, name,
		func(v *store.View) error {
			if err := schemaMust(v, ns, name, ver); err != nil {
				return err
			}
			if p := v.PinStat(ns, name, ver); p.Count > 0 {
				return apiErr(api.CodeSchemaInUse, "%d config entries pin %s/%s@%d (migrate them first)", p.Count, ns, name, ver)
			}
			if l, _ := v.LatestSchema(ns, name); l.Version == ver {
				return apiErr(api.CodeSchemaInUse, "%s/%s@%d is the latest version (deprecate it instead)", ns, name, ver)
			}
			return nil // references and migrations are checked when it applies
		},
		func(a fsm.Audit) any {
			return &fsm.DeleteSchemaVersion{Audit: a, Namespace: ns, Name: name, Version: ver}
		}, c.GetHeader(HeaderReason),
		func(st *api.SchemaStatus) {
			for i := range st.Versions {
				if st.Versions[i].Version == ver {
					st.Versions = append(st.Versions[:i], st.Versions[i+1:]...)
					break
				}
			}
		})
}

// schemaMust checks that a schema (version 0) or a version exists in v.
func schemaMust(v *store.View, ns, name string, ver int) error {
	if ver == 0 {
		if _, ok := v.LatestSchema(ns, name); !ok {
			return apiErr(api.CodeSchemaNotFound, "schema %s/%s not found", ns, name)
		}
		return nil
	}
	if _, ok := v.SchemaVersion(ns, name, ver); !ok {
		return apiErr(api.CodeSchemaNotFound, "schema %s/%s has no version %d", ns, name, ver)
	}
	return nil
}

func (s *Server) versionParams(c *gin.Context) (ns, name string, ver int, ok bool) {
	ns, name, ok = s.schemaParams(c)
	if !ok {
		return "", "", 0, false
	}
	ver, err := strconv.Atoi(c.Param("version"))
	if err != nil || ver < 1 {
		s.fail(c, apiErr(api.CodeBadRequest, "version must be a positive integer"))
		return "", "", 0, false
	}
	return ns, name, ver, true
}

// schemaHistory answers the recorded changes of a schema name, newest
// first: versions registered and deleted, policy and deprecation changes
// (op "update", the new state as value) and migrations started and finished
// (op "migrate", the migration with its transforms as value).
func (s *Server) schemaHistory(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	s.historyPage(c, api.KindSchema, ns, name, func(c *gin.Context) (*store.View, error) { return s.readNamespace(c, ns) },
		apiErr(api.CodeSchemaNotFound, "schema %s/%s has no history", ns, name))
}
