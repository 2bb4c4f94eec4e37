// Package store keeps schemakv's replicated state: a bbolt file that is the
// durable copy, and an immutable in-memory read model that every read is
// served from.
//
// # Layout
//
// The bbolt file has one bucket per kind of object (namespaces, schemas,
// configs), an events bucket holding every mutation ordered by revision
// (the history and audit log), a keyhist bucket indexing those events by
// object, and a meta bucket holding the applied raft index. Schema evolution
// adds the schemameta (policy, deprecations), pins (per schema version: the
// entries pinned and the revision of the last pin) and migrations buckets
// (evolution.go). The applied index
// is written in the same transaction as the data it describes, so replaying
// an already-applied log entry is detected and skipped by the caller.
// Bulk import jobs and the entries atomic jobs stage have two more buckets
// (imports.go).
//
// # Concurrency
//
// There is one writer: the FSM goroutine, which opens a [Txn] with
// [Store.Begin], applies one or more commands, and commits. Commit makes the
// bbolt transaction durable (fsync), then publishes a new immutable [View]
// with a single atomic pointer swap, then wakes everyone waiting for a new
// applied index. Readers call [Store.View] and never block the writer or each
// other; a View is a consistent snapshot at one revision. History is read
// from bbolt's memory-mapped file in a read-only transaction.
//
// [Store.Restore] replaces the whole state (a raft snapshot install): it
// builds the new state aside, swaps it in, and closes the channel returned by
// [Store.AbandonCh] so that blocked readers re-read.
//
// The store knows nothing of raft: revisions are plain numbers given by the
// caller, and they must only grow.
package store
