package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

// Schema evolution commands (issue 5): types 12-20 are reserved for them.
const (
	TypeRegisterSchemas  Type = 12
	TypeSetSchemaPolicy  Type = 13
	TypeDeprecateVersion Type = 14
	TypeDeleteSchemaVer  Type = 15
	TypeStartMigration   Type = 16
	TypeMigrateChunk     Type = 17
)

// Errors of the evolution commands; each crosses the forward hop as a code.
var (
	// ErrEvolutionConflict: a strict registration's check is stale: an entry
	// was pinned to the checked version after the revision checked (or the
	// policy changed). The proposer retries with a new check.
	ErrEvolutionConflict = errors.New("fsm: evolution check conflict")
	// ErrSchemaDeprecated: a write pins a deprecated schema version.
	ErrSchemaDeprecated = errors.New("fsm: schema version deprecated")
	// ErrSchemaInUse: a version to delete is pinned, referenced, or the
	// latest.
	ErrSchemaInUse = errors.New("fsm: schema version in use")
	// ErrInvalidPolicy: a policy other than strict or none, or a bundle
	// that names another policy for an existing schema.
	ErrInvalidPolicy = errors.New("fsm: invalid policy")
	// ErrMigrationNotFound: no migration with that id.
	ErrMigrationNotFound = errors.New("fsm: migration not found")
	// ErrMigrationConflict: another migration of the schema runs, or a
	// chunk's cursor is not the migration's (a duplicate or stale chunk).
	ErrMigrationConflict = errors.New("fsm: migration conflict")
)

// SchemaItem is one schema version of a RegisterSchemas command.
type SchemaItem struct {
	Name        string          `json:"name"`
	Version     int             `json:"version"`
	Schema      json.RawMessage `json:"schema"`
	Description string          `json:"description,omitempty"`
	// Policy is the policy of a new name ("" = strict); for an existing
	// name it must be "" or its policy.
	Policy string `json:"policy,omitempty"`
	// Checked is set when the proposer validated every entry pinned to
	// Version-1 against this version at CheckedRevision.
	Checked bool `json:"checked,omitempty"`
}

// RegisterSchemas stores one or many schema versions of a namespace at one
// revision (a registration is a bundle of one). Apply refuses with
// ErrEvolutionConflict a strict item whose previous version was pinned by
// a write newer than CheckedRevision: the proposer's check did not see it.
type RegisterSchemas struct {
	Audit
	Namespace       string       `json:"namespace"`
	Items           []SchemaItem `json:"items"`
	CheckedRevision uint64       `json:"checked_revision"`
}

// SetSchemaPolicy changes the evolution policy of an existing schema name.
type SetSchemaPolicy struct {
	Audit
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Policy    string `json:"policy"`
}

// DeprecateVersion sets or lifts the deprecation of a schema version.
type DeprecateVersion struct {
	Audit
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Version    int    `json:"version"`
	Deprecated bool   `json:"deprecated"`
}

// DeleteSchemaVersion deletes a version no entry pins, no other version
// references and that is not the latest.
type DeleteSchemaVersion struct {
	Audit
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Version   int    `json:"version"`
}

// StartMigration records a new running migration. ID is chosen by the
// proposer.
type StartMigration struct {
	Audit
	Migration api.Migration `json:"migration"`
}

// ChunkItem is one entry a chunk moves: the value (already transformed and
// validated against the target version) replaces the entry only if it is
// still at ModifyRevision.
type ChunkItem struct {
	Key            string          `json:"key"`
	ModifyRevision uint64          `json:"modify_revision"`
	Value          json.RawMessage `json:"value"`
}

// MigrateChunk applies one chunk of a migration. It applies only if the
// migration is running with Cursor equal to From, so a chunk proposed twice
// (a retry after an unknown outcome) applies once.
type MigrateChunk struct {
	Audit
	Namespace string `json:"namespace"`
	ID        string `json:"id"`
	// From is the cursor the chunk was built after; Cursor the cursor after
	// it (the last key it looked at).
	From   string `json:"from"`
	Cursor string `json:"cursor"`
	// SchemaRevision is the create revision of the target version the
	// values were validated against.
	SchemaRevision uint64             `json:"schema_revision"`
	Items          []ChunkItem        `json:"items,omitempty"`
	Failures       []api.EntryFailure `json:"failures,omitempty"`
	FailedCount    int                `json:"failed_count,omitempty"`
	Done           bool               `json:"done,omitempty"`
}

