// Package fsm is schemakv's replicated state machine: the typed commands that
// go through the raft log, their codec, and the deterministic functions that
// apply them to a store.Store.
//
// # Commands
//
// Every log entry is [type byte][flags byte][JSON body]. Type numbers are
// never reused. An entry whose flags carry FlagIgnoreUnknown may be skipped
// by a node that does not know its type (an optional feature added later);
// any other unknown type stops the node, because skipping it would let
// replicas diverge.
//
// # Determinism
//
// Apply uses no clock, randomness or network: the leader-side caller stamps
// the time, the principal and every checked fact (such as the identity of the
// schema version a value was validated against) into the command. A decode
// failure is a bug and panics; a business failure (compare-and-set mismatch,
// missing namespace, a schema version gone) is returned as the entry's result
// and changes nothing.
//
// # Schema evolution
//
// Types 12-17 (evolution.go) register schema bundles under the evolution
// policy, change policies and deprecations, delete versions, and run
// migrations in cursor-guarded chunks; DESIGN.md says why a write cannot
// slip past a strict check.
//
// # Batches and replay
//
// raft hands the FSM batches of committed entries (BatchingFSM). A batch is
// applied in one store transaction and one fsync. Entries at or below the
// store's applied index are skipped, so replaying the log after a restart is
// harmless; the applied index is written in the same transaction as the data.
package fsm
