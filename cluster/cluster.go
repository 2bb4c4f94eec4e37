package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/rpc"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

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

// Cluster is one node's raft, its membership, and the forwarding of writes
// and read indexes to the leader.
type Cluster struct {
	cfg     Config
	raft    *raft.Raft
	mux     *mux
	trans   *raft.NetworkTransport
	logs    *raftboltdb.BoltStore
	logView raft.LogStore // the cached log, read by the read index
	snaps   raft.SnapshotStore
	applied Applied
	rpc     *rpcClients
	members *membership

	readyTerm atomic.Uint64 // term in which this leader committed its barrier
	// lastLogAtStart is the raft log's last index when the node started;
	// caughtUp is set once the state has reached everything this node could
	// have served before a restart (see Serving).
	lastLogAtStart uint64
	caughtUp       atomic.Bool
	leaderRI       readIndexer // leader side: one VerifyLeader per round
	remoteRI       readIndexer // follower side: one ReadIndex RPC per round
	notifyCh       chan bool
	leadership     leadershipSignal // leadership.go
	stopCh         chan struct{}
	wg             sync.WaitGroup
	closeOnce      sync.Once

	applyLatency prometheus.Histogram
	forwarded    prometheus.Counter
}

// New opens the raft stores under cfg.Dir, starts raft with sm as its state
// machine, starts gossip, and bootstraps per cfg.BootstrapExpect.
func New(cfg Config, sm *fsm.FSM, applied Applied) (c *Cluster, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.fillDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c = &Cluster{
		cfg: cfg, applied: applied,
		rpc:      &rpcClients{clients: map[string]*rpc.Client{}, timeout: 2 * time.Second, tls: cfg.TLS},
		notifyCh: make(chan bool, 16),
		stopCh:   make(chan struct{}),
		applyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "schemakv_raft_apply_seconds",
			Help:    "Time from handing a command to raft until it is applied locally (leader) or answered by the leader (forwarded).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "schemakv_forwarded_writes_total",
			Help: "Writes this node forwarded to the leader.",
		}),
	}
	c.leaderRI.fetch = c.fetchLeaderReadIndex
	c.remoteRI.fetch = c.fetchRemoteReadIndex
	self := c // c is nil once an error is returned
	defer func() {
		if err != nil {
			_ = self.closeStores()
		}
	}()
	if cfg.Registerer != nil {
		for _, m := range []prometheus.Collector{c.applyLatency, c.forwarded} {
			if err := cfg.Registerer.Register(m); err != nil {
				return nil, fmt.Errorf("cluster: register metrics: %w", err)
			}
		}
	}
	hlog := raftLogger(cfg.Logger, cfg.RaftLogLevel)

	c.logs, err = raftboltdb.New(raftboltdb.Options{
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
	// Entries can be large (a batch of 1,000 puts), so the cache is kept
	// small: it serves replication of the newest entries only.
	cache, err := raft.NewLogCache(128, c.logs)
	if err != nil {
		return nil, fmt.Errorf("cluster: log cache: %w", err)
	}
	c.logView = cache
	c.snaps, err = raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotsRetained, hlog)
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshot store: %w", err)
	}
	c.mux, err = newMux(cfg.BindAddr, cfg.AdvertiseAddr, cfg.TLS, cfg.Logger)
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Cluster", &rpcService{c: c}); err != nil {
		return nil, fmt.Errorf("cluster: rpc: %w", err)
	}
	c.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: raftLayer{c.mux}, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
	})
	c.mux.serve(serveRPC(srv))

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
	if rc.NoSnapshotRestoreOnStart, err = fsmCurrent(c.snaps, applied.Applied()); err != nil {
		return nil, err
	}
	has, err := raft.HasExistingState(cache, c.logs, c.snaps)
	if err != nil {
		return nil, fmt.Errorf("cluster: read raft state: %w", err)
	}
	if !has && applied.Applied() > 0 {
		// A state file without the raft log it came from: its revisions would
		// collide with the entries of a new log.
		return nil, fmt.Errorf("cluster: the state file holds revision %d but %s has no raft log: "+
			"start from an empty data directory and restore a snapshot instead", applied.Applied(), cfg.Dir)
	}
	if !has && cfg.BootstrapExpect == 1 {
		conf := raft.Configuration{Servers: []raft.Server{{
			ID: rc.LocalID, Address: c.trans.LocalAddr(), Suffrage: raft.Voter,
		}}}
		if err := raft.BootstrapCluster(rc, cache, c.logs, c.snaps, c.trans, conf); err != nil {
			return nil, fmt.Errorf("cluster: bootstrap: %w", err)
		}
		cfg.Logger.Info("bootstrapped a new cluster", "node_id", cfg.NodeID, "raft_addr", c.trans.LocalAddr())
	}
	if c.lastLogAtStart, err = c.logs.LastIndex(); err != nil {
		return nil, fmt.Errorf("cluster: read raft log: %w", err)
	}
	c.raft, err = raft.NewRaft(rc, sm, cache, c.logs, c.snaps, c.trans)
	if err != nil {
		return nil, fmt.Errorf("cluster: start raft: %w", err)
	}

	role := RoleVoter
	if cfg.ReadReplica {
		role = RoleReplica
	}
	c.members, err = newMembership(c, meta{
		ID: cfg.NodeID, RaftAddr: string(c.trans.LocalAddr()), HTTPAddr: cfg.HTTPAddr,
		Role: role, Expect: cfg.BootstrapExpect,
	})
	if err != nil {
		_ = c.raft.Shutdown().Error()
		return nil, err
	}
	c.goRun(c.watchLeadership)
	c.goRun(func() { c.members.join(cfg.Join, c.stopCh) })
	c.goRun(func() { c.members.reconcileLoop(c.stopCh) })
	c.goRun(func() { c.members.rejoinLoop(c.stopCh, 10*time.Second) })
	if !has && cfg.BootstrapExpect > 1 {
		c.goRun(func() { c.members.maybeBootstrap(c.stopCh) })
	}
	return c, nil
}

