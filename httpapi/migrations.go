package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/store"
)

// Migrations move entries from one version of a schema to another in
// chunks, each one raft entry. The migration's state (cursor, counts,
// failures) is replicated; a chunk applies only if the migration's cursor
// is the one the chunk was built after, so any number of drivers may run at
// once and each chunk applies exactly once. Drivers run on the node that
// started the migration and on the leader: a supervisor on every node
// starts one for each running migration while the node leads, so a
// migration continues when the leader changes. POST .../resume starts a
// driver on the node it reaches.
const (
	// DefaultChunkSize and MaxChunkSize bound the entries per chunk.
	DefaultChunkSize = 100
	MaxChunkSize     = 1000
	// MaxChunkBytes bounds the values one chunk carries (a raft entry):
	// a chunk ends early when the next value would pass it.
	MaxChunkBytes = 4 << 20
	// migrationSupervise is how often a node checks whether it leads and
	// has running migrations without a driver.
	migrationSupervise = 500 * time.Millisecond
	// migrationGiveUp is how long a driver keeps retrying a chunk that
	// fails for want of a leader before it stops (resume restarts it).
	migrationGiveUp = 2 * time.Minute
)

// migrations runs the drivers of one node.
type migrations struct {
	s      *Server
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[string]bool // ns/id with a driver on this node
	closed  bool
}

func newMigrations(s *Server) *migrations {
	ctx, cancel := context.WithCancel(context.Background())
	m := &migrations{s: s, ctx: ctx, cancel: cancel, running: map[string]bool{}}
	m.wg.Add(1)
	go m.supervise()
	return m
}

// Close stops the migration drivers and the tombstone reaper of this node
// (a migration's state stays replicated; another node or a restart
// continues it).
func (s *Server) Close() {
	m := s.mig
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	s.reaper.close()
}

func (m *migrations) supervise() {
	defer m.wg.Done()
	t := time.NewTicker(migrationSupervise)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		if !m.s.cluster.IsLeader() {
			continue
		}
		for _, mg := range m.s.state.View().RunningMigrations() {
			m.drive(mg.Namespace, mg.ID)
		}
	}
}

// drive starts a driver for a migration unless this node runs one.
func (m *migrations) drive(ns, id string) {
	k := ns + "/" + id
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running[k] || m.closed {
		return
	}
	m.running[k] = true
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.running, k)
			m.mu.Unlock()
		}()
		if err := m.run(ns, id); err != nil && m.ctx.Err() == nil {
			m.s.log.Warn("migration driver stopped", "namespace", ns, "id", id, "err", err)
		}
	}()
}

