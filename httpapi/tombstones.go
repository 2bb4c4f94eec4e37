package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/schemakv/schemakv/fsm"
)

// DefaultTombstoneTTL is how long the tombstone of a deleted config key is
// kept before the leader reaps it (Config.TombstoneTTL).
const DefaultTombstoneTTL = time.Hour

// tombstoneReaper drops the tombstones of deleted config keys once they are
// TombstoneTTL old, as Consul's tombstone GC does: without it, every key
// ever deleted and not written again would stay in memory for good. Only
// the leader proposes. Revisions carry no time, so the reaper samples the
// applied revision every TTL/4 and, as leader, proposes a cut-off at the
// newest sample that is at least TTL old: a tombstone lives between TTL and
// about 1.25×TTL (longer after a leader change, whose new leader starts
// sampling afresh). What a reap does to answers is in
// store.Txn.ReapConfigTombstones: nothing goes back, and watches do not
// read tombstones.
type tombstoneReaper struct {
	s      *Server
	ttl    time.Duration
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type revisionSample struct {
	at  time.Time
	rev uint64
}

func newTombstoneReaper(s *Server, ttl time.Duration) *tombstoneReaper {
	ctx, cancel := context.WithCancel(context.Background())
	r := &tombstoneReaper{s: s, ttl: ttl, cancel: cancel}
	if ttl < 0 {
		return r // disabled
	}
	if r.ttl == 0 {
		r.ttl = DefaultTombstoneTTL
	}
	r.wg.Add(1)
	go r.run(ctx)
	return r
}

func (r *tombstoneReaper) close() {
	r.cancel()
	r.wg.Wait()
}

func (r *tombstoneReaper) run(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(max(r.ttl/4, 10*time.Millisecond))
	defer t.Stop()
	var samples []revisionSample
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			samples = append(samples, revisionSample{at: now, rev: r.s.state.View().Revision()})
			// The newest sample at least TTL old is the cut-off; older
			// ones are no longer needed.
			cut := -1
			for i, sm := range samples {
				if now.Sub(sm.at) >= r.ttl {
					cut = i
				}
			}
			if cut < 0 {
				continue
			}
			before := samples[cut].rev
			samples = samples[cut:]
			if !r.s.cluster.IsLeader() || r.s.state.View().ConfigTombstones() == 0 {
				continue
			}
			r.reap(ctx, before)
		}
	}
}

// reap proposes one reap; a failure (no longer leader, shutting down) is
// logged and retried at the next tick.
func (r *tombstoneReaper) reap(ctx context.Context, before uint64) {
	b, err := fsm.Encode(&fsm.ReapTombstones{Before: before})
	if err != nil {
		r.s.log.Error("encode tombstone reap", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n := r.s.state.View().ConfigTombstones()
	res, err := r.s.cluster.Apply(ctx, b)
	if err != nil {
		r.s.log.Debug("tombstone reap not applied; retrying later", "before", before, "err", err)
		return
	}
	r.s.log.Info("reaped config tombstones", "before", before, "revision", res.Revision,
		"reaped", n-r.s.state.View().ConfigTombstones(), "left", r.s.state.View().ConfigTombstones())
}