func (c *Cluster) goRun(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
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

// hasState reports whether this node has raft state (it has been part of a
// cluster).
func (c *Cluster) hasState() bool {
	if c.raft == nil {
		return false
	}
	return c.raft.LastIndex() > 0
}

// watchLeadership marks this node ready for linearizable reads once, as
// leader, it has committed and applied a barrier in its current term.
func (c *Cluster) watchLeadership() {
	for {
		select {
		case <-c.stopCh:
			return
		case leader := <-c.notifyCh:
			c.readyTerm.Store(0)
			c.leadership.changed()
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
				c.leadership.changed()
				c.cfg.Logger.Info("leader ready", "node_id", c.cfg.NodeID, "term", term)
				c.members.kick()
			}
		}
	}
}

// isLeader reports whether this node leads and is ready to serve reads.
func (c *Cluster) isLeader() bool {
	return c.raft.State() == raft.Leader && c.readyTerm.Load() == c.raft.CurrentTerm()
}

// IsLeader reports whether this node is the leader and ready for reads.
func (c *Cluster) IsLeader() bool { return c.isLeader() }

// Apply proposes a command and waits for its result. On a follower the
// command is forwarded to the leader (the caller sees no difference); while
// no leader is known it waits up to HoldTimeout. The result's Err is the
// command's business failure, if any.
func (c *Cluster) Apply(ctx context.Context, cmd []byte) (*fsm.Result, error) {
	start := time.Now()
	defer func() { c.applyLatency.Observe(time.Since(start).Seconds()) }()
	hold := time.NewTimer(c.cfg.HoldTimeout)
	defer hold.Stop()
	for {
		r, err := c.applyOnce(ctx, cmd)
		if !errors.Is(err, ErrNoLeader) {
			return r, err
		}
		// Never appended anywhere: safe to try again once a leader is known.
		select {
		case <-ctx.Done():
			return nil, err
		case <-hold.C:
			return nil, err
		case <-c.stopCh:
			return nil, ErrShutdown
		case <-time.After(jitter(50 * time.Millisecond)):
		}
	}
}

