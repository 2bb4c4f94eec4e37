// Command schemakv-bench compares schemakv with etcd on this machine: it
// starts both as 3-node (and 1-node) clusters of local processes on
// loopback, runs each workload on one, then the other, alternating
// (A B A B), stops everything it started, and prints a Markdown table.
//
//	go run ./cmd/schemakv-bench -quick
//
// See bench/README.md for the workloads and how to read the table.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schemakv/schemakv/bench/internal/procs"
	"github.com/schemakv/schemakv/bench/internal/report"
	"github.com/schemakv/schemakv/bench/internal/target"
	"github.com/schemakv/schemakv/bench/internal/workload"
)

type options struct {
	bin, etcdBin       string
	schema, value      string
	dir                string
	out                string
	d, watchD          time.Duration
	rounds             int
	watchers           []int
	watchRate          float64
	entries            int
	restartEntries     []int
	quick, keep        bool
	only               string
	version            string
	profile            string
	startTimeout       time.Duration
	watchSetupTimeout  time.Duration
	ips3S, ips3E, ip1S []string
	ip1E               []string
}

func main() {
	var o options
	var watchers, restart, ipsS, ipsE string
	flag.StringVar(&o.bin, "schemakv", "bin/schemakv", "schemakv server binary (make build)")
	flag.StringVar(&o.etcdBin, "etcd", "/usr/bin/etcd", "etcd server binary (Debian etcd-server)")
	flag.StringVar(&o.schema, "schema-file", "schema/testdata/service.schema.json", "JSON Schema the schemakv values validate against")
	flag.StringVar(&o.value, "value-file", "schema/testdata/service.value.json", "sample value (~1 KiB)")
	flag.StringVar(&o.dir, "dir", "", "parent of the run's temporary data directory (default $TMPDIR)")
	flag.StringVar(&o.version, "schemakv-version", "", "schemakv version to print (e.g. git describe); the binary has no version command")
	flag.StringVar(&o.profile, "profile", "", "with -schemakv pointing at schemakv-pprof: save a CPU profile of the schemakv node under load in each closed-loop workload's first round to this directory")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	flag.DurationVar(&o.d, "d", 6*time.Second, "measured time per workload per round")
	flag.DurationVar(&o.watchD, "watch-d", 6*time.Second, "write phase of each watch fan-out run")
	flag.IntVar(&o.rounds, "rounds", 2, "rounds per workload: 2 = A B A B")
	flag.StringVar(&watchers, "watchers", "1000,10000", "watch fan-out sizes, comma-separated")
	flag.Float64Var(&o.watchRate, "watch-rate", 100, "writes per second during watch fan-out")
	flag.IntVar(&target.WatchesPerStream, "watches-per-stream", target.WatchesPerStream, "schemakv watchers multiplexed on one stream (POST /v1/watch), as etcd's client multiplexes watches on one gRPC stream; 1 = a stream per watcher")
	flag.IntVar(&o.entries, "entries", 100000, "entries loaded before measuring RSS")
	flag.StringVar(&restart, "restart-entries", "100000", "entry counts for the restart test (add 1000000 for the long one)")
	flag.BoolVar(&o.quick, "quick", false, "short run (~3 min): -d 2s -watch-d 3s -watchers 1000 -entries 20000 -restart-entries 20000")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directories and logs")
	flag.StringVar(&o.only, "only", "", "run only workloads whose name contains one of these |-separated substrings, e.g. \"write, 64|read stale|rss\" (words: write, read, mix, watch, rss, restart, 1-node)")
	flag.DurationVar(&o.startTimeout, "start-timeout", 60*time.Second, "wait for a cluster to serve")
	flag.DurationVar(&o.watchSetupTimeout, "watch-setup-timeout", 60*time.Second, "wait for all watchers to register")
	flag.StringVar(&ipsS, "schemakv-ips", "127.0.0.21,127.0.0.22,127.0.0.23,127.0.0.24", "loopback addresses: 3 for the cluster, 1 for the single node")
	flag.StringVar(&ipsE, "etcd-ips", "127.0.0.31,127.0.0.32,127.0.0.33,127.0.0.34", "loopback addresses: 3 for the cluster, 1 for the single node")
	flag.Parse()
	if o.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("d", func() { o.d = 2 * time.Second })
		def("watch-d", func() { o.watchD = 3 * time.Second })
		def("entries", func() { o.entries = 20000 })
		def("watchers", func() { watchers = "1000" })
		def("restart-entries", func() { restart = "20000" })
	}
	var err error
	if o.watchers, err = ints(watchers); err != nil {
		fatal(err)
	}
	if o.restartEntries, err = ints(restart); err != nil {
		fatal(err)
	}
	for _, s := range [][]string{strings.Split(ipsS, ","), strings.Split(ipsE, ",")} {
		if len(s) != 4 {
			fatal(errors.New("-schemakv-ips and -etcd-ips take 4 addresses"))
		}
		for _, ip := range s {
			if !strings.HasPrefix(ip, "127.") {
				fatal(fmt.Errorf("%s: only loopback addresses are allowed", ip))
			}
		}
	}
	o.ips3S, o.ip1S = strings.Split(ipsS, ",")[:3], strings.Split(ipsS, ",")[3:]
	o.ips3E, o.ip1E = strings.Split(ipsE, ",")[:3], strings.Split(ipsE, ",")[3:]

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	procs.StopAll(20 * time.Second)
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "schemakv-bench:", err)
	procs.StopAll(20 * time.Second)
	os.Exit(1)
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// bench holds one run's state.
type bench struct {
	o      options
	dir    string
	keys   workload.Keys
	vals   workload.Values
	schema []byte
	rows   []report.Row
	log    *slog.Logger
	// interrupted: the run was stopped early (SIGINT/SIGTERM).
	interrupted bool
}

