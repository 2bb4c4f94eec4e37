package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/schemakv/schemakv/fsm"
	bolt "go.etcd.io/bbolt"
)

// Applied is what the cluster needs from the local state: its own applied
// index, and a way to wait for it.
type Applied interface {
	Applied() uint64
	WaitApplied(done <-chan struct{}, index uint64) bool
}

// Cluster is one node's raft.
type Cluster struct {
	cfg     Config
	raft    *raft.Raft
	trans   *raft.NetworkTransport
	logs    *raftboltdb.BoltStore
	applied Applied

	readyTerm atomic.Uint64 // term in which this leader committed its barrier
	verify    verifier
	notifyCh  chan bool
	stopCh    chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	applyLatency prometheus.Histogram
}

// New opens the raft stores under cfg.Dir, starts raft with sm as its state
// machine, and bootstraps a one-node cluster when cfg.Bootstrap is set and
// there is no raft state yet.
func New(cfg Config, sm *fsm.FSM, applied Applied) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.fillDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	hlog := raftLogger(cfg.Logger, cfg.RaftLogLevel)

	logs, err := raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(cfg.Dir, "raft.db"),
		BoltOptions: &bolt.Options{
			Timeout:        time.Second,
			NoFreelistSync: true,
			FreelistType:   bolt.FreelistMapType,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: open raft log: %w", err)
	}
	cache, err := raft.NewLogCache(1024, logs)
	if err != nil {
		_ = logs.Close()
		return nil, fmt.Errorf("cluster: log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotsRetained, hlog)
	if err != nil {
		_ = logs.Close()
		return nil, fmt.Errorf("cluster: snapshot store: %w", err)
	}
	trans, err := newTransport(cfg, hlog)
	if err != nil {
		_ = logs.Close()
		return nil, err
	}

	c := &Cluster{
		cfg: cfg, trans: trans, logs: logs, applied: applied,
		notifyCh: make(chan bool, 16),
		stopCh:   make(chan struct{}),
		applyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "schemakv_raft_apply_seconds",
			Help:    "Time from handing a command to raft until it is applied locally.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(c.applyLatency); err != nil {
			_ = trans.Close()
			_ = logs.Close()
			return nil, fmt.Errorf("cluster: register metrics: %w", err)
		}
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.MaxAppendEntries = cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NotifyCh = c.notifyCh
	// The FSM's bbolt file is durable and records its applied index, so a
	// restart only replays the log after it. Restore the snapshot at start
	// only if the FSM is behind it (lost or replaced file).
	rc.NoSnapshotRestoreOnStart, err = fsmCurrent(snaps, applied.Applied())
	if err != nil {
		_ = trans.Close()
		_ = logs.Close()
		return nil, err
	}

	if cfg.Bootstrap {
		has, err := raft.HasExistingState(cache, logs, snaps)
		if err != nil {
			_ = trans.Close()
			_ = logs.Close()
			return nil, fmt.Errorf("cluster: read raft state: %w", err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{
				ID: rc.LocalID, Address: trans.LocalAddr(), Suffrage: raft.Voter,
			}}}
			if err := raft.BootstrapCluster(rc, cache, logs, snaps, trans, conf); err != nil {
				_ = trans.Close()
				_ = logs.Close()
				return nil, fmt.Errorf("cluster: bootstrap: %w", err)
			}
			cfg.Logger.Info("bootstrapped a new cluster", "node_id", cfg.NodeID, "raft_addr", trans.LocalAddr())
		}
	}

	r, err := raft.NewRaft(rc, sm, cache, logs, snaps, trans)
	if err != nil {
		_ = trans.Close()
		_ = logs.Close()
		return nil, fmt.Errorf("cluster: start raft: %w", err)
	}
	c.raft = r
	c.verify.r = r
	c.wg.Add(1)
	go c.watchLeadership()
	return c, nil
}

func newTransport(cfg Config, hlog hclog.Logger) (*raft.NetworkTransport, error) {
	var adv *netAddr
	if cfg.AdvertiseAddr != "" {
		a, err := resolveTCP(cfg.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("cluster: advertise address: %w", err)
		}
		adv = &netAddr{a}
	}
	var trans *raft.NetworkTransport
	var err error
	if adv != nil {
		trans, err = raft.NewTCPTransportWithLogger(cfg.BindAddr, adv.TCPAddr, 3, 10*time.Second, hlog)
	} else {
		trans, err = raft.NewTCPTransportWithLogger(cfg.BindAddr, nil, 3, 10*time.Second, hlog)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: raft transport on %s: %w", cfg.BindAddr, err)
	}
	return trans, nil
}

