package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/node"
)

// testServer is the node the browser talks to: its base URL and the API
// token a user pastes at sign-in ("" while the server has no
// authentication).
type testServer struct {
	URL   string
	Token string
	// People holds, per name the tests sign in as ("alice", "bob"), a
	// global admin token named after the person, and Audit how the server
	// records that person.
	People map[string]string
	Audit  map[string]string
}

// startServer starts a real single node on loopback :0 ports with a
// temporary data directory, closed when the test ends. It is the one place
// that knows how the node is configured: authentication is on, with a
// known bootstrap admin token that the browser tests paste at sign-in and
// httpGet sends.
func startServer(t *testing.T) testServer {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with mod applied to the node's
// configuration before it starts (an OIDC issuer, say).
func startServerWith(t *testing.T, mod func(*node.Config)) testServer {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.GossipAddr = "127.0.0.1:0"
	cfg.Cluster.RaftLogLevel = "error"
	cfg.Auth.BootstrapToken = uiTestAdminToken
	lw := &logWriter{t: t}
	cfg.Logger = slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("node.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("node.Close: %v", err)
		}
		lw.stop()
	})
	srv := testServer{URL: n.HTTPURL(), Token: uiTestAdminToken, People: map[string]string{}, Audit: map[string]string{}}
	for _, name := range []string{"alice", "bob"} {
		body := httpDo(t, srv, http.MethodPost, "/v1/tokens", "application/json",
			`{"name":"`+name+`","role":"admin"}`, http.StatusCreated)
		var tk api.TokenCreated
		if err := json.Unmarshal(body, &tk); err != nil {
			t.Fatal(err)
		}
		srv.People[name], srv.Audit[name] = tk.Secret, "token:"+name+":"+tk.ID
	}
	return srv
}

// logWriter sends the node's logs to t.Log until the test ends.
type logWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// chromiumPath finds a Chromium or Chrome binary: $SCHEMAKV_CHROMIUM, then
// the usual names on PATH.
func chromiumPath() string {
	if p := os.Getenv("SCHEMAKV_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts headless Chromium for one test and returns the context of
// its first tab. Without a Chromium binary the test is skipped, unless
// SCHEMAKV_REQUIRE_BROWSER is set (as CI does), when it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("SCHEMAKV_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium binary found (chromium, chromium-browser, google-chrome or $SCHEMAKV_CHROMIUM), and SCHEMAKV_REQUIRE_BROWSER is set: install Debian's chromium package")
		}
		t.Skip("SKIP browser test: no Chromium binary found (install Debian's chromium package, or set SCHEMAKV_CHROMIUM); set SCHEMAKV_REQUIRE_BROWSER=1 to fail instead")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	return newTab(t, actx)
}

// newTab opens a tab (the first one starts the browser) and reports its
// uncaught JavaScript exceptions as test failures.
func newTab(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	var opts []chromedp.ContextOption
	if chromedp.FromContext(parent) == nil {
		// The browser's log options go with its first tab only.
		opts = append(opts, chromedp.WithLogf(t.Logf))
	}
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start browser tab: %v", err)
	}
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := d.Text
			if d.Exception != nil {
				desc += " " + d.Exception.Description
			}
			t.Errorf("JavaScript exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, desc)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				t.Logf("console %s: %s", ev.Type, strings.Join(parts, " "))
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	return ctx
}

// artifactsDir is where screenshots go: $SCHEMAKV_ARTIFACTS/ui when set,
// else a temporary directory of the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("SCHEMAKV_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, "ui")
		if err := os.MkdirAll(dir, 0o755); err == nil {
			return dir
		}
		t.Logf("SCHEMAKV_ARTIFACTS=%s cannot be used; screenshots go to a temporary directory", d)
	}
	return t.TempDir()
}

// httpGet reads a URL with the test server's token.
func httpGet(t *testing.T, srv testServer, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Token != "" {
		req.Header.Set("Authorization", "Bearer "+srv.Token)
	}
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return res, body
}

// uiTestAdminToken is the bootstrap admin token of the UI tests' nodes.
const uiTestAdminToken = "skv_ui-test-admin-token-0123456789abcdef"