func (b *bench) want(name string) bool {
	if b.o.only == "" {
		return true
	}
	for _, w := range strings.Split(b.o.only, "|") {
		if w != "" && strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	for _, p := range []string{o.bin, o.etcdBin} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s: %w (make build; apt-get install etcd-server)", p, err)
		}
	}
	schema, err := os.ReadFile(o.schema)
	if err != nil {
		return err
	}
	sample, err := os.ReadFile(o.value)
	if err != nil {
		return err
	}
	vals, err := workload.NewValues(sample, 100)
	if err != nil {
		return err
	}
	dir, err := report.TempDir(o.dir)
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	b := &bench{o: o, dir: dir, keys: workload.Keys{Apps: 100, PerApp: 10}, vals: vals, schema: schema, log: log}
	log.Info("measuring fsync rate", "dir", dir)
	m, err := report.ReadMachine(dir, 2*time.Second)
	if err != nil {
		return err
	}
	log.Info("machine", "cores", m.Cores, "cpu", m.CPU, "fsync_per_s", int(m.FsyncRate))

	// On Ctrl-C the rows measured so far are still printed.
	if err := b.cluster3(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	if err := b.cluster1(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	m.LoadEnd = report.LoadAvg()
	if ctx.Err() != nil {
		b.interrupted = true
		defer log.Warn("interrupted: the report has only the rows measured so far")
	}

	var sb strings.Builder
	b.render(&sb, m, time.Since(start))
	fmt.Print(sb.String())
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.out, []byte(sb.String()), 0o644); err != nil {
			return err
		}
	}
	if b.interrupted {
		return ctx.Err()
	}
	return nil
}

func (b *bench) cfg(name string, ips []string, bin string) target.Config {
	d := filepath.Join(b.dir, name)
	_ = os.MkdirAll(d, 0o755)
	return target.Config{Bin: bin, Dir: d, IPs: ips, StartTimeout: b.o.startTimeout, Pprof: b.o.profile != ""}
}

