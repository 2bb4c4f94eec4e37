package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// Docker tests: the image the project's Dockerfile builds, run as the
// deployment documents it, under the fault scenarios the process clusters
// run (kill -9 of the leader under load; the linearizability scenario with
// kill, pause and network partitions), and the docker-compose.yml as
// shipped. They run only with SCHEMAKV_DOCKER=1 and a Docker engine that
// answers (make test-docker), and say so loudly when they skip.

// TestDocker builds the image once and runs every Docker scenario on it,
// one after the other (each is bounded; together about three minutes):
//
//	TestDocker/image          what the image promises
//	TestDocker/compose        docker-compose.yml as shipped, then under kill -9 of the leader
//	TestDocker/linearizable   the linearizability scenario on containers
//
// Run one with -run 'TestDocker/linearizable'; SCHEMAKV_CHAOS_DURATION makes
// the linearizable one a soak run, as for processes.
func TestDocker(t *testing.T) {
	needDocker(t)
	image := buildDockerImage(t)
	t.Run("image", func(t *testing.T) { testDockerImage(t, image) })
	t.Run("compose", func(t *testing.T) { testDockerCompose(t, image) })
	t.Run("linearizable", func(t *testing.T) { testDockerLinearizable(t, image) })
}

// testDockerImage checks what the image promises: FROM scratch (no shell),
// a non-root numeric user, /data a volume, the ports, the entrypoint, and
// that the binary in it runs.
func testDockerImage(t *testing.T, image string) {
	var cfg struct {
		User         string
		ExposedPorts map[string]struct{}
		Volumes      map[string]struct{}
		Entrypoint   []string
		Cmd          []string
		Env          []string
	}
	out := mustDocker(t, "image", "inspect", "--format", "{{json .Config}}", image)
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("image config %s: %v", out, err)
	}
	if cfg.User == "" || strings.HasPrefix(cfg.User, "0") || strings.HasPrefix(cfg.User, "root") {
		t.Errorf("image runs as %q, want a non-root numeric user", cfg.User)
	}
	for _, p := range []string{"7400/tcp", "7401/tcp", "7402/tcp", "7402/udp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("image does not expose %s: %v", p, cfg.ExposedPorts)
		}
	}
	if _, ok := cfg.Volumes["/data"]; !ok {
		t.Errorf("/data is not a volume: %v", cfg.Volumes)
	}
	if strings.Join(cfg.Entrypoint, " ") != "/schemakv" || len(cfg.Cmd) == 0 || cfg.Cmd[0] != "server" {
		t.Errorf("entrypoint %q cmd %q, want /schemakv server ...", cfg.Entrypoint, cfg.Cmd)
	}
	layers := mustDocker(t, "image", "inspect", "--format", "{{len .RootFS.Layers}}", image)
	t.Logf("image %s: user %s, %s layers, cmd %q", image, cfg.User, layers, cfg.Cmd)

	if out, err := dockerCmd(dockerCmdTimeout, "run", "--rm", "--label", dockerLabel+"="+fmt.Sprint(os.Getpid()), "--entrypoint", "/bin/sh", image, "-c", "true"); err == nil {
		t.Errorf("the image has a shell (/bin/sh ran: %s); it should be FROM scratch", out)
	}
	ver := mustDocker(t, "run", "--rm", "--label", dockerLabel+"="+fmt.Sprint(os.Getpid()), image, "--help")
	if !strings.Contains(ver, "server") {
		t.Errorf("`schemakv --help` in the image printed %q", ver)
	}
}

// testDockerLinearizable runs the linearizability scenario on three voter
// containers and a read replica started with `docker run`: `docker kill`
// of the leader and of a follower, `docker pause` of the leader, `docker
// network disconnect` of the leader (a minority partition) and of a
// follower long enough that it must catch up by snapshot. Every phase's
// history is checked with porcupine, acknowledged writes included; a
// failing phase leaves its visualisation and the containers' logs in the
// artifacts directory.
func testDockerLinearizable(t *testing.T, image string) {
	c := newDockerCluster(t, image, dockerClusterOptions{ReadReplica: true, ExtraArgs: faultClusterArgs()})
	scenarioLinearizable(t, c, defaultLinzParams(t))
}