// MaxReportedFailures bounds the failures a migration keeps.
const MaxReportedFailures = 100

// ValidPolicy reports whether p names a policy ("" is not one).
func ValidPolicy(p string) bool { return p == api.PolicyStrict || p == api.PolicyNone }

func applyRegisterSchemas(tx *store.Txn, rev uint64, body []byte) *Result {
	var c RegisterSchemas
	mustDecode(rev, body, &c)
	if _, ok := tx.Namespace(c.Namespace); !ok {
		return fail(rev, fmt.Errorf("%w: %q", store.ErrNamespaceNotFound, c.Namespace))
	}
	if len(c.Items) == 0 {
		return fail(rev, fmt.Errorf("%w: no schemas", store.ErrSchemaConflict))
	}
	// Check every item before writing any.
	latest := map[string]int{}
	existed := map[string]bool{}
	for _, it := range c.Items {
		l, seen := latest[it.Name]
		if !seen {
			l = tx.LatestSchemaVersion(c.Namespace, it.Name)
			existed[it.Name] = l > 0
		}
		if it.Version != l+1 {
			return fail(rev, fmt.Errorf("%w: %s/%s: version %d was checked, but the next version is %d",
				store.ErrSchemaConflict, c.Namespace, it.Name, it.Version, l+1))
		}
		latest[it.Name] = it.Version
		if it.Policy != "" && !ValidPolicy(it.Policy) {
			return fail(rev, fmt.Errorf("%w: %q", ErrInvalidPolicy, it.Policy))
		}
		if !existed[it.Name] {
			continue
		}
		m := tx.SchemaMeta(c.Namespace, it.Name)
		if it.Policy != "" && it.Policy != m.Policy {
			return fail(rev, fmt.Errorf("%w: %s/%s has policy %s; change it with the policy endpoint",
				ErrInvalidPolicy, c.Namespace, it.Name, m.Policy))
		}
		if m.Policy != api.PolicyStrict || seen {
			continue // later versions of the bundle have no pins yet
		}
		if !it.Checked {
			return fail(rev, fmt.Errorf("%w: %s/%s became strict after the check", ErrEvolutionConflict, c.Namespace, it.Name))
		}
		if p := tx.PinStat(c.Namespace, it.Name, it.Version-1); p.LastPin > c.CheckedRevision {
			return fail(rev, fmt.Errorf("%w: %s/%s@%d was pinned at revision %d, after the check at revision %d",
				ErrEvolutionConflict, c.Namespace, it.Name, it.Version-1, p.LastPin, c.CheckedRevision))
		}
	}
	a := c.Audit.store()
	res := &Result{Revision: rev}
	for _, it := range c.Items {
		if it.Version == 1 && it.Policy != "" && it.Policy != api.PolicyStrict {
			m := *tx.SchemaMeta(c.Namespace, it.Name)
			m.Policy = it.Policy
			_, err := tx.PutSchemaMeta(m, a)
			mustWrite(rev, err)
		}
		sv, err := tx.PutSchemaVersion(api.SchemaVersion{
			Namespace: c.Namespace, Name: it.Name, Version: it.Version,
			Schema: it.Schema, Description: it.Description,
		}, a)
		mustWrite(rev, err)
		if res.Schema == nil {
			res.Schema = sv
		}
	}
	return res
}

func applySetSchemaPolicy(tx *store.Txn, rev uint64, body []byte) *Result {
	var c SetSchemaPolicy
	mustDecode(rev, body, &c)
	if err := schemaExists(tx, c.Namespace, c.Name); err != nil {
		return fail(rev, err)
	}
	if !ValidPolicy(c.Policy) {
		return fail(rev, fmt.Errorf("%w: %q", ErrInvalidPolicy, c.Policy))
	}
	m := *tx.SchemaMeta(c.Namespace, c.Name)
	m.Policy = c.Policy
	_, err := tx.PutSchemaMeta(m, c.Audit.store())
	mustWrite(rev, err)
	return &Result{Revision: rev}
}