// start starts both systems with n nodes, schemakv first.
func (b *bench) start(ctx context.Context, n int) ([2]target.Target, error) {
	var ts [2]target.Target
	ipsS, ipsE := b.o.ips3S, b.o.ips3E
	if n == 1 {
		ipsS, ipsE = b.o.ip1S, b.o.ip1E
	}
	b.log.Info("starting clusters", "nodes", n)
	s, err := target.StartSchemakv(ctx, b.cfg(fmt.Sprintf("schemakv-%d", n), ipsS, b.o.bin), b.schema)
	if err != nil {
		return ts, err
	}
	e, err := target.StartEtcd(ctx, b.cfg(fmt.Sprintf("etcd-%d", n), ipsE, b.o.etcdBin))
	if err != nil {
		s.Close()
		return ts, err
	}
	return [2]target.Target{s, e}, nil
}

func closeAll(ts [2]target.Target) {
	for _, t := range ts {
		if t != nil {
			t.Close()
		}
	}
}

// preload writes the working key set on both systems so reads find keys.
func (b *bench) preload(ctx context.Context, ts [2]target.Target) error {
	for _, t := range ts {
		l, err := t.Leader(ctx)
		if err != nil {
			return err
		}
		if _, err := workload.Load(ctx, t, l, b.keys, b.vals, 0, b.keys.N(), 100, 4); err != nil {
			return fmt.Errorf("%s preload: %w", t.Name(), err)
		}
	}
	return nil
}

// nodeFor picks the node a workload runs against.
type nodeFor func(ctx context.Context, t target.Target) (int, error)

func leader(ctx context.Context, t target.Target) (int, error) { return t.Leader(ctx) }

func follower(ctx context.Context, t target.Target) (int, error) {
	l, err := t.Leader(ctx)
	return (l + 1) % t.Nodes(), err
}

// closed runs a closed-loop workload A B A B and appends its row.
func (b *bench) closed(ctx context.Context, name string, ts [2]target.Target, clients int, pick nodeFor,
	op func(t target.Target, node int) workload.Op) {
	if !b.want(name) || ctx.Err() != nil {
		return
	}
	var res [2]workload.Result
	var miss [2]string
	for round := range b.o.rounds {
		for i, t := range ts {
			node, err := pick(ctx, t)
			if err != nil {
				miss[i] = err.Error()
				continue
			}
			var prof chan struct{}
			if s, ok := t.(*target.Schemakv); ok && round == 0 && s.PprofURL(node) != "" {
				prof = make(chan struct{})
				go func() {
					defer close(prof)
					b.cpuProfile(ctx, s.PprofURL(node), name, max(int(b.o.d.Seconds())-1, 1))
				}()
			}
			s0, c0 := procs.CPUOf(t.PIDs()), procs.CPUOf([]int{0})
			r := workload.Closed(ctx, b.o.d, clients, op(t, node))
			r.ServerCPU, r.ClientCPU = procs.CPUOf(t.PIDs())-s0, procs.CPUOf([]int{0})-c0
			if prof != nil {
				<-prof
			}
			b.log.Info("ran", "workload", name, "target", t.Name(), "round", round+1,
				"ops_per_s", int(r.Throughput()), "p99", r.Percentile(99), "errors", r.Errors)
			res[i].Merge(r)
		}
	}
	row := report.Row{Workload: name, Kind: report.KindOps}
	row.S, row.E = cell(res[0], miss[0]), cell(res[1], miss[1])
	b.rows = append(b.rows, row)
}

// cpuProfile saves a CPU profile of the node at base, taken while a
// workload runs, under o.profile.
func (b *bench) cpuProfile(ctx context.Context, base, name string, secs int) {
	b.saveProfile(ctx, fmt.Sprintf("%sprofile?seconds=%d", base, secs), name)
}

