package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// composeProject is one `docker-compose up` of the repository's
// docker-compose.yml under a project name of its own.
type composeProject struct {
	cmd     []string // docker-compose, or docker compose
	name    string
	files   []string
	env     []string
	cluster *dockerCluster
}

// composeProjectRE matches the project names the tests use, with the pid
// of the test process that made them: skvt<pid>c<n>.
var composeProjectRE = regexp.MustCompile(`^skvt(\d+)c\d+$`)

// upCompose starts the compose file with image as SCHEMAKV_IMAGE, on a
// free subnet (SCHEMAKV_NET) and a free port for n1 (SCHEMAKV_PORT), and
// removes everything (containers, network, named volumes) in t.Cleanup.
//
// With faults, an override file makes it a faultCluster: the cluster
// network becomes internal and a second, client network carries published
// ports for every node (so that `docker network disconnect` cuts raft and
// gossip but not the test's HTTP clients); the nodes advertise their fixed
// IPs, because a hostname on two networks resolves to either; and restart
// policies are off so that a killed container stays down until the test
// starts it.
func upCompose(t testing.TB, compose []string, image string, faults bool) *composeProject {
	t.Helper()
	sweepComposeLeftovers(t, compose)
	base := filepath.Join(moduleRoot, "docker-compose.yml")
	var last error
	for range 5 {
		prefix := fmt.Sprintf("10.%d.%d", 200+rand.IntN(8), rand.IntN(256))
		p := &composeProject{cmd: compose, name: fmt.Sprintf("skvt%dc%d", os.Getpid(), rand.IntN(1e6)), files: []string{base}}
		ports := map[string]int{"n1": freePort(t)}
		if faults {
			for _, n := range []string{"n2", "n3", "r1"} {
				ports[n] = freePort(t)
			}
			override := filepath.Join(t.TempDir(), "docker-compose.faults.yml")
			if err := os.WriteFile(override, []byte(composeFaultOverride(prefix, ports)), 0o644); err != nil {
				t.Fatal(err)
			}
			p.files = append(p.files, override)
		}
		p.env = append(serverEnv(), "SCHEMAKV_IMAGE="+image, "SCHEMAKV_NET="+prefix, "SCHEMAKV_PORT="+strconv.Itoa(ports["n1"]))
		t.Cleanup(func() { p.down(t) })
		start := time.Now()
		out, err := p.run(3*time.Minute, "up", "-d")
		if err != nil {
			last = fmt.Errorf("%v: %s", err, out)
			p.down(t)
			if strings.Contains(out, "overlap") {
				continue
			}
			break
		}
		t.Logf("compose project %s up in %v (subnet %s.0/24, n1 on 127.0.0.1:%d)", p.name, time.Since(start).Round(time.Millisecond), prefix, ports["n1"])
		p.cluster = &dockerCluster{t: t, clusterNet: p.name + "_schemakv", byName: map[string]*dockerNode{}, partitioned: map[string]bool{}}
		for i, svc := range []string{"n1", "n2", "n3", "r1"} {
			ip := fmt.Sprintf("%s.%d", prefix, 11+i)
			if svc == "r1" {
				ip = prefix + ".21"
			} else {
				p.cluster.voters = append(p.cluster.voters, svc)
			}
			n := &dockerNode{name: svc, container: p.container(t, svc), ip: ip, hostPort: ports[svc]}
			p.cluster.nodes = append(p.cluster.nodes, n)
			p.cluster.byName[svc] = n
		}
		t.Cleanup(func() {
			if t.Failed() {
				p.cluster.saveLogs(t)
			}
		})
		return p
	}
	t.Fatalf("docker-compose up: %v", last)
	return nil
}

