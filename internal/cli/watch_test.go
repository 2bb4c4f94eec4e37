package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

func TestCLI_WatchPrintsChanges(t *testing.T) {
	addr := mustStartNode(t)
	sk := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, stdin, append([]string{"--addr", addr, "--token", bobToken(addr)}, args...)...)
	}
	mustExit(t, exitOK, "")(sk("", "ns", "create", "w"))
	mustExit(t, exitOK, "")(sk(limitsSchema, "schema", "register", "w", "limits", "-"))
	watch := func(args ...string) (int, string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		var stdout, stderr bytes.Buffer
		code := executeWith(ctx, append([]string{"--addr", addr, "--token", cliAdminToken}, args...), strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	mustExit(t, exitOK, "")(sk("", "config", "put", "w", "a/x", "--schema", "limits", "--value", `{"retries":1}`))
	mustExit(t, exitOK, "")(sk("", "config", "delete", "w", "a/x"))
	code, out, errOut := watch("watch", "w", "--prefix", "a/", "--from", "1")
	if code != exitOK || !strings.Contains(out, " put a/x {\"retries\":1} ("+bobPrincipal(addr)+")") || !strings.Contains(out, " delete a/x") {
		t.Fatalf("watch: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = watch("watch", "w", "--key", "a/x", "--from", "1", "-o", "json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m api.WatchMessage
	if code != exitOK || len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &m) != nil || m.Events[0].Op != api.OpPut {
		t.Fatalf("watch -o json: exit %d\n%s", code, out)
	}
	code, _, errOut = watch("watch", "w", "--key", "a", "--prefix", "b")
	if code != exitUsage {
		t.Fatalf("--key with --prefix: exit %d %s", code, errOut)
	}
}
