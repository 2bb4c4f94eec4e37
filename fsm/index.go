package fsm

import (
	"fmt"

	"github.com/schemakv/schemakv/index"
	"github.com/schemakv/schemakv/store"
)

// CreateIndex declares a secondary index (TypeCreateIndex). MaxIndexes is
// the per-namespace limit the proposer enforces, carried in the command so
// that every replica applies the same rule.
type CreateIndex struct {
	Audit
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Path       string `json:"path"`
	Schema     string `json:"schema,omitempty"`
	MaxIndexes int    `json:"max_indexes"`
}

// DropIndex removes a secondary index (TypeDropIndex).
type DropIndex struct {
	Audit
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// IndexChunk indexes the next N config keys after cursor After of a
// building index (TypeIndexChunk). Only the leader's build loop proposes
// it; a chunk whose After is no longer the cursor fails with
// store.ErrIndexCursorMoved and changes nothing.
type IndexChunk struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	After     string `json:"after"`
	N         int    `json:"n"`
}

func applyCreateIndex(tx *store.Txn, rev uint64, body []byte) *Result {
	var c CreateIndex
	mustDecode(rev, body, &c)
	if _, ok := tx.Namespace(c.Namespace); !ok {
		return fail(rev, fmt.Errorf("%w: %q", store.ErrNamespaceNotFound, c.Namespace))
	}
	if _, err := index.ParsePath(c.Path); err != nil {
		return fail(rev, err)
	}
	if _, ok := tx.Index(c.Namespace, c.Name); ok {
		return fail(rev, fmt.Errorf("%w: %s/%s", store.ErrIndexExists, c.Namespace, c.Name))
	}
	if c.MaxIndexes > 0 && tx.IndexCount(c.Namespace) >= c.MaxIndexes {
		return fail(rev, fmt.Errorf("%w: namespace %q already has %d indexes, the limit", store.ErrTooManyIndexes, c.Namespace, c.MaxIndexes))
	}
	d, err := tx.CreateIndex(c.Namespace, c.Name, c.Path, c.Schema, c.Audit.store())
	mustWrite(rev, err)
	return &Result{Revision: rev, Index: d}
}

func applyDropIndex(tx *store.Txn, rev uint64, body []byte) *Result {
	var c DropIndex
	mustDecode(rev, body, &c)
	if _, ok := tx.Index(c.Namespace, c.Name); !ok {
		return fail(rev, fmt.Errorf("%w: %s/%s", store.ErrIndexNotFound, c.Namespace, c.Name))
	}
	tx.DropIndex(c.Namespace, c.Name)
	return &Result{Revision: rev}
}

func applyIndexChunk(tx *store.Txn, rev uint64, body []byte) *Result {
	var c IndexChunk
	mustDecode(rev, body, &c)
	if c.N <= 0 {
		return fail(rev, fmt.Errorf("fsm: index chunk of %d keys", c.N))
	}
	d, err := tx.IndexChunk(c.Namespace, c.Name, c.After, c.N)
	if err != nil {
		return fail(rev, err)
	}
	return &Result{Revision: rev, Index: d}
}
