package store

import "errors"

// Errors returned by reads and by the checks that callers make before
// mutating. Callers match them with errors.Is.
var (
	ErrNamespaceNotFound = errors.New("store: namespace not found")
	ErrNamespaceExists   = errors.New("store: namespace already exists")
	ErrNamespaceNotEmpty = errors.New("store: namespace not empty")
	ErrSchemaNotFound    = errors.New("store: schema not found")
	ErrSchemaConflict    = errors.New("store: schema version conflict")
	ErrConfigNotFound    = errors.New("store: config not found")
	ErrRevisionMismatch  = errors.New("store: revision mismatch")
	ErrRevisionNotFound  = errors.New("store: revision not found")
	ErrClosed            = errors.New("store: closed")
	// Secondary indexes (index.go, index_query.go).
	ErrIndexNotFound    = errors.New("store: index not found")
	ErrIndexExists      = errors.New("store: index already exists")
	ErrTooManyIndexes   = errors.New("store: too many indexes")
	ErrIndexCursorMoved = errors.New("store: index build cursor moved")
	ErrIndexRequired    = errors.New("store: query needs an index")
	ErrQueryTooBroad    = errors.New("store: query too broad")
)