// testDockerCompose runs the repository's docker-compose.yml: first as
// shipped (three voters and a read replica form a cluster; n1's API on
// 127.0.0.1; the CLI in the image reaches the replica by its hostname; a
// restart of the leader with `docker-compose restart` keeps the cluster),
// then, with an override file that adds a client network for the test's
// HTTP clients, under the kill-the-leader-under-load scenario: `docker
// kill` of the leader under write load, a new leader serving writes within
// seconds, no acknowledged write lost, every node identical at the end.
func testDockerCompose(t *testing.T, image string) {
	compose := needCompose(t)

	t.Run("as-shipped", func(t *testing.T) {
		p := upCompose(t, compose, image, false)
		n1 := p.cluster.URL("n1")
		var st api.ClusterStatus
		deadline := time.Now().Add(time.Minute)
		for {
			st = api.ClusterStatus{}
			if problem := composeFormed(n1, &st); problem == "" {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("compose cluster not formed within a minute: %s", problem)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("formed: leader %s, term %d, members %s", st.Leader, st.Term, describeMembers(st))

		mustDo(t, http.MethodPut, n1+"/v1/namespaces/compose", `{"description": "written through n1"}`, nil, http.StatusCreated)
		out := mustDocker(t, "exec", p.container(t, "r1"), "/schemakv", "--addr", "http://r1:7400", "--token", adminToken, "-o", "json", "ns", "get", "compose")
		if !strings.Contains(out, `"written through n1"`) {
			t.Errorf("the replica r1 (CLI inside its container) answered %s", out)
		}

		// Restart the leader, as an operator would in a rolling restart:
		// it hands leadership over, comes back on its volume and the same
		// address, and the cluster is whole again.
		start := time.Now()
		oldLeader, oldTerm := st.Leader, st.Term
		p.compose(t, "restart", oldLeader)
		restarted := time.Since(start)
		deadline = time.Now().Add(time.Minute)
		for i := 0; ; i++ {
			ns := fmt.Sprintf("after-restart-%d", i)
			if status, _, _, err := doHTTPTimeout(http.MethodPut, n1+"/v1/namespaces/"+ns, `{}`); err == nil && status == http.StatusCreated {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no write through n1 within a minute of restarting %s", oldLeader)
			}
			time.Sleep(200 * time.Millisecond)
		}
		deadline = time.Now().Add(time.Minute)
		for {
			st = api.ClusterStatus{}
			if problem := composeFormed(n1, &st); problem == "" && st.Term > oldTerm {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("compose cluster not whole again within a minute of restarting the leader %s (term %d): %s; term %d", oldLeader, oldTerm, problem, st.Term)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("docker-compose restart %s (the leader, term %d) took %v; cluster whole again after %v: leader %s, term %d",
			oldLeader, oldTerm, restarted.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), st.Leader, st.Term)
	})
	if t.Failed() {
		return
	}

	t.Run("kill-leader-under-load", func(t *testing.T) {
		p := upCompose(t, compose, image, true)
		p.cluster.formed(t)
		scenarioKillLeaderUnderLoad(t, p.cluster, killLoadParams{
			Writers: 12, HotKeys: 6, Load: 2 * time.Second, Down: 3 * time.Second,
			MaxFailover: 10 * time.Second,
		})
	})
}

// composeFormed reports "" once n1 sees n1..n3 as voters and r1 as a
// non-voter, all alive in gossip, with a leader; else what is missing.
func composeFormed(n1 string, st *api.ClusterStatus) string {
	status, _, b, err := doHTTPTimeout(http.MethodGet, n1+"/v1/cluster", nil)
	if err != nil || status != http.StatusOK {
		return fmt.Sprintf("GET /v1/cluster: status %d, err %v, %s", status, err, b)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return err.Error()
	}
	if st.Leader == "" {
		return "no leader"
	}
	want := map[string]string{"n1": "voter", "n2": "voter", "n3": "voter", "r1": "nonvoter"}
	for _, m := range st.Members {
		if want[m.ID] == m.Suffrage && m.Gossip == "alive" {
			delete(want, m.ID)
		}
	}
	if len(want) > 0 {
		return fmt.Sprintf("members %s; still waiting for %v", describeMembers(*st), want)
	}
	return ""
}

func describeMembers(st api.ClusterStatus) string {
	var parts []string
	for _, m := range st.Members {
		parts = append(parts, fmt.Sprintf("%s(%s,%s,%s)", m.ID, m.Suffrage, m.Gossip, m.RaftAddr))
	}
	return strings.Join(parts, " ")
}

// needCompose returns the Compose command: docker-compose (v1 or v2), or
// the `docker compose` plugin. It skips loudly when there is neither.
func needCompose(t testing.TB) []string {
	t.Helper()
	for _, cmd := range [][]string{{"docker-compose"}, {"docker", "compose"}} {
		if _, err := exec.LookPath(cmd[0]); err != nil {
			continue
		}
		if out, err := exec.Command(cmd[0], append(cmd[1:], "version")...).CombinedOutput(); err == nil {
			t.Logf("compose: %s", strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0])
			return cmd
		}
	}
	t.Skipf("!!! SKIPPED %s: neither docker-compose nor `docker compose` works here !!!", t.Name())
	return nil
}

// doHTTPTimeout is doHTTP with a 5s deadline.
func doHTTPTimeout(method, url string, body any) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return doHTTP(ctx, method, url, body, nil)
}
