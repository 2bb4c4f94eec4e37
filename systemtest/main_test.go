package systemtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Deadlines. They are generous on purpose: the tests must not depend on the
// speed of a small, noisy machine, only on the server eventually answering.
const (
	startTimeout   = 60 * time.Second // process start until /v1/health is 200
	exitTimeout    = 45 * time.Second // SIGTERM until exit (the server allows itself 30s)
	killTimeout    = 15 * time.Second // SIGKILL until the process is reaped
	requestTimeout = 30 * time.Second // one HTTP request
	pollInterval   = 20 * time.Millisecond
)

var (
	// binPath is the schemakv binary built once by TestMain; empty under -short.
	binPath string
	// moduleRoot is the repository root (the directory holding go.mod).
	moduleRoot string
	// httpClient is shared by every test; each request carries its own
	// context deadline.
	// Requests without an Authorization header carry the clusters'
	// bootstrap admin token (adminToken).
	httpClient = &http.Client{Transport: authTransport{&http.Transport{
		Proxy:               nil, // never send loopback traffic through a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}}}
)

// adminToken is the bootstrap admin token every server the tests start is
// given (SCHEMAKV_BOOTSTRAP_TOKEN), and the token CLI runs use
// (SCHEMAKV_TOKEN): the harness knows it instead of reading a generated one.
// The README quickstart is the exception: it runs like a user's first
// start, with a generated token (quickstart_test.go).
const adminToken = "skv_systemtest-admin-token-0123456789abcdef"

// authTransport adds the admin token to requests that carry no
// Authorization header.
type authTransport struct{ base http.RoundTripper }

func (a authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+adminToken)
	}
	return a.base.RoundTrip(r)
}

// TestMain builds the schemakv binary once, the way a user would, and runs
// the tests against it. Under -short nothing is built and every test skips.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	code, err := buildAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "systemtest:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func buildAndRun(m *testing.M) (int, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return 0, fmt.Errorf("module root not found next to the test's working directory: %w", err)
	}
	moduleRoot = root
	tmp, err := os.MkdirTemp("", "schemakv-systemtest-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "bin", "schemakv")
	goTool := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	}
	start := time.Now()
	cmd := exec.Command(goTool, "build", "-o", out, "./cmd/schemakv")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build ./cmd/schemakv: %v\n%s", err, b)
	}
	fmt.Fprintf(os.Stderr, "systemtest: built %s in %v\n", out, time.Since(start).Round(time.Millisecond))
	binPath = out
	return m.Run(), nil
}

// needBinary skips the test under -short and otherwise returns the binary.
func needBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("system test: runs the built binary (skipped with -short)")
	}
	if binPath == "" {
		t.Fatal("schemakv binary was not built")
	}
	return binPath
}

// serverEnv is the environment of every process the tests start: the
// caller's, without SCHEMAKV_* variables, so that flags and defaults mean
// what the test says, plus the known admin token (adminToken) as the
// bootstrap token of servers and the token of CLI runs.
func serverEnv() []string {
	return append(plainEnv(), "SCHEMAKV_BOOTSTRAP_TOKEN="+adminToken, "SCHEMAKV_TOKEN="+adminToken)
}

// plainEnv is the caller's environment without SCHEMAKV_* variables.
func plainEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCHEMAKV_") {
			env = append(env, kv)
		}
	}
	return env
}

// startedLine is the node's "schemakv node started" log record.
type startedLine struct {
	Msg          string `json:"msg"`
	NodeID       string `json:"node_id"`
	HTTP         string `json:"http"`
	Raft         string `json:"raft"`
	DataDir      string `json:"data_dir"`
	AppliedIndex uint64 `json:"applied_index"`
}

const startedMsg = "schemakv node started"

// proc is one running `schemakv server` process.
type proc struct {
	t       testing.TB
	name    string
	cmd     *exec.Cmd
	dataDir string
	logPath string
	logFile *os.File

	// Started is the node's start record: its HTTP URL, raft address and
	// the applied index it opened with.
	Started startedLine

	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // valid after exited is closed
}