func (c *Cluster) applyOnce(ctx context.Context, cmd []byte) (*fsm.Result, error) {
	if c.raft.State() == raft.Leader {
		return c.applyLocal(ctx, cmd)
	}
	addr, id := c.raft.LeaderWithID()
	if addr == "" || string(id) == c.cfg.NodeID {
		return nil, ErrNoLeader
	}
	c.forwarded.Inc()
	var reply ApplyReply
	fctx, cancel := c.whileLeader(ctx, id)
	defer cancel()
	if err := c.rpc.callOnce(fctx, string(addr), "Apply", ApplyArgs{Cmd: cmd}, &reply); err != nil {
		if errors.Is(err, errNotSent) {
			return nil, fmt.Errorf("%w: %v", ErrNoLeader, err)
		}
		return nil, fmt.Errorf("%w: forwarded to %s: %v", ErrOutcomeUnknown, id, err)
	}
	if reply.Err != nil {
		var w wireError
		if err := jsonUnmarshal(reply.Err, &w); err != nil {
			return nil, fmt.Errorf("%w: bad reply from %s: %v", ErrOutcomeUnknown, id, err)
		}
		return nil, fromWire(&w)
	}
	var w wireResult
	if err := jsonUnmarshal(reply.Result, &w); err != nil {
		return nil, fmt.Errorf("%w: bad reply from %s: %v", ErrOutcomeUnknown, id, err)
	}
	// The write is committed whatever happens next. Give this node a moment
	// to apply it too, so that a stale read here right after sees it; a
	// linearizable read waits for it anyway.
	wctx, wcancel := context.WithTimeout(ctx, time.Second)
	c.applied.WaitApplied(wctx.Done(), w.Revision)
	wcancel()
	return &fsm.Result{Revision: w.Revision, Err: fromWire(w.Err), Namespace: w.Namespace, Schema: w.Schema, Entries: w.Entries, Index: w.Index,
		Token: w.Token, Bindings: w.Bindings}, nil
}

// applyLocal applies a command on this node, which must lead.
func (c *Cluster) applyLocal(ctx context.Context, cmd []byte) (*fsm.Result, error) {
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

// ReadBarrier returns once every write acknowledged (by any node) before the
// call is applied on this node: after it, reads of the local state are
// linearizable. On a follower it asks the leader for its read index (one
// request per round, shared by every read waiting for one).
func (c *Cluster) ReadBarrier(ctx context.Context) error {
	hold := time.NewTimer(c.cfg.HoldTimeout)
	defer hold.Stop()
	for {
		var idx uint64
		var err error
		if c.raft.State() == raft.Leader {
			idx, err = c.leaderRI.get(ctx)
		} else {
			idx, err = c.remoteRI.get(ctx)
		}
		if err == nil {
			if !c.applied.WaitApplied(ctx.Done(), idx) {
				return fmt.Errorf("%w: index %d not applied here in time", ErrReadTimeout, idx)
			}
			return nil
		}
		if !errors.Is(err, ErrNoLeader) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-hold.C:
			return err
		case <-c.stopCh:
			return ErrShutdown
		case <-time.After(jitter(50 * time.Millisecond)):
		}
	}
}

// leaderReadIndex is the leader's read index for a request arriving now.
func (c *Cluster) leaderReadIndex(ctx context.Context) (uint64, error) {
	return c.leaderRI.get(ctx)
}

// fetchLeaderReadIndex runs one leader round: the commit index captured
// after every waiting request arrived, confirmed by one VerifyLeader.
//
// It is the commit index, not the leader's applied index: a follower learns
// of a commit from the leader and may apply it before the leader's own FSM
// does, and a read served there must never be followed by a read (on any
// node) that misses it. Every state visible on any node is at or below the
// leader's commit index, so waiting to apply up to it sees all of them.
// (Found by the Docker fault test pause-leader: a read on a follower saw a
// write that the leader had committed but not yet applied, then a read on
// the replica, given the leader's lower applied index, did not.)
func (c *Cluster) fetchLeaderReadIndex(ctx context.Context) (uint64, error) {
	term := c.raft.CurrentTerm()
	if c.raft.State() != raft.Leader || c.readyTerm.Load() != term {
		return 0, ErrNoLeader
	}
	idx := c.stateIndex(c.raft.CommitIndex())
	f := c.raft.VerifyLeader()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrNoLeader, err)
		}
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: leadership not confirmed: %v", ErrReadTimeout, ctx.Err())
	}
	if c.raft.CurrentTerm() != term {
		return 0, fmt.Errorf("%w: term changed during the read", ErrNoLeader)
	}
	return idx, nil
}

// stateIndex returns the newest index at or below commit that changes what
// the FSM holds: the newest command or configuration entry (raft hands the
// FSM no other kind, so its applied index never reaches a trailing no-op or
// barrier), or the FSM's applied index when nothing above it does. Waiting
// for it is waiting for every committed state.
func (c *Cluster) stateIndex(commit uint64) uint64 {
	applied := c.applied.Applied()
	for i := commit; i > applied; i-- {
		var l raft.Log
		if err := c.logView.GetLog(i, &l); err != nil {
			return commit // cannot tell: the safe answer
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return i
		}
	}
	return applied
}

