package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/cluster"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/store"
)

// Bulk import jobs: the routes. The job's driver (the upload pipeline) is in
// imports_ingest.go; its replicated state in fsm/imports.go.
//
// Routes (each needs the editor role on every namespace an entry names; the
// routes carry no :ns, so authorisation checks each entry's namespace in
// s.importNamespaceAllowed, and reading a job needs the viewer role on the
// namespaces it touched):
//
//	POST   /v1/imports?mode=&dry_run=&reason=&format=   create a job (202); with a body, upload it too
//	                                                    (format: ndjson, json, tar, tar.gz; imports_tar.go)
//	PUT    /v1/imports/{id}/data?offset=N&final=true    upload (or resume) the data of a job
//	GET    /v1/imports                                  list jobs
//	GET    /v1/imports/{id}[?watch=true]                one job; watch streams progress as NDJSON
//	DELETE /v1/imports/{id}                             cancel

// ImportLimits bound bulk imports. A zero value means the default.
type ImportLimits struct {
	MaxBytes   int64 // one upload, all requests of a job together (1 GiB) → 413 import_too_large
	MaxEntries int64 // entries of one job (1,000,000) → 413 import_too_large
	// MaxAtomic is the entries an atomic job may publish at one revision
	// (1,000,000). A larger atomic job is still validated and reported,
	// then fails with nothing published.
	MaxAtomic    int64
	MaxRunning   int           // running jobs in the cluster (4) → 429 too_many_imports
	MaxErrors    int           // failures listed per job (1,000); the rest are counted
	ChunkEntries int           // entries per raft chunk (1,000)
	ChunkBytes   int           // value bytes per raft chunk (1 MiB)
	Retention    time.Duration // ended jobs are deleted this long after they end (24h)
	IdleTimeout  time.Duration // a running job without data this long fails (15m)
	// UploadTimeout bounds one upload request (30m), replacing the server's
	// read timeout for it.
	UploadTimeout time.Duration
	// MaxEntriesPerSecond paces each upload's chunk proposals, leaving CPU
	// and disk to readers and other writers (2,000: on the 2-core reference
	// machine, the rate at which concurrent reads keep their p99; see the
	// README). Zero means the default; negative means no pacing.
	MaxEntriesPerSecond int
}

// DefaultImportLimits returns the documented defaults.
func DefaultImportLimits() ImportLimits {
	return ImportLimits{
		MaxBytes: 1 << 30, MaxEntries: 1_000_000, MaxAtomic: 1_000_000, MaxRunning: 4,
		MaxErrors: 1000, ChunkEntries: 1000, ChunkBytes: 1 << 20,
		Retention: 24 * time.Hour, IdleTimeout: 15 * time.Minute, UploadTimeout: 30 * time.Minute,
		MaxEntriesPerSecond: 2000,
	}
}

// withDefaults fills zero fields with the defaults.
func (l ImportLimits) withDefaults() ImportLimits {
	d := DefaultImportLimits()
	or := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	or(&l.MaxBytes, d.MaxBytes)
	or(&l.MaxEntries, d.MaxEntries)
	or(&l.MaxAtomic, d.MaxAtomic)
	if l.MaxRunning <= 0 {
		l.MaxRunning = d.MaxRunning
	}
	if l.MaxErrors <= 0 {
		l.MaxErrors = d.MaxErrors
	}
	if l.ChunkEntries <= 0 {
		l.ChunkEntries = d.ChunkEntries
	}
	if l.ChunkBytes <= 0 {
		l.ChunkBytes = d.ChunkBytes
	}
	if l.Retention <= 0 {
		l.Retention = d.Retention
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.UploadTimeout <= 0 {
		l.UploadTimeout = d.UploadTimeout
	}
	if l.MaxEntriesPerSecond == 0 {
		l.MaxEntriesPerSecond = d.MaxEntriesPerSecond
	}
	return l
}

// isImportUpload reports whether a request uploads import data, which has its
// own size limit instead of MaxBodyBytes.
func isImportUpload(r *http.Request) bool {
	p := r.URL.Path
	return (r.Method == http.MethodPost && p == "/v1/imports") ||
		(r.Method == http.MethodPut && strings.HasPrefix(p, "/v1/imports/") && strings.HasSuffix(p, "/data"))
}

func (s *Server) importRoutes(v1 *gin.RouterGroup) {
	v1.POST("/imports", s.createImport)
	v1.GET("/imports", s.listImports)
	v1.HEAD("/imports", s.listImports)
	v1.GET("/imports/:id", s.getImport)
	v1.HEAD("/imports/:id", s.getImport)
	v1.PUT("/imports/:id/data", s.putImportData)
	v1.DELETE("/imports/:id", s.cancelImport)
}

// importNamespaceAllowed checks that the principal may write namespace ns
// (editor; auth.go). Every entry is checked; one that may not be written
// fails as an entry error.
func (s *Server) importNamespaceAllowed(c *gin.Context, ns string) error {
	return s.mayWriteEntry(c, ns)
}

func newImportID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("httpapi: import id: %w", err)
	}
	return "imp-" + hex.EncodeToString(b), nil
}

