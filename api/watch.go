package api

// Types of the messages of a watch stream (GET /v1/watch).
const (
	// WatchEvents carries the events of one revision: a transaction's
	// changes arrive together.
	WatchEvents = "events"
	// WatchProgress (a bookmark) says that every matching event up to
	// Revision has been sent; it is sent while the stream is idle.
	WatchProgress = "progress"
	// WatchCut ends a stream the client must resume with
	// from_revision=ResumeFrom: it fell too far behind, or the node's state
	// was replaced, or the node is shutting down.
	WatchCut = "cut"
)

// WatchMessage is one message of a watch stream. As Server-Sent Events the
// SSE event name is Type, the id is Revision (so Last-Event-ID resumes) and
// the data is this object; as NDJSON it is one line.
type WatchMessage struct {
	Type     string `json:"type"`
	Revision uint64 `json:"revision,omitempty"`
	// Events are the matching changes at Revision, in the order the
	// transaction made them.
	Events []Event `json:"events,omitempty"`
	// Matches, on a multiplexed stream (POST /v1/watch), maps the ID of
	// each watch that sees some of Events to their indexes in Events.
	Matches map[string][]int `json:"matches,omitempty"`
	// ResumeFrom and Reason accompany WatchCut.
	ResumeFrom uint64 `json:"resume_from,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// WatchSpec is one watch of a multiplexed stream (POST /v1/watch): the same
// selection as GET /v1/watch's query parameters, named by an ID the
// stream's messages refer to.
type WatchSpec struct {
	// ID names the watch in WatchMessage.Matches; unique in the request,
	// 1 to 64 bytes.
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	// Key or Prefix narrow the watch to config entries (they exclude each
	// other); with neither it sees every change of the namespace.
	Key    string `json:"key,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	// Kinds lists KindConfig, KindSchema or KindNamespace; empty means
	// config entries when Key or Prefix is set, else every kind.
	Kinds []string `json:"kinds,omitempty"`
}

// WatchRequest is the body of POST /v1/watch: many watches on one stream,
// as etcd multiplexes watches on one gRPC stream. The stream's messages
// are those of GET /v1/watch, for the union of the watches, and each
// events message says in Matches which watch sees which of its events.
type WatchRequest struct {
	Watches []WatchSpec `json:"watches"`
	// FromRevision starts the stream at a revision (replaying retained
	// history); 0 starts it now. A Last-Event-ID header wins.
	FromRevision uint64 `json:"from_revision,omitempty"`
	// Format is "sse" or "ndjson"; empty follows the Accept header.
	Format string `json:"format,omitempty"`
	// Progress is the interval of progress messages while idle, as a Go
	// duration ("10s"); empty means the server's default.
	Progress string `json:"progress,omitempty"`
}
