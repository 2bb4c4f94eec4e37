// Package indexbuild runs the background build of secondary indexes: on the
// leader only, it proposes one fsm.IndexChunk command after another for
// each index in state building, until the chunk that reaches the last key
// makes it ready.
//
// The build's progress (the cursor) is replicated state, so a new leader
// resumes where the old one stopped; a chunk proposed twice fails harmlessly
// in apply because it names the cursor it expects. The loop blocks on the
// store's applied channel and on the cluster's leadership channel: it never
// polls. One goroutine per node; Stop waits for it.
package indexbuild
