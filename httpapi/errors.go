package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/cluster"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/index"
	"github.com/schemakv/schemakv/internal/jsonutil"
	"github.com/schemakv/schemakv/schema"
	"github.com/schemakv/schemakv/store"
)

// errorCodes is the one table from errors of the layers below to stable API
// codes. Order matters where an error matches several sentinels: the first
// match wins.
var errorCodes = []struct {
	err  error
	code string
}{
	{store.ErrNamespaceNotFound, api.CodeNamespaceNotFound},
	{store.ErrNamespaceExists, api.CodeNamespaceExists},
	{store.ErrNamespaceNotEmpty, api.CodeNamespaceNotEmpty},
	{store.ErrSchemaNotFound, api.CodeSchemaNotFound},
	{store.ErrSchemaConflict, api.CodeSchemaConflict},
	{store.ErrConfigNotFound, api.CodeConfigNotFound},
	{store.ErrRevisionMismatch, api.CodeRevisionMismatch},
	{store.ErrRevisionNotFound, api.CodeRevisionNotFound},
	{store.ErrTokenNotFound, api.CodeTokenNotFound},
	{store.ErrTokenRevoked, api.CodeTokenRevoked},
	{store.ErrBindingNotFound, api.CodeBindingNotFound},
	{store.ErrBindingExists, api.CodeBindingExists},
	{store.ErrAuthBootstrapped, api.CodeAuthBootstrapped},
	{auth.ErrUnauthenticated, api.CodeUnauthenticated},
	{auth.ErrOIDCSignInOff, api.CodeOIDCNotConfigured},
	{auth.ErrOIDCCodeRefused, api.CodeOIDCSignInRefused},
	{auth.ErrOIDCProvider, api.CodeOIDCProvider},
	{store.ErrClosed, api.CodeShuttingDown},
	{schema.ErrTooLarge, api.CodeSchemaTooLarge},
	{schema.ErrNotFound, api.CodeSchemaNotFound},
	{schema.ErrInvalidValue, api.CodeInvalidJSON},
	{schema.ErrInvalidSchema, api.CodeInvalidSchema},
	{api.ErrInvalidName, api.CodeInvalidName},
	{api.ErrInvalidKey, api.CodeInvalidKey},
	{api.ErrKeyTooLong, api.CodeKeyTooLong},
	{api.ErrInvalidSchemaRef, api.CodeInvalidSchemaRef},
	{jsonutil.ErrTooDeep, api.CodeJSONTooDeep},
	{jsonutil.ErrInvalidJSON, api.CodeInvalidJSON},
	{cluster.ErrNoLeader, api.CodeNoLeader},
	{cluster.ErrNotLeader, api.CodeNotLeader},
	{cluster.ErrBadMembership, api.CodeBadRequest},
	{cluster.ErrMemberNotFound, api.CodeMemberNotFound},
	{store.ErrNotSnapshot, api.CodeInvalidSnapshot},
	{cluster.ErrOutcomeUnknown, api.CodeOutcomeUnknown},
	{cluster.ErrShutdown, api.CodeShuttingDown},
	{cluster.ErrReadTimeout, api.CodeTimeout},
	{store.ErrCompacted, api.CodeCompacted},
	{store.ErrImportNotFound, api.CodeImportNotFound},
	{store.ErrImportFinished, api.CodeImportFinished},
	{store.ErrTooManyImports, api.CodeTooManyImports},
	{store.ErrImportSequence, api.CodeImportOffset},
	{context.DeadlineExceeded, api.CodeTimeout},
	{fsm.ErrEvolutionConflict, api.CodeEvolutionConflict},
	{fsm.ErrSchemaDeprecated, api.CodeSchemaDeprecated},
	{fsm.ErrSchemaInUse, api.CodeSchemaInUse},
	{fsm.ErrInvalidPolicy, api.CodeInvalidPolicy},
	{fsm.ErrMigrationNotFound, api.CodeMigrationNotFound},
	{fsm.ErrMigrationConflict, api.CodeMigrationConflict},
	{store.ErrIndexNotFound, api.CodeIndexNotFound},
	{store.ErrIndexExists, api.CodeIndexExists},
	{store.ErrTooManyIndexes, api.CodeTooManyIndexes},
	{store.ErrIndexRequired, api.CodeIndexRequired},
	{store.ErrQueryTooBroad, api.CodeQueryTooBroad},
	{index.ErrInvalidPath, api.CodeInvalidPath},
	{index.ErrUnknownOperator, api.CodeUnknownOperator},
	{index.ErrInvalidQuery, api.CodeInvalidQuery},
}

// toAPIError converts any error into the wire error.
func toAPIError(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &api.Error{Code: api.CodeBodyTooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)}
	}
	var te *fsm.TxnError
	if errors.As(err, &te) {
		if len(te.Ops) == 1 {
			return toAPIError(te.Ops[0].Err)
		}
		out := &api.Error{Code: api.CodeBatchFailed, Message: batchMessage(len(te.Ops))}
		for _, o := range te.Ops {
			out.Items = append(out.Items, itemError(o.Index, o.Err))
		}
		return out
	}
	for _, ec := range errorCodes {
		if errors.Is(err, ec.err) {
			out := &api.Error{Code: ec.code, Message: userMessage(err)}
			var rm *fsm.RevisionMismatchError
			if errors.As(err, &rm) {
				out.Revision = rm.Current
			}
			var ce *store.CompactedError
			if errors.As(err, &ce) {
				out.OldestRevision, out.CurrentRevision = ce.Oldest, ce.Current
			}
			return out
		}
	}
	return &api.Error{Code: api.CodeInternal, Message: err.Error()}
}

// itemError converts the failure of operation index of a batch.
func itemError(index int, err error) api.ItemError {
	e := toAPIError(err)
	return api.ItemError{Index: index, Code: e.Code, Message: e.Message, Details: e.Details, Revision: e.Revision}
}

// packagePrefixes are the "pkg: " prefixes of the sentinels in errorCodes.
// The code already says which failure it is, so a message meant for users
// drops them.
var packagePrefixes = []string{"store: ", "schema: ", "cluster: ", "fsm: ", "jsonutil: ", "index: ", "auth: "}

// userMessage is err's text without a leading package prefix.
func userMessage(err error) string {
	msg := err.Error()
	for _, p := range packagePrefixes {
		if m, ok := strings.CutPrefix(msg, p); ok {
			return m
		}
	}
	return msg
}

// statusOf is the HTTP status of a wire error. A failed batch takes the
// status of its first failing item, so a batch that failed only on
// compare-and-set answers 412 like a single write would.
func statusOf(e *api.Error) int {
	if e.Code == api.CodeBatchFailed && len(e.Items) > 0 {
		return api.StatusOf(e.Items[0].Code)
	}
	return api.StatusOf(e.Code)
}

// fail renders err and aborts the request.
func (s *Server) fail(c *gin.Context, err error) {
	e := toAPIError(err)
	st := statusOf(e)
	if st >= 500 {
		s.log.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path,
			"code", e.Code, "err", err)
	}
	c.Abort()
	s.render(c, st, api.ErrorBody{Error: e})
}

// apiErr builds a wire error with a code and a formatted message.
func apiErr(code, format string, args ...any) *api.Error {
	return &api.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
