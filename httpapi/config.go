package httpapi

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits are the request limits of DESIGN.md §9. Each is enforced with its
// own error code.
type Limits struct {
	MaxBodyBytes   int64 // whole request body (4 MiB) → 413 body_too_large
	MaxValueBytes  int   // one config value (512 KiB) → 413 value_too_large
	MaxSchemaBytes int   // one schema document (256 KiB) → 413 schema_too_large
	MaxBatchOps    int   // operations in one batch (1000) → 413 batch_too_large
	MaxJSONDepth   int   // nesting of any JSON body (64) → 400 json_too_deep
	MaxListLimit   int   // page size of lists (1000); larger requests are capped
	MaxReasonBytes int   // reason / change-request id (1024) → 400 bad_request
	// MaxSnapshotBytes bounds a snapshot restore upload (8 GiB; 0 means
	// the default) → 413.
	MaxSnapshotBytes int64

	// Watch limits (watch.go). A zero value means the default.
	WatchMaxPerClient     int           // blocking queries + streams + multiplexed watches per client IP (4096) → 429 too_many_watchers
	WatchMaxPerStream     int           // watches of one multiplexed stream, POST /v1/watch (1000) → 400 bad_request
	WatchBufferBatches    int           // revisions buffered per stream before it is cut (64)
	WatchProgressInterval time.Duration // progress events of an idle stream (10s)
	WatchDefaultWait      time.Duration // wait of a blocking query without ?wait (5m)
	WatchMaxWait          time.Duration // longest ?wait; longer ones are capped (10m)

	// Imports bounds bulk import jobs (imports.go); zero fields mean the
	// defaults.
	Imports ImportLimits
	// Index limits (indexes.go). A zero value means the default.
	MaxIndexesPerNamespace int // declared indexes per namespace (16) → 400 too_many_indexes
	MaxQueryExamined       int // entries one where-query may look at (100,000) → 400 query_too_broad
}

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:     4 << 20,
		MaxValueBytes:    512 << 10,
		MaxSchemaBytes:   256 << 10,
		MaxBatchOps:      1000,
		MaxJSONDepth:     64,
		MaxListLimit:     1000,
		MaxReasonBytes:   1024,
		MaxSnapshotBytes: 8 << 30,
	}
}

// Config configures the HTTP API.
type Config struct {
	NodeID  string
	Version string
	Limits  Limits
	Logger  *slog.Logger
	// Registerer receives the API's metrics; nil means none.
	Registerer prometheus.Registerer
	// Gatherer serves /metrics; nil disables the route.
	Gatherer prometheus.Gatherer

	// Auth authenticates every request but GET /v1/health (auth.go).
	// Required unless DevMode.
	Auth Authenticator
	// OIDC runs the web UI's OIDC sign-in (oidc.go); nil means it is not
	// offered.
	OIDC OIDCSignIn
	// DevMode turns authentication and authorisation off: every request
	// may do everything, recorded as the X-Schemakv-Principal header.
	// Only for development on loopback (node enforces that).
	DevMode bool
	// MetricsOpen serves /metrics without credentials.
	MetricsOpen bool
	// RevokeWait bounds how long DELETE /v1/tokens/:id waits for every
	// member to apply the revocation; zero means 5s.
	RevokeWait time.Duration
	// TombstoneTTL is how long the tombstone of a deleted config key is
	// kept before the leader reaps it (tombstones.go); zero means
	// DefaultTombstoneTTL (1h), negative never reaps.
	TombstoneTTL time.Duration
}

// Validate reports whether the configuration can be used.
func (c Config) Validate() error {
	l := c.Limits
	if l.MaxBodyBytes <= 0 || l.MaxValueBytes <= 0 || l.MaxSchemaBytes <= 0 ||
		l.MaxBatchOps <= 0 || l.MaxJSONDepth <= 0 || l.MaxListLimit <= 0 || l.MaxReasonBytes <= 0 || l.MaxSnapshotBytes < 0 {
		return errors.New("httpapi: config: every limit must be positive")
	}
	if c.Auth == nil && !c.DevMode {
		return errors.New("httpapi: config: Auth is required unless DevMode")
	}
	return nil
}