func applyDeprecateVersion(tx *store.Txn, rev uint64, body []byte) *Result {
	var c DeprecateVersion
	mustDecode(rev, body, &c)
	if err := versionExists(tx, c.Namespace, c.Name, c.Version); err != nil {
		return fail(rev, err)
	}
	m := *tx.SchemaMeta(c.Namespace, c.Name)
	dep := slices.DeleteFunc(slices.Clone(m.Deprecated), func(v int) bool { return v == c.Version })
	if c.Deprecated {
		dep = append(dep, c.Version)
		slices.Sort(dep)
	}
	m.Deprecated = dep
	_, err := tx.PutSchemaMeta(m, c.Audit.store())
	mustWrite(rev, err)
	return &Result{Revision: rev}
}

func applyDeleteSchemaVersion(tx *store.Txn, rev uint64, body []byte) *Result {
	var c DeleteSchemaVersion
	mustDecode(rev, body, &c)
	if err := versionExists(tx, c.Namespace, c.Name, c.Version); err != nil {
		return fail(rev, err)
	}
	if p := tx.PinStat(c.Namespace, c.Name, c.Version); p.Count > 0 {
		return fail(rev, fmt.Errorf("%w: %d config entries pin %s/%s@%d (migrate them first)",
			ErrSchemaInUse, p.Count, c.Namespace, c.Name, c.Version))
	}
	if tx.LatestSchemaVersion(c.Namespace, c.Name) == c.Version {
		return fail(rev, fmt.Errorf("%w: %s/%s@%d is the latest version (deprecate it instead)",
			ErrSchemaInUse, c.Namespace, c.Name, c.Version))
	}
	if m, ok := tx.RunningMigration(c.Namespace, c.Name); ok && (m.From == c.Version || m.To == c.Version) {
		return fail(rev, fmt.Errorf("%w: migration %s uses %s/%s@%d", ErrSchemaInUse, m.ID, c.Namespace, c.Name, c.Version))
	}
	target := api.SchemaRef(c.Name, c.Version)
	var referrer string
	tx.NamespaceSchemas(c.Namespace, func(sv *api.SchemaVersion) {
		if referrer == "" && !(sv.Name == c.Name && sv.Version == c.Version) && refersTo(sv.Schema, target) {
			referrer = api.SchemaRef(sv.Name, sv.Version)
		}
	})
	if referrer != "" {
		return fail(rev, fmt.Errorf("%w: %s/%s refers to %s", ErrSchemaInUse, c.Namespace, referrer, target))
	}
	mustWrite(rev, tx.DeleteSchemaVersion(c.Namespace, c.Name, c.Version, c.Audit.store()))
	return &Result{Revision: rev}
}

// refersTo reports whether a schema text holds a "$ref" to target
// ("name@version", with or without a fragment). It walks the decoded
// document, so it is deterministic and independent of the compiler.
func refersTo(raw json.RawMessage, target string) bool {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && (k == "$ref" || k == "$dynamicRef") {
					ref, _, _ := strings.Cut(s, "#")
					if ref == target || strings.HasSuffix(ref, "/"+target) {
						return true
					}
				}
				if walk(c) {
					return true
				}
			}
		case []any:
			for _, c := range x {
				if walk(c) {
					return true
				}
			}
		}
		return false
	}
	return walk(doc)
}

func applyStartMigration(tx *store.Txn, rev uint64, body []byte) *Result {
	var c StartMigration
	mustDecode(rev, body, &c)
	m := c.Migration
	for _, v := range []int{m.From, m.To} {
		if err := versionExists(tx, m.Namespace, m.Name, v); err != nil {
			return fail(rev, err)
		}
	}
	if _, ok := tx.Migration(m.Namespace, m.ID); ok {
		return fail(rev, fmt.Errorf("%w: migration %s exists", ErrMigrationConflict, m.ID))
	}
	if r, ok := tx.RunningMigration(m.Namespace, m.Name); ok {
		return fail(rev, fmt.Errorf("%w: migration %s of %s/%s is running", ErrMigrationConflict, r.ID, m.Namespace, m.Name))
	}
	a := c.Audit.store()
	m.State = api.MigrationRunning
	m.CreateRevision = rev
	m.CreatedBy, m.CreatedAt, m.Reason = a.Principal, a.Time, a.Reason
	_, err := tx.PutMigration(m, true, a)
	mustWrite(rev, err)
	return &Result{Revision: rev}
}

