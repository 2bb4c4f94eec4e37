// Package target is the small interface a workload drives, and its two
// implementations: schemakv over its HTTP API and etcd through clientv3.
// Each implementation also starts and stops its own cluster of local
// processes (3 nodes or 1) on loopback addresses, with the data in a
// directory the caller owns.
//
// Keys are given as "app-N/key-M"; schemakv stores them in namespace
// "bench" (so the key in the words is bench/app-N/key-M), etcd under
// the literal key "bench/app-N/key-M". Methods are safe for concurrent use.
package target

import (
	"context"
	"time"
)

// Consistency is the read mode of Get.
type Consistency int

const (
	// Linearizable is schemakv's default read (read-index) and etcd's
	// default (quorum) read.
	Linearizable Consistency = iota
	// Stale is schemakv's consistency=stale and etcd's serializable read:
	// the node's local state, no quorum round.
	Stale
)

func (c Consistency) String() string {
	if c == Stale {
		return "stale"
	}
	return "linearizable"
}

// Target is a running cluster as the workloads see it.
type Target interface {
	// Name is "schemakv" or "etcd".
	Name() string
	// Nodes is the number of server processes.
	Nodes() int
	// Leader is the index of the node that leads now.
	Leader(ctx context.Context) (int, error)
	// Put writes value at key through node and returns the revision the
	// write committed at (the same numbering that Watch reports).
	Put(ctx context.Context, node int, key string, value []byte) (uint64, error)
	// PutBatch writes all keys in one atomic request (schemakv POST
	// /v1/batch, etcd Txn); used to load data sets.
	PutBatch(ctx context.Context, node int, keys []string, values [][]byte) error
	// Get reads key through node.
	Get(ctx context.Context, node int, key string, c Consistency) error
	// Watch watches every key under prefix through node until ctx ends,
	// calling created once the watch is registered and onEvent for each
	// event received. It returns when ctx ends or the watch fails.
	Watch(ctx context.Context, node int, prefix string, created func(), onEvent func(rev uint64)) error
	// PIDs are the server processes' ids, by node index.
	PIDs() []int
	// StopNode stops node's process (SIGTERM, then SIGKILL).
	StopNode(node int)
	// StartNode starts node's process again with the same flags and data;
	// it returns once the process is spawned, not when it serves.
	StartNode(node int) (time.Time, error)
	// Close stops every process and releases clients.
	Close()
}

// Config says where and how to start a cluster.
type Config struct {
	// Bin is the server binary.
	Bin string
	// Dir holds one data directory and one log file per node.
	Dir string
	// IPs are the loopback addresses, one per node (len = cluster size).
	IPs []string
	// StartTimeout bounds the wait for the cluster to serve.
	StartTimeout time.Duration
	// Pprof, for schemakv run with bench/cmd/schemakv-pprof, gives each
	// node a /debug/pprof/ address (see Schemakv.PprofURL).
	Pprof bool
}
