package systemtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

// TestWatchCluster_CacheAndCLIOnAFollower runs the Go client's Cache and the
// `schemakv watch` command against a follower of a 3-node cluster while
// writes go through the other nodes: both must see every change, in order.
func TestWatchCluster_CacheAndCLIOnAFollower(t *testing.T) {
	bin := needBinary(t)
	nodes := startWatchCluster(t)
	leader := leaderIndex(nodes)
	follower := (leader + 1) % 3
	other := (leader + 2) % 3
	base := nodes[leader].HTTPURL()
	for _, step := range []struct{ method, path, body string }{
		{http.MethodPut, "/v1/namespaces/w", ""},
		{http.MethodPost, "/v1/namespaces/w/schemas/s", `{"schema":{"type":"object","properties":{"n":{"type":"integer"}}}}`},
	} {
		if st := httpDo(t, step.method, base+step.path, step.body); st >= 300 {
			t.Fatalf("%s %s: %d", step.method, step.path, st)
		}
	}

	// The cache starts with a stale list on the follower: let the follower
	// apply the set-up first, or the namespace may not be there yet.
	for wait := time.Now().Add(10 * time.Second); nodes[follower].Store().Applied() < nodes[leader].Store().Applied(); {
		if time.Now().After(wait) {
			t.Fatal("the follower did not apply the set-up within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.New(client.Config{Address: nodes[follower].HTTPURL(), Token: adminToken,
		Addresses: []string{nodes[other].HTTPURL(), nodes[leader].HTTPURL()}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var changes int
	cache, err := client.NewCache(ctx, c, client.CacheOptions{Namespace: "w", Prefix: "app/",
		OnChange: func(*client.WatchBatch) { mu.Lock(); changes++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()

	var out lockedBuffer
	cli := exec.CommandContext(ctx, bin, "--addr", nodes[follower].HTTPURL(), "--token", adminToken, "watch", "w", "--prefix", "app/")
	cli.Stdout, cli.Stderr = &out, &out
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cli.Process.Kill(); _ = cli.Wait() }()
	time.Sleep(500 * time.Millisecond) // let the CLI's stream start ("from now")

	const n = 20
	for i := 0; i < n; i++ {
		url := fmt.Sprintf("%s/v1/namespaces/w/configs/app/k%d", nodes[[]int{leader, other}[i%2]].HTTPURL(), i%5)
		if st := httpDo(t, http.MethodPut, url, fmt.Sprintf(`{"schema":"s@1","value":{"n":%d}}`, i)); st >= 300 {
			t.Fatalf("put %d: %d", i, st)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		e, ok := cache.Get("app/k4")
		done := ok && strings.Contains(string(e.Value), fmt.Sprint(n-1))
		if done && strings.Count(out.String(), " put app/") >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache has app/k4=%s (ok=%v); CLI printed:\n%s", e.Value, ok, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 5; i++ {
		e, ok := cache.Get(fmt.Sprintf("app/k%d", i))
		if !ok || !strings.Contains(string(e.Value), fmt.Sprint(15+i)) {
			t.Fatalf("cache app/k%d = %s, want n=%d", i, e.Value, 15+i)
		}
	}
	// The CLI printed every write once, in revision order.
	var last uint64
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rev uint64
		var op, key string
		if _, err := fmt.Sscanf(line, "%d %s %s", &rev, &op, &key); err != nil || op != api.OpPut {
			continue
		}
		if rev <= last {
			t.Fatalf("CLI output out of order or repeated at %q:\n%s", line, out.String())
		}
		last = rev
		seen++
	}
	if seen != n {
		t.Fatalf("CLI printed %d puts, want %d:\n%s", seen, n, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if changes < 1 {
		t.Fatal("cache OnChange never called")
	}
}

func httpDo(t *testing.T, method, url, body string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// lockedBuffer is a bytes.Buffer safe to write from a process's output
// copier while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
