package api

import "fmt"

// Stable error codes. A code names one failure for good; its HTTP status is
// fixed (see StatusOf) and clients match on the code, never on the message.
const (
	CodeBadRequest        = "bad_request"            // 400 malformed request
	CodeInvalidJSON       = "invalid_json"           // 400 body or value is not valid JSON
	CodeJSONTooDeep       = "json_too_deep"          // 400 nesting beyond the depth limit
	CodeInvalidName       = "invalid_name"           // 400 namespace or schema name
	CodeInvalidKey        = "invalid_key"            // 400 config key shape
	CodeKeyTooLong        = "key_too_long"           // 400 key beyond the key limit
	CodeInvalidSchemaRef  = "invalid_schema_ref"     // 400 "name" or "name@version" expected
	CodeInvalidSchema     = "invalid_schema"         // 422 not a valid 2020-12 schema / bad $ref
	CodeValidationFailed  = "validation_failed"      // 422 value fails its schema
	CodeBatchFailed       = "batch_failed"           // 422/409/412 see Items
	CodeNamespaceNotFound = "namespace_not_found"    // 404
	CodeSchemaNotFound    = "schema_not_found"       // 404
	CodeConfigNotFound    = "config_not_found"       // 404
	CodeRevisionNotFound  = "revision_not_found"     // 404 no such history revision
	CodeMemberNotFound    = "member_not_found"       // 404 no such server in the cluster
	CodeRouteNotFound     = "route_not_found"        // 404
	CodeMethodNotAllowed  = "method_not_allowed"     // 405
	CodeNamespaceExists   = "namespace_exists"       // 409
	CodeNamespaceNotEmpty = "namespace_not_empty"    // 409 delete without force
	CodeSchemaConflict    = "schema_conflict"        // 409 a concurrent registration won
	CodeSchemaRequired    = "schema_required"        // 400 new key without schema
	CodeRevisionMismatch  = "revision_mismatch"      // 412 compare-and-set failed
	CodeBodyTooLarge      = "body_too_large"         // 413
	CodeValueTooLarge     = "value_too_large"        // 413
	CodeSchemaTooLarge    = "schema_too_large"       // 413
	CodeBatchTooLarge     = "batch_too_large"        // 413 too many operations or bytes
	CodeUnsupportedMedia  = "unsupported_media_type" // 415
	CodeNotLeader         = "not_leader"             // 421 only the leader does this; the message names it
	CodeInvalidSnapshot   = "invalid_snapshot"       // 400 a restore body that is not a schemakv snapshot
	CodeNoLeader          = "no_leader"              // 503 retry later
	CodeOutcomeUnknown    = "outcome_unknown"        // 503 the write may or may not have committed
	CodeShuttingDown      = "shutting_down"          // 503
	CodeTimeout           = "timeout"                // 504 read barrier did not complete
	CodeInternal          = "internal"               // 500
	// CodeCompacted: a watch asked for history older than the node
	// retains; Error.OldestRevision and CurrentRevision say where to start
	// again (re-list, then watch from the list's revision + 1).
	CodeCompacted = "compacted" // 410
	// CodeTooManyWatchers: the client holds as many blocking queries and
	// streams as a node allows one client.
	CodeTooManyWatchers = "too_many_watchers" // 429
	// Import job codes (POST /v1/imports and below).
	CodeImportNotFound = "import_not_found" // 404 no such import job (or expired)
	CodeImportFinished = "import_finished"  // 409 the job already ended
	CodeImportOffset   = "import_offset"    // 409 upload resumed at the wrong offset; Revision unused, the message names the offset
	CodeImportTooLarge = "import_too_large" // 413 upload beyond the byte, entry or atomic-entry limit
	CodeTooManyImports = "too_many_imports" // 429 the concurrent running jobs limit is reached
	CodeInvalidImport  = "invalid_import"   // 400 the upload is not NDJSON / a JSON array of entries / a tar of the GitOps layout

	// Schema evolution (issue 5). CodeEvolutionCheckFailed carries the
	// report in Error.Checks; CodeEvolutionConflict means a write pinned the
	// checked version while the check ran: retry.
	CodeEvolutionCheckFailed = "evolution_check_failed"    // 422 entries fail the new version
	CodeEvolutionConflict    = "evolution_conflict"        // 409 retry: data changed during the check
	CodeSchemaDeprecated     = "schema_version_deprecated" // 422 a write pins a deprecated version
	CodeSchemaInUse          = "schema_version_in_use"     // 409 delete of a pinned or referenced version
	CodeInvalidPolicy        = "invalid_policy"            // 400 policy is not strict or none
	CodeInvalidTransform     = "invalid_transform"         // 400 a migration transform is malformed
	CodeMigrationNotFound    = "migration_not_found"       // 404
	CodeMigrationConflict    = "migration_conflict"        // 409 one migration per schema at a time / cursor moved
	// Authentication and authorisation (auth).
	CodeUnauthenticated  = "unauthenticated"   // 401 no, malformed, unknown, expired or revoked credentials
	CodeForbidden        = "forbidden"         // 403 authenticated, but no role allows the action
	CodeTokenNotFound    = "token_not_found"   // 404
	CodeBindingNotFound  = "binding_not_found" // 404
	CodeTokenRevoked     = "token_revoked"     // 409 revoking a revoked token
	CodeBindingExists    = "binding_exists"    // 409 the same role, scope and subject is bound already
	CodeAuthBootstrapped = "auth_bootstrapped" // 409 the bootstrap admin token exists already
)