// fetchRemoteReadIndex asks the leader for a read index.
func (c *Cluster) fetchRemoteReadIndex(ctx context.Context) (uint64, error) {
	addr, id := c.raft.LeaderWithID()
	if addr == "" || string(id) == c.cfg.NodeID {
		return 0, ErrNoLeader
	}
	var reply ReadIndexReply
	fctx, cancel := c.whileLeader(ctx, id)
	defer cancel()
	if err := c.rpc.call(fctx, string(addr), "ReadIndex", ReadIndexArgs{}, &reply); err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("%w: %v", ErrReadTimeout, err)
		}
		return 0, fmt.Errorf("%w: %v", ErrNoLeader, err) // retried with the new leader
	}
	if reply.Err != nil {
		var w wireError
		if err := jsonUnmarshal(reply.Err, &w); err != nil {
			return 0, fmt.Errorf("%w: bad reply from %s: %v", ErrNoLeader, id, err)
		}
		return 0, fromWire(&w)
	}
	return reply.Index, nil
}

// WaitReady blocks until this node is a ready leader or ctx ends.
func (c *Cluster) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !c.isLeader() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for leadership: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Ready reports nil when this node can serve: a leader is known, and this
// node has applied everything it knows to be committed.
func (c *Cluster) Ready() error {
	if c.isLeader() {
		return nil
	}
	addr, _ := c.raft.LeaderWithID()
	if addr == "" {
		return fmt.Errorf("%w: no leader known", ErrNoLeader)
	}
	if c.raft.LastIndex() == 0 || c.raft.CommitIndex() == 0 {
		return fmt.Errorf("%w: no log received from the leader yet", ErrNoLeader)
	}
	if err := c.Serving(); err != nil {
		return err
	}
	// Compare raft's own applied index, not the FSM's: the entries a new
	// leader commits (no-op, barrier) and configuration changes never reach
	// the FSM, so on an idle follower the FSM's index can stay below the
	// commit index for good.
	if applied, commit := c.raft.AppliedIndex(), c.raft.CommitIndex(); applied < commit {
		return fmt.Errorf("%w: applied %d of %d committed entries", ErrNoLeader, applied, commit)
	}
	return nil
}

// Serving reports nil once this node's state may be served without a read
// barrier (stale reads). The state file is written behind the acknowledged
// state (the raft log is the durable record), so after a crash the file can
// be older than what the node answered before it; stale reads must not go
// back in time. A restarted node therefore serves stale reads only once it
// has applied everything committed in its own log: up to the smaller of
// its log's last index at start and the commit index it has learnt from a
// leader. It stays serving from then on.
func (c *Cluster) Serving() error {
	if c.caughtUp.Load() {
		return nil
	}
	ci := c.raft.CommitIndex()
	if ci == 0 {
		if c.lastLogAtStart == 0 && c.applied.Applied() == 0 {
			return nil // a new node has served nothing yet: nothing to go back from
		}
		return fmt.Errorf("%w: catching up after a restart (no commit index from a leader yet)", ErrNoLeader)
	}
	target := min(c.lastLogAtStart, ci)
	// Entries that never reach the state (no-ops, configuration) count as
	// applied once raft has dispatched them.
	if c.applied.Applied() >= target || (c.raft.AppliedIndex() >= target && c.fsmIdle()) {
		c.caughtUp.Store(true)
		return nil
	}
	return fmt.Errorf("%w: catching up after a restart (applied %d of %d)", ErrNoLeader, c.applied.Applied(), target)
}

// fsmIdle reports whether the state has applied every command raft handed
// it, approximated by raft's last-applied stats: raft sets its applied index
// when it hands a batch over, so give the state a moment to follow.
func (c *Cluster) fsmIdle() bool {
	before := c.applied.Applied()
	time.Sleep(5 * time.Millisecond)
	return c.applied.Applied() == before
}

// StaleInfo describes how current a stale read from this node can be.
type StaleInfo struct {
	KnownLeader bool
	// LastContact is the time since this node last heard from the leader;
	// 0 on the leader.
	LastContact time.Duration
}

