package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/schemakv/schemakv/api"
	bolt "go.etcd.io/bbolt"
)

// Bulk import jobs (fsm/imports.go) keep two kinds of state here:
//
//   - the job record (api.ImportJob) in bucket "imports", keyed by job id;
//   - the entries an atomic job has staged, in bucket "importstage", keyed by
//     job id, 0, big-endian chunk sequence. They are invisible to readers
//     until the job's publish command writes them as config entries.
//
// Both are also held in memory in the View (importState), copy-on-write like
// the rest of the read model, so that apply never reads the bbolt file (which
// the flusher writes behind the view) and every node answers job status from
// memory. Staged entries therefore cost memory on every node until the job
// publishes, fails or is cancelled; the number of running jobs and the
// entries of an atomic job are bounded by the API's limits.
var (
	bucketImports     = []byte("imports")
	bucketImportStage = []byte("importstage")
)

// StagedEntry is one validated entry an atomic import has staged.
type StagedEntry struct {
	Namespace      string          `json:"namespace"`
	Key            string          `json:"key"`
	Schema         string          `json:"schema"`
	SchemaVersion  int             `json:"schema_version"`
	SchemaRevision uint64          `json:"schema_revision"`
	Value          json.RawMessage `json:"value"`
}

// importState is the immutable in-memory state of import jobs at one
// revision. Slices in it are only ever appended to by the single writer, so
// an older view keeps seeing its own prefix.
type importState struct {
	jobs   map[string]*api.ImportJob
	staged map[string][]StagedEntry
}

func emptyImports() *importState {
	return &importState{jobs: map[string]*api.ImportJob{}, staged: map[string][]StagedEntry{}}
}

// ImportJob returns one import job.
func (v *View) ImportJob(id string) (*api.ImportJob, bool) {
	j, ok := v.imports.jobs[id]
	return j, ok
}

// ImportJobs returns every import job, oldest first.
func (v *View) ImportJobs() []*api.ImportJob { return sortedJobs(v.imports) }

// StagedCount returns the number of entries an atomic job has staged.
func (v *View) StagedCount(id string) int { return len(v.imports.staged[id]) }

func sortedJobs(st *importState) []*api.ImportJob {
	out := slices.Collect(maps.Values(st.jobs))
	slices.SortFunc(out, func(a, b *api.ImportJob) int {
		return cmp.Or(cmp.Compare(a.CreateRevision, b.CreateRevision), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// importsRead is the import state this transaction sees.
func (t *Txn) importsRead() *importState {
	if t.imp != nil {
		return t.imp
	}
	return t.s.view.Load().imports
}

// importsWrite returns the transaction's own copy of the import state.
func (t *Txn) importsWrite() *importState {
	if t.imp == nil {
		old := t.s.view.Load().imports
		t.imp = &importState{jobs: maps.Clone(old.jobs), staged: maps.Clone(old.staged)}
	}
	return t.imp
}

// importsForCommit is the import state the committed view holds.
func (t *Txn) importsForCommit() *importState { return t.importsRead() }

// ImportJob reads an import job, seeing this transaction's writes.
func (t *Txn) ImportJob(id string) (*api.ImportJob, bool) {
	j, ok := t.importsRead().jobs[id]
	return j, ok
}

// ImportJobs returns every import job, oldest first, seeing this
// transaction's writes.
func (t *Txn) ImportJobs() []*api.ImportJob { return sortedJobs(t.importsRead()) }

// PutImportJob stores a job record. The caller passes a new value, never
// one it read (those are shared with readers).
func (t *Txn) PutImportJob(j *api.ImportJob) error {
	b, err := marshal(j)
	if err != nil {
		return fmt.Errorf("store: encode import job: %w", err)
	}
	t.put(bucketImports, []byte(j.ID), b)
	t.importsWrite().jobs[j.ID] = j
	return nil
}

// DeleteImportJob removes a job record and whatever it staged.
func (t *Txn) DeleteImportJob(id string) {
	j, ok := t.ImportJob(id)
	if !ok {
		return
	}
	t.DropStaged(id, j.Chunks)
	t.put(bucketImports, []byte(id), nil)
	delete(t.importsWrite().jobs, id)
}

// StageImport stores the entries of chunk seq of an atomic job.
func (t *Txn) StageImport(id string, seq int64, entries []StagedEntry) error {
	b, err := marshal(entries)
	if err != nil {
		return fmt.Errorf("store: encode staged import chunk: %w", err)
	}
	t.put(bucketImportStage, stageKey(id, seq), b)
	st := t.importsWrite()
	st.staged[id] = append(st.staged[id], entries...)
	return nil
}

// Staged returns every entry a job has staged, in upload order. The slice
// is shared: do not modify it.
func (t *Txn) Staged(id string) []StagedEntry { return t.importsRead().staged[id] }

// DropStaged deletes the staged entries of a job, whose chunks are numbered
// 1..chunks.
func (t *Txn) DropStaged(id string, chunks int64) {
	st := t.importsRead()
	if _, ok := st.staged[id]; !ok {
		return
	}
	for seq := int64(1); seq <= chunks; seq++ {
		t.put(bucketImportStage, stageKey(id, seq), nil)
	}
	delete(t.importsWrite().staged, id)
}

func stageKey(id string, seq int64) []byte {
	b := make([]byte, 0, len(id)+9)
	b = append(b, id...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, uint64(seq))
}

// loadImports reads the import jobs and staged entries from the file.
func loadImports(tx *bolt.Tx, v *View) error {
	st := emptyImports()
	if b := tx.Bucket(bucketImports); b != nil {
		err := b.ForEach(func(k, val []byte) error {
			var j api.ImportJob
			if err := json.Unmarshal(val, &j); err != nil {
				return fmt.Errorf("import job %q: %w", k, err)
			}
			st.jobs[j.ID] = &j
			return nil
		})
		if err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketImportStage); b != nil {
		err := b.ForEach(func(k, val []byte) error {
			i := bytes.IndexByte(k, 0)
			if i < 0 {
				return fmt.Errorf("staged import chunk: bad key %q", k)
			}
			var entries []StagedEntry
			if err := json.Unmarshal(val, &entries); err != nil {
				return fmt.Errorf("staged import chunk %q: %w", k, err)
			}
			id := string(k[:i])
			st.staged[id] = append(st.staged[id], entries...)
			return nil
		})
		if err != nil {
			return err
		}
	}
	v.imports = st
	return nil
}

// Business failures of import commands; nothing is changed.
var (
	ErrImportNotFound = errors.New("store: import job not found")
	ErrImportFinished = errors.New("store: import job already ended")
	ErrTooManyImports = errors.New("store: too many running import jobs")
	// ErrImportSequence: a chunk arrived out of order (a second driver
	// uploads to the same job at once).
	ErrImportSequence = errors.New("store: import chunk out of sequence")
)
