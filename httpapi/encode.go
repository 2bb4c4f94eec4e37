package httpapi

import (
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/jsonutil"
)

// renderEntry answers with one config entry, as render would, without
// encoding/json re-validating and compacting the value: stored values are
// compact and valid (every one was compacted and validated on arrival).
func (s *Server) renderEntry(c *gin.Context, status int, e *api.ConfigEntry) {
	c.Data(status, jsonContentType, append(appendEntry(nil, e), '\n'))
}

// appendEntry appends e as JSON, byte for byte as encoding/json encodes it
// without HTML escaping (TestAppendEntry_MatchesEncodingJSON keeps the two
// in step), copying the value as it is.
func appendEntry(b []byte, e *api.ConfigEntry) []byte {
	b = slices.Grow(b, 256+len(e.Namespace)+len(e.Key)+len(e.Value)+len(e.Schema)+len(e.ModifiedBy)+len(e.Reason))
	b = append(b, `{"namespace":`...)
	b = jsonutil.AppendString(b, e.Namespace)
	b = append(b, `,"key":`...)
	b = jsonutil.AppendString(b, e.Key)
	b = append(b, `,"value":`...)
	if e.Value == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Value...)
	}
	b = append(b, `,"schema":`...)
	b = jsonutil.AppendString(b, e.Schema)
	b = append(b, `,"schema_version":`...)
	b = jsonutil.AppendInt(b, int64(e.SchemaVersion))
	b = append(b, `,"create_revision":`...)
	b = jsonutil.AppendUint(b, e.CreateRevision)
	b = append(b, `,"modify_revision":`...)
	b = jsonutil.AppendUint(b, e.ModifyRevision)
	b = append(b, `,"version":`...)
	b = jsonutil.AppendUint(b, e.Version)
	b = append(b, `,"modified_by":`...)
	b = jsonutil.AppendString(b, e.ModifiedBy)
	b = append(b, `,"modified_at":`...)
	b = jsonutil.AppendTime(b, e.ModifiedAt)
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonutil.AppendString(b, e.Reason)
	}
	return append(b, '}')
}
