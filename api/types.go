package api

import (
	"encoding/json"
	"time"
)

// Namespace is a tenant and an RBAC scope. Its name is a lowercase DNS label.
type Namespace struct {
	Name           string    `json:"name"`
	Description    string    `json:"description,omitempty"`
	CreateRevision uint64    `json:"create_revision"`
	ModifyRevision uint64    `json:"modify_revision"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	// ConfigCount and SchemaCount are the number of config entries and of
	// schema names in the namespace at the revision of the answer.
	ConfigCount int `json:"config_count"`
	SchemaCount int `json:"schema_count"`
}

// SchemaVersion is one immutable, numbered version of a named schema.
type SchemaVersion struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Version     int    `json:"version"`
	Description string `json:"description,omitempty"`
	// Schema is the JSON Schema (draft 2020-12) exactly as registered. The
	// server closes object schemas when it compiles them; the stored text is
	// the user's.
	Schema         json.RawMessage `json:"schema"`
	CreateRevision uint64          `json:"create_revision"`
	CreatedBy      string          `json:"created_by"`
	CreatedAt      time.Time       `json:"created_at"`
	Reason         string          `json:"reason,omitempty"`
}

// SchemaSummary describes a schema name and its versions.
type SchemaSummary struct {
	Namespace      string `json:"namespace"`
	Name           string `json:"name"`
	LatestVersion  int    `json:"latest_version"`
	Versions       []int  `json:"versions"`
	ModifyRevision uint64 `json:"modify_revision"`
}

// ConfigEntry is a JSON value stored under (namespace, key) and pinned to a
// schema version.
type ConfigEntry struct {
	Namespace     string          `json:"namespace"`
	Key           string          `json:"key"`
	Value         json.RawMessage `json:"value"`
	Schema        string          `json:"schema"`
	SchemaVersion int             `json:"schema_version"`
	// CreateRevision is the revision that created the key (since its last
	// delete); ModifyRevision the one that last wrote it; Version counts the
	// writes since creation, starting at 1.
	CreateRevision uint64    `json:"create_revision"`
	ModifyRevision uint64    `json:"modify_revision"`
	Version        uint64    `json:"version"`
	ModifiedBy     string    `json:"modified_by"`
	ModifiedAt     time.Time `json:"modified_at"`
	Reason         string    `json:"reason,omitempty"`
}

// Object kinds that an Event can describe.
const (
	KindConfig    = "config"
	KindSchema    = "schema"
	KindNamespace = "namespace"
)

// Operations that an Event can record.
const (
	OpPut    = "put"
	OpDelete = "delete"
	OpCreate = "create"
)

// Event is one recorded mutation: an entry of the history (audit) log.
type Event struct {
	Revision  uint64 `json:"revision"`
	Kind      string `json:"kind"`
	Op        string `json:"op"`
	Namespace string `json:"namespace"`
	// Key is the config key for config events and the schema name for schema
	// events; empty for namespace events.
	Key           string          `json:"key,omitempty"`
	Value         json.RawMessage `json:"value,omitempty"`
	Schema        string          `json:"schema,omitempty"`
	SchemaVersion int             `json:"schema_version,omitempty"`
	// Version is the per-key version after the write (0 for a delete).
	Version uint64 `json:"version,omitempty"`
	// PrevRevision is the key's modify revision before this write (0 if the
	// key did not exist).
	PrevRevision uint64    `json:"prev_revision,omitempty"`
	Principal    string    `json:"principal"`
	Reason       string    `json:"reason,omitempty"`
	Time         time.Time `json:"time"`
	// RollbackOf names the revision that a rollback restored.
	RollbackOf uint64 `json:"rollback_of,omitempty"`
	// Force is set on a namespace delete that removed its contents.
	Force bool `json:"force,omitempty"`
}

// CreateNamespaceRequest is the body of PUT /v1/namespaces/{ns}.
type CreateNamespaceRequest struct {
	Description string `json:"description,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// RegisterSchemaRequest is the body of POST /v1/namespaces/{ns}/schemas/{name}.
type RegisterSchemaRequest struct {
	Schema      json.RawMessage `json:"schema"`
	Description string          `json:"description,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	// Policy sets the evolution policy of a new schema (api.PolicyStrict,
	// the default, or api.PolicyNone); for an existing schema it must be
	// empty or its policy.
	Policy string `json:"policy,omitempty"`
}

// PutConfigRequest is the body of PUT /v1/namespaces/{ns}/configs/{key}.
type PutConfigRequest struct {
	// Schema is "name" (the latest version) or "name@version". It may be
	// omitted when the key exists: the entry keeps its schema name and is
	// pinned to that schema's latest version.
	Schema string          `json:"schema,omitempty"`
	Value  json.RawMessage `json:"value"`
	Reason string          `json:"reason,omitempty"`
}

// RollbackRequest is the body of POST /v1/namespaces/{ns}/rollback/{key}.
type RollbackRequest struct {
	// Revision is the history revision whose value and schema version are
	// written again.
	Revision uint64 `json:"revision"`
	Reason   string `json:"reason,omitempty"`
}

// WriteResult answers a single successful write.
type WriteResult struct {
	Revision uint64 `json:"revision"`
}

// ConfigList is one page of config entries.
type ConfigList struct {
	Items []ConfigEntry `json:"items"`
	// Revision is the store revision the page reflects.
	Revision uint64 `json:"revision"`
	// Next, when not empty, is passed as `after` to fetch the next page.
	Next string `json:"next,omitempty"`
	// Plan says how a where-query was answered: "index:NAME" or "scan"
	// (empty for a plain list).
	Plan string `json:"plan,omitempty"`
	// Examined counts the entries a where-query looked at.
	Examined int `json:"examined,omitempty"`
}

// NamespaceList lists namespaces.
type NamespaceList struct {
	Items    []Namespace `json:"items"`
	Revision uint64      `json:"revision"`
}

// SchemaList lists the schema names of a namespace.
type SchemaList struct {
	Items    []SchemaSummary `json:"items"`
	Revision uint64          `json:"revision"`
}

// SchemaVersionList lists the versions of one schema.
type SchemaVersionList struct {
	Items    []SchemaVersion `json:"items"`
	Revision uint64          `json:"revision"`
}

// History is the recorded mutations of one object, newest first.
type History struct {
	Items    []Event `json:"items"`
	Revision uint64  `json:"revision"`
	// Next, when not zero, is passed as `before` to fetch older events.
	Next uint64 `json:"next,omitempty"`
}

// PatchOp is one RFC 6902 JSON Patch operation.
type PatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Diff compares a config entry at two revisions.
type Diff struct {
	Namespace string    `json:"namespace"`
	Key       string    `json:"key"`
	From      Event     `json:"from"`
	To        Event     `json:"to"`
	Patch     []PatchOp `json:"patch"`
	// SchemaChanged is set when the two revisions pin different schema
	// versions.
	SchemaChanged bool `json:"schema_changed"`
}

// Batch operation types.
const (
	BatchPut    = "put"
	BatchDelete = "delete"
	// BatchCheck asserts a key's modify revision without writing it.
	BatchCheck = "check"
)

// BatchOp is one operation of an atomic batch.
type BatchOp struct {
	Op        string          `json:"op"`
	Namespace string          `json:"namespace"`
	Key       string          `json:"key"`
	Schema    string          `json:"schema,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
	// Revision, when set, is a compare-and-set condition on the key's modify
	// revision; 0 means "the key must not exist". Required for check.
	Revision *uint64 `json:"revision,omitempty"`
}

// BatchRequest is the body of POST /v1/batch: all operations commit at one
// revision, or none does.
type BatchRequest struct {
	Ops    []BatchOp `json:"ops"`
	Reason string    `json:"reason,omitempty"`
}

// BatchOpResult reports one operation of a committed batch.
type BatchOpResult struct {
	Op             string `json:"op"`
	Namespace      string `json:"namespace"`
	Key            string `json:"key"`
	ModifyRevision uint64 `json:"modify_revision,omitempty"`
	Version        uint64 `json:"version,omitempty"`
}

// BatchResult answers a committed batch.
type BatchResult struct {
	Revision uint64          `json:"revision"`
	Results  []BatchOpResult `json:"results"`
}

// Health is the body of GET /v1/health.
type Health struct {
	Status  string `json:"status"`
	NodeID  string `json:"node_id"`
	Applied uint64 `json:"applied_index"`
	Leader  bool   `json:"leader"`
	Version string `json:"version"`
}

// Index states.
const (
	// IndexBuilding: existing entries are still being indexed; queries do
	// not use the index yet.
	IndexBuilding = "building"
	// IndexReady: every entry in scope is indexed; queries use it.
	IndexReady = "ready"
)

// Index is a declared secondary index on a JSON path of a namespace's
// config values (optionally only those pinned to one schema).
type Index struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Path is the dotted JSON path, such as "owner.team".
	Path string `json:"path"`
	// Schema, when set, restricts the index to entries of that schema; a
	// query uses it only when it asks for that schema (?schema=).
	Schema string `json:"schema,omitempty"`
	// State is IndexBuilding or IndexReady.
	State string `json:"state"`
	// Cursor is the last config key the background build has indexed
	// ("" before the first chunk); keys after it are indexed by the build.
	Cursor string `json:"cursor,omitempty"`
	// Processed counts the keys the background build has visited.
	Processed int `json:"processed"`
	// Total is the namespace's config count when answered.
	Total int `json:"total"`
	// Entries counts the index's entries now (values with a scalar at
	// Path, among the keys indexed so far).
	Entries int `json:"entries"`

	CreateRevision uint64    `json:"create_revision"`
	ModifyRevision uint64    `json:"modify_revision"`
	CreatedBy      string    `json:"created_by,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// IndexList lists a namespace's indexes.
type IndexList struct {
	Items    []Index `json:"items"`
	Revision uint64  `json:"revision"`
}

// CreateIndexRequest is the body of POST /v1/namespaces/{ns}/indexes.
type CreateIndexRequest struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Schema string `json:"schema,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Query plans reported by a where-query (ConfigList.Plan and the
// X-Schemakv-Query-Plan header).
const (
	// PlanIndex: candidates came from a ready index ("index:NAME").
	PlanIndex = "index"
	// PlanScan: entries were scanned in key order (allow_scan=true, or an
	// indexed clause too broad to collect), at most the scan limit.
	PlanScan = "scan"
)
