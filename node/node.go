// Package node wires one schemakv server from a Config: the store, the state
// machine, raft, the schema cache and the HTTP API, started in that order
// and closed in reverse. The CLI's server command and the system tests both
// start nodes through it.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/schemakv/schemakv/cluster"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/httpapi"
	"github.com/schemakv/schemakv/internal/indexbuild"
	"github.com/schemakv/schemakv/schema"
	"github.com/schemakv/schemakv/store"
)

// Version is the build's version, set with -ldflags "-X .../node.Version=...".
var Version = "dev"

// Config configures a node. DefaultConfig gives a single node on loopback
// with its data in ./data.
type Config struct {
	// NodeID names the node in the cluster; stable across restarts.
	NodeID string
	// DataDir holds fsm.db (the state) and raft/ (log, stable store,
	// snapshots).
	DataDir string
	// HTTPAddr is the API's listen address ("127.0.0.1:7400"; port 0 picks
	// one).
	HTTPAddr string
	// RaftAddr is raft's listen address ("127.0.0.1:7401").
	RaftAddr string
	// RaftAdvertise is the raft address peers dial; empty means RaftAddr.
	RaftAdvertise string
	// HTTPAdvertise is the API address other nodes and /v1/cluster show;
	// empty means the bound one.
	HTTPAdvertise string
	// GossipAddr is memberlist's listen address ("127.0.0.1:7402").
	GossipAddr string
	// GossipAdvertise is the gossip address peers use; empty means bound.
	GossipAdvertise string
	// Join lists gossip addresses of other members to contact at start.
	Join []string
	// BootstrapExpect: 1 forms a one-node cluster at once (the default);
	// N > 1 waits for N voters to meet; 0 joins an existing cluster.
	BootstrapExpect int
	// ReadReplica makes this node a non-voting member that serves reads.
	ReadReplica bool
	// Limits are the HTTP API's request limits.
	Limits httpapi.Limits
	// Cluster tunes raft; its NodeID, Dir, BindAddr, AdvertiseAddr and
	// Bootstrap are taken from the fields above.
	Cluster cluster.Config
	// StartTimeout bounds the wait for this node to lead a bootstrapped
	// cluster (30s).
	StartTimeout time.Duration
	// Retention bounds the history kept for watch resumption and the
	// history API (default: at least 1000 versions per object and 24h).
	Retention store.RetentionConfig
	// TombstoneTTL is how long the tombstone of a deleted config key is kept
	// before the leader reaps it (zero: 1h; negative: never).
	TombstoneTTL time.Duration
	// PprofAddr, when set, serves Go's net/http/pprof profiles on a
	// separate listener (keep it on loopback: profiles reveal internals).
	PprofAddr string
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger

	// HTTPTLS, when set, serves the API over HTTPS with this configuration
	// (internal/tlsutil.ServerConfig; client certificates are required when
	// it has ClientCAs). TLS older than 1.2 is never accepted. Mutual TLS
	// between nodes is Cluster.TLS, gossip encryption Cluster.GossipKey.
	HTTPTLS *tls.Config
	// InsecurePlaintext allows a listener on a non-loopback address without
	// its protection (HTTP without HTTPTLS, the cluster port without
	// Cluster.TLS, gossip without Cluster.GossipKey, pprof at all). Without
	// it such a node refuses to start; with it, it starts and logs a
	// warning for every exposed listener. Loopback needs neither.
	InsecurePlaintext bool
	// IndexBuild tunes the background build of secondary indexes (chunk
	// size, pause between chunks); its Logger is taken from Logger.
	IndexBuild indexbuild.Config
	// Auth configures authentication and the bootstrap admin token
	// (auth.go). Its zero value is auth on.
	Auth AuthConfig
}

// DefaultConfig returns the defaults: node1, ./data, 127.0.0.1:7400 (HTTP)
// and 127.0.0.1:7401 (raft), bootstrapping a single-node cluster.
func DefaultConfig() Config {
	return Config{
		NodeID:          "node1",
		DataDir:         "data",
		HTTPAddr:        "127.0.0.1:7400",
		RaftAddr:        "127.0.0.1:7401",
		GossipAddr:      "127.0.0.1:7402",
		BootstrapExpect: 1,
		Limits:          httpapi.DefaultLimits(),
		Cluster:         cluster.DefaultConfig(),
		StartTimeout:    30 * time.Second,
	}
}

