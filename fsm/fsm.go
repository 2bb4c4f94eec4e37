package fsm

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/raft"
	"github.com/schemakv/schemakv/store"
)

// FSM is the raft.BatchingFSM over a store.Store. It only forwards raft's
// callbacks to the unexported apply functions.
type FSM struct {
	store *store.Store
	log   *slog.Logger
}

var _ raft.BatchingFSM = (*FSM)(nil)

// New returns the state machine that applies committed entries to s.
func New(s *store.Store, log *slog.Logger) *FSM {
	if log == nil {
		log = slog.Default()
	}
	return &FSM{store: s, log: log}
}

// Apply applies one entry. raft calls ApplyBatch instead; Apply exists for
// the raft.FSM interface and for tests.
func (f *FSM) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in one store transaction. It returns
// one result per entry: a *Result for commands, nil for entries that carry no
// command or were already applied.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	applied := f.store.Applied()
	last := applied
	for _, l := range logs {
		last = max(last, l.Index)
	}
	if last == applied {
		return out // all replayed
	}
	tx, err := f.store.Begin()
	if err != nil {
		panic(fmt.Sprintf("fsm: begin: %v", err))
	}
	defer tx.Discard()
	for i, l := range logs {
		if l.Index <= applied || l.Type != raft.LogCommand {
			continue
		}
		tx.SetRevision(l.Index)
		if r := applyEntry(tx, l.Index, l.Data); r != nil {
			out[i] = r
		}
	}
	if err := tx.Commit(last); err != nil {
		panic(fmt.Sprintf("fsm: commit through %d: %v", last, err))
	}
	return out
}

// Snapshot captures the state at the applied index. raft calls it on the
// FSM goroutine, between ApplyBatch calls, so the index is exact.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	sn, err := f.store.Snapshot()
	if err != nil {
		return nil, err
	}
	return &snapshot{sn: sn}, nil
}

// Restore replaces the state with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(rc); err != nil {
		return err
	}
	f.log.Info("restored state from snapshot", "applied_index", f.store.Applied())
	return nil
}

type snapshot struct{ sn *store.Snapshot }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.sn.WriteTo(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("fsm: close snapshot sink: %w", err)
	}
	return nil
}

func (s *snapshot) Release() { s.sn.Release() }
