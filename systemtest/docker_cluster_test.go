package systemtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Docker kind of faultCluster: every node is a container of the image the
// project's Dockerfile builds, on two networks.
//
//   - The cluster network (internal: no route out) carries raft and gossip.
//     Every node has a fixed IP on it and advertises it; a partition is
//     `docker network disconnect` from it, healed by connecting again with
//     the same IP.
//   - The client network carries the published HTTP port
//     (127.0.0.1:<fixed port> -> 7400) and nothing else. It is the
//     container's gateway network (an internal network has no gateway), so
//     the port mapping lives on it and a partitioned node still answers
//     the test's clients, as in procCluster.
//
// Host ports are chosen once and given explicitly so that URL(node) stays
// the same across `docker kill` / `docker start` (an ephemeral published
// port would be reallocated). Every container, network and volume carries
// the label schemakv.systemtest.pid=<this process>; resources left behind
// by a test process that no longer runs are removed before a new cluster
// starts, and each test removes its own in t.Cleanup, failed or not.

// Deadlines of docker commands. `docker start` of a container on this
// machine's fuse-overlayfs takes seconds; an image build under a minute.
const (
	dockerCmdTimeout   = 90 * time.Second
	dockerBuildTimeout = 3 * time.Minute
	dockerLabel        = "schemakv.systemtest.pid"
)

// dockerEnvGate is the variable that enables the Docker tests.
const dockerEnvGate = "SCHEMAKV_DOCKER"

// needDocker skips the test, loudly, unless SCHEMAKV_DOCKER=1 and a Docker
// engine answers; then it returns the path of the docker client.
func needDocker(t testing.TB) string {
	t.Helper()
	if os.Getenv(dockerEnvGate) != "1" {
		t.Skipf("!!! SKIPPED %s: Docker tests run only with %s=1 (make test-docker) !!!", t.Name(), dockerEnvGate)
	}
	needBinary(t)
	path, err := exec.LookPath("docker")
	if err != nil {
		t.Skipf("!!! SKIPPED %s: %s=1 but no docker client on PATH: %v !!!", t.Name(), dockerEnvGate, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Skipf("!!! SKIPPED %s: %s=1 but `docker info` does not answer: %v: %s !!!", t.Name(), dockerEnvGate, err, bytes.TrimSpace(out))
	}
	sweepDockerLeftovers(t)
	return path
}

// dockerCmd runs one docker command and returns its combined output,
// trimmed.
func dockerCmd(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = serverEnv()
	out, err := cmd.CombinedOutput()
	s := strings.TrimSpace(string(out))
	if ctx.Err() != nil {
		return s, fmt.Errorf("docker %s: no answer within %v", strings.Join(args, " "), timeout)
	}
	if err != nil {
		return s, fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, s)
	}
	return s, nil
}

// mustDocker runs a docker command and fails the test if it fails.
func mustDocker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := dockerCmd(dockerCmdTimeout, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sweepDockerLeftovers removes the containers, networks and volumes of
// test processes that are gone (killed by `go test -timeout`, say, before
// their cleanups ran). Resources of running processes are left alone.
func sweepDockerLeftovers(t testing.TB) {
	t.Helper()
	sweepOnce.Do(func() {
		for _, kind := range []struct{ list, rm []string }{
			{[]string{"ps", "-a"}, []string{"rm", "-f", "-v"}},
			{[]string{"network", "ls"}, []string{"network", "rm"}},
			{[]string{"volume", "ls"}, []string{"volume", "rm", "-f"}},
		} {
			format := `{{.ID}} {{.Label "` + dockerLabel + `"}}`
			if kind.list[0] == "volume" {
				format = `{{.Name}} {{.Label "` + dockerLabel + `"}}`
			}
			out, err := dockerCmd(dockerCmdTimeout, append(kind.list, "--filter", "label="+dockerLabel, "--format", format)...)
			if err != nil {
				t.Logf("sweep: %v", err)
				continue
			}
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) != 2 {
					continue
				}
				pid, err := strconv.Atoi(f[1])
				if err != nil || pid == os.Getpid() || processAlive(pid) {
					continue
				}
				if _, err := dockerCmd(dockerCmdTimeout, append(kind.rm, f[0])...); err != nil {
					t.Logf("sweep: %v", err)
				} else {
					t.Logf("sweep: removed %s %s left by test process %d", kind.list[0], f[0], pid)
				}
			}
		}
	})
}