var procSeq atomic.Int64

// startServer runs `schemakv server` on dataDir with ephemeral HTTP and raft
// ports and JSON logs, waits for its start record and for /v1/health to
// answer 200, and returns it. extraArgs are appended, so a flag given there
// overrides the defaults above (the last value of a flag wins). The process
// is killed at the end of the test if it is still running, and its stderr
// is logged if the test failed.
func startServer(t testing.TB, dataDir string, extraArgs ...string) *proc {
	t.Helper()
	return startServerRaft(t, dataDir, "127.0.0.1:0", extraArgs...)
}

// startServerRaft is startServer with a given raft address.
func startServerRaft(t testing.TB, dataDir, raftAddr string, extraArgs ...string) *proc {
	t.Helper()
	args := []string{"server",
		"--data-dir", dataDir,
		"--http-addr", "127.0.0.1:0",
		"--raft-addr", raftAddr,
		"--gossip-addr", "127.0.0.1:0",
		"--log-format", "json",
	}
	return startProcess(t, "", dataDir, append(args, extraArgs...)...)
}

// restartServer starts a server again on old's data directory and raft
// address (a node keeps its address across restarts); old must have exited.
func restartServer(t testing.TB, old *proc, extraArgs ...string) *proc {
	t.Helper()
	select {
	case <-old.exited:
	default:
		t.Fatalf("%s: restart while the process is still running", old.name)
	}
	return startServerRaft(t, old.dataDir, old.Started.Raft, extraArgs...)
}

// startProcess runs the binary with args in dir (the test's directory if
// empty) and waits until it serves. dataDir is recorded for restarts.
func startProcess(t testing.TB, dir, dataDir string, args ...string) *proc {
	t.Helper()
	return startProcessEnv(t, dir, dataDir, serverEnv(), args...)
}

// startProcessEnv is startProcess with the process's environment.
func startProcessEnv(t testing.TB, dir, dataDir string, env []string, args ...string) *proc {
	t.Helper()
	bin := needBinary(t)
	n := procSeq.Add(1)
	p := &proc{
		t:       t,
		name:    fmt.Sprintf("server#%d", n),
		dataDir: dataDir,
		logPath: filepath.Join(t.TempDir(), fmt.Sprintf("server-%d.log", n)),
		exited:  make(chan struct{}),
	}
	f, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.logFile = f
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout = f
	p.cmd.Stderr = f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s %s: %v", bin, strings.Join(args, " "), err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			select {
			case <-p.exited:
			case <-time.After(killTimeout):
				t.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
			}
		}
		p.logFile.Close()
		if t.Failed() {
			t.Logf("%s: %s\n%s", p.name, strings.Join(args, " "), p.logTail(64<<10))
		}
	})
	t.Logf("%s: pid %d: schemakv %s", p.name, p.cmd.Process.Pid, strings.Join(args, " "))

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
	t.Logf("%s: serving %s (raft %s, applied_index %d)", p.name, p.Started.HTTP, p.Started.Raft, p.Started.AppliedIndex)
	return p
}

// findStarted scans the log for the start record.
func (p *proc) findStarted() (startedLine, bool) {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return startedLine{}, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(startedMsg)) {
			continue
		}
		var s startedLine
		if json.Unmarshal(line, &s) == nil && s.Msg == startedMsg && strings.HasPrefix(s.HTTP, "http://") {
			return s, true
		}
	}
	return startedLine{}, false
}

func (p *proc) waitHealthy(t testing.TB, deadline time.Time) {
	t.Helper()
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		status, _, body, err := doHTTP(ctx, http.MethodGet, p.URL()+"/v1/health", nil, nil)
		cancel()
		if err == nil && status == http.StatusOK {
			return
		}
		last = fmt.Sprintf("status %d, err %v, body %s", status, err, body)
		select {
		case <-p.exited:
			t.Fatalf("%s exited while waiting for /v1/health (%v)", p.name, p.waitErr)
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /v1/health not 200 before the deadline; last: %s", p.name, last)
		}
	}
}

