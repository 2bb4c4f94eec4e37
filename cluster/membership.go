package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Membership: hashicorp/memberlist gossips each node's identity, addresses
// and role. The leader reconciles raft's configuration with it: a new
// server joins as a non-voter and is promoted once caught up, a read
// replica stays a non-voter, and a server dead longer than ReapAfter is
// removed, never taking the voters below a quorum of the current
// configuration.

// Roles a node advertises.
const (
	RoleVoter   = "voter"
	RoleReplica = "replica"
)

// meta is what a node advertises through gossip (memberlist Node.Meta,
// at most 512 bytes).
type meta struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft"`
	HTTPAddr string `json:"http,omitempty"`
	Role     string `json:"role"`
	Expect   int    `json:"expect,omitempty"`
}

type membership struct {
	c    *Cluster
	ml   *memberlist.Memberlist
	self meta

	mu        sync.Mutex
	deadSince map[string]time.Time // node ID → when gossip first saw it dead or gone
	live      map[string]meta      // node ID → metadata, copied in the event callbacks
	gossipAt  map[string]string    // node ID → last gossip address seen, for re-joining
	removedAt map[string]time.Time // node ID → when an operator removed it
	events    chan struct{}
}

func newMembership(c *Cluster, self meta) (*membership, error) {
	m := &membership{c: c, self: self, deadSince: map[string]time.Time{},
		live: map[string]meta{self.ID: self}, gossipAt: map[string]string{}, removedAt: map[string]time.Time{}, events: make(chan struct{}, 1)}
	host, portStr, err := net.SplitHostPort(c.cfg.GossipAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip address %q: %w", c.cfg.GossipAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip port %q: %w", portStr, err)
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = self.ID
	mc.BindAddr = host
	mc.BindPort = port
	if c.cfg.GossipAdvertise != "" {
		ah, ap, err := net.SplitHostPort(c.cfg.GossipAdvertise)
		if err != nil {
			return nil, fmt.Errorf("cluster: gossip advertise %q: %w", c.cfg.GossipAdvertise, err)
		}
		mc.AdvertiseAddr = ah
		if mc.AdvertisePort, err = strconv.Atoi(ap); err != nil {
			return nil, fmt.Errorf("cluster: gossip advertise port %q: %w", ap, err)
		}
	}
	if c.cfg.GossipKey != nil {
		// memberlist encrypts with the key and, with both checks on, drops
		// anything not encrypted with it: a member without the key can
		// neither read the gossip nor join.
		mc.SecretKey = c.cfg.GossipKey
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	mc.Delegate = m
	mc.Events = m
	// A node that comes back on another address (a rescheduled container)
	// may take its name back once the old one has been dead this long.
	mc.DeadNodeReclaimTime = 30 * time.Second
	mc.Logger = log.New(memberlistLog{c.cfg.Logger}, "", 0)
	if c.cfg.GossipFast {
		mc.ProbeInterval = 200 * time.Millisecond
		mc.ProbeTimeout = 100 * time.Millisecond
		mc.GossipInterval = 50 * time.Millisecond
		mc.SuspicionMult = 2
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("cluster: start gossip on %s: %w", c.cfg.GossipAddr, err)
	}
	m.ml = ml
	return m, nil
}

// join contacts the given gossip addresses until one answers or stop closes.
func (m *membership) join(addrs []string, stop <-chan struct{}) {
	if len(addrs) == 0 {
		return
	}
	for backoff := 200 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		n, err := m.ml.Join(addrs)
		if err == nil || n > 0 {
			m.c.cfg.Logger.Info("joined gossip", "contacted", n)
			return
		}
		m.c.cfg.Logger.Warn("gossip join failed; retrying", "addrs", addrs, "err", err)
		select {
		case <-stop:
			return
		case <-time.After(backoff):
		}
	}
}

// NodeMeta implements memberlist.Delegate.
func (m *membership) NodeMeta(limit int) []byte {
	b, _ := json.Marshal(m.self)
	if len(b) > limit {
		return nil
	}
	return b
}

// NotifyMsg, GetBroadcasts, LocalState and MergeRemoteState implement
// memberlist.Delegate; schemakv sends no user messages.
func (m *membership) NotifyMsg([]byte)                           {}
func (m *membership) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (m *membership) LocalState(join bool) []byte                { return nil }
func (m *membership) MergeRemoteState(buf []byte, join bool)     {}