func applyMigrateChunk(tx *store.Txn, rev uint64, body []byte) *Result {
	var c MigrateChunk
	mustDecode(rev, body, &c)
	cur, ok := tx.Migration(c.Namespace, c.ID)
	if !ok {
		return fail(rev, fmt.Errorf("%w: %s/%s", ErrMigrationNotFound, c.Namespace, c.ID))
	}
	if cur.State != api.MigrationRunning || cur.Cursor != c.From {
		return fail(rev, fmt.Errorf("%w: migration %s is %s at cursor %q, the chunk starts after %q",
			ErrMigrationConflict, c.ID, cur.State, cur.Cursor, c.From))
	}
	sv, ok := tx.SchemaVersion(c.Namespace, cur.Name, cur.To)
	if !ok || sv.CreateRevision != c.SchemaRevision {
		return fail(rev, fmt.Errorf("%w: %s/%s no longer exists as validated",
			store.ErrSchemaNotFound, c.Namespace, api.SchemaRef(cur.Name, cur.To)))
	}
	a := c.Audit.store()
	m := *cur
	m.Failures = slices.Clone(cur.Failures)
	for _, it := range c.Items {
		e, ok := tx.Config(c.Namespace, it.Key)
		if !ok || e.ModifyRevision != it.ModifyRevision || e.Schema != m.Name || e.SchemaVersion != m.From {
			m.Skipped++ // changed since the chunk was checked: a later run or write handles it
			continue
		}
		_, err := tx.PutConfig(c.Namespace, it.Key, m.Name, m.To, it.Value, a, 0)
		mustWrite(rev, err)
		m.Migrated++
	}
	m.Failed += c.FailedCount
	for _, f := range c.Failures {
		if len(m.Failures) < MaxReportedFailures {
			m.Failures = append(m.Failures, f)
		} else {
			m.FailuresOmitted++
		}
	}
	m.FailuresOmitted += c.FailedCount - len(c.Failures)
	m.Cursor = c.Cursor
	m.Chunks++
	if c.Done {
		m.State = api.MigrationCompleted
	}
	_, err := tx.PutMigration(m, c.Done, a)
	mustWrite(rev, err)
	return &Result{Revision: rev}
}

func schemaExists(tx *store.Txn, ns, name string) error {
	if _, ok := tx.Namespace(ns); !ok {
		return fmt.Errorf("%w: %q", store.ErrNamespaceNotFound, ns)
	}
	if tx.LatestSchemaVersion(ns, name) == 0 {
		return fmt.Errorf("%w: %s/%s", store.ErrSchemaNotFound, ns, name)
	}
	return nil
}

func versionExists(tx *store.Txn, ns, name string, version int) error {
	if _, ok := tx.Namespace(ns); !ok {
		return fmt.Errorf("%w: %q", store.ErrNamespaceNotFound, ns)
	}
	if _, ok := tx.SchemaVersion(ns, name, version); !ok {
		return fmt.Errorf("%w: %s/%s@%s", store.ErrSchemaNotFound, ns, name, strconv.Itoa(version))
	}
	return nil
}

// checkNotDeprecated is the check a config put makes: a deprecated version
// takes no new pins, but an entry already pinned to it may be rewritten
// there (so teams can keep updating while they migrate).
func checkNotDeprecated(tx *store.Txn, op Op) error {
	m := tx.SchemaMeta(op.Namespace, op.Schema)
	if !m.IsDeprecated(op.SchemaVersion) {
		return nil
	}
	if cur, ok := tx.Config(op.Namespace, op.Key); ok && cur.Schema == op.Schema && cur.SchemaVersion == op.SchemaVersion {
		return nil
	}
	return fmt.Errorf("%w: %s/%s is deprecated and takes no new pins", ErrSchemaDeprecated,
		op.Namespace, api.SchemaRef(op.Schema, op.SchemaVersion))
}
