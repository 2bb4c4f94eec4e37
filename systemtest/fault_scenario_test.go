package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Fault tests: a cluster under concurrent clients while one fault at a
// time is injected, each fault's history checked for linearizability.
//
// SCHEMAKV_CHAOS_DURATION (a Go duration such as 10m) makes the fault loop
// run that long, cycling through the faults in random order, for soak runs;
// without it each fault runs once.

// Raft tuning of the fault clusters: frequent snapshots and short trailing
// logs, so that snapshots are taken under load in every phase, and a
// follower cut off for a few thousand entries must catch up by snapshot.
const (
	faultSnapshotThreshold = 256
	faultTrailingLogs      = 128
	faultSnapshotInterval  = time.Second
)

func faultClusterArgs() []string {
	return []string{
		"--snapshot-threshold", fmt.Sprint(faultSnapshotThreshold),
		"--trailing-logs", fmt.Sprint(faultTrailingLogs),
		"--snapshot-interval", faultSnapshotInterval.String(),
	}
}

// TestFault_Linearizable_Processes runs the linearizability scenario on a
// cluster of three voter processes and one read replica.
func TestFault_Linearizable_Processes(t *testing.T) {
	needBinary(t)
	c := newProcCluster(t, procClusterOptions{ReadReplica: true, ExtraArgs: faultClusterArgs()})
	scenarioLinearizable(t, c, defaultLinzParams(t))
}

// linzParams sizes the linearizability scenario.
type linzParams struct {
	Clients      int           // concurrent clients, spread over the nodes
	Keys         int           // keys per fault (each fault's history has its own keys)
	Timeout      time.Duration // client request timeout
	Warmup       time.Duration // traffic before the fault
	Hold         time.Duration // how long a fault lasts (at least)
	Recover      time.Duration // traffic after the cluster has recovered
	Duration     time.Duration // soak: keep injecting faults this long (0: each fault once)
	CheckTimeout time.Duration // porcupine's budget per history
	// SnapshotEntries is how many entries to write while a follower is cut
	// off so that it must catch up by snapshot: well above the snapshot
	// threshold plus the trailing logs the cluster was started with.
	SnapshotEntries int
}

func defaultLinzParams(t testing.TB) linzParams {
	p := linzParams{
		Clients: 8, Keys: 5, Timeout: 2 * time.Second,
		Warmup: 1500 * time.Millisecond, Hold: 4 * time.Second, Recover: 2 * time.Second,
		CheckTimeout:    2 * time.Minute,
		SnapshotEntries: 6 * (faultSnapshotThreshold + faultTrailingLogs),
	}
	if d := os.Getenv("SCHEMAKV_CHAOS_DURATION"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("SCHEMAKV_CHAOS_DURATION=%q: %v", d, err)
		}
		p.Duration = dur
	}
	return p
}

// fault is one kind of fault the scenario injects.
type fault struct {
	name      string
	partition bool // needs faultCluster.Partition
	inject    func(ph *phase)
}

var faults = []fault{
	{name: "kill-leader", inject: faultKillLeader},
	{name: "kill-follower", inject: faultKillFollower},
	{name: "pause-leader", inject: faultPauseLeader},
	{name: "partition-leader", partition: true, inject: faultPartitionLeader},
	{name: "partition-follower-snapshot", partition: true, inject: faultPartitionSnapshot},
}

// phase is one fault under traffic: its workload, its parameters and what
// it measured.
type phase struct {
	t     *testing.T
	c     faultCluster
	p     linzParams
	w     *kvWorkload
	notes []porcupine.Annotation

	elections []time.Duration // fault -> a new leader claimed
	writesOK  []time.Duration // fault -> first write answered
	effective int64           // when the fault took effect (history time)
}

// struck records that the fault has just taken effect.
func (ph *phase) struck() { ph.effective = ph.w.now() }

// note adds an annotation to the history's visualisation.
func (ph *phase) note(start, end int64, what string) {
	ph.notes = append(ph.notes, porcupine.Annotation{
		Tag: "faults", Start: start, End: end, Description: what, BackgroundColor: "#ffd0d0",
	})
}

// linzTotals add up the figures of every phase for the final report.
type linzTotals struct {
	mu                    sync.Mutex
	phases, ops, unknown  int
	stale                 int
	elections, firstWrite []time.Duration
	faults                map[string]int
	checkTime             time.Duration
}

