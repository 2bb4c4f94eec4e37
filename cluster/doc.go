// Package cluster runs raft for one schemakv node: log and stable store
// (raft-boltdb), snapshots, transport, the apply path for writes, and the
// read barriers behind linearizable reads. Forwarding and leadership
// decisions live here and nowhere else: callers hand it a command or ask for
// a read barrier and never ask who leads.
//
// # Linearizable reads (read-index)
//
// A linearizable read on the leader captures the FSM's applied index after
// the request arrived, confirms leadership with a quorum round
// (raft.VerifyLeader) that is shared by every read waiting at that moment,
// checks the term did not change, and then waits until the local FSM has
// applied the captured index. The leader serves such reads only once it has
// committed a barrier in its current term, so every write acknowledged by an
// earlier leader is applied locally first. The applied index used is the
// FSM's own (store.Applied), never raft.AppliedIndex, which counts entries
// merely handed to the FSM.
//
// # Transport security
//
// Config.TLS wraps every connection on the cluster port, in and out, in
// mutual TLS: raft's transport and the RPC clients used for forwarding,
// read index, status and removal dial through it, and the mux routes a
// connection only after the handshake verified the peer. Config.GossipKey
// encrypts memberlist and drops unencrypted messages. DESIGN.md says why.
//
// # Concurrency
//
// All methods are safe for concurrent use. Apply may be called from many
// goroutines; raft batches their entries (BatchApplyCh, MaxAppendEntries) so
// concurrent writes share log fsyncs and FSM transactions.
package cluster
