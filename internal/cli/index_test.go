package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

func TestCLI_IndexAndWhere(t *testing.T) {
	addr := mustStartNode(t)
	sk := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, "", append([]string{"--addr", addr}, args...)...)
	}
	mustExit(t, exitOK, "created namespace")(sk("ns", "create", "payments"))
	mustExit(t, exitOK, "version 1")(run(t, limitsSchema, "--addr", addr, "schema", "register", "payments", "limits", "-"))
	for i := range 6 {
		mustExit(t, exitOK, "version 1")(sk("config", "put", "payments", fmt.Sprintf("svc/%d", i), "--schema", "limits@1", "--value", fmt.Sprintf(`{"retries":%d}`, i%3)))
	}
	mustExit(t, exitOK, "created index payments/retries on retries")(sk("index", "create", "payments", "retries", "--path", "retries", "--schema", "limits"))
	mustExit(t, exitError, "error: schema_not_found")(sk("index", "create", "payments", "bad", "--path", "retries", "--schema", "nope"))
	mustExit(t, exitError, "error: invalid_path")(sk("index", "create", "payments", "bad", "--path", "a..b"))
	mustExit(t, exitUsage, "--path is required")(sk("index", "create", "payments", "bad"))

	c, err := client.New(client.Config{Address: addr, Token: cliAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		d, _, err := c.Indexes().Get(ctx, "payments", "retries", nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.State == api.IndexReady {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("index not ready: %+v", d)
		case <-time.After(20 * time.Millisecond):
		}
	}
	mustExit(t, exitOK, "retries  retries  limits  ready  6/6  6")(sk("index", "list", "payments"))
	mustExit(t, exitOK, "ready")(sk("index", "get", "payments", "retries"))
	code, out, errOut := sk("config", "list", "payments", "--where", "retries>=1", "--schema", "limits", "--all", "--limit", "1")
	if code != exitOK || !strings.Contains(errOut, "plan: index:retries") {
		t.Fatalf("where list: %d %q %q", code, out, errOut)
	}
	for _, k := range []string{"svc/1", "svc/2", "svc/4", "svc/5"} {
		if !strings.Contains(out, k+" ") {
			t.Errorf("where list lacks %s:\n%s", k, out)
		}
	}
	if strings.Contains(out, "svc/0 ") || strings.Contains(out, "svc/3 ") {
		t.Errorf("where list holds non-matching entries:\n%s", out)
	}
	mustExit(t, exitError, "error: index_required")(sk("config", "list", "payments", "--where", "retries==1"))
	mustExit(t, exitError, "error: unknown_operator")(sk("config", "list", "payments", "--where", "retries=1"))
	if code, out, errOut := sk("config", "list", "payments", "--where", "retries==1", "--allow-scan"); code != exitOK || !strings.Contains(errOut, "plan: scan") || !strings.Contains(out, "svc/4 ") {
		t.Fatalf("scan list: %d %q %q", code, out, errOut)
	}
	mustExit(t, exitOK, "dropped index payments/retries")(sk("index", "delete", "payments", "retries"))
	mustExit(t, exitError, "error: index_not_found")(sk("index", "get", "payments", "retries"))
}