// composeFaultOverride is the override file of a fault-test project.
func composeFaultOverride(prefix string, ports map[string]int) string {
	var b strings.Builder
	pid := os.Getpid()
	b.WriteString("services:\n")
	ips := map[string]string{"n1": prefix + ".11", "n2": prefix + ".12", "n3": prefix + ".13", "r1": prefix + ".21"}
	join := ips["n1"] + ":7402," + ips["n2"] + ":7402," + ips["n3"] + ":7402"
	env, _ := flagsToEnv(faultClusterArgs())
	for _, svc := range []string{"n1", "n2", "n3", "r1"} {
		fmt.Fprintf(&b, "  %s:\n    restart: \"no\"\n    labels:\n      %s: \"%d\"\n", svc, dockerLabel, pid)
		if svc != "n1" { // n1's port comes from SCHEMAKV_PORT in the base file
			fmt.Fprintf(&b, "    ports:\n      - \"127.0.0.1:%d:7400\"\n", ports[svc])
		}
		fmt.Fprintf(&b, "    networks:\n      client: {}\n")
		fmt.Fprintf(&b, "    environment:\n")
		fmt.Fprintf(&b, "      SCHEMAKV_RAFT_ADVERTISE: \"%s:7401\"\n", ips[svc])
		fmt.Fprintf(&b, "      SCHEMAKV_GOSSIP_ADVERTISE: \"%s:7402\"\n", ips[svc])
		fmt.Fprintf(&b, "      SCHEMAKV_HTTP_ADVERTISE: \"127.0.0.1:%d\"\n", ports[svc])
		fmt.Fprintf(&b, "      SCHEMAKV_JOIN: \"%s\"\n", join)
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&b, "      %s: \"%s\"\n", k, v)
		}
	}
	fmt.Fprintf(&b, "networks:\n  schemakv:\n    internal: true\n    labels:\n      %s: \"%d\"\n    ipam:\n      config:\n        - subnet: \"%s.0/24\"\n", dockerLabel, pid, prefix)
	fmt.Fprintf(&b, "  client:\n    labels:\n      %s: \"%d\"\n", dockerLabel, pid)
	return b.String()
}

// run runs one compose command for the project.
func (p *composeProject) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := append(append([]string(nil), p.cmd[1:]...), "-p", p.name)
	for _, f := range p.files {
		full = append(full, "-f", f)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, p.cmd[0], full...)
	cmd.Env = p.env
	cmd.Dir = moduleRoot
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s %s: no answer within %v", p.cmd[0], strings.Join(full, " "), timeout)
	}
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v", p.cmd[0], strings.Join(full, " "), err)
	}
	return string(out), nil
}

// compose runs a compose command and fails the test if it fails.
func (p *composeProject) compose(t testing.TB, args ...string) string {
	t.Helper()
	out, err := p.run(3*time.Minute, args...)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return out
}

// container returns the ID of a service's container.
func (p *composeProject) container(t testing.TB, svc string) string {
	t.Helper()
	id := strings.TrimSpace(p.compose(t, "ps", "-q", svc))
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("compose ps -q %s: %q", svc, id)
	}
	return id
}

// down removes the project's containers, network and named volumes.
func (p *composeProject) down(t testing.TB) {
	if p.name == "" {
		return
	}
	// Unpause first: a paused container is not stopped by `down`.
	for _, n := range p.clusterNodes() {
		_, _ = dockerCmd(dockerCmdTimeout, "unpause", n.container)
	}
	if out, err := p.run(3*time.Minute, "down", "-v", "--remove-orphans", "--timeout", "5"); err != nil {
		t.Errorf("cleanup: %v: %s", err, out)
	}
	removeComposeProject(t, p.name)
	p.name = ""
}

func (p *composeProject) clusterNodes() []*dockerNode {
	if p.cluster == nil {
		return nil
	}
	return p.cluster.nodes
}

// removeComposeProject removes whatever is left with the project's label.
func removeComposeProject(t testing.TB, name string) {
	filter := "label=com.docker.compose.project=" + name
	for _, kind := range []struct{ list, rm []string }{
		{[]string{"ps", "-a", "-q"}, []string{"rm", "-f", "-v"}},
		{[]string{"network", "ls", "-q"}, []string{"network", "rm"}},
		{[]string{"volume", "ls", "-q"}, []string{"volume", "rm", "-f"}},
	} {
		out, err := dockerCmd(dockerCmdTimeout, append(kind.list, "--filter", filter)...)
		if err != nil || out == "" {
			continue
		}
		if _, err := dockerCmd(dockerCmdTimeout, append(kind.rm, strings.Fields(out)...)...); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// sweepComposeLeftovers removes compose projects of test processes that
// are gone.
func sweepComposeLeftovers(t testing.TB, compose []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, list := range [][]string{{"ps", "-a"}, {"network", "ls"}, {"volume", "ls"}} {
		out, err := dockerCmd(dockerCmdTimeout, append(list, "--filter", "label=com.docker.compose.project",
			"--format", `{{.Label "com.docker.compose.project"}}`)...)
		if err != nil {
			continue
		}
		for _, name := range strings.Fields(out) {
			m := composeProjectRE.FindStringSubmatch(name)
			if m == nil || seen[name] {
				continue
			}
			seen[name] = true
			if pid, _ := strconv.Atoi(m[1]); pid != os.Getpid() && !processAlive(pid) {
				removeComposeProject(t, name)
				t.Logf("sweep: removed compose project %s left by test process %d", name, pid)
			}
		}
	}
}
