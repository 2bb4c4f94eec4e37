package api

// ClusterStatus is the body of GET /v1/cluster: the cluster as seen from the
// node that answers.
type ClusterStatus struct {
	NodeID  string          `json:"node_id"`
	Leader  string          `json:"leader"`
	Term    uint64          `json:"term"`
	Members []ClusterMember `json:"members"`
}

// ClusterMember is one server of the cluster.
type ClusterMember struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	// Suffrage is "voter" or "nonvoter" in raft's configuration, or "none"
	// for a node seen through gossip that raft does not have yet.
	Suffrage string `json:"suffrage"`
	// Role is what the node asked to be: "voter" or "replica".
	Role   string `json:"role,omitempty"`
	Leader bool   `json:"leader"`
	// Gossip is "alive" or "gone".
	Gossip string `json:"gossip"`
	// State is the node's raft state (Leader, Follower, Candidate) and the
	// indexes below its own answer; Reachable is false when it did not
	// answer in time.
	Reachable    bool   `json:"reachable"`
	State        string `json:"state,omitempty"`
	Term         uint64 `json:"term,omitempty"`
	LastIndex    uint64 `json:"last_index,omitempty"`
	CommitIndex  uint64 `json:"commit_index,omitempty"`
	AppliedIndex uint64 `json:"applied_index,omitempty"`
	// Lag is how many entries the member's applied index is behind the
	// answering node's.
	Lag int64 `json:"lag"`
}
