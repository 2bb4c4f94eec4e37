package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

// saveSnapshot answers GET /v1/snapshot with a consistent copy of the whole
// state (after the requested read consistency), for backups.
func (s *Server) saveSnapshot(c *gin.Context) {
	if _, err := s.read(c); err != nil {
		s.fail(c, err)
		return
	}
	// The copy is written as it is read; clear the write deadline so a large
	// state is not cut off by the server's WriteTimeout.
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(noDeadline)
	c.Header("Content-Type", "application/octet-stream")
	c.Header("Content-Disposition", `attachment; filename="schemakv.snapshot"`)
	c.Status(http.StatusOK)
	applied, err := s.state.Backup(c.Writer)
	if err != nil {
		// Headers are gone; the truncated body fails the restore check.
		s.log.Error("snapshot save failed", "err", err)
		return
	}
	s.log.Info("snapshot saved", "applied_index", applied)
}

// restoreSnapshot answers POST /v1/snapshot: the body (a file from GET
// /v1/snapshot) replaces the state of the whole cluster. Only the leader
// restores; other nodes answer 421 not_leader naming it.
func (s *Server) restoreSnapshot(c *gin.Context) {
	tmp, err := os.CreateTemp("", "schemakv-restore-*")
	if err != nil {
		s.fail(c, fmt.Errorf("httpapi: restore: %w", err))
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := tmp.Sync(); err != nil {
		s.fail(c, fmt.Errorf("httpapi: restore: %w", err))
		return
	}
	applied, err := store.CheckSnapshot(tmp.Name())
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		s.fail(c, fmt.Errorf("httpapi: restore: %w", err))
		return
	}
	if err := s.cluster.Restore(tmp, n, applied); err != nil {
		s.fail(c, err)
		return
	}
	s.log.Warn("state restored from snapshot", "bytes", n, "snapshot_applied_index", applied)
	c.Header(HeaderIndex, strconv.FormatUint(s.state.View().Revision(), 10))
	s.render(c, http.StatusOK, api.WriteResult{Revision: s.state.View().Revision()})
}