// run proposes chunks until the migration is no longer running.
func (m *migrations) run(ns, id string) error {
	var failingSince time.Time
	backoff := 50 * time.Millisecond
	for {
		if m.ctx.Err() != nil {
			return m.ctx.Err()
		}
		done, err := m.step(ns, id)
		if done {
			return nil
		}
		if err == nil || errors.Is(err, fsm.ErrMigrationConflict) {
			failingSince, backoff = time.Time{}, 50*time.Millisecond
			continue // another driver moved the cursor: read it again
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		} else if time.Since(failingSince) > migrationGiveUp {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return m.ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// step reads the migration after a barrier, builds its next chunk and
// proposes it. done is true when the migration no longer runs.
func (m *migrations) step(ns, id string) (done bool, err error) {
	ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
	defer cancel()
	if err := m.s.cluster.ReadBarrier(ctx); err != nil {
		return false, err
	}
	v := m.s.state.View()
	mg, ok := v.Migration(ns, id)
	if !ok || mg.State != api.MigrationRunning {
		return true, nil
	}
	chunk, err := m.s.buildChunk(v, mg)
	if err != nil {
		return false, err
	}
	chunk.Audit = fsm.NewAudit(mg.CreatedBy, fmt.Sprintf("migration %s: %s", mg.ID, mg.Reason))
	b, err := fsm.Encode(chunk)
	if err != nil {
		return true, err
	}
	r, err := m.s.cluster.Apply(ctx, b)
	if err != nil {
		return false, err
	}
	return false, r.Err
}

// buildChunk moves the next ChunkSize entries pinned to From after the
// cursor: each transformed and validated against To; the failing ones
// are reported and stay.
func (s *Server) buildChunk(v *store.View, mg *api.Migration) (*fsm.MigrateChunk, error) {
	target, ok := v.SchemaVersion(mg.Namespace, mg.Name, mg.To)
	if !ok {
		return nil, fmt.Errorf("%w: %s/%s", store.ErrSchemaNotFound, mg.Namespace, api.SchemaRef(mg.Name, mg.To))
	}
	sch, err := s.schemas.Get(mg.Namespace, mg.Name, mg.To, target.CreateRevision, v)
	if err != nil {
		return nil, err
	}
	c := &fsm.MigrateChunk{Namespace: mg.Namespace, ID: mg.ID, From: mg.Cursor, Cursor: mg.Cursor, SchemaRevision: target.CreateRevision}
	n, size := 0, 0
	more := false
	v.PinnedConfigs(mg.Namespace, mg.Name, mg.From, mg.Cursor, func(e *api.ConfigEntry) bool {
		if n == mg.ChunkSize || (n > 0 && size+len(e.Value) > MaxChunkBytes) {
			more = true
			return false
		}
		n++
		size += len(e.Value)
		c.Cursor = e.Key
		val, fe := migrateValue(e, mg.Transforms, sch.Validate)
		if fe != nil {
			c.FailedCount++
			if len(c.Failures) < MaxReportedFailures {
				c.Failures = append(c.Failures, api.EntryFailure{Key: e.Key, SchemaVersion: mg.From, Errors: fe})
			}
			return true
		}
		c.Items = append(c.Items, fsm.ChunkItem{Key: e.Key, ModifyRevision: e.ModifyRevision, Value: val})
		return true
	})
	c.Done = !more
	return c, nil
}

// migrateValue transforms an entry's value and validates it against the
// target; it returns the new value or why the entry stays.
func migrateValue(e *api.ConfigEntry, ts []api.Transform, validate func([]byte) ([]api.FieldError, int, error)) ([]byte, []api.FieldError) {
	val, fe := applyTransforms(e.Value, ts)
	if fe != nil {
		return nil, []api.FieldError{*fe}
	}
	details, total, err := validate(val)
	if err != nil {
		return nil, []api.FieldError{{Message: err.Error()}}
	}
	if total > 0 {
		return nil, details
	}
	return val, nil
}

func newMigrationID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("httpapi: migration id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (s *Server) startMigration(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	dryRun, err := dryRunParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req api.MigrationRequest
	ok, err = s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok || req.From < 1 || req.To < 1 || req.From == req.To {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"from": A, "to": B, "transforms": [...]} with two different versions`))
		return
	}
	if req.ChunkSize == 0 {
		req.ChunkSize = DefaultChunkSize
	}
	if req.ChunkSize < 1 || req.ChunkSize > MaxChunkSize {
		s.fail(c, apiErr(api.CodeBadRequest, "chunk_size must be between 1 and %d", MaxChunkSize))
		return
	}
	if err := checkTransforms(req.Transforms); err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.audit(c, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.cluster.ReadBarrier(c.Request.Context()); err != nil {
		s.fail(c, err)
		return
	}
	v := s.state.View()
	if _, err := namespaceOf(v, ns); err != nil {
		s.fail(c, err)
		return
	}
	for _, ver := range []int{req.From, req.To} {
		if err := schemaMust(v, ns, name, ver); err != nil {
			s.fail(c, err)
			return
		}
	}
	if v.SchemaMeta(ns, name).IsDeprecated(req.To) {
		s.fail(c, apiErr(api.CodeSchemaDeprecated, "%s/%s@%d is deprecated and takes no new pins", ns, name, req.To))
		return
	}
	mg := api.Migration{
		Namespace: ns, Name: name, From: req.From, To: req.To, Transforms: req.Transforms,
		ChunkSize: req.ChunkSize, State: api.MigrationRunning,
	}
	if dryRun {
		out, err := s.dryRunMigration(v, &mg)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.render(c, http.StatusOK, out)
		return
	}
	if mg.ID, err = newMigrationID(); err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.apply(c, &fsm.StartMigration{Audit: a, Migration: mg})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.mig.drive(ns, mg.ID)
	v, err = s.viewAt(c, r.Revision)
	if err != nil {
		s.fail(c, err)
		return
	}
	got, _ := v.Migration(ns, mg.ID)
	s.render(c, http.StatusAccepted, got)
}

// dryRunMigration reports what a migration would move, over one view.
func (s *Server) dryRunMigration(v *store.View, mg *api.Migration) (*api.MigrationDryRun, error) {
	target, _ := v.SchemaVersion(mg.Namespace, mg.Name, mg.To)
	sch, err := s.schemas.Get(mg.Namespace, mg.Name, mg.To, target.CreateRevision, v)
	if err != nil {
		return nil, err
	}
	out := &api.MigrationDryRun{DryRun: true, Revision: v.Revision()}
	v.PinnedConfigs(mg.Namespace, mg.Name, mg.From, "", func(e *api.ConfigEntry) bool {
		out.Checked++
		if _, fe := migrateValue(e, mg.Transforms, sch.Validate); fe != nil {
			out.Failed++
			if len(out.Failures) < MaxReportedFailures {
				out.Failures = append(out.Failures, api.EntryFailure{Key: e.Key, SchemaVersion: mg.From, Errors: fe})
			} else {
				out.FailuresOmitted++
			}
			return true
		}
		out.WouldMigrate++
		return true
	})
	return out, nil
}

func (s *Server) listMigrations(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := api.MigrationList{Items: []api.Migration{}, Revision: v.Revision()}
	for _, m := range v.Migrations(ns, name) {
		out.Items = append(out.Items, *m)
	}
	s.render(c, http.StatusOK, out)
}

func (s *Server) getMigration(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	v, err := s.readNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	m, err := migrationOf(v, ns, name, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, m)
}

func (s *Server) resumeMigration(c *gin.Context) {
	ns, name, ok := s.schemaParams(c)
	if !ok {
		return
	}
	v, err := s.writeViewNamespace(c, ns)
	if err != nil {
		s.fail(c, err)
		return
	}
	m, err := migrationOf(v, ns, name, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if m.State != api.MigrationRunning {
		s.fail(c, apiErr(api.CodeMigrationConflict, "migration %s is %s", m.ID, m.State))
		return
	}
	s.mig.drive(ns, m.ID)
	s.render(c, http.StatusAccepted, m)
}

// migrationOf finds migration id of schema ns/name.
func migrationOf(v *store.View, ns, name, id string) (*api.Migration, error) {
	m, found := v.Migration(ns, id)
	if !found || m.Name != name {
		return nil, apiErr(api.CodeMigrationNotFound, "migration %q of %s/%s not found", id, ns, name)
	}
	return m, nil
}
