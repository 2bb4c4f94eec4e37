package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/schemakv/schemakv/httpapi"
	"github.com/schemakv/schemakv/node"
)

// newServerCmd is `schemakv server`: run one node until SIGINT or SIGTERM.
// Every flag can also be set from the environment as SCHEMAKV_<FLAG> (dashes
// become underscores): --data-dir is SCHEMAKV_DATA_DIR. Flags win.
func newServerCmd() *cobra.Command {
	cfg := node.DefaultConfig()
	var logLevel, logFormat string
	var tlsFlags serverTLSFlags
	var af authFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a schemakv server node",
		Long: `Run a schemakv server node.

With no flags it runs a single-node cluster on 127.0.0.1 (HTTP API on port
7400, raft on 7401) with its data in ./data: bootstrapped on first start and
reopened on later starts. No other service is needed.

Every flag can also be set in the environment as SCHEMAKV_<FLAG>, for example
SCHEMAKV_DATA_DIR=/var/lib/schemakv.`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return flagsFromEnv(cmd.Flags())
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			if err != nil {
				return usagef("%v", err)
			}
			if cfg.BootstrapExpect < 0 {
				cfg.BootstrapExpect = 1
				if len(cfg.Join) > 0 || cfg.ReadReplica {
					cfg.BootstrapExpect = 0
				}
			}
			if err := tlsFlags.apply(&cfg); err != nil {
				return usagef("%v", err)
			}
			if err := af.apply(&cfg); err != nil {
				return usagef("%v", err)
			}
			cfg.Logger = log
			slog.SetDefault(log)
			return runServer(cmd.Context(), cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "node name, stable across restarts")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for the node's state and raft log")
	f.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "HTTP API listen address")
	f.StringVar(&cfg.RaftAddr, "raft-addr", cfg.RaftAddr, "raft listen address")
	f.StringVar(&cfg.RaftAdvertise, "raft-advertise", "", "raft address peers dial (default: --raft-addr)")
	f.StringVar(&cfg.HTTPAdvertise, "http-advertise", "", "HTTP address shown to peers (default: --http-addr)")
	f.StringVar(&cfg.GossipAddr, "gossip-addr", cfg.GossipAddr, "gossip (memberlist) listen address, TCP and UDP")
	f.StringVar(&cfg.GossipAdvertise, "gossip-advertise", "", "gossip address peers use (default: --gossip-addr)")
	f.StringSliceVar(&cfg.Join, "join", nil, "gossip addresses of other members to join (comma-separated)")
	f.IntVar(&cfg.BootstrapExpect, "bootstrap-expect", -1, "voters that form a new cluster: 1 = single node (default without --join), N = wait for N voters, 0 = join an existing cluster (default with --join)")
	f.BoolVar(&cfg.ReadReplica, "read-replica", false, "join as a non-voting member that serves reads and watches")
	f.Int64Var(&cfg.Limits.MaxBodyBytes, "max-body-bytes", cfg.Limits.MaxBodyBytes, "largest request body")
	f.IntVar(&cfg.Limits.MaxValueBytes, "max-value-bytes", cfg.Limits.MaxValueBytes, "largest config value")
	f.IntVar(&cfg.Limits.MaxSchemaBytes, "max-schema-bytes", cfg.Limits.MaxSchemaBytes, "largest schema document")
	f.IntVar(&cfg.Limits.MaxBatchOps, "max-batch-ops", cfg.Limits.MaxBatchOps, "most operations in one batch")
	f.IntVar(&cfg.Limits.MaxIndexesPerNamespace, "max-indexes-per-namespace", 16, "most secondary indexes one namespace may declare")
	f.IntVar(&cfg.Limits.MaxQueryExamined, "max-query-examined", 100000, "most entries one where-query may look at")
	f.IntVar(&cfg.IndexBuild.ChunkSize, "index-build-chunk", 1000, "config keys one background index-build command indexes")
	f.IntVar(&cfg.Limits.MaxJSONDepth, "max-json-depth", cfg.Limits.MaxJSONDepth, "deepest JSON nesting accepted")
	il := httpapi.DefaultImportLimits()
	f.Int64Var(&cfg.Limits.Imports.MaxBytes, "import-max-bytes", il.MaxBytes, "largest import upload (all requests of a job)")
	f.Int64Var(&cfg.Limits.Imports.MaxEntries, "import-max-entries", il.MaxEntries, "most entries in one import job")
	f.IntVar(&cfg.Limits.Imports.MaxRunning, "import-max-running", il.MaxRunning, "most import jobs running at once in the cluster")
	f.IntVar(&cfg.Limits.Imports.MaxEntriesPerSecond, "import-max-rate", il.MaxEntriesPerSecond, "entries per second each import upload proposes, to spare readers (-1: unpaced)")
	f.DurationVar(&cfg.Limits.Imports.Retention, "import-retention", il.Retention, "ended import jobs are kept this long")
	f.DurationVar(&cfg.Cluster.HeartbeatTimeout, "raft-heartbeat-timeout", cfg.Cluster.HeartbeatTimeout, "raft heartbeat timeout")
	f.DurationVar(&cfg.Cluster.ElectionTimeout, "raft-election-timeout", cfg.Cluster.ElectionTimeout, "raft election timeout")
	f.Uint64Var(&cfg.Cluster.SnapshotThreshold, "snapshot-threshold", cfg.Cluster.SnapshotThreshold, "raft entries between snapshots")
	f.DurationVar(&cfg.Cluster.SnapshotInterval, "snapshot-interval", cfg.Cluster.SnapshotInterval, "how often raft checks whether to snapshot")
	f.Uint64Var(&cfg.Cluster.TrailingLogs, "trailing-logs", cfg.Cluster.TrailingLogs, "raft entries kept after a snapshot for followers to catch up from")
	f.DurationVar(&cfg.Cluster.ReapAfter, "reap-after", cfg.Cluster.ReapAfter, "remove a server gone from gossip this long (never below quorum)")
	f.StringVar(&cfg.Cluster.RaftLogLevel, "raft-log-level", cfg.Cluster.RaftLogLevel, "hashicorp/raft log level")
	f.IntVar(&cfg.Retention.Default.MinVersions, "history-min-versions", 1000, "history kept per object: at least this many versions")
	f.DurationVar(&cfg.Retention.Default.MinAge, "history-min-age", 24*time.Hour, "history kept per object: at least this long")
	f.DurationVar(&cfg.TombstoneTTL, "tombstone-ttl", httpapi.DefaultTombstoneTTL, "the tombstone of a deleted config key is reaped this long after the delete (negative: never)")
	f.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060")
	tlsFlags.register(f, &cfg)
	af.register(f)
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "auto", "json, text, or auto (text on a terminal, else JSON)")
	return cmd
}

func runServer(ctx context.Context, cfg node.Config, log *slog.Logger) error {
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down", "node_id", cfg.NodeID)
	done := make(chan error, 1)
	go func() { done <- n.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("shutdown did not finish in 30s")
	}
}

// flagsFromEnv sets every flag not given on the command line from
// SCHEMAKV_<FLAG> when that variable is set.
func flagsFromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "SCHEMAKV_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = usagef("%s: %v", name, e)
			}
		}
	})
	return err
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format must be json, text or auto")
	}
}