// Validate reports whether the configuration can be used.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("node: config: NodeID is required")
	case c.DataDir == "":
		return errors.New("node: config: DataDir is required")
	case c.HTTPAddr == "":
		return errors.New("node: config: HTTPAddr is required")
	case c.RaftAddr == "":
		return errors.New("node: config: RaftAddr is required")
	case c.GossipAddr == "":
		return errors.New("node: config: GossipAddr is required")
	}
	return c.checkPlaintext()
}

// Node is a running schemakv server.
type Node struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	cluster  *cluster.Cluster
	httpSrv  *http.Server
	pprofSrv *http.Server
	listener net.Listener
	served   chan error
	api      *httpapi.Server
	builder  *indexbuild.Builder
	authStop chan struct{} // closed by Close: stops bootstrapAuthLoop
	authDone chan struct{} // closed when bootstrapAuthLoop returns
}

// Start starts a node and returns once its HTTP API is listening and, for a
// bootstrapped single node, once it leads.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg.warnPlaintext(log)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data dir: %w", err)
	}
	node := &Node{cfg: cfg, log: log, served: make(chan error, 1), authStop: make(chan struct{})}
	n = node
	defer func() {
		if err != nil {
			_ = node.Close() // n is nil by now
		}
	}()

	n.store, err = store.Open(store.Config{Path: filepath.Join(cfg.DataDir, "fsm.db"), Retention: withLogger(cfg.Retention, log)})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "schemakv_config_entries", Help: "Config entries stored, all namespaces.",
	}, func() float64 { return float64(n.store.View().ConfigCount()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "schemakv_namespaces", Help: "Namespaces stored.",
	}, func() float64 { return float64(n.store.View().NamespaceCount()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "schemakv_applied_index", Help: "Raft index applied to this node's state.",
	}, func() float64 { return float64(n.store.Applied()) }))

	n.listener, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("node: listen %s: %w", cfg.HTTPAddr, err)
	}
	if cfg.HTTPTLS != nil {
		n.listener = tls.NewListener(n.listener, httpTLS(cfg.HTTPTLS))
	}
	cc := cfg.Cluster
	cc.HTTPAddr = cfg.HTTPAdvertise
	if cc.HTTPAddr == "" {
		cc.HTTPAddr = n.listener.Addr().String()
	}
	cc.NodeID = cfg.NodeID
	cc.Dir = filepath.Join(cfg.DataDir, "raft")
	cc.BindAddr = cfg.RaftAddr
	cc.AdvertiseAddr = cfg.RaftAdvertise
	cc.BootstrapExpect = cfg.BootstrapExpect
	cc.ReadReplica = cfg.ReadReplica
	cc.GossipAddr = cfg.GossipAddr
	cc.GossipAdvertise = cfg.GossipAdvertise
	cc.Join = cfg.Join
	cc.Logger = log
	cc.Registerer = reg
	n.cluster, err = cluster.New(cc, fsm.New(n.store, log), n.store)
	if err != nil {
		return nil, err
	}

	ib := cfg.IndexBuild
	ib.Logger = log
	n.builder = indexbuild.Start(ib, n.cluster, n.store)

	authn, err := newAuthenticator(cfg.Auth, n.store)
	if err != nil {
		return nil, err
	}
	if cfg.Auth.Dev {
		if err := checkDevListener(n.listener); err != nil {
			return nil, err
		}
		log.Warn("!!! DEV MODE: authentication and authorisation are OFF; anyone who can reach " +
			n.listener.Addr().String() + " can read and change everything !!!")
	}
	api, err := httpapi.New(httpapi.Config{
		NodeID: cfg.NodeID, Version: Version, Limits: cfg.Limits, Logger: log,
		Registerer: reg, Gatherer: reg,
		Auth: authn, OIDC: authn, DevMode: cfg.Auth.Dev, MetricsOpen: cfg.Auth.MetricsOpen, RevokeWait: cfg.Auth.RevokeWait,
		TombstoneTTL: cfg.TombstoneTTL,
	}, n.store, n.cluster, schema.NewCache(schema.Config{MaxSchemaBytes: cfg.Limits.MaxSchemaBytes}))
	if err != nil {
		return nil, err
	}
	n.api = api

	if cfg.BootstrapExpect == 1 {
		timeout := cfg.StartTimeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		wctx, cancel := context.WithTimeout(ctx, timeout)
		err = n.cluster.WaitReady(wctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		if !cfg.Auth.Dev {
			// A single node bootstraps before it serves, so the token
			// file exists once the API answers.
			wctx, cancel := context.WithTimeout(ctx, timeout)
			_, err = n.tryBootstrapAuth(wctx)
			cancel()
			if err != nil {
				return nil, err
			}
		}
	}
	if !cfg.Auth.Dev {
		n.authDone = make(chan struct{})
		go n.bootstrapAuthLoop()
	}

	n.httpSrv = &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { n.served <- n.httpSrv.Serve(n.listener) }()
	if cfg.PprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pl, err := net.Listen("tcp", cfg.PprofAddr)
		if err != nil {
			return nil, fmt.Errorf("node: pprof listen %s: %w", cfg.PprofAddr, err)
		}
		n.pprofSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = n.pprofSrv.Serve(pl) }()
		log.Warn("serving profiles (net/http/pprof)", "addr", pl.Addr().String())
	}
	log.Info("schemakv node started", "node_id", cfg.NodeID, "http", n.HTTPURL(),
		"raft", n.cluster.Status().RaftAddr, "gossip", cfg.GossipAddr, "data_dir", cfg.DataDir,
		"applied_index", n.store.Applied(), "bootstrap_expect", cfg.BootstrapExpect, "read_replica", cfg.ReadReplica)
	return n, nil
}

