package cli

// These tests run the command line against a real single-node server
// started in-process with package node.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/node"
)

const limitsSchema = `{
	"type": "object",
	"properties": {
		"retries": {"type": "integer", "minimum": 0, "maximum": 10},
		"timeout_ms": {"type": "integer"}
	},
	"required": ["retries"]
}`

func TestCLI_NamespaceSchemaConfig(t *testing.T) {
	addr := mustStartNode(t)
	sk := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, stdin, append([]string{"--addr", addr, "--token", bobToken(addr)}, args...)...)
	}

	mustExit(t, exitOK, "created namespace payments")(sk("", "ns", "create", "payments", "--description", "payment services"))
	mustExit(t, exitError, "error: namespace_exists: ")(sk("", "ns", "create", "payments"))
	mustExit(t, exitOK, "payment services")(sk("", "ns", "list"))
	mustExit(t, exitOK, "Description:  payment services")(sk("", "ns", "get", "payments"))

	mustExit(t, exitOK, "registered schema payments/limits version 1")(sk(limitsSchema, "schema", "register", "payments", "limits", "-"))
	file := filepath.Join(t.TempDir(), "limits.json")
	if err := os.WriteFile(file, []byte(limitsSchema), 0o600); err != nil {
		t.Fatal(err)
	}
	mustExit(t, exitOK, "version 2")(sk("", "schema", "register", "payments", "limits", file, "--description", "same again"))
	mustExit(t, exitOK, "limits  2       1,2")(sk("", "schema", "list", "payments"))
	mustExit(t, exitOK, "same again")(sk("", "schema", "versions", "payments", "limits"))
	mustExit(t, exitOK, "Schema:       payments/limits@1")(sk("", "schema", "get", "payments", "limits", "1"))
	mustExit(t, exitError, "error: schema_not_found: ")(sk("", "schema", "get", "payments", "limits", "9"))

	mustExit(t, exitOK, "(version 1, schema limits@1)")(sk("", "--reason", "initial", "config", "put", "payments", "checkout/limits", "--schema", "limits@1", "--value", `{"retries":3}`))
	_, out, _ := sk("", "config", "get", "payments", "checkout/limits")
	for _, want := range []string{"Key:          payments/checkout/limits", "Schema:       limits@1", "Version:      1", "Modified by:  " + bobPrincipal(addr), "Reason:       initial", `"retries": 3`} {
		if !strings.Contains(squeeze(out), squeeze(want)) {
			t.Errorf("config get: stdout lacks %q:\n%s", want, out)
		}
	}

	_, out, _ = sk("", "-o", "json", "get", "payments", "checkout/limits")
	var e api.ConfigEntry
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("get -o json: %v in %q", err, out)
	}
	if e.Key != "checkout/limits" || e.SchemaVersion != 1 || e.ModifiedBy != bobPrincipal(addr) {
		t.Fatalf("get -o json = %+v", e)
	}

	mustExit(t, exitOK, "Version: 1")(sk("", "--stale", "config", "get", "payments", "checkout/limits"))

	valueFile := filepath.Join(t.TempDir(), "value.json")
	if err := os.WriteFile(valueFile, []byte(`{"retries":4,"timeout_ms":100}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mustExit(t, exitOK, "(version 2, schema limits@2)")(sk("", "put", "payments", "checkout/limits", "--file", valueFile))
	mustExit(t, exitOK, "(version 3, schema limits@2)")(sk(`{"retries":5}`, "put", "payments", "checkout/limits", "-"))

	code, _, stderr := sk("", "put", "payments", "checkout/limits", "--value", `{"retries":99}`)
	if code != exitError || !strings.HasPrefix(stderr, "error: validation_failed: ") || !strings.Contains(stderr, "\n  /retries: ") {
		t.Fatalf("put invalid: exit %d, stderr %q; want validation_failed with a /retries line", code, stderr)
	}
	mustExit(t, exitError, "error: config_not_found: ")(sk("", "get", "payments", "checkout/missing"))
	mustExit(t, exitError, "error: schema_required: ")(sk("", "put", "payments", "new", "--value", `{"retries":1}`))

	code, _, stderr = sk("", "put", "payments", "checkout/limits", "--value", `{"retries":1}`, "--if-match", "1")
	if code != exitError || !strings.HasPrefix(stderr, "error: revision_mismatch: ") {
		t.Fatalf("put --if-match stale: exit %d, stderr %q", code, stderr)
	}
	mustExit(t, exitOK, "put payments/checkout/limits")(sk("", "put", "payments", "checkout/limits", "--value", `{"retries":6}`, "--if-match", fmt.Sprint(mustGet(t, addr, "payments", "checkout/limits").ModifyRevision)))

	for i := range 5 {
		mustExit(t, exitOK, "")(sk("", "put", "payments", fmt.Sprintf("flags/f%d", i), "--schema", "limits", "--value", `{"retries":1}`))
	}
	code, out, stderr = sk("", "list", "payments", "--prefix", "flags/", "--limit", "2")
	if code != exitOK || strings.Count(out, "flags/f") != 2 || !strings.Contains(stderr, "more entries: --after flags/f1") {
		t.Fatalf("list --limit 2: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	_, out, _ = sk("", "-o", "json", "config", "list", "payments", "--prefix", "flags/", "--limit", "2", "--all")
	var l api.ConfigList
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Items) != 5 || l.Next != "" {
		t.Fatalf("list --all -o json = %+v, %v; want 5 items", l, err)
	}

	_, out, _ = sk("", "-o", "json", "config", "history", "payments", "checkout/limits")
	var h api.History
	if err := json.Unmarshal([]byte(out), &h); err != nil || len(h.Items) != 4 {
		t.Fatalf("history -o json = %+v, %v; want 4 events", h, err)
	}
	first, last := h.Items[len(h.Items)-1].Revision, h.Items[0].Revision
	mustExit(t, exitOK, "initial")(sk("", "config", "history", "payments", "checkout/limits"))
	mustExit(t, exitOK, "replace  /retries  6")(sk("", "config", "diff", "payments", "checkout/limits", fmt.Sprint(first), fmt.Sprint(last)))
	mustExit(t, exitOK, "Schema changed:  yes")(sk("", "config", "diff", "payments", "checkout/limits", fmt.Sprint(first)))
	mustExit(t, exitOK, fmt.Sprintf("rolled back payments/checkout/limits to revision %d", first))(sk("", "config", "rollback", "payments", "checkout/limits", fmt.Sprint(first)))
	if got := mustGet(t, addr, "payments", "checkout/limits"); got.SchemaVersion != 1 || string(got.Value) != `{"retries":3}` {
		t.Fatalf("after rollback: %+v", got)
	}

	mustExit(t, exitError, "error: namespace_not_empty: ")(sk("", "ns", "delete", "payments"))
	mustExit(t, exitOK, "deleted payments/flags/f0")(sk("", "config", "delete", "payments", "flags/f0"))
	mustExit(t, exitOK, "deleted namespace payments")(sk("", "ns", "delete", "payments", "--force"))
	mustExit(t, exitError, "error: namespace_not_found: ")(sk("", "ns", "get", "payments"))
}

func TestCLI_Batch(t *testing.T) {
	addr := mustStartNode(t)
	sk := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, stdin, append([]string{"--addr", addr, "--token", cliAdminToken}, args...)...)
	}
	mustExit(t, exitOK, "")(sk("", "ns", "create", "shop"))
	mustExit(t, exitOK, "")(sk(limitsSchema, "schema", "register", "shop", "limits", "-"))

	ok := `{"reason": "two at once", "ops": [
		{"op": "put", "namespace": "shop", "key": "a", "schema": "limits", "value": {"retries": 1}, "revision": 0},
		{"op": "put", "namespace": "shop", "key": "b", "schema": "limits", "value": {"retries": 2}}
	]}`
	code, out, _ := sk(ok, "batch", "-")
	if code != exitOK || !strings.Contains(out, "committed 2 operations at revision ") {
		t.Fatalf("batch: exit %d, stdout %q", code, out)
	}

	bad := `{"ops": [
		{"op": "put", "namespace": "shop", "key": "c", "schema": "limits", "value": {"retries": 1}},
		{"op": "put", "namespace": "shop", "key": "a", "schema": "limits", "value": {"retries": 1}, "revision": 0}
	]}`
	code, _, stderr := sk(bad, "batch", "-")
	if code != exitError || !strings.HasPrefix(stderr, "error: batch_failed: ") || !strings.Contains(stderr, "\n  ops[1]: revision_mismatch: ") {
		t.Fatalf("failing batch: exit %d, stderr %q", code, stderr)
	}
	mustExit(t, exitError, "error: config_not_found: ")(sk("", "get", "shop", "c"))

	code, _, stderr = sk(`{"ops": [{"op": "put", "revison": 3}]}`, "batch", "-")
	if code != exitError || !strings.Contains(stderr, "unknown field") {
		t.Fatalf("misspelt batch field: exit %d, stderr %q", code, stderr)
	}
}

// mustExit returns a checker of run's results: the exit code, and want in
// stdout (for exit 0) or stderr, with runs of blanks compared as one space
// so that table padding does not matter.
func mustExit(t *testing.T, code int, want string) func(int, string, string) {
	t.Helper()
	return func(gotCode int, stdout, stderr string) {
		t.Helper()
		out := stdout
		if code != exitOK {
			out = stderr
		}
		if gotCode != code || !strings.Contains(squeeze(out), squeeze(want)) {
			t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", gotCode, code, want, stdout, stderr)
		}
	}
}

var blanks = regexp.MustCompile(`[ \t]+`)

func squeeze(s string) string { return blanks.ReplaceAllString(s, " ") }

func mustGet(t *testing.T, addr, ns, key string) *api.ConfigEntry {
	t.Helper()
	c, err := client.New(client.Config{Address: addr, Token: cliAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := c.Configs().Get(context.Background(), ns, key, nil)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", ns, key, err)
	}
	return e
}

// mustStartNode starts a single node for the test, waits until it leads and
// returns its URL.
func mustStartNode(t *testing.T) string {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.GossipAddr = "127.0.0.1:0"
	cfg.NodeID = "cli-test"
	cfg.Auth.BootstrapToken = cliAdminToken
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("node.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("closing the node: %v", err)
		}
	})
	c, err := client.New(client.Config{Address: n.HTTPURL(), Token: cliAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, _, err := c.Health(context.Background(), &client.ReadOptions{Stale: true})
		if err == nil && h.Leader {
			// The tests act as "bob", a global admin token.
			tc, _, err := c.Auth().CreateToken(context.Background(), api.CreateTokenRequest{Name: "bob", Role: api.RoleAdmin}, nil)
			if err != nil {
				t.Fatalf("creating bob's token: %v", err)
			}
			bobs.Store(n.HTTPURL(), tc)
			return n.HTTPURL()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader after 10s (last health %+v, %v)", h, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cliAdminToken is the bootstrap admin token of the test nodes.
const cliAdminToken = "skv_cli-test-admin-token-0123456789abcdef"

// bobs holds, per node URL, the token the tests act with.
var bobs sync.Map // string -> *api.TokenCreated

func bobToken(addr string) string {
	v, _ := bobs.Load(addr)
	return v.(*api.TokenCreated).Secret
}

// bobPrincipal is how the server records bob.
func bobPrincipal(addr string) string {
	v, _ := bobs.Load(addr)
	return "token:bob:" + v.(*api.TokenCreated).ID
}