// importFormat picks the upload format from ?format= or the Content-Type;
// "" means guess from the first bytes (NDJSON, a JSON array or a tar).
func importFormat(c *gin.Context) (string, error) {
	switch f := c.Query("format"); f {
	case api.ImportNDJSON, api.ImportJSONArray, api.ImportTar, api.ImportTarGzip:
		return f, nil
	case "tgz":
		return api.ImportTarGzip, nil
	case "":
	default:
		return "", apiErr(api.CodeBadRequest, "format must be ndjson, json, tar or tar.gz, not %q", f)
	}
	ct := c.GetHeader("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", apiErr(api.CodeUnsupportedMedia, "content type %q is not supported", ct)
	}
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines":
		return api.ImportNDJSON, nil
	case "application/json":
		return api.ImportJSONArray, nil
	case "application/x-tar", "application/tar":
		return api.ImportTar, nil
	case "application/gzip", "application/x-gzip", "application/x-tgz", "application/x-compressed-tar":
		return api.ImportTarGzip, nil
	case "application/octet-stream", "text/plain":
		return "", nil
	}
	return "", apiErr(api.CodeUnsupportedMedia, "content type %q is not supported; send application/x-ndjson (one entry per line), application/json (an array), application/x-tar or application/gzip (a tar of the GitOps layout)", ct)
}

