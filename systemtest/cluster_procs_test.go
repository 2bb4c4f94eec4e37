package systemtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/schemakv/schemakv/internal/testport"
)

// procClusterOptions sizes a cluster of processes.
type procClusterOptions struct {
	// Voters is the number of voting nodes (3 unless set).
	Voters int
	// ReadReplica adds one --read-replica node.
	ReadReplica bool
	// FirstIP is the last octet of the first node's loopback address; node
	// i listens on 127.0.0.(FirstIP+i). Default 11, away from 127.0.0.1
	// where other tests and `make run` listen.
	FirstIP int
	// ExtraArgs are appended to every node's flags (raft tuning).
	ExtraArgs []string
}

// procCluster is a faultCluster of `schemakv server` processes on one
// machine, each on its own loopback address (127.0.0.11, .12, ...) with
// ports chosen free. Each process runs with its own group id when the test
// runs as root, so that the iptables rules of procPartitioner can tell its
// outgoing connections from the others' (on loopback every connection
// leaves from 127.0.0.1 whatever address the peer listens on).
type procCluster struct {
	t      testing.TB
	dir    string
	nodes  []*procNode
	byName map[string]*procNode
	voters []string
	part   *procPartitioner

	mu sync.Mutex // guards procNode.cur
}

// procNode is one node: its fixed addresses and flags, and the current
// process.
type procNode struct {
	name      string
	ip        string
	httpAddr  string
	raftPort  int
	gossipPrt int
	gid       uint32 // 0: not set (not root)
	dataDir   string
	args      []string
	logs      []string // log files of every incarnation, oldest first
	cur       *proc
	paused    bool
}

// newProcCluster starts a cluster of processes and waits until it has
// formed: one leader, every voter a voter, every replica a non-voter, and
// every node ready.
func newProcCluster(t testing.TB, o procClusterOptions) *procCluster {
	t.Helper()
	c := newProcClusterUnformed(t, o)
	waitClusterFormed(t, c, 60*time.Second)
	leader, term, _ := currentLeader(c, c.Nodes())
	t.Logf("cluster of %d processes formed: leader %s, term %d", len(c.nodes), leader, term)
	return c
}

// newProcClusterUnformed starts the processes and returns once each one
// serves /v1/health, without waiting for the cluster to form.
func newProcClusterUnformed(t testing.TB, o procClusterOptions) *procCluster {
	t.Helper()
	needBinary(t)
	if o.Voters == 0 {
		o.Voters = 3
	}
	if o.FirstIP == 0 {
		o.FirstIP = 11
	}
	c := &procCluster{t: t, dir: t.TempDir(), byName: map[string]*procNode{}}
	total := o.Voters
	if o.ReadReplica {
		total++
	}
	var join []string
	root := os.Geteuid() == 0
	gidBase := 40000 + uint32(os.Getpid()%2000)*10
	for i := range total {
		ip := fmt.Sprintf("127.0.0.%d", o.FirstIP+i)
		ports := freePorts(t, ip, 3)
		n := &procNode{
			name:      fmt.Sprintf("n%d", i+1),
			ip:        ip,
			httpAddr:  net.JoinHostPort(ip, strconv.Itoa(ports[0])),
			raftPort:  ports[1],
			gossipPrt: ports[2],
		}
		if i >= o.Voters {
			n.name = fmt.Sprintf("r%d", i+1)
		} else {
			c.voters = append(c.voters, n.name)
		}
		if root {
			n.gid = gidBase + uint32(i)
		}
		n.dataDir = filepath.Join(c.dir, n.name)
		join = append(join, net.JoinHostPort(ip, strconv.Itoa(n.gossipPrt)))
		c.nodes = append(c.nodes, n)
		c.byName[n.name] = n
	}
	for i, n := range c.nodes {
		n.args = []string{"server",
			"--node-id", n.name,
			"--data-dir", n.dataDir,
			"--http-addr", n.httpAddr,
			"--raft-addr", net.JoinHostPort(n.ip, strconv.Itoa(n.raftPort)),
			"--gossip-addr", net.JoinHostPort(n.ip, strconv.Itoa(n.gossipPrt)),
			"--join", strings.Join(join, ","),
			"--log-format", "json",
		}
		if i < o.Voters {
			n.args = append(n.args, "--bootstrap-expect", strconv.Itoa(o.Voters))
		} else {
			n.args = append(n.args, "--read-replica")
		}
		n.args = append(n.args, o.ExtraArgs...)
	}
	c.part = newProcPartitioner(t, c)
	// Start every node before waiting for any: voters wait for each other.
	for _, n := range c.nodes {
		c.launch(t, n)
	}
	for _, n := range c.nodes {
		c.waitServing(t, n)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.saveLogs(t)
		}
	})
	return c
}