// The event callbacks run while memberlist holds its node lock, so they are
// the one safe place to read a node's fields: memberlist mutates the Node
// structs that Members returns. The callbacks copy the metadata out.

// NotifyJoin implements memberlist.EventDelegate.
func (m *membership) NotifyJoin(n *memberlist.Node) {
	m.remember(n)
}

// NotifyUpdate implements memberlist.EventDelegate.
func (m *membership) NotifyUpdate(n *memberlist.Node) {
	m.remember(n)
}

// NotifyLeave implements memberlist.EventDelegate.
func (m *membership) NotifyLeave(n *memberlist.Node) {
	m.mu.Lock()
	if n.Name != m.self.ID {
		delete(m.live, n.Name)
	}
	if _, ok := m.deadSince[n.Name]; !ok {
		m.deadSince[n.Name] = time.Now()
	}
	m.mu.Unlock()
	m.kick()
}

func (m *membership) remember(n *memberlist.Node) {
	var md meta
	if err := json.Unmarshal(n.Meta, &md); err != nil || md.ID == "" || md.ID != n.Name {
		return
	}
	m.mu.Lock()
	delete(m.removedAt, md.ID) // it (re)joined after the removal: add it again
	m.live[md.ID] = md
	m.gossipAt[md.ID] = net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	delete(m.deadSince, md.ID)
	m.mu.Unlock()
	m.kick()
}

func (m *membership) kick() {
	select {
	case m.events <- struct{}{}:
	default:
	}
}

// alive returns the metadata of every live member, self included.
func (m *membership) alive() []meta {
	m.mu.Lock()
	out := make([]meta, 0, len(m.live))
	for _, md := range m.live {
		out = append(out, md)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// maybeBootstrap forms the cluster once `expect` voters advertising the
// same expectation are alive and none of them has raft state (Consul's
// rule: a node restarted on empty data must never bootstrap a second
// cluster beside the first). Every one of them computes the same
// configuration from the same member list.
func (m *membership) maybeBootstrap(stop <-chan struct{}) {
	expect := m.c.cfg.BootstrapExpect
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		case <-m.events:
			m.kick() // let the reconcile loop see it too
		}
		if m.c.hasState() {
			return
		}
		var voters []meta
		for _, md := range m.alive() {
			if md.Role == RoleVoter && md.Expect == expect {
				voters = append(voters, md)
			}
		}
		if len(voters) < expect {
			continue
		}
		voters = voters[:expect]
		peersHaveState := false
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		for _, v := range voters {
			if v.ID == m.self.ID {
				continue
			}
			var r StatusReply
			if err := m.c.rpc.call(ctx, v.RaftAddr, "Status", StatusArgs{}, &r); err != nil {
				peersHaveState = true // unknown: do not risk it; try again
				break
			}
			if r.HasState {
				peersHaveState = true
				m.c.cfg.Logger.Info("a peer has raft state: waiting to be added instead of bootstrapping", "peer", v.ID)
			}
		}
		cancel()
		if peersHaveState {
			continue
		}
		var conf raft.Configuration
		for _, v := range voters {
			conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(v.ID), Address: raft.ServerAddress(v.RaftAddr), Suffrage: raft.Voter})
		}
		if err := m.c.raft.BootstrapCluster(conf).Error(); err != nil {
			m.c.cfg.Logger.Warn("bootstrap failed", "err", err)
			continue
		}
		m.c.cfg.Logger.Info("bootstrapped cluster", "voters", len(conf.Servers))
		return
	}
}

// reconcileLoop runs on every node and acts only while it leads.
func (m *membership) reconcileLoop(stop <-chan struct{}) {
	t := time.NewTicker(m.c.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		case <-m.events:
		}
		if !m.c.isLeader() {
			continue
		}
		if err := m.reconcile(); err != nil {
			m.c.cfg.Logger.Warn("membership reconcile", "err", err)
		}
	}
}

