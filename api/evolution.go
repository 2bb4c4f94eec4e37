package api

import (
	"encoding/json"
	"time"
)

// Evolution policies of a schema.
const (
	// PolicyStrict accepts version N+1 only if every config entry pinned to
	// version N validates against it. The default.
	PolicyStrict = "strict"
	// PolicyNone accepts any valid schema as the next version.
	PolicyNone = "none"
)

// SchemaMeta is the mutable state of a schema name: its evolution policy
// and the versions that take no new pins.
type SchemaMeta struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Policy is PolicyStrict or PolicyNone.
	Policy string `json:"policy"`
	// Deprecated lists the deprecated versions in ascending order.
	Deprecated []int `json:"deprecated,omitempty"`
	// ModifyRevision is the revision that last changed the policy or a
	// deprecation.
	ModifyRevision uint64 `json:"modify_revision"`
}

// IsDeprecated reports whether version is deprecated.
func (m *SchemaMeta) IsDeprecated(version int) bool {
	if m == nil {
		return false
	}
	for _, d := range m.Deprecated {
		if d == version {
			return true
		}
	}
	return false
}

// SchemaVersionStatus describes one version in a SchemaStatus.
type SchemaVersionStatus struct {
	Version    int  `json:"version"`
	Deprecated bool `json:"deprecated"`
	// Pins is the number of config entries pinned to the version.
	Pins int `json:"pins"`
	// LastPinRevision is the revision of the last write that pinned an
	// entry to the version (0 if none ever did).
	LastPinRevision uint64 `json:"last_pin_revision,omitempty"`
}

// SchemaStatus is the body of GET /v1/namespaces/{ns}/schemas/{name}/status.
type SchemaStatus struct {
	Namespace string                `json:"namespace"`
	Name      string                `json:"name"`
	Policy    string                `json:"policy"`
	Versions  []SchemaVersionStatus `json:"versions"`
	Revision  uint64                `json:"revision"`
}

// SetPolicyRequest is the body of PUT /v1/namespaces/{ns}/schemas/{name}/policy.
type SetPolicyRequest struct {
	Policy string `json:"policy"`
	Reason string `json:"reason,omitempty"`
}

