package cluster

import "errors"

// Errors returned by Apply and ReadBarrier.
var (
	// ErrNoLeader: the write or read was not started because no leader is
	// known or this node cannot reach it. Safe to retry.
	ErrNoLeader = errors.New("cluster: no leader")
	// ErrOutcomeUnknown: the write was handed to raft but its outcome is
	// unknown (leadership lost, timeout, shutdown). It may or may not have
	// committed; never retry it blindly.
	ErrOutcomeUnknown = errors.New("cluster: write outcome unknown")
	// ErrShutdown: the node is shutting down.
	ErrShutdown = errors.New("cluster: shutting down")
	// ErrMemberNotFound: no server with that ID is in raft's configuration.
	ErrMemberNotFound = errors.New("cluster: member not found")
	// ErrBadMembership: a membership change that would break the cluster.
	ErrBadMembership = errors.New("cluster: membership change refused")
	// ErrReadTimeout: a read barrier did not complete in time.
	ErrReadTimeout = errors.New("cluster: read barrier timed out")
)