// fsmCurrent reports whether the FSM has applied at least the newest
// snapshot, so that raft need not restore it at start.
func fsmCurrent(snaps raft.SnapshotStore, applied uint64) (bool, error) {
	list, err := snaps.List()
	if err != nil {
		return false, fmt.Errorf("cluster: list snapshots: %w", err)
	}
	if len(list) == 0 {
		return true, nil
	}
	return applied >= list[0].Index, nil
}

// watchLeadership marks this node ready for linearizable reads once, as
// leader, it has committed and applied a barrier in its current term.
func (c *Cluster) watchLeadership() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stopCh:
			return
		case leader := <-c.notifyCh:
			c.readyTerm.Store(0)
			if !leader {
				continue
			}
			term := c.raft.CurrentTerm()
			if err := c.raft.Barrier(c.cfg.ApplyTimeout).Error(); err != nil {
				c.cfg.Logger.Warn("leader barrier failed", "term", term, "err", err)
				continue
			}
			if c.raft.State() == raft.Leader && c.raft.CurrentTerm() == term {
				c.readyTerm.Store(term)
				c.cfg.Logger.Info("leader ready", "node_id", c.cfg.NodeID, "term", term)
			}
		}
	}
}

// Apply proposes a command and waits until it is applied on this node. The
// result's Err is the command's business failure, if any.
func (c *Cluster) Apply(ctx context.Context, cmd []byte) (*fsm.Result, error) {
	start := time.Now()
	f := c.raft.Apply(cmd, c.cfg.ApplyTimeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, applyError(err)
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrOutcomeUnknown, ctx.Err())
	}
	c.applyLatency.Observe(time.Since(start).Seconds())
	switch r := f.Response().(type) {
	case *fsm.Result:
		return r, nil
	case nil:
		return nil, fmt.Errorf("cluster: entry %d produced no result", f.Index())
	default:
		return nil, fmt.Errorf("cluster: entry %d: unexpected result %T", f.Index(), r)
	}
}

func applyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// Never appended to the log.
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
	default:
		// ErrLeadershipLost and anything else: it may have committed.
		return fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
	}
}

// ReadBarrier returns once every write acknowledged before the call is
// applied on this node: after it, reads of the local state are
// linearizable.
func (c *Cluster) ReadBarrier(ctx context.Context) error {
	term := c.raft.CurrentTerm()
	if c.raft.State() != raft.Leader || c.readyTerm.Load() != term {
		// Forwarding the read index to the leader lands with the cluster
		// issue; a one-node cluster is always its own leader once ready.
		return ErrNoLeader
	}
	idx := c.applied.Applied()
	if err := c.verify.verify(ctx); err != nil {
		return err
	}
	if c.raft.CurrentTerm() != term {
		return fmt.Errorf("%w: term changed during the read", ErrNoLeader)
	}
	if !c.applied.WaitApplied(ctx.Done(), idx) {
		return ErrReadTimeout
	}
	return nil
}

// IsLeader reports whether this node is the leader and ready for reads.
func (c *Cluster) IsLeader() bool {
	return c.raft.State() == raft.Leader && c.readyTerm.Load() == c.raft.CurrentTerm()
}

// WaitReady blocks until this node is a ready leader or ctx ends.
func (c *Cluster) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !c.IsLeader() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for leadership: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Status is a summary of this node's raft state.
type Status struct {
	NodeID       string `json:"node_id"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	Leader       string `json:"leader"`
	LastIndex    uint64 `json:"last_index"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	RaftAddr     string `json:"raft_addr"`
}

// Status returns this node's raft state.
func (c *Cluster) Status() Status {
	_, leader := c.raft.LeaderWithID()
	return Status{
		NodeID:       c.cfg.NodeID,
		State:        c.raft.State().String(),
		Term:         c.raft.CurrentTerm(),
		Leader:       string(leader),
		LastIndex:    c.raft.LastIndex(),
		CommitIndex:  c.raft.CommitIndex(),
		AppliedIndex: c.applied.Applied(),
		RaftAddr:     string(c.trans.LocalAddr()),
	}
}

// Snapshot asks raft to take a snapshot now.
func (c *Cluster) Snapshot() error {
	if err := c.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("cluster: snapshot: %w", err)
	}
	return nil
}

// Close shuts raft down and closes its stores.
func (c *Cluster) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.stopCh)
		if e := c.raft.Shutdown().Error(); e != nil {
			err = fmt.Errorf("cluster: shutdown raft: %w", e)
		}
		c.wg.Wait()
		if e := c.trans.Close(); e != nil && err == nil {
			err = fmt.Errorf("cluster: close transport: %w", e)
		}
		if e := c.logs.Close(); e != nil && err == nil {
			err = fmt.Errorf("cluster: close raft log: %w", e)
		}
	})
	return err
}