// Stale returns the freshness of this node's state for stale reads.
func (c *Cluster) Stale() StaleInfo {
	if c.raft.State() == raft.Leader {
		return StaleInfo{KnownLeader: true}
	}
	addr, _ := c.raft.LeaderWithID()
	lc := c.raft.LastContact()
	info := StaleInfo{KnownLeader: addr != ""}
	if lc.IsZero() {
		info.LastContact = time.Duration(1<<63 - 1)
	} else {
		info.LastContact = time.Since(lc)
	}
	return info
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
	HTTPAddr     string `json:"http_addr,omitempty"`
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
		HTTPAddr:     c.cfg.HTTPAddr,
	}
}

// Member is one server of the cluster as seen from this node.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	// Suffrage is "voter" or "nonvoter" in raft's configuration, or "none"
	// for a gossip member raft does not have yet.
	Suffrage string `json:"suffrage"`
	// Role is what the node asked to be: "voter" or "replica".
	Role   string `json:"role,omitempty"`
	Leader bool   `json:"leader"`
	// Gossip is "alive" or "gone".
	Gossip string `json:"gossip"`
	// Status is the node's own answer, nil if it did not answer in time.
	Status *Status `json:"status,omitempty"`
	// Lag is how many entries the node's applied index is behind this
	// node's (when both are known).
	Lag int64 `json:"lag"`
}

// Members returns raft's configuration joined with gossip, and each
// member's own status (asked concurrently, each bounded by ctx).
func (c *Cluster) Members(ctx context.Context) ([]Member, error) {
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("cluster: configuration: %w", err)
	}
	_, leader := c.raft.LeaderWithID()
	alive := map[string]meta{}
	for _, md := range c.members.alive() {
		alive[md.ID] = md
	}
	var out []Member
	seen := map[string]bool{}
	for _, s := range f.Configuration().Servers {
		id := string(s.ID)
		seen[id] = true
		m := Member{ID: id, RaftAddr: string(s.Address), Suffrage: "nonvoter", Leader: s.ID == leader, Gossip: "gone"}
		if s.Suffrage == raft.Voter {
			m.Suffrage = "voter"
		}
		if md, ok := alive[id]; ok {
			m.Gossip, m.Role, m.HTTPAddr = "alive", md.Role, md.HTTPAddr
		}
		out = append(out, m)
	}
	for id, md := range alive {
		if !seen[id] {
			out = append(out, Member{ID: id, RaftAddr: md.RaftAddr, HTTPAddr: md.HTTPAddr, Role: md.Role, Suffrage: "none", Gossip: "alive"})
		}
	}
	mine := c.applied.Applied()
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func(m *Member) {
			defer wg.Done()
			if m.ID == c.cfg.NodeID {
				st := c.Status()
				m.Status = &st
			} else {
				var r StatusReply
				if err := c.rpc.call(ctx, m.RaftAddr, "Status", StatusArgs{}, &r); err != nil {
					return
				}
				m.Status = &r.Status
			}
			m.Lag = int64(mine) - int64(m.Status.AppliedIndex)
		}(&out[i])
	}
	wg.Wait()
	return out, nil
}

// RemoveServer removes a server from raft's configuration, on the leader
// (forwarded there from any node); ErrMemberNotFound if it is not a member.
// Use it to shrink the cluster at once instead of waiting
// for ReapAfter; a removed server started again is added back.
func (c *Cluster) RemoveServer(ctx context.Context, id string) error {
	hold := time.NewTimer(c.cfg.HoldTimeout)
	defer hold.Stop()
	for {
		err := c.removeOnce(ctx, id)
		if !errors.Is(err, ErrNoLeader) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-hold.C:
			return err
		case <-time.After(jitter(50 * time.Millisecond)):
		}
	}
}

func (c *Cluster) removeOnce(ctx context.Context, id string) error {
	if c.raft.State() == raft.Leader {
		return c.removeLocal(id)
	}
	addr, leader := c.raft.LeaderWithID()
	if addr == "" {
		return ErrNoLeader
	}
	var reply RemoveReply
	if err := c.rpc.call(ctx, string(addr), "Remove", RemoveArgs{ID: id}, &reply); err != nil {
		return fmt.Errorf("%w: forwarding to %s: %v", ErrNoLeader, leader, err)
	}
	if reply.Err != nil {
		var w wireError
		if err := jsonUnmarshal(reply.Err, &w); err != nil {
			return fmt.Errorf("cluster: bad reply from %s: %w", leader, err)
		}
		return fromWire(&w)
	}
	return nil
}