// scenarioLinearizable injects each fault once (or, with p.Duration, keeps
// cycling through them) under p.Clients clients, checks each fault's
// history, and finally checks that every node holds the same state.
func scenarioLinearizable(t *testing.T, c faultCluster, p linzParams) {
	const ns = "linz"
	setupFaultNamespace(t, c.URL(c.Nodes()[0]), ns)
	setupFaultNamespace(t, c.URL(c.Nodes()[0]), fillerNS)
	tot := &linzTotals{faults: map[string]int{}}
	start := time.Now()
	order := slices.Clone(faults)
	for round := 0; ; round++ {
		if round > 0 {
			if p.Duration == 0 || time.Since(start) >= p.Duration {
				break
			}
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for _, f := range order {
			if round > 0 && time.Since(start) >= p.Duration {
				break
			}
			name := fmt.Sprintf("%s#%d", f.name, round)
			ok := t.Run(name, func(t *testing.T) {
				if f.partition {
					if ok, why := c.CanPartition(); !ok {
						t.Skipf("!!! SKIPPED: %s cannot partition nodes here: %s", name, why)
					}
				}
				runPhase(t, c, p, f, fmt.Sprintf("r%df%s", round, f.name), ns, tot)
			})
			if !ok {
				t.Fatalf("stopping after the failed phase %s", name)
			}
		}
	}
	waitClusterFormed(t, c, time.Minute)
	idx := waitConverged(t, c, time.Minute)
	compareNodeStates(t, c, ns, fillerNS)
	tot.mu.Lock()
	defer tot.mu.Unlock()
	t.Logf("SUMMARY: %d phases in %v; faults injected %v; %d operations checked (%d indeterminate), %d stale reads checked; porcupine took %v in all; "+
		"elections after a leader fault %v; first write answered after each fault %v; all %d nodes identical at applied index %d",
		tot.phases, time.Since(start).Round(time.Second), tot.faults, tot.ops, tot.unknown, tot.stale, tot.checkTime.Round(time.Millisecond),
		roundAll(tot.elections), roundAll(tot.firstWrite), len(c.Nodes()), idx)
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// runPhase runs one fault under traffic and checks its history.
func runPhase(t *testing.T, c faultCluster, p linzParams, f fault, tag, ns string, tot *linzTotals) {
	var keys []string
	for i := range p.Keys {
		keys = append(keys, fmt.Sprintf("%s/k%d", tag, i))
	}
	w := newKVWorkload(c, ns, tag, keys, p.Timeout)
	ph := &phase{t: t, c: c, p: p, w: w}
	w.start(p.Clients)
	halted := false
	defer func() {
		if !halted {
			w.halt()
		}
	}()

	time.Sleep(p.Warmup)
	w.mu.Lock()
	warm := len(w.ops)
	w.mu.Unlock()
	if warm < 10 {
		t.Fatalf("only %d operations answered in the %v before the fault: the cluster is not serving", warm, p.Warmup)
	}

	faultAt := w.now()
	f.inject(ph)
	healedAt := w.now()
	ph.note(faultAt, healedAt, f.name)
	if ph.effective == 0 {
		ph.effective = faultAt
	}

	// Recovery: every node ready and agreeing on a leader, then traffic.
	waitClusterFormed(t, c, time.Minute)
	recovered := time.Duration(w.now() - healedAt)
	if d, what, ok := w.firstAckAfter(ph.effective); ok {
		ph.writesOK = append(ph.writesOK, d)
		t.Logf("%s: first write answered after the fault: %s", f.name, what)
	}
	time.Sleep(p.Recover)
	w.halt()
	halted = true

	ops, stale := w.history()
	res, err := checkLinearizable(artifactsDir(t), t.Name(), ops, stale, ph.notes, p.CheckTimeout)
	if err != nil {
		t.Errorf("checker: %v", err)
	}
	w.mu.Lock()
	counts := fmt.Sprint(w.counts)
	odd := slices.Clone(w.odd)
	w.mu.Unlock()
	t.Logf("%s: %d operations on %d keys (%d indeterminate), %d stale reads; porcupine: %v in %v; tallies %s",
		f.name, res.Ops, res.Keys, res.Unknown, len(stale), res.Result, res.Elapsed.Round(time.Millisecond), counts)
	gap, gapAt := w.longestWriteGap()
	t.Logf("%s: fault lasted %v; new leader after %v; first write answered %v after the fault; cluster ready again %v after healing; longest time without a write answered %v (from %v after the fault)",
		f.name, time.Duration(healedAt-ph.effective).Round(time.Millisecond), roundAll(ph.elections), roundAll(ph.writesOK), recovered.Round(time.Millisecond),
		gap.Round(time.Millisecond), time.Duration(gapAt-ph.effective).Round(time.Millisecond))

	switch res.Result {
	case porcupine.Ok:
	case porcupine.Illegal:
		t.Errorf("LINEARIZABILITY VIOLATION in %s: the history of %d operations is not linearizable; visualisation: %s", f.name, res.Ops, res.HTML)
	default:
		t.Errorf("porcupine could not decide within %v (%d operations, %d indeterminate); visualisation: %s", p.CheckTimeout, res.Ops, res.Unknown, res.HTML)
	}
	for _, pr := range res.Problems {
		t.Errorf("contradictory answers: %s", pr)
	}
	for _, pr := range checkStaleReads(stale) {
		t.Errorf("STALE READ VIOLATION: %s", pr)
	}
	for _, pr := range w.refusedButSeen(ops, stale) {
		t.Errorf("WRITE REFUSED BUT DONE: %s", pr)
	}
	for i, o := range odd {
		if i == 10 {
			t.Errorf("... and %d more unexpected answers", len(odd)-i)
			break
		}
		t.Errorf("unexpected answer: %s", o)
	}

	tot.mu.Lock()
	tot.phases++
	tot.ops += res.Ops
	tot.unknown += res.Unknown
	tot.stale += len(stale)
	tot.elections = append(tot.elections, ph.elections...)
	tot.firstWrite = append(tot.firstWrite, ph.writesOK...)
	tot.faults[f.name]++
	tot.checkTime += res.Elapsed
	tot.mu.Unlock()
}

// leaderNow returns the current leader and its term, waiting for one.
func (ph *phase) leaderNow() (string, uint64) {
	l, term, _ := waitLeader(ph.t, ph.c, ph.c.Voters(), 0, 30*time.Second)
	return l, term
}

// awaitNewLeader waits for a voter other than old to claim leadership in a
// term above term, and records how long that took since at.
func (ph *phase) awaitNewLeader(old string, term uint64, at time.Time) string {
	ph.t.Helper()
	l, newTerm, seen := waitLeader(ph.t, ph.c, others(ph.c.Voters(), old), term, 30*time.Second)
	d := seen.Sub(at)
	ph.elections = append(ph.elections, d)
	ph.t.Logf("%s leads in term %d, %v after the fault on %s (term %d)", l, newTerm, d.Round(time.Millisecond), old, term)
	return l
}

// holdUntil sleeps until at + the phase's hold time.
func (ph *phase) holdUntil(at time.Time) {
	if d := time.Until(at.Add(ph.p.Hold)); d > 0 {
		time.Sleep(d)
	}
}

func faultKillLeader(ph *phase) {
	leader, term := ph.leaderNow()
	at := time.Now()
	ph.c.Kill(ph.t, leader)
	ph.struck()
	ph.t.Logf("killed the leader %s (SIGKILL)", leader)
	ph.awaitNewLeader(leader, term, at)
	ph.holdUntil(at)
	ph.c.Restart(ph.t, leader)
	ph.t.Logf("restarted %s after %v", leader, time.Since(at).Round(time.Millisecond))
}

func faultKillFollower(ph *phase) {
	leader, _ := ph.leaderNow()
	follower := pick(others(ph.c.Voters(), leader))
	at := time.Now()
	ph.c.Kill(ph.t, follower)
	ph.struck()
	ph.t.Logf("killed the follower %s (SIGKILL); %s leads", follower, leader)
	ph.holdUntil(at)
	ph.c.Restart(ph.t, follower)
	ph.t.Logf("restarted %s after %v", follower, time.Since(at).Round(time.Millisecond))
}

func faultPauseLeader(ph *phase) {
	leader, term := ph.leaderNow()
	at := time.Now()
	ph.c.Pause(ph.t, leader)
	ph.struck()
	ph.t.Logf("paused the leader %s (SIGSTOP)", leader)
	ph.awaitNewLeader(leader, term, at)
	ph.holdUntil(at)
	ph.c.Resume(ph.t, leader)
	ph.t.Logf("resumed %s (SIGCONT) after %v", leader, time.Since(at).Round(time.Millisecond))
}

func faultPartitionLeader(ph *phase) {
	leader, term := ph.leaderNow()
	at := time.Now()
	ph.c.Partition(ph.t, leader)
	ph.struck()
	ph.t.Logf("isolated the leader %s from the other nodes", leader)
	ph.awaitNewLeader(leader, term, at)
	ph.holdUntil(at)
	ph.c.Heal(ph.t)
	ph.t.Logf("healed the partition after %v", time.Since(at).Round(time.Millisecond))
}

// fillerNS receives the entries written to push a cut-off follower past
// the leader's log.
const fillerNS = "filler"

// snapshotInstalledMsg is what a node logs when it restores a snapshot
// (fsm.Restore): at start from a snapshot, or installed from the leader.
const snapshotInstalledMsg = "restored state from snapshot"

func faultPartitionSnapshot(ph *phase) {
	leader, _ := ph.leaderNow()
	follower := pick(others(ph.c.Voters(), leader))
	before := strings.Count(ph.c.Logs(follower), snapshotInstalledMsg)
	cut := appliedIndexes(ph.c, []string{follower})[follower]
	at := time.Now()
	ph.c.Partition(ph.t, follower)
	ph.struck()
	ph.t.Logf("isolated the follower %s (applied index %d); writing %d entries while it is cut off", follower, cut, ph.p.SnapshotEntries)
	n := fill(ph.t, ph.c.URL(leader), ph.p.SnapshotEntries)
	// The leader snapshots when it checks (every 1-2 snapshot intervals)
	// and compacts its log down to the trailing logs: give it two checks.
	time.Sleep(2*faultSnapshotInterval + 500*time.Millisecond)
	ph.holdUntil(at)
	lead := appliedIndexes(ph.c, []string{leader})[leader]
	ph.t.Logf("%d filler entries written in %v; leader %s at applied index %d, %d entries past %s",
		n, time.Since(at).Round(time.Millisecond), leader, lead, lead-cut, follower)
	ph.c.Heal(ph.t)
	healed := time.Now()
	deadline := healed.Add(time.Minute)
	for {
		idx := appliedIndexes(ph.c, []string{leader, follower})
		if idx[follower] >= lead {
			break
		}
		if time.Now().After(deadline) {
			ph.t.Fatalf("%s did not catch up within a minute of the heal: applied %v, leader was at %d", follower, idx, lead)
		}
		time.Sleep(50 * time.Millisecond)
	}
	installs := strings.Count(ph.c.Logs(follower), snapshotInstalledMsg) - before
	ph.t.Logf("%s caught up to %d within %v of the heal, restoring %d snapshot(s)", follower, lead, time.Since(healed).Round(time.Millisecond), installs)
	if installs == 0 {
		ph.t.Errorf("%s caught up without installing a snapshot: the scenario did not test what it claims (raise SnapshotEntries or lower --trailing-logs)", follower)
	}
}

// fill writes n single-key entries to the filler namespace through base
// with 16 writers, and returns how many were acknowledged. A write that
// fails is retried under another key; each attempt is bounded.
func fill(t testing.TB, base string, n int) int {
	t.Helper()
	var (
		next, acked atomic.Int64
		failures    atomic.Int64
		wg          sync.WaitGroup
	)
	deadline := time.Now().Add(time.Minute)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for acked.Load() < int64(n) && time.Now().Before(deadline) {
				i := next.Add(1)
				body := fmt.Sprintf(`{"schema": "item@1", "value": {"w": "f%d"}}`, i)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				status, _, _, err := doHTTP(ctx, http.MethodPut, fmt.Sprintf("%s/v1/namespaces/%s/configs/f/%d", base, fillerNS, i%4096), body, nil)
				cancel()
				if err == nil && (status == http.StatusOK || status == http.StatusCreated) {
					acked.Add(1)
				} else {
					failures.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if acked.Load() < int64(n) {
		t.Fatalf("only %d of %d filler writes acknowledged within a minute (%d failed)", acked.Load(), n, failures.Load())
	}
	return int(acked.Load())
}

func pick(s []string) string { return s[rand.IntN(len(s))] }