func (s *Server) createImport(c *gin.Context) {
	lim := s.importLimits
	mode := c.DefaultQuery("mode", api.ImportAtomic)
	if mode != api.ImportAtomic && mode != api.ImportBestEffort {
		s.fail(c, apiErr(api.CodeBadRequest, "mode must be atomic or best-effort, not %q", mode))
		return
	}
	dry := false
	if d := c.Query("dry_run"); d != "" {
		var err error
		if dry, err = strconv.ParseBool(d); err != nil {
			s.fail(c, apiErr(api.CodeBadRequest, "dry_run must be true or false"))
			return
		}
	}
	format, err := importFormat(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	size, err := queryUint(c, "size")
	if err != nil {
		s.fail(c, err)
		return
	}
	if size == 0 && c.Request.ContentLength > 0 {
		size = uint64(c.Request.ContentLength)
	}
	if size > uint64(lim.MaxBytes) {
		s.fail(c, apiErr(api.CodeImportTooLarge, "upload of %d bytes exceeds %d bytes", size, lim.MaxBytes))
		return
	}
	a, err := s.audit(c, c.Query("reason"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.expireImports(c.Request.Context())
	id, err := newImportID()
	if err != nil {
		s.fail(c, err)
		return
	}
	cmd := &fsm.ImportCreate{Audit: a, ID: id, Mode: mode, DryRun: dry, Format: format,
		Node: s.cfg.NodeID, Size: int64(size), MaxRunning: lim.MaxRunning}
	if _, err := s.proposeImport(c.Request.Context(), cmd); err != nil {
		s.fail(c, err)
		return
	}
	job, err := s.localJob(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/v1/imports/"+id)
	if c.Request.ContentLength == 0 {
		s.render(c, http.StatusAccepted, s.jobOut(job))
		return
	}
	s.upload(c, job, 0, true, true)
}

func (s *Server) putImportData(c *gin.Context) {
	id := c.Param("id")
	offset, err := queryUint(c, "offset")
	if err != nil {
		s.fail(c, err)
		return
	}
	final := false
	if f := c.Query("final"); f != "" {
		if final, err = strconv.ParseBool(f); err != nil {
			s.fail(c, apiErr(api.CodeBadRequest, "final must be true or false"))
			return
		}
	}
	if err := s.cluster.ReadBarrier(c.Request.Context()); err != nil {
		s.fail(c, err)
		return
	}
	job, ok := s.state.View().ImportJob(id)
	if !ok {
		s.fail(c, apiErr(api.CodeImportNotFound, "import %q not found", id))
		return
	}
	switch {
	case job.Final() || job.UploadDone:
		s.fail(c, apiErr(api.CodeImportFinished, "import %s is %s; it takes no more data", id, job.State))
		return
	case job.Format == api.ImportTarGzip && job.Chunks > 0:
		s.fail(c, apiErr(api.CodeImportOffset, errCompressedResume, id))
		return
	case int64(offset) != job.Offset:
		s.fail(c, apiErr(api.CodeImportOffset, "import %s has acknowledged %d bytes: resume at offset=%d, not %d", id, job.Offset, job.Offset, offset))
		return
	case job.Format == api.ImportJSONArray && job.Chunks > 0:
		s.fail(c, apiErr(api.CodeImportOffset, "import %s is a JSON array upload, which cannot resume mid-array; start a new job, or upload NDJSON", id))
		return
	}
	s.upload(c, job, int64(offset), final, false)
}

// upload runs the data of one request into a job and answers.
func (s *Server) upload(c *gin.Context, job *api.ImportJob, offset int64, final, oneShot bool) {
	ctx := c.Request.Context()
	if !s.importDrivers.begin(job.ID) {
		s.fail(c, apiErr(api.CodeImportOffset, "an upload to import %s is already running on this node", job.ID))
		return
	}
	defer s.importDrivers.end(job.ID)
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(s.importLimits.UploadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(s.importLimits.UploadTimeout))
	a, err := s.audit(c, job.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	a.Principal = job.Principal
	d := &driver{s: s, c: c, job: job, audit: a, final: final}
	last, err := d.run(ctx, c.Request.Body, offset)
	if err != nil {
		if oneShot && !errors.Is(err, store.ErrImportFinished) {
			// A one-shot upload cannot be resumed by its client: end the job.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			_, ferr := s.proposeImport(fctx, &fsm.ImportFinish{Audit: fsm.NewAudit(a.Principal, a.Reason), ID: job.ID,
				Chunks: last, Fail: userMessage(err), MaxErrors: s.importLimits.MaxErrors, MaxAtomic: s.importLimits.MaxAtomic})
			cancel()
			if ferr != nil {
				s.log.Warn("import: could not fail the job after a broken upload", "id", job.ID, "err", ferr)
			}
		}
		e := toAPIError(err)
		e.Message = "import " + job.ID + ": " + e.Message
		s.fail(c, e)
		return
	}
	status := http.StatusOK
	if final {
		status = http.StatusAccepted
		s.finishInBackground(job.ID, last, a)
	}
	out, err := s.localJob(ctx, job.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, status, s.jobOut(out))
}

// finishInBackground proposes the end of the upload: an atomic job
// publishes. It does not hold the request.
func (s *Server) finishInBackground(id string, chunks int64, a fsm.Audit) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := &fsm.ImportFinish{Audit: fsm.NewAudit(a.Principal, a.Reason), ID: id, Chunks: chunks,
			MaxErrors: s.importLimits.MaxErrors, MaxAtomic: s.importLimits.MaxAtomic}
		if _, err := s.proposeImport(ctx, cmd); err != nil && !errors.Is(err, store.ErrImportFinished) {
			s.log.Error("import: finish failed; the job stays running until it is resumed or expires", "id", id, "err", err)
		}
	}()
}

// proposeImport proposes an import command, re-proposing it while its
// outcome is unknown or no leader is known (a leader change): import
// commands are idempotent, so a re-proposal of one that did commit changes
// nothing.
func (s *Server) proposeImport(ctx context.Context, cmd any) (*fsm.Result, error) {
	b, err := fsm.Encode(cmd)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	backoff := 50 * time.Millisecond
	for {
		r, err := s.cluster.Apply(ctx, b)
		if err == nil {
			if r.Err != nil {
				return r, r.Err
			}
			return r, nil
		}
		retry := errors.Is(err, cluster.ErrOutcomeUnknown) || errors.Is(err, cluster.ErrNoLeader)
		if !retry || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		s.log.Info("import: re-proposing after a leader change", "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// localJob reads a job after this node applied the write that made it.
func (s *Server) localJob(ctx context.Context, id string) (*api.ImportJob, error) {
	if err := s.cluster.ReadBarrier(ctx); err != nil {
		return nil, err
	}
	j, ok := s.state.View().ImportJob(id)
	if !ok {
		return nil, apiErr(api.CodeImportNotFound, "import %q not found", id)
	}
	return j, nil
}

// expireImports deletes ended jobs past retention and fails abandoned ones.
// It runs when a job is created (so no timer runs inside the API), and only
// proposes when there is something to do.
func (s *Server) expireImports(ctx context.Context) {
	now := time.Now()
	due := false
	for _, j := range s.state.View().ImportJobs() {
		if (j.Final() && j.FinishedAt != nil && now.Sub(*j.FinishedAt) > s.importLimits.Retention) ||
			(!j.Final() && now.Sub(j.UpdatedAt) > s.importLimits.IdleTimeout) {
			due = true
			break
		}
	}
	if !due {
		return
	}
	cmd := &fsm.ImportExpire{Audit: fsm.NewAudit("system", "import retention"),
		Retention: s.importLimits.Retention, IdleTimeout: s.importLimits.IdleTimeout}
	if _, err := s.proposeImport(ctx, cmd); err != nil {
		s.log.Warn("import: expiry failed", "err", err)
	}
}

// jobOut is a job as answered: a copy with rate and ETA.
func (s *Server) jobOut(j *api.ImportJob) api.ImportJob {
	out := *j
	end := j.UpdatedAt
	if secs := end.Sub(j.CreatedAt).Seconds(); secs > 0 {
		out.Rate = float64(j.Received) / secs
		if !j.Final() && j.Size > 0 && j.Offset > 0 {
			out.ETASeconds = float64(j.Size-j.Offset) / (float64(j.Offset) / secs)
		}
	}
	return out
}

func (s *Server) listImports(c *gin.Context) {
	v, err := s.read(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := api.ImportList{Items: []api.ImportJob{}, Revision: v.Revision()}
	for _, j := range v.ImportJobs() {
		if !s.mayAccessJob(c, j, auth.ActionRead) {
			continue // only the jobs the principal may see
		}
		jo := s.jobOut(j)
		jo.Errors = nil // the list stays small; GET the job for its errors
		out.Items = append(out.Items, jo)
	}
	s.render(c, http.StatusOK, out)
}

func (s *Server) getImport(c *gin.Context) {
	id := c.Param("id")
	watch := false
	if w := c.Query("watch"); w != "" {
		var err error
		if watch, err = strconv.ParseBool(w); err != nil {
			s.fail(c, apiErr(api.CodeBadRequest, "watch must be true or false"))
			return
		}
	}
	v, err := s.read(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	j, ok := v.ImportJob(id)
	if !ok {
		s.fail(c, apiErr(api.CodeImportNotFound, "import %q not found", id))
		return
	}
	if !s.authorizeJob(c, j, auth.ActionRead) {
		return
	}
	if !watch {
		s.render(c, http.StatusOK, s.jobOut(j))
		return
	}
	s.watchImport(c, j)
}

// watchImport streams the job as NDJSON, one line per change (at most every
// 200ms, and at least every 10s), ending after the final state.
func (s *Server) watchImport(c *gin.Context, j *api.ImportJob) {
	ctx := c.Request.Context()
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetWriteDeadline(noDeadline)
	c.Header("Content-Type", "application/x-ndjson")
	c.Status(http.StatusOK)
	for {
		b, err := marshalLine(s.jobOut(j))
		if err != nil {
			return
		}
		if _, err := c.Writer.Write(b); err != nil {
			return
		}
		_ = rc.Flush()
		if j.Final() {
			return
		}
		last := j.ModifyRevision
		for j.ModifyRevision == last {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			s.state.WaitApplied(wctx.Done(), s.state.View().Revision()+1)
			cancel()
			if ctx.Err() != nil {
				return
			}
			nj, ok := s.state.View().ImportJob(j.ID)
			if !ok {
				return // expired
			}
			j = nj
			if j.ModifyRevision == last {
				break // a keep-alive line
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			if nj, ok = s.state.View().ImportJob(j.ID); ok {
				j = nj
			}
		}
	}
}

func (s *Server) cancelImport(c *gin.Context) {
	id := c.Param("id")
	if j, ok := s.state.View().ImportJob(id); ok && !s.authorizeJob(c, j, auth.ActionWrite) {
		return
	}
	a, err := s.audit(c, "")
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := s.proposeImport(c.Request.Context(), &fsm.ImportCancel{Audit: a, ID: id}); err != nil {
		s.fail(c, err)
		return
	}
	j, err := s.localJob(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, s.jobOut(j))
}