func (c *Cluster) removeLocal(id string) error {
	if c.raft.State() != raft.Leader {
		return ErrNoLeader
	}
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("cluster: configuration: %w", err)
	}
	found, voters := false, 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
		if string(s.ID) == id {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%w: %q", ErrMemberNotFound, id)
	}
	if voters == 1 && id == c.cfg.NodeID {
		return fmt.Errorf("%w: %s is the last voter", ErrBadMembership, id)
	}
	c.members.removed(id)
	if err := c.raft.RemoveServer(raft.ServerID(id), 0, c.cfg.ApplyTimeout).Error(); err != nil {
		return fmt.Errorf("%w: remove %s: %v", ErrOutcomeUnknown, id, err)
	}
	c.cfg.Logger.Warn("server removed from the cluster", "id", id)
	return nil
}

// Snapshot asks raft to take a snapshot now.
func (c *Cluster) Snapshot() error {
	if err := c.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("cluster: snapshot: %w", err)
	}
	return nil
}

// TransferLeadership hands leadership to another voter if this node leads;
// used before a planned stop so the cluster does not wait for an election
// timeout.
func (c *Cluster) TransferLeadership() error {
	if c.raft.State() != raft.Leader {
		return nil
	}
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("cluster: configuration: %w", err)
	}
	voters := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	if voters < 2 {
		return nil // nobody to hand it to
	}
	if err := c.raft.LeadershipTransfer().Error(); err != nil {
		return fmt.Errorf("cluster: leadership transfer: %w", err)
	}
	return nil
}

// Close shuts raft and gossip down and closes the stores. It does not
// remove this node from the cluster: a stopped node is expected back (use
// RemoveServer to shrink the cluster).
func (c *Cluster) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.stopCh)
		if c.members != nil {
			// Tell the others at once that this node stopped (they would
			// otherwise learn it from failed probes); a stopped node still
			// stays in raft's configuration.
			_ = c.members.ml.Leave(time.Second)
			_ = c.members.shutdown()
		}
		if c.raft != nil {
			if e := c.raft.Shutdown().Error(); e != nil {
				err = fmt.Errorf("cluster: shutdown raft: %w", e)
			}
		}
		c.wg.Wait()
		c.rpc.closeAll()
		if e := c.closeStores(); e != nil && err == nil {
			err = e
		}
	})
	return err
}

func (c *Cluster) closeStores() error {
	var err error
	if c.trans != nil {
		err = c.trans.Close()
	} else if c.mux != nil {
		err = c.mux.close()
	}
	if c.logs != nil {
		if e := c.logs.Close(); e != nil && err == nil {
			err = fmt.Errorf("cluster: close raft log: %w", e)
		}
	}
	return err
}

func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d)
}

// ErrNotLeader: an operation that only the leader performs (a restore) was
// sent to another node; the error text names the leader.
var ErrNotLeader = errors.New("cluster: not the leader")

// Restore replaces the whole cluster's state with a snapshot of size bytes
// read from r (a file written by a backup) whose applied index is index,
// through raft: the leader
// installs it and sends it to every follower. Only the leader restores.
func (c *Cluster) Restore(r io.Reader, size int64, index uint64) error {
	if c.raft.State() != raft.Leader {
		addr := ""
		if _, id := c.raft.LeaderWithID(); id != "" {
			for _, md := range c.members.alive() {
				if md.ID == string(id) {
					addr = md.HTTPAddr
				}
			}
		}
		return fmt.Errorf("%w: send the restore to the leader (%s)", ErrNotLeader, addr)
	}
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("cluster: configuration: %w", err)
	}
	// Index is the snapshot's own applied index: raft continues the log
	// above both it and its current index, so no later entry reuses a
	// revision the snapshot already holds.
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: size, Index: index, Configuration: f.Configuration()}
	if err := c.raft.Restore(meta, r, 10*time.Minute); err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	return nil
}

// whileLeader returns a context that is cancelled when ctx is, or as soon as
// this node stops seeing id as the leader: a request forwarded to a leader
// that was deposed (paused, cut off) would otherwise wait for its full
// deadline. A cancelled forwarded write reports an unknown outcome, a
// cancelled read-index request is retried with the new leader.
func (c *Cluster) whileLeader(ctx context.Context, id raft.ServerID) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-fctx.Done():
				return
			case <-c.stopCh:
				cancel()
				return
			case <-t.C:
				if _, now := c.raft.LeaderWithID(); now != id {
					cancel()
					return
				}
			}
		}
	}()
	return fctx, cancel
}