// saveProfile fetches a pprof profile from u into o.profile/<name>.pprof.
func (b *bench) saveProfile(ctx context.Context, u, name string) {
	file := filepath.Join(b.o.profile, strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, name)+".pprof")
	if err := os.MkdirAll(b.o.profile, 0o755); err != nil {
		b.log.Warn("profile", "err", err)
		return
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.log.Warn("profile", "err", err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	b.log.Info("profile saved", "file", file, "err", err)
}

func cell(r workload.Result, miss string) report.Cell {
	c := report.Cell{Throughput: r.Throughput(), P50: r.Percentile(50), P99: r.Percentile(99)}
	if r.Ops > 0 {
		c.ServerCPU, c.ClientCPU = r.ServerCPU/time.Duration(r.Ops), r.ClientCPU/time.Duration(r.Ops)
	}
	if r.Ops == 0 {
		c.Missing = "no successful op"
		if miss != "" {
			c.Missing = miss
		}
	}
	if r.Errors > 0 {
		c.Note = fmt.Sprintf("%d errors, first: %.200s", r.Errors, r.FirstErr)
	}
	return c
}

func (b *bench) putOp(t target.Target, node int) workload.Op {
	return func(ctx context.Context, _ int, rng *rand.Rand) error {
		_, err := t.Put(ctx, node, b.keys.Key(rng.IntN(b.keys.N())), b.vals.Pick(rng))
		return err
	}
}

func (b *bench) getOp(c target.Consistency) func(t target.Target, node int) workload.Op {
	return func(t target.Target, node int) workload.Op {
		return func(ctx context.Context, _ int, rng *rand.Rand) error {
			return t.Get(ctx, node, b.keys.Key(rng.IntN(b.keys.N())), c)
		}
	}
}

func (b *bench) cluster3(ctx context.Context) error {
	if !b.want("write") && !b.want("read") && !b.want("mix") && !b.want("watch") && !b.want("rss") {
		return nil
	}
	ts, err := b.start(ctx, 3)
	if err != nil {
		return err
	}
	defer closeAll(ts)
	if err := b.preload(ctx, ts); err != nil {
		return err
	}
	for _, c := range []int{1, 16, 64} {
		b.closed(ctx, fmt.Sprintf("write, %d client(s), to leader", c), ts, c, leader, b.putOp)
	}
	for _, where := range []struct {
		name string
		pick nodeFor
	}{{"leader", leader}, {"follower", follower}} {
		b.closed(ctx, "read linearizable, 64 clients, on "+where.name, ts, 64, where.pick, b.getOp(target.Linearizable))
		b.closed(ctx, "read stale (etcd serializable), 64 clients, on "+where.name, ts, 64, where.pick, b.getOp(target.Stale))
	}
	b.closed(ctx, "mix 100:1 read:write, 64 clients over all nodes (linearizable reads)", ts, 64,
		func(context.Context, target.Target) (int, error) { return 0, nil },
		func(t target.Target, _ int) workload.Op {
			return func(ctx context.Context, c int, rng *rand.Rand) error {
				node := c % t.Nodes()
				k := b.keys.Key(rng.IntN(b.keys.N()))
				if rng.IntN(101) == 0 {
					_, err := t.Put(ctx, node, k, b.vals.Pick(rng))
					return err
				}
				return t.Get(ctx, node, k, target.Linearizable)
			}
		})
	for _, w := range b.o.watchers {
		b.watch(ctx, ts, w)
	}
	return b.rss(ctx, ts)
}

func (b *bench) watch(ctx context.Context, ts [2]target.Target, watchers int) {
	name := fmt.Sprintf("watch fan-out, %d watchers on one prefix, %g writes/s (ack → receipt)", watchers, b.o.watchRate)
	if !b.want(name) || ctx.Err() != nil {
		return
	}
	var res [2]workload.Result
	var notes [2][]string
	for round := range b.o.rounds {
		for i, t := range ts {
			var prof chan struct{}
			if s, ok := t.(*target.Schemakv); ok && round == 0 && s.PprofURL(0) != "" {
				// Registration comes first; profile the leader over a
				// window that covers the write phase.
				prof = make(chan struct{})
				go func() {
					defer close(prof)
					l, err := s.Leader(ctx)
					if err != nil {
						return
					}
					b.cpuProfile(ctx, s.PprofURL(l), name, int(b.o.watchD.Seconds())+int(watchers/1000)+2)
				}()
			}
			s0, c0 := procs.CPUOf(t.PIDs()), procs.CPUOf([]int{0})
			r, err := workload.Watch(ctx, t, watchers, b.o.watchRate, b.o.watchD, b.o.watchSetupTimeout, b.keys, b.vals, procs.RSSOf)
			if err != nil {
				notes[i] = append(notes[i], fmt.Sprintf("round %d failed: %v", round+1, err))
				continue
			}
			b.log.Info("ran", "workload", name, "target", t.Name(), "round", round+1, "ready", r.Ready,
				"writes", r.Writes, "delivered", r.Ops, "expected", r.Expected, "p99", r.Percentile(99))
			notes[i] = append(notes[i], fmt.Sprintf("round %d: %d/%d watchers registered in %s, %d writes (%d ticks skipped: 64 writes in flight), %d/%d notifications delivered (backlog drained for %s), %d watch errors%s, RSS per node with watchers open %s",
				round+1, r.Ready, r.Watchers, r.Setup.Round(time.Millisecond), r.Writes, r.Skipped, r.Ops, r.Expected, r.Drain.Round(time.Millisecond), r.WatchErrors,
				firstErr(r.FirstWatchErr), mib(r.RSS)))
			r.ServerCPU, r.ClientCPU = procs.CPUOf(t.PIDs())-s0, procs.CPUOf([]int{0})-c0
			if prof != nil {
				<-prof
			}
			res[i].Merge(r.Result)
		}
	}
	row := report.Row{Workload: name, Kind: report.KindWatch}
	row.S, row.E = cell(res[0], ""), cell(res[1], "")
	row.S.Note = joinNote(row.S.Note, notes[0])
	row.E.Note = joinNote(row.E.Note, notes[1])
	b.rows = append(b.rows, row)
}

func firstErr(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (first: %.160s)", s)
}

func joinNote(n string, more []string) string {
	all := append([]string{}, more...)
	if n != "" {
		all = append(all, n)
	}
	return strings.Join(all, "; ")
}

func mib(v []int64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.0f", float64(x)/(1<<20)))
	}
	return "[" + strings.Join(s, ", ") + "] MiB"
}

