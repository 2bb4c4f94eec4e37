package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCLI_SchemaImportCheckMigrate(t *testing.T) {
	addr := mustStartNode(t)
	sk := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, stdin, append([]string{"--addr", addr}, args...)...)
	}
	dir := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("limits/1.json", `{"type":"object","properties":{"retries":{"type":"integer"}}}`)
	write("limits/2.json", `{"type":"object","properties":{"retries":{"type":"integer"},"timeout_ms":{"type":"integer"}}}`)
	write("owner@1.json", `{"type":"string"}`)
	write("README.md", "not a schema")

	mustExit(t, exitOK, "created namespace app")(sk("", "ns", "create", "app"))
	mustExit(t, exitOK, "3 schema versions would be registered")(sk("", "schema", "import", "app", dir, "--dry-run"))
	mustExit(t, exitOK, "registered 3 schema versions")(sk("", "schema", "import", "app", dir))
	mustExit(t, exitOK, "nothing to import")(sk("", "schema", "import", "app", dir))
	write("bad/x.json", `{}`)
	mustExit(t, exitUsage, "want <name>/<version>.json")(sk("", "schema", "import", "app", dir))
	if err := os.RemoveAll(filepath.Join(dir, "bad")); err != nil {
		t.Fatal(err)
	}

	mustExit(t, exitOK, "schema limits@2")(sk("", "config", "put", "app", "svc/a", "--schema", "limits@2", "--value", `{"retries":30,"timeout_ms":5}`))
	strict := `{"type":"object","properties":{"retries":{"type":"integer","maximum":10},"timeout_ms":{"type":"integer"}}}`
	mustExit(t, exitError, "svc/a (version 2)")(sk(strict, "schema", "check", "app", "limits", "-"))
	mustExit(t, exitError, "evolution_check_failed")(sk(strict, "schema", "register", "app", "limits", "-"))
	mustExit(t, exitOK, "limits@3 (from version 2, policy strict): 1 entries checked, 0 fail")(sk(`{"type":"object","properties":{"retries":{"type":"integer"},"timeout_ms":{"type":"integer"},"x":{"type":"string"}}}`, "schema", "check", "app", "limits", "-"))
	mustExit(t, exitOK, "Policy: none")(sk("", "schema", "policy", "app", "limits", "none"))
	mustExit(t, exitOK, "version 3")(sk(strict, "schema", "register", "app", "limits", "-"))
	mustExit(t, exitOK, "1 would stay")(sk("", "schema", "migrate", "app", "limits", "--from", "2", "--to", "3", "--dry-run"))
	mustExit(t, exitOK, "State: completed")(sk("", "schema", "migrate", "app", "limits", "--from", "2", "--to", "3", "--wait"))
	mustExit(t, exitOK, "2 false 1")(sk("", "schema", "status", "app", "limits"))
	mustExit(t, exitOK, "true")(sk("", "schema", "deprecate", "app", "limits", "1"))
	mustExit(t, exitOK, "Policy: none")(sk("", "schema", "delete-version", "app", "limits", "1"))
	mustExit(t, exitOK, "delete 1")(sk("", "schema", "history", "app", "limits"))
}