// HTTPAddr returns the address the API listens on.
func (n *Node) HTTPAddr() string { return n.listener.Addr().String() }

// HTTPURL returns the API's base URL, such as http://127.0.0.1:7400, or
// https://127.0.0.1:7400 when the API is served over TLS.
func (n *Node) HTTPURL() string {
	if n.cfg.HTTPTLS != nil {
		return "https://" + n.HTTPAddr()
	}
	return "http://" + n.HTTPAddr()
}

// API returns the node's HTTP API (for tests and tools).
func (n *Node) API() *httpapi.Server { return n.api }

// Store returns the node's state (for tests and tools).
func (n *Node) Store() *store.Store { return n.store }

// Cluster returns the node's raft (for tests and tools).
func (n *Node) Cluster() *cluster.Cluster { return n.cluster }

// Close stops the node: leadership is handed to another voter first when
// this node leads, then the HTTP API stops (in-flight requests get up to
// 10s), then raft, then the store. The node stays a member of the cluster.
func (n *Node) Close() error {
	var errs []error
	if n.authDone != nil {
		close(n.authStop)
		<-n.authDone
		n.authDone = nil
	}
	if n.cluster != nil {
		if err := n.cluster.TransferLeadership(); err != nil {
			n.log.Warn("leadership transfer before stop failed", "err", err)
		}
	}
	if n.pprofSrv != nil {
		_ = n.pprofSrv.Close()
	}
	if n.builder != nil {
		n.builder.Stop()
	}
	if n.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("node: http shutdown: %w", err))
		}
		cancel()
		n.httpSrv = nil
	} else if n.listener != nil {
		_ = n.listener.Close()
	}
	if n.api != nil {
		n.api.Close() // migration drivers, before raft stops under them
		n.api = nil
	}
	if n.cluster != nil {
		if err := n.cluster.Close(); err != nil {
			errs = append(errs, err)
		}
		n.cluster = nil
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func withLogger(r store.RetentionConfig, log *slog.Logger) store.RetentionConfig {
	if r.Logger == nil {
		r.Logger = log
	}
	return r
}
