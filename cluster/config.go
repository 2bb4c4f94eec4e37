package cluster

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a node's raft. Zero durations take the defaults of
// DefaultConfig.
type Config struct {
	// NodeID is this node's raft server ID; stable across restarts.
	NodeID string
	// Dir holds raft.db (log and stable store) and snapshots/.
	Dir string
	// BindAddr is the raft TCP address to listen on ("127.0.0.1:7401";
	// port 0 picks one).
	BindAddr string
	// AdvertiseAddr is the address peers dial; empty means the bound one.
	AdvertiseAddr string
	// BootstrapExpect is the number of voters that form a new cluster: 1
	// bootstraps a one-server cluster of this node at once; N > 1 waits until
	// N voters with the same expectation meet through gossip and none has
	// raft state. 0 never bootstraps: the node waits to be added by a
	// leader. A node with raft state never bootstraps again.
	BootstrapExpect int
	// ReadReplica makes this node a non-voter that is never promoted.
	ReadReplica bool

	// GossipAddr is memberlist's bind address ("127.0.0.1:7402").
	GossipAddr string
	// GossipAdvertise is the gossip address peers use; empty means the bound.
	GossipAdvertise string
	// Join lists gossip addresses of other members to contact at start.
	Join []string
	// HTTPAddr is advertised to peers for /v1/cluster.
	HTTPAddr string
	// GossipFast shortens memberlist's probe and gossip timers (tests).
	GossipFast bool

	// ReconcileInterval (1s): how often the leader reconciles membership.
	ReconcileInterval time.Duration
	// ReapAfter (10m): a server gone from gossip this long is removed.
	ReapAfter time.Duration
	// PromoteLag (256): a non-voter within this many entries of the leader's
	// applied index is caught up and promoted.
	PromoteLag uint64
	// HoldTimeout (5s): how long a request waits for a leader to be known
	// before it fails with ErrNoLeader.
	HoldTimeout time.Duration

	// HeartbeatTimeout and ElectionTimeout: raft's timers (1s each; lower
	// fails over faster but risks elections on a loaded machine).
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// LeaderLeaseTimeout (500ms): a leader steps down after this long without
	// quorum contact. Reads do not rely on it.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout (50ms): followers learn the commit index at least this
	// often when idle.
	CommitTimeout time.Duration
	// MaxAppendEntries (512) bounds a group commit and an FSM batch.
	MaxAppendEntries int
	// SnapshotThreshold (8192 entries) and SnapshotInterval (2m): when to
	// snapshot. TrailingLogs (10240) entries stay after a snapshot so that a
	// lagging follower catches up from the log.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// SnapshotsRetained (2) snapshot files are kept.
	SnapshotsRetained int
	// ApplyTimeout (10s) bounds the wait to enqueue a command.
	ApplyTimeout time.Duration
	// RaftLogLevel is hashicorp/raft's log level ("warn").
	RaftLogLevel string

	// TLS, when set, wraps every connection on the cluster port (raft and
	// the internal RPC, in and out) in mutual TLS. The one configuration
	// serves both ends, so it must carry this node's certificate, the
	// cluster CA as RootCAs and ClientCAs, ClientAuth
	// tls.RequireAndVerifyClientCert and the ServerName peers' certificates
	// name (internal/tlsutil.ClusterConfig builds one). nil means plain TCP.
	TLS *tls.Config
	// GossipKey, when set, encrypts and authenticates gossip (memberlist's
	// SecretKey: AES-GCM with a 16, 24 or 32 byte key) and makes every
	// member drop messages that are not encrypted with it. All members need
	// the same key. nil means plain gossip.
	GossipKey []byte

	// Logger receives the cluster's structured logs.
	Logger *slog.Logger
	// Registerer receives the cluster's metrics; nil means none.
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults for a single node on loopback.
func DefaultConfig() Config {
	return Config{
		NodeID:             "node1",
		BindAddr:           "127.0.0.1:7401",
		GossipAddr:         "127.0.0.1:7402",
		BootstrapExpect:    1,
		ReconcileInterval:  time.Second,
		ReapAfter:          10 * time.Minute,
		PromoteLag:         256,
		HoldTimeout:        5 * time.Second,
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		MaxAppendEntries:   512,
		SnapshotThreshold:  8192,
		SnapshotInterval:   2 * time.Minute,
		TrailingLogs:       10240,
		SnapshotsRetained:  2,
		ApplyTimeout:       10 * time.Second,
		RaftLogLevel:       "warn",
	}
}

// Validate reports whether the configuration can be used.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("cluster: config: NodeID is required")
	case c.Dir == "":
		return errors.New("cluster: config: Dir is required")
	case c.BindAddr == "":
		return errors.New("cluster: config: BindAddr is required")
	case c.GossipAddr == "":
		return errors.New("cluster: config: GossipAddr is required")
	case c.MaxAppendEntries < 0 || c.MaxAppendEntries > 1024:
		return errors.New("cluster: config: MaxAppendEntries must be 1..1024")
	case c.BootstrapExpect < 0:
		return errors.New("cluster: config: BootstrapExpect must be >= 0")
	case c.ReadReplica && c.BootstrapExpect > 0:
		return errors.New("cluster: config: a read replica never bootstraps: BootstrapExpect must be 0")
	case c.GossipKey != nil && len(c.GossipKey) != 16 && len(c.GossipKey) != 24 && len(c.GossipKey) != 32:
		return errors.New("cluster: config: GossipKey must be 16, 24 or 32 bytes")
	}
	if t := c.TLS; t != nil {
		switch {
		case len(t.Certificates) == 0 && t.GetCertificate == nil:
			return errors.New("cluster: config: TLS has no certificate for this node")
		case t.RootCAs == nil || t.ClientCAs == nil:
			return errors.New("cluster: config: TLS needs the cluster CA as RootCAs and ClientCAs")
		case t.ClientAuth != tls.RequireAndVerifyClientCert:
			return errors.New("cluster: config: TLS must require and verify peer certificates (ClientAuth)")
		case t.InsecureSkipVerify:
			return errors.New("cluster: config: TLS must verify peers (InsecureSkipVerify is set)")
		case t.ServerName == "":
			return errors.New("cluster: config: TLS needs the ServerName peers' certificates carry")
		}
	}
	return nil
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = d.ElectionTimeout
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = d.LeaderLeaseTimeout
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = d.CommitTimeout
	}
	if c.MaxAppendEntries == 0 {
		c.MaxAppendEntries = d.MaxAppendEntries
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = d.SnapshotThreshold
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = d.SnapshotInterval
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = d.TrailingLogs
	}
	if c.SnapshotsRetained == 0 {
		c.SnapshotsRetained = d.SnapshotsRetained
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = d.ApplyTimeout
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = d.ReconcileInterval
	}
	if c.ReapAfter == 0 {
		c.ReapAfter = d.ReapAfter
	}
	if c.PromoteLag == 0 {
		c.PromoteLag = d.PromoteLag
	}
	if c.HoldTimeout == 0 {
		c.HoldTimeout = d.HoldTimeout
	}
	if c.RaftLogLevel == "" {
		c.RaftLogLevel = d.RaftLogLevel
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TLS != nil && c.TLS.MinVersion < tls.VersionTLS12 {
		c.TLS = c.TLS.Clone()
		c.TLS.MinVersion = tls.VersionTLS12
	}
}