// URL is the node's HTTP API base URL, such as http://127.0.0.1:40123.
func (p *proc) URL() string { return p.Started.HTTP }

// Log returns what the process wrote to stdout and stderr so far.
func (p *proc) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func (p *proc) logTail(n int) string {
	s := p.Log()
	if len(s) > n {
		s = "[...]\n" + s[len(s)-n:]
	}
	return s
}

// kill9 kills the process with SIGKILL and waits until it is reaped.
func (p *proc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("%s: SIGKILL: %v", p.name, err)
	}
	select {
	case <-p.exited:
		p.t.Logf("%s: killed with SIGKILL", p.name)
	case <-time.After(killTimeout):
		p.t.Fatalf("%s: not reaped %v after SIGKILL", p.name, killTimeout)
	}
}

// term sends SIGTERM, waits for the process to exit and asserts exit code 0.
func (p *proc) term() {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(exitTimeout):
		p.t.Fatalf("%s: still running %v after SIGTERM", p.name, exitTimeout)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 || p.waitErr != nil {
		p.t.Fatalf("%s: exit code %d after SIGTERM (%v), want 0; log:\n%s", p.name, code, p.waitErr, p.logTail(16<<10))
	}
	p.t.Logf("%s: exited with code 0 %v after SIGTERM", p.name, time.Since(start).Round(time.Millisecond))
}

// doHTTP sends one request. body, when not nil, is sent as JSON (a []byte or
// string as is, anything else marshalled). It returns the status, headers
// and the whole answer body.
func doHTTP(ctx context.Context, method, url string, body any, hdr http.Header) (int, http.Header, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, b, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// mustDo sends one request with requestTimeout, fails the test unless the
// status is one of want, and decodes the answer into out (when not nil).
// It returns the answer's headers.
func mustDo(t testing.TB, method, url string, body any, out any, want ...int) http.Header {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	status, hdr, b, err := doHTTP(ctx, method, url, body, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	ok := false
	for _, w := range want {
		ok = ok || status == w
	}
	if !ok {
		t.Fatalf("%s %s: status %d, want %v; body: %s", method, url, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %T: %v in %s", method, url, out, err, b)
		}
	}
	return hdr
}

// indexHeader returns X-Schemakv-Index as a number.
func indexHeader(t testing.TB, h http.Header) uint64 {
	t.Helper()
	v := h.Get("X-Schemakv-Index")
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("X-Schemakv-Index %q: %v", v, err)
	}
	return n
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// portFree reports whether addr can be listened on right now.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// system is what a scenario drives: the HTTP API of a running deployment
// and the faults and restarts it survives. Scenarios are written against it
// once; singleProcess is the one-node implementation, and multi-node process
// or container clusters implement the same methods.
type system interface {
	// URL is the API base URL a client is pointed at.
	URL() string
	// Crash kills every node with SIGKILL, whatever it is doing.
	Crash(t testing.TB)
	// Stop stops every node with SIGTERM and asserts a clean exit.
	Stop(t testing.TB)
	// Start starts every node again on its existing data and waits until
	// the API answers.
	Start(t testing.TB)
	// StartedApplied is the applied index each node logged at its latest
	// start.
	StartedApplied() []uint64
}

// singleProcess is a one-node deployment: one `schemakv server` process.
type singleProcess struct {
	mu sync.Mutex
	p  *proc
}

// newSingleProcess starts one server on a fresh data directory.
func newSingleProcess(t testing.TB) *singleProcess {
	t.Helper()
	return &singleProcess{p: startServer(t, filepath.Join(t.TempDir(), "data"))}
}

func (s *singleProcess) cur() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

func (s *singleProcess) URL() string { return s.cur().URL() }

func (s *singleProcess) Crash(t testing.TB) { t.Helper(); s.cur().kill9() }

func (s *singleProcess) Stop(t testing.TB) { t.Helper(); s.cur().term() }

func (s *singleProcess) Start(t testing.TB) {
	t.Helper()
	p := restartServer(t, s.cur())
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
}

func (s *singleProcess) StartedApplied() []uint64 { return []uint64{s.cur().Started.AppliedIndex} }