// freePorts returns n distinct ports on ip that are free for TCP and UDP
// now and outside the kernel's ephemeral range (see internal/testport).
func freePorts(t testing.TB, ip string, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		p, err := testport.Free(ip)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

// launch starts n's process without waiting for it to serve.
func (c *procCluster) launch(t testing.TB, n *procNode) {
	t.Helper()
	bin := needBinary(t)
	inc := len(n.logs) + 1
	p := &proc{
		t:       t,
		name:    fmt.Sprintf("%s#%d", n.name, inc),
		dataDir: n.dataDir,
		logPath: filepath.Join(c.dir, fmt.Sprintf("%s.%d.log", n.name, inc)),
		exited:  make(chan struct{}),
	}
	f, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.logFile = f
	p.cmd = exec.Command(bin, n.args...)
	p.cmd.Env = serverEnv()
	p.cmd.Stdout = f
	p.cmd.Stderr = f
	if n.gid != 0 {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: uint32(os.Geteuid()), Gid: n.gid, NoSetGroups: true,
		}}
	}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	// The process belongs to the cluster, which outlives a subtest that
	// restarts a node: clean up with the test that made the cluster.
	c.t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			select {
			case <-p.exited:
			case <-time.After(killTimeout):
				c.t.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
			}
		}
		p.logFile.Close()
	})
	c.mu.Lock()
	n.cur = p
	n.paused = false
	n.logs = append(n.logs, p.logPath)
	c.mu.Unlock()
	t.Logf("%s: pid %d (gid %d): schemakv %s", p.name, p.cmd.Process.Pid, n.gid, strings.Join(n.args, " "))
}

// waitServing waits for n's start record and a 200 from /v1/health.
func (c *procCluster) waitServing(t testing.TB, n *procNode) {
	t.Helper()
	p := c.proc(n)
	deadline := time.Now().Add(startTimeout)
	for {
		if line, ok := p.findStarted(); ok {
			p.Started = line
			break
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it started (%v); its log:\n%s", p.name, p.waitErr, p.logTail(16<<10))
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q log line after %v", p.name, startedMsg, startTimeout)
		}
	}
	p.waitHealthy(t, deadline)
}

func (c *procCluster) proc(n *procNode) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.cur
}

func (c *procCluster) node(t testing.TB, name string) *procNode {
	t.Helper()
	n, ok := c.byName[name]
	if !ok {
		t.Fatalf("no node %q in %v", name, c.Nodes())
	}
	return n
}

func (c *procCluster) Nodes() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.name
	}
	return out
}

func (c *procCluster) Voters() []string { return append([]string(nil), c.voters...) }

func (c *procCluster) URL(node string) string { return "http://" + c.byName[node].httpAddr }

func (c *procCluster) Kill(t testing.TB, node string) {
	t.Helper()
	n := c.node(t, node)
	p := c.proc(n)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("%s: SIGKILL: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(killTimeout):
		t.Fatalf("%s: not reaped %v after SIGKILL", p.name, killTimeout)
	}
	c.mu.Lock()
	n.paused = false
	c.mu.Unlock()
}

func (c *procCluster) Restart(t testing.TB, node string) {
	t.Helper()
	n := c.node(t, node)
	select {
	case <-c.proc(n).exited:
	default:
		t.Fatalf("%s: restart while its process is still running", node)
	}
	c.launch(t, n)
	c.waitServing(t, n)
}

func (c *procCluster) signal(t testing.TB, node string, sig syscall.Signal, paused bool) {
	t.Helper()
	n := c.node(t, node)
	p := c.proc(n)
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v: %v", p.name, sig, err)
	}
	c.mu.Lock()
	n.paused = paused
	c.mu.Unlock()
}

func (c *procCluster) Pause(t testing.TB, node string) {
	t.Helper()
	c.signal(t, node, syscall.SIGSTOP, true)
}

func (c *procCluster) Resume(t testing.TB, node string) {
	t.Helper()
	c.signal(t, node, syscall.SIGCONT, false)
}

func (c *procCluster) CanPartition() (bool, string) { return c.part.usable() }

func (c *procCluster) Partition(t testing.TB, node string) {
	t.Helper()
	c.part.isolate(t, c.node(t, node))
}

func (c *procCluster) Heal(t testing.TB) {
	t.Helper()
	c.part.heal(t)
}

func (c *procCluster) Logs(node string) string {
	n := c.byName[node]
	c.mu.Lock()
	files := append([]string(nil), n.logs...)
	c.mu.Unlock()
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// saveLogs copies every node's logs to the artifacts directory.
func (c *procCluster) saveLogs(t testing.TB) {
	dir := artifactsDir(t)
	for _, n := range c.nodes {
		path := filepath.Join(dir, fmt.Sprintf("%s-%s.log", sanitize(t.Name()), n.name))
		if err := os.WriteFile(path, []byte(c.Logs(n.name)), 0o644); err != nil {
			t.Logf("save %s's log: %v", n.name, err)
			continue
		}
		t.Logf("%s's log (every incarnation): %s", n.name, path)
	}
}

// artifactsDir is $SCHEMAKV_ARTIFACTS (created if needed). Without it, a
// new directory under the system's temporary directory, created only when
// something is to be saved and kept after the test so that the files can
// be opened (t.TempDir would remove them when the test ends).
func artifactsDir(t testing.TB) string {
	if d := os.Getenv("SCHEMAKV_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err == nil {
			return d
		}
		t.Logf("SCHEMAKV_ARTIFACTS=%s cannot be created; using a temporary directory", d)
	}
	artifactsOnce.Do(func() {
		artifactsTmp, artifactsErr = os.MkdirTemp("", "schemakv-artifacts-")
	})
	if artifactsErr != nil {
		t.Logf("artifacts directory: %v; using the test's temporary directory", artifactsErr)
		return t.TempDir()
	}
	return artifactsTmp
}

var (
	artifactsOnce sync.Once
	artifactsTmp  string
	artifactsErr  error
)

// sanitize turns a test name into a file name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}
