package httpapi

import (
	"encoding/json"
	"fmt"
	"github.com/gin-gonic/gin"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/internal/jsonutil"
	"github.com/schemakv/schemakv/store"
)

// checkValue checks a value's presence and size and returns it compacted.
func (s *Server) checkValue(value json.RawMessage) (json.RawMessage, error) {
	if len(value) == 0 {
		return nil, apiErr(api.CodeBadRequest, `"value" is required`)
	}
	if len(value) > s.cfg.Limits.MaxValueBytes {
		return nil, apiErr(api.CodeValueTooLarge, "value of %d bytes exceeds %d bytes", len(value), s.cfg.Limits.MaxValueBytes)
	}
	out, err := jsonutil.Compact(value)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// validatedPut resolves the schema a value is pinned to and validates the
// value against it, returning the put operation to propose. ref is "name",
// "name@version" or "" (keep the entry's schema name, latest version). The
// operation carries the create revision of the schema version it was
// validated against, and applying it fails if that version is gone.
func (s *Server) validatedPut(v *store.View, ns, key, ref string, value json.RawMessage) (fsm.Op, error) {
	value, err := s.checkValue(value)
	if err != nil {
		return fsm.Op{}, err
	}
	var name string
	var version int
	if ref == "" {
		cur, ok := v.Config(ns, key)
		if !ok {
			return fsm.Op{}, apiErr(api.CodeSchemaRequired, "%s/%s is a new key: give its schema as \"name\" or \"name@version\"", ns, key)
		}
		name = cur.Schema
	} else if name, version, err = api.ParseSchemaRef(ref); err != nil {
		return fsm.Op{}, err
	}
	sv, ok := v.LatestSchema(ns, name)
	if version != 0 {
		sv, ok = v.SchemaVersion(ns, name, version)
	}
	if !ok {
		if version != 0 {
			return fsm.Op{}, apiErr(api.CodeSchemaNotFound, "schema %s/%s@%d not found", ns, name, version)
		}
		return fsm.Op{}, apiErr(api.CodeSchemaNotFound, "schema %s/%s not found", ns, name)
	}
	compiled, err := s.schemas.Get(ns, name, sv.Version, sv.CreateRevision, v)
	if err != nil {
		return fsm.Op{}, fmt.Errorf("httpapi: compile registered schema %s/%s@%d: %w", ns, name, sv.Version, err)
	}
	details, total, err := compiled.Validate(value)
	if err != nil {
		return fsm.Op{}, err
	}
	if total > 0 {
		s.validationFailures.WithLabelValues(ns).Inc()
		msg := fmt.Sprintf("value does not match schema %s@%d: %d error(s)", name, sv.Version, total)
		if total > len(details) {
			msg += fmt.Sprintf(" (first %d listed)", len(details))
		}
		return fsm.Op{}, &api.Error{Code: api.CodeValidationFailed, Message: msg, Details: details}
	}
	return fsm.Op{
		Op: api.BatchPut, Namespace: ns, Key: key,
		Schema: name, SchemaVersion: sv.Version, SchemaRevision: sv.CreateRevision,
		Value: value,
	}, nil
}

// writeView is the state a write is validated against. On the leader it is
// the local state; a follower first catches up with the leader (one shared
// read-index round), so that a schema version or namespace created through
// another node a moment ago is found, and "the latest version" means the
// latest.
func (s *Server) writeView(c *gin.Context) (*store.View, error) {
	if !s.cluster.IsLeader() {
		if err := s.cluster.ReadBarrier(c.Request.Context()); err != nil {
			return nil, err
		}
	}
	return s.state.View(), nil
}
