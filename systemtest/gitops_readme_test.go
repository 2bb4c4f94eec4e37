package systemtest

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// TestReadme_GitOps runs the README's GitOps walkthrough verbatim with bash
// against a server process on ephemeral ports (SCHEMAKV_ADDR), with a real
// git, and checks each step's output and the final state.
func TestReadme_GitOps(t *testing.T) {
	bin := needBinary(t)
	script := readmeBlock(t, filepath.Join(moduleRoot, "README.md"), "gitops")
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the GitOps walkthrough needs git on PATH: %v", err)
	}
	srv := startServer(t, t.TempDir())

	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(work, "bin", "schemakv")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(work, "gitops.sh")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", path)
	cmd.Dir = work
	// A user has a Git identity; the test gives one without touching the
	// caller's configuration (HOME is the work directory).
	cmd.Env = append(serverEnv(), "SCHEMAKV_ADDR="+srv.URL(), "HOME="+work, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Walkthrough", "GIT_AUTHOR_EMAIL=walk@example.com",
		"GIT_COMMITTER_NAME=Walkthrough", "GIT_COMMITTER_EMAIL=walk@example.com",
		"NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	t.Logf("walkthrough output:\n%s", out.String())
	if err != nil {
		t.Fatalf("bash -euo pipefail <README GitOps walkthrough>: %v (the output above ends at the failing command)", err)
	}

	output := out.String()
	for _, c := range []struct{ step, pattern string }{
		{"export", `exported 1 namespace\(s\), 1 schema version\(s\) and 1 config\(s\) to config-repo`},
		{"layout", `(?m)^config-repo/namespaces/shop/configs/api/limits.yaml\nconfig-repo/namespaces/shop/namespace.yaml\nconfig-repo/namespaces/shop/schemas/limits/v1.yaml$`},
		{"exported file", `(?m)^schema: limits@1\nvalue:\n  timeout_ms: 2500\n  retries: 3$`},
		{"round trip", `(?m)^No changes: the server matches the directory.$`},
		{"diff", `(?m)^    -  "timeout_ms": 2500\n    \+  "timeout_ms": 3000$`},
		{"create", `\+ create config shop/api/search  \(limits@1, namespaces/shop/configs/api/search.yaml\)`},
		{"summary", `Plan: 0 namespace\(s\) to create, 0 schema version\(s\) to register, 1 config\(s\) to create, 1 to update, 0 to delete.`},
		{"saved", `Saved the plan to plan.json`},
		{"applied", `Applied: 0 namespace\(s\) created, 0 schema version\(s\) registered, 2 config change\(s\) in 1 batch\(es\)`},
		{"history reason", `(?m)^\d+\s+put\s+2\s+limits@1\s+.*git [0-9a-f]{40} CR-77: raise the API timeout, limit search$`},
		{"problem with line", `namespaces/shop/configs/api/search.yaml:4: value at /retries fails limits@1: `},
	} {
		if !regexp.MustCompile(c.pattern).MatchString(output) {
			t.Errorf("walkthrough output lacks the %s step (no match for %s)", c.step, c.pattern)
		}
	}
	if n := strings.Count(output, "No changes: the server matches the directory."); n != 2 {
		t.Errorf("walkthrough shows %d no-change plans, want 2 (after export and after apply)", n)
	}

	var e api.ConfigEntry
	mustDo(t, http.MethodGet, srv.URL()+"/v1/namespaces/shop/configs/api/search", nil, &e, http.StatusOK)
	if !jsonEqual(e.Value, []byte(`{"timeout_ms": 800}`)) {
		t.Errorf("api/search after the walkthrough = %s; the invalid edit must not have been applied", e.Value)
	}
	mustDo(t, http.MethodGet, srv.URL()+"/v1/namespaces/shop/configs/api/limits", nil, &e, http.StatusOK)
	if !jsonEqual(e.Value, []byte(`{"timeout_ms": 3000, "retries": 3}`)) || !strings.HasPrefix(e.Reason, "git ") {
		t.Errorf("api/limits after the walkthrough = %s, reason %q", e.Value, e.Reason)
	}
}

// readmeBlock returns the one fenced sh block between the markers
// <!-- name:begin --> and <!-- name:end --> of the README at path, the way
// readmeQuickstart does for the quickstart.
func readmeBlock(t *testing.T, path, name string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no %s ... %s section", path, begin, end)
	}
	section := strings.TrimSpace(s[i+len(begin) : j])
	const fence = "```"
	if !strings.HasPrefix(section, fence+"sh\n") || !strings.HasSuffix(section, "\n"+fence) || strings.Count(section, fence) != 2 {
		t.Fatalf("%s: the %s section must be exactly one ```sh block:\n%s", path, name, section)
	}
	return strings.TrimSuffix(strings.TrimPrefix(section, fence+"sh\n"), fence)
}
