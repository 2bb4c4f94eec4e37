package fsm

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

// Bulk import job commands (types 21-30 are reserved for them). A job is
// driven by the node that receives its upload: it validates entries and
// proposes them in numbered chunks; the job's state, counts and (in atomic
// mode) staged entries live here, in the replicated state, so that any node
// can report on it and a new driver can resume it. See DESIGN.md, "Bulk
// import jobs".
const (
	TypeImportCreate Type = 21
	TypeImportChunk  Type = 22
	TypeImportFinish Type = 23
	TypeImportCancel Type = 24
	TypeImportExpire Type = 25
)

// ImportCreate starts an import job in the running state. It fails with
// store.ErrTooManyImports when MaxRunning jobs are already running. Creating
// a job whose id exists changes nothing and succeeds (a re-proposal).
type ImportCreate struct {
	Audit
	ID     string `json:"id"`
	Mode   string `json:"mode"`
	DryRun bool   `json:"dry_run,omitempty"`
	Format string `json:"format"`
	Node   string `json:"node,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// MaxRunning is the limit of running jobs, checked at apply so that
	// concurrent creates on different nodes cannot exceed it.
	MaxRunning int `json:"max_running"`
}

// ImportOp is one validated entry of a chunk.
type ImportOp struct {
	// Index is the entry's 0-based position in the upload.
	Index int64 `json:"index"`
	store.StagedEntry
}

// ImportChunk carries the next numbered chunk of a job: its valid entries
// and its failures. Seq must be the job's last chunk + 1; a Seq already
// applied is a re-proposal and changes nothing, so a driver may re-propose a
// chunk whose outcome it does not know. In atomic mode the entries are
// staged (invisible); in best-effort mode they are written now.
type ImportChunk struct {
	Audit
	ID   string `json:"id"`
	Seq  int64  `json:"seq"`
	Node string `json:"node,omitempty"`
	// Offset is the upload offset (bytes) just after the chunk's last entry.
	Offset int64 `json:"offset"`
	// Received counts the chunk's entries, valid or not.
	Received   int64             `json:"received"`
	Ops        []ImportOp        `json:"ops,omitempty"`
	Errors     []api.ImportError `json:"errors,omitempty"`
	Namespaces []string          `json:"namespaces,omitempty"`
	// MaxErrors bounds the failures listed on the job; MaxAtomic the
	// entries an atomic job may stage.
	MaxErrors int   `json:"max_errors"`
	MaxAtomic int64 `json:"max_atomic"`
}

// ImportFinish ends the upload of a job after chunk Chunks. An atomic job
// without failures publishes every staged entry at this entry's revision.
// Fail, when set, ends the job as failed with that message instead (a broken
// upload). Finishing a job that already finished its upload is a no-op.
type ImportFinish struct {
	Audit
	ID        string `json:"id"`
	Chunks    int64  `json:"chunks"`
	Fail      string `json:"fail,omitempty"`
	MaxErrors int    `json:"max_errors"`
	MaxAtomic int64  `json:"max_atomic"`
}

// ImportCancel cancels a running job: an atomic job publishes nothing and
// its staged entries are dropped; a best-effort job keeps the chunks already
// applied and accepts no more.
type ImportCancel struct {
	Audit
	ID string `json:"id"`
}

// ImportExpire is proposed by the node that creates a job, when some job is
// due (so no timer runs): it deletes jobs that ended more than Retention
// before Audit.Time, and fails running jobs that received no chunk for
// IdleTimeout (their driver is gone and no client resumed them), dropping
// what they staged. Zero durations disable either.
type ImportExpire struct {
	Audit
	Retention   time.Duration `json:"retention"`
	IdleTimeout time.Duration `json:"idle_timeout"`
}

func importAudit(j *api.ImportJob, at int64) store.Audit {
	return store.Audit{Principal: j.Principal, Reason: j.Reason, Time: time.Unix(0, at).UTC()}
}

func applyImportCreate(tx *store.Txn, rev uint64, body []byte) *Result {
	var c ImportCreate
	mustDecode(rev, body, &c)
	if _, ok := tx.ImportJob(c.ID); ok {
		return &Result{Revision: rev}
	}
	running := 0
	for _, j := range tx.ImportJobs() {
		if !j.Final() {
			running++
		}
	}
	if c.MaxRunning > 0 && running >= c.MaxRunning {
		return fail(rev, fmt.Errorf("%w: %d jobs are running (limit %d)", store.ErrTooManyImports, running, c.MaxRunning))
	}
	at := time.Unix(0, c.Time).UTC()
	j := &api.ImportJob{
		ID: c.ID, Mode: c.Mode, DryRun: c.DryRun, Format: c.Format, State: api.ImportRunning,
		Principal: c.Principal, Reason: c.Reason, Node: c.Node, Size: c.Size,
		CreateRevision: rev, ModifyRevision: rev, CreatedAt: at, UpdatedAt: at,
	}
	mustWrite(rev, tx.PutImportJob(j))
	return &Result{Revision: rev}
}

// runningJob returns a copy of a running job to modify, or the failure.
func runningJob(tx *store.Txn, id string) (*api.ImportJob, error) {
	old, ok := tx.ImportJob(id)
	if !ok {
		return nil, fmt.Errorf("%w: %q", store.ErrImportNotFound, id)
	}
	if old.Final() {
		return nil, fmt.Errorf("%w: %q is %s", store.ErrImportFinished, id, old.State)
	}
	j := *old
	return &j, nil
}

func addImportErrors(j *api.ImportJob, errs []api.ImportError, max int) {
	j.Failed += int64(len(errs))
	room := max - len(j.Errors)
	if room < 0 {
		room = 0
	}
	if len(errs) > room {
		j.ErrorsOmitted += int64(len(errs) - room)
		errs = errs[:room]
	}
	// A fresh slice: the old job value is shared with readers.
	j.Errors = append(slices.Clip(j.Errors), errs...)
}

func applyImportChunk(tx *store.Txn, rev uint64, body []byte) *Result {
	var c ImportChunk
	mustDecode(rev, body, &c)
	if old, ok := tx.ImportJob(c.ID); ok && c.Seq <= old.Chunks {
		return &Result{Revision: rev} // a re-proposal of an applied chunk
	}
	j, err := runningJob(tx, c.ID)
	if err != nil {
		return fail(rev, err)
	}
	if c.Seq != j.Chunks+1 {
		return fail(rev, fmt.Errorf("%w: %q got chunk %d after chunk %d", store.ErrImportSequence, c.ID, c.Seq, j.Chunks))
	}
	j.Chunks, j.Offset, j.ModifyRevision = c.Seq, c.Offset, rev
	j.UpdatedAt = time.Unix(0, c.Time).UTC()
	if c.Node != "" {
		j.Node = c.Node
	}
	j.Received += c.Received
	j.Validated += int64(len(c.Ops))
	for _, ns := range c.Namespaces {
		if !slices.Contains(j.Namespaces, ns) {
			j.Namespaces = append(slices.Clip(j.Namespaces), ns)
			slices.Sort(j.Namespaces)
		}
	}
	errs := c.Errors
	switch {
	case j.DryRun:
	case j.Mode == api.ImportAtomic:
		if j.Failed+int64(len(errs)) == 0 && j.Validated <= c.MaxAtomic {
			staged := make([]store.StagedEntry, len(c.Ops))
			for i, op := range c.Ops {
				staged[i] = op.StagedEntry
			}
			mustWrite(rev, tx.StageImport(j.ID, c.Seq, staged))
		} else {
			// It will not publish: keep no copy of its entries.
			tx.DropStaged(j.ID, j.Chunks)
		}
	default: // best-effort
		a := importAudit(j, c.Time)
		for _, op := range c.Ops {
			if err := checkStaged(tx, op.StagedEntry); err != nil {
				j.Validated--
				errs = append(errs, importError(op.Index, op.StagedEntry, err))
				continue
			}
			_, err := tx.PutConfig(op.Namespace, op.Key, op.Schema, op.SchemaVersion, op.Value, a, 0)
			mustWrite(rev, err)
			j.Applied++
		}
	}
	addImportErrors(j, errs, c.MaxErrors)
	mustWrite(rev, tx.PutImportJob(j))
	return &Result{Revision: rev}
}

// checkStaged checks that what an entry was validated against still holds.
func checkStaged(tx *store.Txn, e store.StagedEntry) error {
	return checkOp(tx, Op{
		Op: api.BatchPut, Namespace: e.Namespace, Key: e.Key,
		Schema: e.Schema, SchemaVersion: e.SchemaVersion, SchemaRevision: e.SchemaRevision,
	})
}

func importError(index int64, e store.StagedEntry, err error) api.ImportError {
	code := api.CodeSchemaNotFound
	switch {
	case errors.Is(err, store.ErrNamespaceNotFound):
		code = api.CodeNamespaceNotFound
	case errors.Is(err, ErrSchemaDeprecated):
		code = api.CodeSchemaDeprecated
	}
	return api.ImportError{Index: index, Namespace: e.Namespace, Key: e.Key, Code: code, Message: err.Error()}
}

func applyImportFinish(tx *store.Txn, rev uint64, body []byte) *Result {
	var c ImportFinish
	mustDecode(rev, body, &c)
	if old, ok := tx.ImportJob(c.ID); ok && old.UploadDone {
		return &Result{Revision: rev} // a re-proposal
	}
	j, err := runningJob(tx, c.ID)
	if err != nil {
		return fail(rev, err)
	}
	if c.Chunks != j.Chunks {
		return fail(rev, fmt.Errorf("%w: %q finished after chunk %d, but chunk %d is the last applied",
			store.ErrImportSequence, c.ID, c.Chunks, j.Chunks))
	}
	at := time.Unix(0, c.Time).UTC()
	j.UploadDone, j.ModifyRevision, j.UpdatedAt, j.FinishedAt = true, rev, at, &at
	defer tx.DropStaged(j.ID, j.Chunks)
	switch {
	case c.Fail != "":
		j.State, j.Message = api.ImportFailed, c.Fail
		if j.Mode == api.ImportAtomic && !j.DryRun {
			j.Message += "; nothing was published"
		}
	case j.Failed > 0:
		j.State = api.ImportPartial
		j.Message = fmt.Sprintf("%d of %d entries failed; the others were applied", j.Failed, j.Received)
		if j.DryRun {
			j.Message = fmt.Sprintf("%d of %d entries failed", j.Failed, j.Received)
		}
		if j.Mode == api.ImportAtomic {
			j.State = api.ImportFailed
			j.Message = fmt.Sprintf("%d of %d entries failed", j.Failed, j.Received)
			if !j.DryRun {
				j.Message += "; nothing was published"
			}
		}
	case j.DryRun:
		j.State = api.ImportSucceeded
	case j.Mode == api.ImportAtomic:
		publishImport(tx, rev, j, &c)
	default:
		j.State = api.ImportSucceeded
	}
	mustWrite(rev, tx.PutImportJob(j))
	return &Result{Revision: rev}
}

// publishImport writes every staged entry of an atomic job at revision rev,
// or none if any of them no longer applies.
func publishImport(tx *store.Txn, rev uint64, j *api.ImportJob, c *ImportFinish) {
	staged := tx.Staged(j.ID)
	if j.Validated > c.MaxAtomic || int64(len(staged)) != j.Validated {
		j.State = api.ImportFailed
		j.Message = fmt.Sprintf("an atomic import publishes at most %d entries at one revision, this one has %d; nothing was published (split it, or use mode=best-effort)",
			c.MaxAtomic, j.Validated)
		return
	}
	var errs []api.ImportError
	for i, e := range staged {
		if err := checkStaged(tx, e); err != nil {
			errs = append(errs, importError(int64(i), e, err))
		}
	}
	if len(errs) > 0 {
		j.Validated -= int64(len(errs))
		addImportErrors(j, errs, c.MaxErrors)
		j.State = api.ImportFailed
		j.Message = fmt.Sprintf("%d staged entries no longer apply (namespace or schema version deleted or deprecated); nothing was published", len(errs))
		return
	}
	a := importAudit(j, c.Time)
	for _, e := range staged {
		_, err := tx.PutConfig(e.Namespace, e.Key, e.Schema, e.SchemaVersion, e.Value, a, 0)
		mustWrite(rev, err)
	}
	j.Applied = int64(len(staged))
	j.PublishRevision = rev
	j.State = api.ImportSucceeded
}

func applyImportCancel(tx *store.Txn, rev uint64, body []byte) *Result {
	var c ImportCancel
	mustDecode(rev, body, &c)
	j, err := runningJob(tx, c.ID)
	if err != nil {
		return fail(rev, err)
	}
	at := time.Unix(0, c.Time).UTC()
	j.State, j.ModifyRevision, j.UpdatedAt, j.FinishedAt = api.ImportCancelled, rev, at, &at
	j.Message = "cancelled by " + c.Principal
	if j.Mode == api.ImportAtomic && !j.DryRun {
		j.Message += "; nothing was published"
	} else if j.Applied > 0 {
		j.Message += fmt.Sprintf("; the %d entries applied before stay", j.Applied)
	}
	tx.DropStaged(j.ID, j.Chunks)
	mustWrite(rev, tx.PutImportJob(j))
	return &Result{Revision: rev}
}

func applyImportExpire(tx *store.Txn, rev uint64, body []byte) *Result {
	var c ImportExpire
	mustDecode(rev, body, &c)
	now := time.Unix(0, c.Time).UTC()
	for _, old := range tx.ImportJobs() {
		switch {
		case old.Final() && c.Retention > 0 && old.FinishedAt != nil && now.Sub(*old.FinishedAt) > c.Retention:
			tx.DeleteImportJob(old.ID)
		case !old.Final() && c.IdleTimeout > 0 && now.Sub(old.UpdatedAt) > c.IdleTimeout:
			j := *old
			j.State, j.ModifyRevision, j.UpdatedAt, j.FinishedAt = api.ImportFailed, rev, now, &now
			j.Message = fmt.Sprintf("abandoned: no data for %s", c.IdleTimeout)
			if j.Mode == api.ImportAtomic && !j.DryRun {
				j.Message += "; nothing was published"
			}
			tx.DropStaged(j.ID, j.Chunks)
			mustWrite(rev, tx.PutImportJob(&j))
		}
	}
	return &Result{Revision: rev}
}