var sweepOnce sync.Once

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// buildDockerImage builds the project's Dockerfile around the binary
// TestMain built (static: CGO_ENABLED=0) in a build context of its own,
// tags it schemakv-systemtest:<unique> and removes the tag when the test
// ends. It returns the tag.
func buildDockerImage(t testing.TB) string {
	t.Helper()
	ctxDir := t.TempDir()
	for _, f := range []string{"Dockerfile", ".dockerignore"} {
		b, err := os.ReadFile(filepath.Join(moduleRoot, f))
		if err != nil {
			t.Fatalf("the Docker image is built from the repository's %s: %v", f, err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ctxDir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "bin", "schemakv"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("schemakv-systemtest:%d-%d", os.Getpid(), rand.Uint32())
	start := time.Now()
	if _, err := dockerCmd(dockerBuildTimeout, "build", "--quiet", "--label", dockerLabel+"="+strconv.Itoa(os.Getpid()), "-t", tag, ctxDir); err != nil {
		t.Fatalf("build the image from the Dockerfile: %v", err)
	}
	t.Cleanup(func() {
		if _, err := dockerCmd(dockerCmdTimeout, "rmi", "-f", tag); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	t.Logf("built image %s from the Dockerfile in %v", tag, time.Since(start).Round(time.Millisecond))
	return tag
}

// dockerClusterOptions sizes a cluster of containers.
type dockerClusterOptions struct {
	Voters      int // 3 unless set
	ReadReplica bool
	// ExtraArgs are `schemakv server` flags given to every node, as
	// "--flag", "value" pairs. They are passed as SCHEMAKV_<FLAG>
	// variables: the image's CMD stays what users run.
	ExtraArgs []string
}

// dockerNode is one node: its container and its fixed addresses.
type dockerNode struct {
	name      string
	container string // name or ID, what docker commands take
	ip        string // on the cluster network
	hostPort  int    // 127.0.0.1:hostPort -> 7400
}

// dockerCluster is a faultCluster of containers (see the top of the file).
type dockerCluster struct {
	t          testing.TB
	clusterNet string // network partitions disconnect from
	nodes      []*dockerNode
	byName     map[string]*dockerNode
	voters     []string

	mu          sync.Mutex
	partitioned map[string]bool
}

var _ faultCluster = (*dockerCluster)(nil)

// newDockerCluster starts a cluster of containers from image and waits
// until it has formed.
func newDockerCluster(t testing.TB, image string, o dockerClusterOptions) *dockerCluster {
	t.Helper()
	if o.Voters == 0 {
		o.Voters = 3
	}
	env, err := flagsToEnv(o.ExtraArgs)
	if err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("skvt-%d-%d", os.Getpid(), rand.Uint32()%100000)
	label := dockerLabel + "=" + strconv.Itoa(os.Getpid())
	c := &dockerCluster{t: t, clusterNet: run + "-cluster", byName: map[string]*dockerNode{}, partitioned: map[string]bool{}}
	clientNet := run + "-client"

	// Registered first, so it runs last: after the logs are saved.
	t.Cleanup(func() { c.remove(t, clientNet) })

	prefix := createClusterNetwork(t, c.clusterNet, label)
	mustDocker(t, "network", "create", "--label", label, clientNet)

	total := o.Voters
	if o.ReadReplica {
		total++
	}
	var join []string
	for i := range total {
		n := &dockerNode{name: fmt.Sprintf("n%d", i+1), ip: fmt.Sprintf("%s.%d", prefix, 11+i)}
		if i >= o.Voters {
			n.name = fmt.Sprintf("r%d", i+1)
		} else {
			c.voters = append(c.voters, n.name)
		}
		n.container = run + "-" + n.name
		n.hostPort = freePort(t)
		join = append(join, n.ip+":7402")
		c.nodes = append(c.nodes, n)
		c.byName[n.name] = n
	}
	for i, n := range c.nodes {
		args := []string{"create", "--name", n.container, "--hostname", n.name, "--label", label,
			"--network", clientNet, "-p", fmt.Sprintf("127.0.0.1:%d:7400", n.hostPort),
			"-e", "SCHEMAKV_NODE_ID=" + n.name,
			// The image binds every interface; these containers talk plain
			// text on their private networks, which a node allows only when
			// told so explicitly.
			"-e", "SCHEMAKV_INSECURE_PLAINTEXT=true",
			"-e", "SCHEMAKV_RAFT_ADVERTISE=" + n.ip + ":7401",
			"-e", "SCHEMAKV_GOSSIP_ADVERTISE=" + n.ip + ":7402",
			"-e", fmt.Sprintf("SCHEMAKV_HTTP_ADVERTISE=127.0.0.1:%d", n.hostPort),
			"-e", "SCHEMAKV_JOIN=" + strings.Join(join, ","),
			"-e", "SCHEMAKV_BOOTSTRAP_TOKEN=" + adminToken,
		}
		if i < o.Voters {
			args = append(args, "-e", fmt.Sprintf("SCHEMAKV_BOOTSTRAP_EXPECT=%d", o.Voters))
		} else {
			args = append(args, "-e", "SCHEMAKV_READ_REPLICA=true")
		}
		for _, kv := range env {
			args = append(args, "-e", kv)
		}
		mustDocker(t, append(args, image)...)
		mustDocker(t, "network", "connect", "--ip", n.ip, c.clusterNet, n.container)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.saveLogs(t)
		}
	})
	start := time.Now()
	mustDocker(t, append([]string{"start"}, c.containers()...)...)
	for _, n := range c.nodes {
		c.waitHealthy(t, n)
	}
	c.formed(t)
	leader, term, _ := currentLeader(c, c.Nodes())
	t.Logf("cluster of %d containers (%s) formed %v after `docker start`: leader %s, term %d; cluster network %s (%s.0/24)",
		len(c.nodes), image, time.Since(start).Round(time.Millisecond), leader, term, c.clusterNet, prefix)
	return c
}

// formed waits until the cluster has formed: one leader, every voter a
// voter and every replica a non-voter, every node ready.
func (c *dockerCluster) formed(t testing.TB) {
	t.Helper()
	waitClusterFormed(t, c, time.Minute)
}

// createClusterNetwork creates the internal network with a /24 of its own
// and returns the first three octets. Subnets are picked at random in
// 10.200.0.0/13 and retried when Docker says they overlap another one.
func createClusterNetwork(t testing.TB, name, label string) string {
	t.Helper()
	var last error
	for range 8 {
		prefix := fmt.Sprintf("10.%d.%d", 200+rand.IntN(8), rand.IntN(256))
		_, err := dockerCmd(dockerCmdTimeout, "network", "create", "--internal", "--label", label,
			"--subnet", prefix+".0/24", name)
		if err == nil {
			return prefix
		}
		last = err
		if !strings.Contains(err.Error(), "overlap") {
			break
		}
	}
	t.Fatalf("create the cluster network: %v", last)
	return ""
}

// freePort returns a TCP port free on 127.0.0.1 now and outside the
// kernel's ephemeral range (see internal/testport).
func freePort(t testing.TB) int {
	t.Helper()
	return freePorts(t, "127.0.0.1", 1)[0]
}

// flagsToEnv turns "--flag", "value" pairs into SCHEMAKV_FLAG=value.
func flagsToEnv(args []string) ([]string, error) {
	var env []string
	for i := 0; i < len(args); i += 2 {
		f := args[i]
		if !strings.HasPrefix(f, "--") || i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
			return nil, fmt.Errorf("extra server args must be --flag value pairs: %q", args)
		}
		name := strings.TrimPrefix(f, "--")
		if strings.Contains(name, "=") {
			return nil, fmt.Errorf("extra server args: write %q as two arguments", f)
		}
		env = append(env, "SCHEMAKV_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))+"="+args[i+1])
	}
	return env, nil
}

func (c *dockerCluster) containers() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.container
	}
	return out
}

// remove deletes the containers (with their anonymous /data volumes) and
// both networks. It runs in t.Cleanup, also after a failure.
func (c *dockerCluster) remove(t testing.TB, clientNet string) {
	if len(c.nodes) > 0 {
		// A paused container cannot be removed before it is unpaused on
		// some engines; unpausing a running one fails harmlessly.
		_, _ = dockerCmd(dockerCmdTimeout, append([]string{"unpause"}, c.containers()...)...)
		if _, err := dockerCmd(dockerCmdTimeout, append([]string{"rm", "-f", "-v"}, c.containers()...)...); err != nil &&
			!strings.Contains(err.Error(), "No such container") {
			t.Errorf("cleanup: %v", err)
		}
	}
	for _, net := range []string{c.clusterNet, clientNet} {
		if _, err := dockerCmd(dockerCmdTimeout, "network", "rm", net); err != nil && !strings.Contains(err.Error(), "not found") {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// waitHealthy polls the node's /v1/health until it answers 200.
func (c *dockerCluster) waitHealthy(t testing.TB, n *dockerNode) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	var last string
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		status, _, b, err := doHTTP(ctx, http.MethodGet, c.URL(n.name)+"/v1/health", nil, nil)
		cancel()
		if err == nil && status == http.StatusOK {
			return
		}
		last = fmt.Sprintf("status %d, err %v, %s", status, err, b)
		if i%10 == 9 { // about once a second: has the server exited?
			if state, _ := dockerCmd(dockerCmdTimeout, "inspect", "-f", "{{.State.Status}}", n.container); state == "exited" || state == "dead" {
				t.Fatalf("%s: container %s is %s; its log:\n%s", n.name, n.container, state, tail(c.Logs(n.name), 16<<10))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /v1/health not 200 within %v; last: %s", n.name, startTimeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "[...]\n" + s[len(s)-n:]
	}
	return s
}

func (c *dockerCluster) node(t testing.TB, name string) *dockerNode {
	t.Helper()
	n, ok := c.byName[name]
	if !ok {
		t.Fatalf("no node %q in %v", name, c.Nodes())
	}
	return n
}

func (c *dockerCluster) Nodes() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.name
	}
	return out
}

func (c *dockerCluster) Voters() []string { return slices.Clone(c.voters) }

func (c *dockerCluster) URL(node string) string {
	return fmt.Sprintf("http://127.0.0.1:%d", c.byName[node].hostPort)
}

// Kill is `docker kill` (SIGKILL) and waits until the container stopped.
func (c *dockerCluster) Kill(t testing.TB, node string) {
	t.Helper()
	n := c.node(t, node)
	mustDocker(t, "kill", "--signal", "KILL", n.container)
	if _, err := dockerCmd(killTimeout, "wait", n.container); err != nil {
		t.Fatalf("%s: not stopped %v after docker kill: %v", node, killTimeout, err)
	}
}

// Restart is `docker start` on the same container: same volume, same IPs
// (a partitioned node stays disconnected until Heal), same host port.
func (c *dockerCluster) Restart(t testing.TB, node string) {
	t.Helper()
	n := c.node(t, node)
	mustDocker(t, "start", n.container)
	c.waitHealthy(t, n)
}

// Pause is `docker pause` (the cgroup freezer: every thread stops, as with
// SIGSTOP); Resume is `docker unpause`.
func (c *dockerCluster) Pause(t testing.TB, node string) {
	t.Helper()
	mustDocker(t, "pause", c.node(t, node).container)
}

func (c *dockerCluster) Resume(t testing.TB, node string) {
	t.Helper()
	mustDocker(t, "unpause", c.node(t, node).container)
}

func (c *dockerCluster) CanPartition() (bool, string) { return true, "" }

// Partition disconnects the node from the cluster network: raft and gossip
// to and from it stop, its published HTTP port still answers.
func (c *dockerCluster) Partition(t testing.TB, node string) {
	t.Helper()
	n := c.node(t, node)
	mustDocker(t, "network", "disconnect", c.clusterNet, n.container)
	c.mu.Lock()
	c.partitioned[node] = true
	c.mu.Unlock()
}

// Heal connects every partitioned node again, with its own IP.
func (c *dockerCluster) Heal(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	var cut []string
	for name := range c.partitioned {
		cut = append(cut, name)
	}
	c.partitioned = map[string]bool{}
	c.mu.Unlock()
	slices.Sort(cut)
	for _, name := range cut {
		n := c.node(t, name)
		mustDocker(t, "network", "connect", "--ip", n.ip, c.clusterNet, n.container)
	}
}

// Logs is `docker logs`: what the container wrote, across restarts.
func (c *dockerCluster) Logs(node string) string {
	n, ok := c.byName[node]
	if !ok {
		return ""
	}
	out, err := dockerCmd(dockerCmdTimeout, "logs", n.container)
	if err != nil {
		return err.Error()
	}
	return out
}

// saveLogs writes every node's log to the artifacts directory.
func (c *dockerCluster) saveLogs(t testing.TB) {
	dir := artifactsDir(t)
	for _, n := range c.nodes {
		path := filepath.Join(dir, fmt.Sprintf("%s-%s.log", sanitize(t.Name()), n.name))
		if err := os.WriteFile(path, []byte(c.Logs(n.name)), 0o644); err != nil {
			t.Logf("save %s's log: %v", n.name, err)
			continue
		}
		t.Logf("%s's log (container %s, every start): %s", n.name, n.container, path)
	}
}