// rss loads o.entries entries into each 3-node cluster and reads every
// node's VmRSS.
func (b *bench) rss(ctx context.Context, ts [2]target.Target) error {
	name := fmt.Sprintf("RSS after loading %d entries, largest node of 3", b.o.entries)
	if !b.want("rss") || ctx.Err() != nil {
		return ctx.Err()
	}
	keys := workload.Keys{Apps: max(b.o.entries/1000, 1), PerApp: 1000}
	row := report.Row{Workload: name, Kind: report.KindMiB}
	for i, t := range ts {
		c := &row.S
		if i == 1 {
			c = &row.E
		}
		l, err := t.Leader(ctx)
		if err != nil {
			c.Missing = err.Error()
			continue
		}
		took, err := workload.Load(ctx, t, l, keys, b.vals, 0, keys.N(), 100, 16)
		if err != nil {
			c.Missing = err.Error()
			continue
		}
		time.Sleep(3 * time.Second) // let the followers apply and settle
		var rs []int64
		var top int64
		for _, pid := range t.PIDs() {
			v, err := procs.RSSOf(pid)
			if err != nil {
				return err
			}
			rs = append(rs, v)
			top = max(top, v)
		}
		if s, ok := t.(*target.Schemakv); ok && s.PprofURL(l) != "" {
			b.saveProfile(ctx, s.PprofURL(l)+"heap", "rss-heap-leader")
		}
		c.Value = float64(top) / (1 << 20)
		c.Note = fmt.Sprintf("loaded %d entries in batches of 100 in %s (%.0f entries/s); RSS per node (leader is node %d) %s",
			keys.N(), took.Round(time.Millisecond), float64(keys.N())/took.Seconds(), l+1, mib(rs))
		b.log.Info("rss", "target", t.Name(), "per_node", mib(rs))
	}
	b.rows = append(b.rows, row)
	return nil
}

