package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLI_Import(t *testing.T) {
	addr := mustStartNode(t)
	sk := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, stdin, append([]string{"--addr", addr, "--principal", "bob"}, args...)...)
	}
	mustExit(t, exitOK, "created namespace payments")(sk("", "ns", "create", "payments"))
	mustExit(t, exitOK, "version 1")(sk(limitsSchema, "schema", "register", "payments", "limits", "-"))

	dir := t.TempDir()
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, fmt.Sprintf(`{"namespace":"payments","key":"svc/%02d","schema":"limits@1","value":{"retries":%d}}`, i, i%10))
	}
	good := filepath.Join(dir, "a", "good.ndjson")
	if err := os.MkdirAll(filepath.Dir(good), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(strings.Join(lines[:40], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(strings.Join(lines[40:], "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory: every *.ndjson/*.jsonl file in path order, one atomic job.
	mustExit(t, exitOK, "APPLIED    50")(sk("", "--reason", "onboard", "import", dir))
	mustExit(t, exitOK, "Reason:       onboard")(sk("", "config", "get", "payments", "svc/07"))

	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"namespace":"payments","key":"x/1","schema":"limits@1","value":{"retries":99}},
		{"namespace":"payments","key":"x/2","schema":"limits@1","value":{"retries":1}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := sk("", "import", bad)
	mustExit(t, exitError, "failed: 1 of 2 entries failed; nothing was published")(code, out, "failed: 1 of 2 entries failed; nothing was published")
	if !strings.Contains(out, `entry 0 payments/x/1: validation_failed`) {
		t.Fatalf("stdout lacks the failure:\n%s", out)
	}
	mustExit(t, exitError, "partial: 1 of 2 entries failed; the others were applied")(sk("", "import", "--mode", "best-effort", bad))
	mustExit(t, exitOK, "Version:      1")(sk("", "config", "get", "payments", "x/2"))
	mustExit(t, exitOK, "succeeded")(sk(lines[0]+"\n", "import", "--dry-run", "-"))
	mustExit(t, exitOK, "partial")(sk("", "import-status"))
	// A GitOps layout: its config entries are imported.
	layout := t.TempDir()
	for name, body := range map[string]string{
		"namespaces/payments/schemas/limits/v1.json": limitsSchema,
		"namespaces/payments/configs/gw/eu.yaml":     "schema: limits@1\nvalue:\n  retries: 2\n",
		"namespaces/payments/configs/gw/us.json":     `{"schema": "limits@1", "value": {"retries": 3}}`,
	} {
		p := filepath.Join(layout, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustExit(t, exitOK, "APPLIED 2")(sk("", "import", layout))
	mustExit(t, exitOK, `"retries": 3`)(sk("", "config", "get", "payments", "gw/us"))
	bad2 := filepath.Join(layout, "namespaces", "payments", "configs", "gw", "bad.yaml")
	if err := os.WriteFile(bad2, []byte("schema: limits@1\nvalue:\n  retries: 99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustExit(t, exitError, "GitOps layout with problems")(sk("", "import", layout))

	// A malformed upload fails the command and cancels its job.
	mustExit(t, exitError, "invalid_import")(sk("not json\n", "import", "-"))
	mustExit(t, exitOK, "cancelled")(sk("", "import-status"))
	mustExit(t, exitUsage, "--mode must be")(sk("", "import", "--mode", "x", bad))
}