var statusOf = map[string]int{
	CodeBadRequest:        400,
	CodeInvalidJSON:       400,
	CodeJSONTooDeep:       400,
	CodeInvalidName:       400,
	CodeInvalidKey:        400,
	CodeKeyTooLong:        400,
	CodeInvalidSchemaRef:  400,
	CodeSchemaRequired:    400,
	CodeInvalidSchema:     422,
	CodeValidationFailed:  422,
	CodeBatchFailed:       422,
	CodeNamespaceNotFound: 404,
	CodeSchemaNotFound:    404,
	CodeConfigNotFound:    404,
	CodeRevisionNotFound:  404,
	CodeRouteNotFound:     404,
	CodeMemberNotFound:    404,
	CodeMethodNotAllowed:  405,
	CodeNamespaceExists:   409,
	CodeNamespaceNotEmpty: 409,
	CodeSchemaConflict:    409,
	CodeRevisionMismatch:  412,
	CodeBodyTooLarge:      413,
	CodeValueTooLarge:     413,
	CodeSchemaTooLarge:    413,
	CodeBatchTooLarge:     413,
	CodeUnsupportedMedia:  415,
	CodeNotLeader:         421,
	CodeInvalidSnapshot:   400,
	CodeNoLeader:          503,
	CodeOutcomeUnknown:    503,
	CodeShuttingDown:      503,
	CodeTimeout:           504,
	CodeInternal:          500,
	CodeCompacted:         410,
	CodeTooManyWatchers:   429,
	CodeImportNotFound:    404,
	CodeImportFinished:    409,
	CodeImportOffset:      409,
	CodeImportTooLarge:    413,
	CodeTooManyImports:    429,
	CodeInvalidImport:     400,

	CodeEvolutionCheckFailed: 422,
	CodeEvolutionConflict:    409,
	CodeSchemaDeprecated:     422,
	CodeSchemaInUse:          409,
	CodeInvalidPolicy:        400,
	CodeInvalidTransform:     400,
	CodeMigrationNotFound:    404,
	CodeMigrationConflict:    409,
	CodeUnauthenticated:      401,
	CodeForbidden:            403,
	CodeTokenNotFound:        404,
	CodeBindingNotFound:      404,
	CodeTokenRevoked:         409,
	CodeBindingExists:        409,
	CodeAuthBootstrapped:     409,
}

// StatusOf returns the HTTP status that goes with code (500 if unknown).
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return 500
}

// FieldError is one failing location of a JSON value checked against a
// schema.
type FieldError struct {
	// Pointer is the JSON pointer (RFC 6901) of the failing instance
	// location; "" is the whole value.
	Pointer string `json:"pointer"`
	// Keyword is the schema keyword location that failed, such as
	// "/properties/port/maximum".
	Keyword string `json:"keyword"`
	Message string `json:"message"`
}

// ItemError reports one failing operation of a batch.
type ItemError struct {
	Index   int          `json:"index"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Details []FieldError `json:"details,omitempty"`
	// Revision is the key's current modify revision when the operation
	// failed its compare-and-set (CodeRevisionMismatch); 0 (absent) when the
	// key does not exist.
	Revision uint64 `json:"revision,omitempty"`
}

// Error is the one JSON error shape of the API: {"error": {...}}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Details lists every failing location for validation errors.
	Details []FieldError `json:"details,omitempty"`
	// Items lists the failing operations of a batch.
	Items []ItemError `json:"items,omitempty"`
	// Revision is the current revision where it helps the caller: a failed
	// compare-and-set (CodeRevisionMismatch) reports the key's modify
	// revision, 0 (absent) when the key does not exist.
	Revision uint64 `json:"revision,omitempty"`
	// OldestRevision and CurrentRevision accompany CodeCompacted: the
	// oldest revision a watch can start from and the node's applied
	// revision.
	OldestRevision  uint64 `json:"oldest_revision,omitempty"`
	CurrentRevision uint64 `json:"current_revision,omitempty"`
	// Checks is the report of a refused schema change
	// (CodeEvolutionCheckFailed): the failing entries and what changed.
	Checks []SchemaCheck `json:"checks,omitempty"`
}

// ErrorBody wraps Error on the wire.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Status returns the HTTP status of the error's code.
func (e *Error) Status() int { return StatusOf(e.Code) }

// Codes of secondary indexes and where-queries.
const (
	CodeInvalidPath     = "invalid_path"     // 400 a JSON path outside the supported subset
	CodeUnknownOperator = "unknown_operator" // 400 a where-clause operator that does not exist
	CodeInvalidQuery    = "invalid_query"    // 400 a where-clause that does not parse otherwise
	CodeIndexNotScalar  = "index_not_scalar" // 400 the schema says the path holds an object or array
	CodeIndexRequired   = "index_required"   // 400 no ready index serves the query and allow_scan is not set
	CodeQueryTooBroad   = "query_too_broad"  // 400 the query would examine more entries than allowed
	CodeTooManyIndexes  = "too_many_indexes" // 400 the namespace has as many indexes as allowed
	CodeIndexNotFound   = "index_not_found"  // 404
	CodeIndexExists     = "index_exists"     // 409 an index of that name exists
)

func init() {
	for code, status := range map[string]int{
		CodeInvalidPath: 400, CodeUnknownOperator: 400, CodeInvalidQuery: 400, CodeIndexNotScalar: 400,
		CodeIndexRequired: 400, CodeQueryTooBroad: 400, CodeTooManyIndexes: 400,
		CodeIndexNotFound: 404, CodeIndexExists: 409,
	} {
		statusOf[code] = status
	}
}