func (b *bench) cluster1(ctx context.Context) error {
	if !b.want("1-node") && !b.want("restart") || ctx.Err() != nil {
		return ctx.Err()
	}
	ts, err := b.start(ctx, 1)
	if err != nil {
		return err
	}
	defer closeAll(ts)
	if err := b.preload(ctx, ts); err != nil {
		return err
	}
	b.closed(ctx, "1-node: write, 64 clients", ts, 64, leader, b.putOp)
	b.closed(ctx, "1-node: read linearizable, 64 clients", ts, 64, leader, b.getOp(target.Linearizable))
	if !b.want("restart") {
		return nil
	}
	loaded := 0
	for _, n := range b.o.restartEntries {
		keys := workload.Keys{Apps: max(n/1000, 1), PerApp: 1000}
		for _, t := range ts {
			b.log.Info("loading", "target", t.Name(), "entries", keys.N()-loaded)
			took, err := workload.Load(ctx, t, 0, keys, b.vals, loaded, keys.N(), 100, 16)
			if err != nil {
				return fmt.Errorf("%s load for restart: %w", t.Name(), err)
			}
			b.log.Info("loaded", "target", t.Name(), "took", took.Round(time.Millisecond))
		}
		loaded = keys.N()
		var stale, lin [2][]time.Duration
		var miss [2]string
		for range b.o.rounds {
			for i, t := range ts {
				s, l, err := restartOnce(ctx, t, keys.Key(0))
				if err != nil {
					miss[i] = err.Error()
					continue
				}
				b.log.Info("restart", "target", t.Name(), "entries", n, "to_stale_read", s, "to_linearizable_read", l)
				stale[i] = append(stale[i], s)
				lin[i] = append(lin[i], l)
			}
		}
		for _, k := range []struct {
			what string
			v    [2][]time.Duration
		}{{"first stale/serializable read", stale}, {"first linearizable read", lin}} {
			row := report.Row{Workload: fmt.Sprintf("restart, 1 node, %d entries: process start → %s", n, k.what), Kind: report.KindSeconds}
			row.S, row.E = secs(k.v[0], miss[0]), secs(k.v[1], miss[1])
			b.rows = append(b.rows, row)
		}
	}
	return nil
}

// secs is the median of ds (the rounds), in seconds, with every round in
// the note.
func secs(ds []time.Duration, miss string) report.Cell {
	if len(ds) == 0 {
		return report.Cell{Missing: miss}
	}
	r := workload.Result{Lat: append([]time.Duration{}, ds...)}
	var s []string
	for _, d := range ds {
		s = append(s, d.Round(time.Millisecond).String())
	}
	return report.Cell{Value: r.Percentile(50).Seconds(), Note: "rounds: " + strings.Join(s, ", ")}
}

// restartOnce stops the single node, starts it again and measures the time
// from the process start to the first successful stale read and then to
// the first successful linearizable read of key.
func restartOnce(ctx context.Context, t target.Target, key string) (stale, lin time.Duration, err error) {
	t.StopNode(0)
	t0, err := t.StartNode(0)
	if err != nil {
		return 0, 0, err
	}
	try := func(c target.Consistency) (time.Duration, error) {
		err := procs.Poll(ctx, 5*time.Minute, 2*time.Millisecond, func(ctx context.Context) error {
			cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			return t.Get(cctx, 0, key, c)
		})
		return time.Since(t0), err
	}
	if stale, err = try(target.Stale); err != nil {
		return 0, 0, err
	}
	lin, err = try(target.Linearizable)
	return stale, lin, err
}