func (m *membership) reconcile() error {
	f := m.c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	conf := f.Configuration()
	inRaft := map[string]raft.Server{}
	for _, s := range conf.Servers {
		inRaft[string(s.ID)] = s
	}
	alive := map[string]meta{}
	for _, md := range m.alive() {
		alive[md.ID] = md
	}
	timeout := m.c.cfg.ApplyTimeout
	for id, md := range alive {
		if id == m.self.ID {
			continue
		}
		s, ok := inRaft[id]
		if !ok && m.recentlyRemoved(id) {
			continue
		}
		switch {
		case !ok || string(s.Address) != md.RaftAddr:
			m.c.cfg.Logger.Info("adding server as non-voter", "id", id, "raft", md.RaftAddr, "role", md.Role)
			if err := m.c.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(md.RaftAddr), 0, timeout).Error(); err != nil {
				return fmt.Errorf("add %s: %w", id, err)
			}
		case s.Suffrage != raft.Voter && md.Role == RoleVoter && m.caughtUp(md):
			m.c.cfg.Logger.Info("promoting caught-up server to voter", "id", id)
			if err := m.c.raft.AddVoter(raft.ServerID(id), s.Address, 0, timeout).Error(); err != nil {
				return fmt.Errorf("promote %s: %w", id, err)
			}
		}
	}
	// Reap servers that are gone, one at a time, never below quorum.
	voters, aliveVoters := 0, 0
	for _, s := range conf.Servers {
		if s.Suffrage == raft.Voter {
			voters++
			if _, ok := alive[string(s.ID)]; ok || string(s.ID) == m.self.ID {
				aliveVoters++
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range conf.Servers {
		id := string(s.ID)
		if _, ok := alive[id]; ok || id == m.self.ID {
			continue
		}
		since, ok := m.deadSince[id]
		if !ok {
			m.deadSince[id] = time.Now() // gone before we watched: start the clock now
			continue
		}
		if time.Since(since) < m.c.cfg.ReapAfter {
			continue
		}
		if s.Suffrage == raft.Voter && aliveVoters <= (voters-1)/2 {
			continue // the rest would not be a quorum of the smaller configuration
		}
		if m.answers(string(s.Address)) {
			// Gossip lost it (e.g. after a long partition that gossip has
			// not merged yet) but raft reaches it: it is not gone.
			continue
		}
		m.c.cfg.Logger.Warn("removing server gone for too long", "id", id, "gone_for", time.Since(since).Round(time.Second).String())
		if err := m.c.raft.RemoveServer(s.ID, 0, timeout).Error(); err != nil {
			return fmt.Errorf("remove %s: %w", id, err)
		}
		delete(m.deadSince, id)
		return nil
	}
	return nil
}

// removed records an operator's removal: gossip may still see the server
// alive for a moment, and the reconciliation must not add it straight back.
// A server that joins gossip again afterwards is added as usual.
func (m *membership) removed(id string) {
	m.mu.Lock()
	m.removedAt[id] = time.Now()
	m.mu.Unlock()
}

func (m *membership) recentlyRemoved(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.removedAt[id]
	if ok && time.Since(at) > time.Minute {
		delete(m.removedAt, id)
		return false
	}
	return ok
}

// answers reports whether a server's cluster port answers a status RPC.
func (m *membership) answers(raftAddr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var r StatusReply
	return m.c.rpc.call(ctx, raftAddr, "Status", StatusArgs{}, &r) == nil
}

// rejoinLoop re-contacts, every interval, the --join addresses and the last
// gossip address of every raft server that gossip does not currently see.
// Gossip views that split during a long partition do not always merge by
// themselves; this makes them.
func (m *membership) rejoinLoop(stop <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		f := m.c.raft.GetConfiguration()
		if f.Error() != nil {
			continue
		}
		m.mu.Lock()
		var addrs []string
		for _, s := range f.Configuration().Servers {
			id := string(s.ID)
			if _, ok := m.live[id]; !ok && id != m.self.ID {
				if a := m.gossipAt[id]; a != "" {
					addrs = append(addrs, a)
				}
			}
		}
		m.mu.Unlock()
		if len(addrs) == 0 {
			continue
		}
		addrs = append(addrs, m.c.cfg.Join...)
		if n, err := m.ml.Join(addrs); err != nil && n == 0 {
			m.c.cfg.Logger.Debug("gossip re-join found nobody", "addrs", addrs, "err", err)
		}
	}
}

// caughtUp reports whether a member's applied index is close to ours.
func (m *membership) caughtUp(md meta) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var r StatusReply
	if err := m.c.rpc.call(ctx, md.RaftAddr, "Status", StatusArgs{}, &r); err != nil {
		return false
	}
	return r.Status.AppliedIndex+m.c.cfg.PromoteLag >= m.c.applied.Applied()
}

func (m *membership) shutdown() error {
	return m.ml.Shutdown()
}
