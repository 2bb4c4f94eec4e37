package api

import (
	"encoding/json"
	"time"
)

// Import modes (POST /v1/imports?mode=).
const (
	// ImportAtomic makes every entry visible at one revision, or none.
	ImportAtomic = "atomic"
	// ImportBestEffort applies valid entries chunk by chunk and reports the
	// invalid ones.
	ImportBestEffort = "best-effort"
)

// Import upload formats (?format=, or guessed from the Content-Type).
const (
	ImportNDJSON    = "ndjson" // one entry object per line
	ImportJSONArray = "json"   // one JSON array of entry objects
	// ImportTar is a tar of the GitOps directory layout (package gitops):
	// each config file below namespaces/<ns>/configs/ is one entry.
	ImportTar = "tar"
	// ImportTarGzip is ImportTar compressed with gzip. It cannot resume at
	// a non-zero offset.
	ImportTarGzip = "tar.gz"
)

// Import job states. Running is the only state that is not final.
const (
	ImportRunning   = "running"
	ImportSucceeded = "succeeded" // every entry applied (or, dry run, validated)
	ImportPartial   = "partial"   // best-effort: valid entries applied, some failed
	ImportFailed    = "failed"    // nothing published (atomic), or the job broke off
	ImportCancelled = "cancelled"
)

// ImportEntry is one entry of an import upload: NDJSON lines or JSON array
// elements have this shape. Schema is "name" (latest version) or
// "name@version".
type ImportEntry struct {
	Namespace string          `json:"namespace"`
	Key       string          `json:"key"`
	Schema    string          `json:"schema"`
	Value     json.RawMessage `json:"value"`
}

// ImportError is one entry that failed: its position in the upload (0-based
// entry index), where it was going, and why.
type ImportError struct {
	Index     int64  `json:"index"`
	Namespace string `json:"namespace,omitempty"`
	Key       string `json:"key,omitempty"`
	// File and Line locate the failure in a tar upload: the path in the
	// archive (of the file, or of the directory the layout does not allow)
	// and, when known, the line of that file.
	File    string       `json:"file,omitempty"`
	Line    int          `json:"line,omitempty"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Details []FieldError `json:"details,omitempty"`
}

// ImportJob is the replicated state of one bulk import job.
type ImportJob struct {
	ID     string `json:"id"`
	Mode   string `json:"mode"`
	DryRun bool   `json:"dry_run,omitempty"`
	Format string `json:"format"`
	State  string `json:"state"`
	// Message explains a final state other than succeeded.
	Message   string `json:"message,omitempty"`
	Principal string `json:"principal"`
	Reason    string `json:"reason,omitempty"`
	// Node is the node that received the upload's latest chunk (the one
	// driving the job).
	Node string `json:"node,omitempty"`

	// Size is the upload's total size in bytes when the client declared it
	// (Content-Length or ?size=); 0 when unknown.
	Size int64 `json:"size,omitempty"`
	// Offset is the number of upload bytes acknowledged: every entry before
	// it is in a committed chunk. An interrupted NDJSON or tar upload resumes
	// with PUT /v1/imports/{id}/data?offset=Offset (for a tar, Offset is
	// always the start of a tar header). For tar.gz it counts compressed
	// bytes and only reports progress.
	Offset int64 `json:"offset"`
	// Chunks is the sequence number of the last committed chunk.
	Chunks     int64 `json:"chunks"`
	UploadDone bool  `json:"upload_done,omitempty"`

	Received  int64 `json:"received"`  // entries read from the upload
	Validated int64 `json:"validated"` // entries that passed validation
	Applied   int64 `json:"applied"`   // entries written (visible to readers)
	Failed    int64 `json:"failed"`    // entries that failed validation or apply

	// Errors lists failed entries, at most the server's limit (1,000 by
	// default); ErrorsOmitted counts the failures not listed.
	Errors        []ImportError `json:"errors,omitempty"`
	ErrorsOmitted int64         `json:"errors_omitted,omitempty"`
	// Namespaces are the namespaces named by the valid entries so far.
	Namespaces []string `json:"namespaces,omitempty"`

	CreateRevision uint64 `json:"create_revision"`
	ModifyRevision uint64 `json:"modify_revision"`
	// PublishRevision is the revision at which an atomic import became
	// visible.
	PublishRevision uint64     `json:"publish_revision,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`

	// Rate (entries received per second) and ETASeconds (from the bytes
	// left when Size is known) are computed when the job is read.
	Rate       float64 `json:"rate,omitempty"`
	ETASeconds float64 `json:"eta_seconds,omitempty"`
}

// Final reports whether the job has ended.
func (j *ImportJob) Final() bool { return j.State != ImportRunning }

// ImportList is the answer of GET /v1/imports.
type ImportList struct {
	Items    []ImportJob `json:"items"`
	Revision uint64      `json:"revision"`
}