func (b *bench) render(w *strings.Builder, m report.Machine, took time.Duration) {
	o := b.o
	fmt.Fprintf(w, "# schemakv vs etcd — %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	if b.interrupted {
		fmt.Fprintln(w, "**Interrupted: only the rows measured before the stop.**")
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "- machine: %d cores, %s, %s RAM, Linux %s\n", m.Cores, m.CPU, m.MemTotal, m.Kernel)
	fmt.Fprintf(w, "- disk: %.0f fsyncs/s (4 KiB write + fdatasync in a loop for 2 s in the data directory)\n", m.FsyncRate)
	fmt.Fprintf(w, "- load average at start / end: %s / %s\n", m.LoadStart, m.LoadEnd)
	fmt.Fprintf(w, "- versions: schemakv %s; etcd %s (client go.etcd.io/etcd/client/v3 v3.6.8)\n", cmp.Or(o.version, "?"), version(o.etcdBin, "--version"))
	fmt.Fprintf(w, "- run: %s per workload per round, %d rounds alternating schemakv, etcd (A B A B), watch write phase %s; took %s\n",
		o.d, o.rounds, o.watchD, took.Round(time.Second))
	fmt.Fprintf(w, "- clusters: 3 processes each on loopback (schemakv %s, etcd %s), both running for the whole 3-node part; a client process (this tool) on the same 2 cores\n\n",
		strings.Join(o.ips3S, ","), strings.Join(o.ips3E, ","))
	report.Table(w, b.rows)
	fmt.Fprintf(w, "\nValues are ~%d bytes of JSON; schemakv validates each against schema/testdata/service.schema.json (validation cost included); etcd stores them as bytes. Keys app-N/key-M, %d keys for the operation rows. Latency is per operation, as the client sees it. Ratios > 1 favour schemakv for throughput, < 1 for p99, RSS and time.\n\n",
		len(b.vals[0]), b.keys.N())
	fmt.Fprintln(w, "## CPU per operation")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU time (user + system, from /proc/PID/stat) used during each run by all of a system's server processes, and by this tool as its client, divided by the operations (for watch rows: notifications) it completed. Unlike throughput this hardly depends on what else the machine is running.")
	fmt.Fprintln(w)
	report.CPUTable(w, b.rows)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Targets (issue 8)")
	fmt.Fprintln(w)
	b.targets(w)
	fmt.Fprintln(w, "\n## Notes per row")
	fmt.Fprintln(w)
	report.Notes(w, b.rows)
}

func version(bin, arg string) string {
	out, err := exec.Command(bin, arg).CombinedOutput()
	if err != nil {
		return "?"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimPrefix(strings.TrimSpace(line), "etcd Version: ")
}

func (b *bench) find(prefix string) (report.Row, bool) {
	for _, r := range b.rows {
		if strings.HasPrefix(r.Workload, prefix) {
			return r, true
		}
	}
	return report.Row{}, false
}

func (b *bench) targets(w *strings.Builder) {
	fmt.Fprintln(w, "| target | measured | verdict |")
	fmt.Fprintln(w, "|---|---:|---|")
	check := func(what, prefix string, goal float64, atLeast bool) {
		r, ok := b.find(prefix)
		if !ok || r.Ratio() == 0 {
			fmt.Fprintf(w, "| %s | not measured | — |\n", what)
			return
		}
		v := r.Ratio()
		met := v >= goal
		if !atLeast {
			met = v <= goal
		}
		verdict := "met"
		if !met {
			if atLeast {
				verdict = fmt.Sprintf("missed: %.0f%% of the goal", 100*v/goal)
			} else {
				verdict = fmt.Sprintf("missed: %.2f× the allowed", v/goal)
			}
		}
		fmt.Fprintf(w, "| %s | %.2f× | %s |\n", what, v, verdict)
	}
	check("stale reads ≥ 3× etcd serializable (leader)", "read stale (etcd serializable), 64 clients, on leader", 3, true)
	check("stale reads ≥ 3× etcd serializable (follower)", "read stale (etcd serializable), 64 clients, on follower", 3, true)
	check("linearizable reads ≥ 2× etcd (leader)", "read linearizable, 64 clients, on leader", 2, true)
	check("linearizable reads ≥ 2× etcd (follower)", "read linearizable, 64 clients, on follower", 2, true)
	check("writes at 64 clients ≥ 1.5× etcd, validation on", "write, 64 client(s)", 1.5, true)
	check("watch p99 at 1,000 watchers ≤ 0.5× etcd", "watch fan-out, 1000 watchers", 0.5, false)
	check("RSS after entries ≤ 0.7× etcd", "RSS after", 0.7, false)
}
