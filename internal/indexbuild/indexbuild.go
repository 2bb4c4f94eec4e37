package indexbuild

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/store"
)

// Proposer is what the loop needs from replication.
type Proposer interface {
	Apply(ctx context.Context, cmd []byte) (*fsm.Result, error)
	IsLeader() bool
	LeadershipCh() <-chan struct{}
}

// State is what the loop reads.
type State interface {
	View() *store.View
	AppliedCh() <-chan struct{}
}

// Config tunes the build.
type Config struct {
	// ChunkSize is the number of config keys one chunk command indexes
	// (0: 1000). Larger chunks build faster and hold the FSM longer.
	ChunkSize int
	// Pause is a wait between two chunks (0: none), to leave room for
	// client writes on a busy leader; tests use it to stop a build midway.
	Pause time.Duration
	// ApplyTimeout bounds one chunk's proposal (0: 10s).
	ApplyTimeout time.Duration
	// Logger receives progress and failures; nil means slog.Default().
	Logger *slog.Logger
}

// Builder is a running build loop.
type Builder struct {
	cfg    Config
	p      Proposer
	st     State
	stop   chan struct{}
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
}

// Start starts the loop.
func Start(cfg Config, p Proposer, st State) *Builder {
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 1000
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Builder{cfg: cfg, p: p, st: st, stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go b.run()
	return b
}

// Stop ends the loop and waits for it; a chunk in flight is abandoned (the
// next leader re-proposes from the replicated cursor).
func (b *Builder) Stop() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
		b.cancel()
	}
	<-b.done
}

func (b *Builder) run() {
	defer close(b.done)
	for {
		lead := b.p.LeadershipCh()
		applied := b.st.AppliedCh()
		var next *api.Index
		if b.p.IsLeader() {
			next = firstBuilding(b.st.View())
		}
		if next == nil {
			select {
			case <-b.stop:
				return
			case <-lead:
			case <-applied:
			}
			continue
		}
		if err := b.chunk(next); err != nil && !errors.Is(err, store.ErrIndexCursorMoved) && !errors.Is(err, store.ErrIndexNotFound) {
			b.cfg.Logger.Warn("index build chunk failed; retrying", "namespace", next.Namespace, "index", next.Name, "cursor", next.Cursor, "err", err)
			if !b.wait(250 * time.Millisecond) {
				return
			}
			continue
		}
		if b.cfg.Pause > 0 && !b.wait(b.cfg.Pause) {
			return
		}
	}
}

// wait sleeps d unless stopped; it reports whether to go on.
func (b *Builder) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.stop:
		return false
	case <-t.C:
		return true
	}
}

func (b *Builder) chunk(d *api.Index) error {
	cmd, err := fsm.Encode(&fsm.IndexChunk{Namespace: d.Namespace, Name: d.Name, After: d.Cursor, N: b.cfg.ChunkSize})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.ApplyTimeout)
	defer cancel()
	r, err := b.p.Apply(ctx, cmd)
	if err != nil {
		return err
	}
	if r.Err != nil {
		return r.Err
	}
	if r.Index != nil && r.Index.State == api.IndexReady {
		b.cfg.Logger.Info("index ready", "namespace", d.Namespace, "index", d.Name, "entries", r.Index.Entries, "revision", r.Revision)
	}
	return nil
}

// firstBuilding returns the first index in state building.
func firstBuilding(v *store.View) *api.Index {
	d, _ := v.BuildingIndex()
	return d
}