// DeprecateRequest is the body of POST .../versions/{version}/deprecate;
// Deprecated false lifts a deprecation.
type DeprecateRequest struct {
	Deprecated *bool  `json:"deprecated,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// EntryFailure is one config entry that fails a schema version, with its
// failing locations.
type EntryFailure struct {
	Key           string       `json:"key"`
	SchemaVersion int          `json:"schema_version"`
	Errors        []FieldError `json:"errors"`
}

// CompatChange is one structural change between two schema versions.
type CompatChange struct {
	// Pointer is the JSON pointer of the schema location that changed.
	Pointer string `json:"pointer"`
	// Kind is a stable word: field_added, field_removed, made_required,
	// made_optional, type_narrowed, type_widened, type_changed, closed,
	// opened, enum_narrowed, enum_widened, enum_changed, constraint_changed.
	Kind string `json:"kind"`
	// Breaking is true when values valid before may now fail.
	Breaking bool `json:"breaking"`
	// Message says it in plain words.
	Message string `json:"message"`
}

// SchemaCheck is the report of a schema change checked against the stored
// data: which entries pinned to the previous version fail the new one, and
// what changed structurally.
type SchemaCheck struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Version is the version checked (the one being registered); From the
	// version whose entries were checked (0 for a new schema).
	Version int    `json:"version"`
	From    int    `json:"from,omitempty"`
	Policy  string `json:"policy"`
	// Checked is the number of entries validated; Failed how many fail.
	Checked int `json:"checked"`
	Failed  int `json:"failed"`
	// Failures lists the first failing entries (bounded); FailuresOmitted
	// counts the rest.
	Failures        []EntryFailure `json:"failures,omitempty"`
	FailuresOmitted int            `json:"failures_omitted,omitempty"`
	// Changes is a best-effort structural diff from From to Version.
	Changes []CompatChange `json:"changes,omitempty"`
}

// SchemaChangeResult answers a schema registration or a bundle: the
// versions stored (none on a dry run) and the check of each.
type SchemaChangeResult struct {
	DryRun   bool            `json:"dry_run"`
	Revision uint64          `json:"revision"`
	Versions []SchemaVersion `json:"versions,omitempty"`
	Checks   []SchemaCheck   `json:"checks"`
}

// BundleSchema is one schema version of a bundle.
type BundleSchema struct {
	Name string `json:"name"`
	// Version, when set, must be the version this schema becomes (the next
	// one for its name, counting earlier items of the bundle); 0 means the
	// next.
	Version     int             `json:"version,omitempty"`
	Schema      json.RawMessage `json:"schema"`
	Description string          `json:"description,omitempty"`
	// Policy sets the evolution policy of a new schema name (default
	// strict); for an existing name it must be empty or equal its policy.
	Policy string `json:"policy,omitempty"`
}

// BundleRequest is the body of POST /v1/namespaces/{ns}/schema-bundles:
// every schema is stored at one revision, or none is.
type BundleRequest struct {
	Schemas []BundleSchema `json:"schemas"`
	Reason  string         `json:"reason,omitempty"`
}

// Migration transform operations (JSON Patch style).
const (
	// TransformMove moves the value at From to Path (rename a field).
	TransformMove = "move"
	// TransformAdd sets Path to Value only if absent (a default).
	TransformAdd = "add"
	// TransformRemove removes Path if present.
	TransformRemove = "remove"
)

// Transform is one step applied to each value being migrated.
type Transform struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// MigrationRequest is the body of POST /v1/namespaces/{ns}/schemas/{name}/migrations.
type MigrationRequest struct {
	From       int         `json:"from"`
	To         int         `json:"to"`
	Transforms []Transform `json:"transforms,omitempty"`
	// ChunkSize is the number of entries per raft entry (default 100, at
	// most 1000).
	ChunkSize int    `json:"chunk_size,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Migration states.
const (
	MigrationRunning   = "running"
	MigrationCompleted = "completed"
)

// Migration is the replicated state of a migration.
type Migration struct {
	ID         string      `json:"id"`
	Namespace  string      `json:"namespace"`
	Name       string      `json:"name"`
	From       int         `json:"from"`
	To         int         `json:"to"`
	Transforms []Transform `json:"transforms,omitempty"`
	ChunkSize  int         `json:"chunk_size"`
	State      string      `json:"state"`
	// Cursor is the last key processed; chunks continue after it.
	Cursor string `json:"cursor,omitempty"`
	// Chunks counts applied chunks; Migrated, Failed and Skipped count
	// entries moved, left on From because they fail To, and left because
	// they changed between the chunk's check and its apply.
	Chunks          int            `json:"chunks"`
	Migrated        int            `json:"migrated"`
	Failed          int            `json:"failed"`
	Skipped         int            `json:"skipped"`
	Failures        []EntryFailure `json:"failures,omitempty"`
	FailuresOmitted int            `json:"failures_omitted,omitempty"`
	CreateRevision  uint64         `json:"create_revision"`
	ModifyRevision  uint64         `json:"modify_revision"`
	CreatedBy       string         `json:"created_by"`
	CreatedAt       time.Time      `json:"created_at"`
	Reason          string         `json:"reason,omitempty"`
}

// MigrationList lists the migrations of a schema.
type MigrationList struct {
	Items    []Migration `json:"items"`
	Revision uint64      `json:"revision"`
}

// MigrationDryRun answers a migration with dry_run=true: what would move.
type MigrationDryRun struct {
	DryRun          bool           `json:"dry_run"`
	Revision        uint64         `json:"revision"`
	Checked         int            `json:"checked"`
	WouldMigrate    int            `json:"would_migrate"`
	Failed          int            `json:"failed"`
	Failures        []EntryFailure `json:"failures,omitempty"`
	FailuresOmitted int            `json:"failures_omitted,omitempty"`
}
