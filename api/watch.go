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
	// ResumeFrom and Reason accompany WatchCut.
	ResumeFrom uint64 `json:"resume_from,omitempty"`
	Reason     string `json:"reason,omitempty"`
}
