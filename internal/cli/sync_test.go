package cli

// End-to-end tests of sync plan/apply/watch and export: a real Git
// repository (the git command) and a real single-node server in-process.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/gitops"
)

const checkoutSchema = `{
	"type": "object",
	"properties": {
		"timeout_ms": {"type": "integer", "minimum": 1},
		"retries": {"type": "integer", "minimum": 0, "maximum": 10},
		"currency": {"enum": ["EUR", "USD", "GBP"]}
	},
	"required": ["timeout_ms"]
}`

// gitRepo is a Git work tree made with the git command.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("these tests need the git command: %v", err)
	}
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	r.git("config", "user.name", "Sync Test")
	r.git("config", "user.email", "sync@example.com")
	r.git("config", "commit.gpgsign", "false")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+r.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *gitRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func (r *gitRepo) write(rel, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *gitRepo) read(rel string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(rel)))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

func mustClient(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Address: addr, Token: cliAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seedPayments creates namespace payments with schema checkout@1 and two
// entries through the API, and returns the client.
func seedPayments(t *testing.T, addr string) *client.Client {
	t.Helper()
	ctx := context.Background()
	c := mustClient(t, addr)
	if _, _, err := c.Namespaces().Create(ctx, "payments", api.CreateNamespaceRequest{Description: "Payments team"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Schemas().Register(ctx, "payments", "checkout", api.RegisterSchemaRequest{Schema: json.RawMessage(checkoutSchema)}, nil); err != nil {
		t.Fatal(err)
	}
	for key, v := range map[string]string{
		"checkout/eu": `{"timeout_ms": 2500, "retries": 3, "currency": "EUR"}`,
		"checkout/us": `{"timeout_ms": 2000, "retries": 2, "currency": "USD"}`,
	} {
		if _, _, err := c.Configs().Put(ctx, "payments", key, api.PutConfigRequest{Schema: "checkout@1", Value: json.RawMessage(v)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// planJSON runs sync plan -o json and decodes the plan.
func planJSON(t *testing.T, addr string, args ...string) (int, *gitops.Plan) {
	t.Helper()
	code, out, _ := run(t, "", append([]string{"--addr", addr, "-o", "json", "sync", "plan"}, args...)...)
	if code == exitError {
		return code, nil
	}
	var p gitops.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("sync plan -o json: %v in %q", err, out)
	}
	return code, &p
}

func currentRevision(t *testing.T, c *client.Client) uint64 {
	t.Helper()
	l, _, err := c.Namespaces().List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return l.Revision
}

func TestSync_ExportEditCommitPlanApply(t *testing.T) {
	addr := mustStartNode(t)
	c := seedPayments(t, addr)
	ctx := context.Background()
	repo := newGitRepo(t)
	sk := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, "", append([]string{"--addr", addr}, args...)...)
	}

	mustExit(t, exitOK, "exported 1 namespace(s), 1 schema version(s) and 2 config(s)")(sk("export", "--dir", repo.dir))
	if got := repo.read("namespaces/payments/configs/checkout/eu.yaml"); got != "schema: checkout@1\nvalue:\n  timeout_ms: 2500\n  retries: 3\n  currency: EUR\n" {
		t.Fatalf("exported checkout/eu.yaml:\n%s", got)
	}
	repo.commit("export payments")

	// Round trip: the export plans as no change.
	mustExit(t, exitOK, "No changes: the server matches the directory.")(sk("sync", "plan", "--dir", repo.dir))

	// Edit by hand, with comments, a new entry and a new schema version.
	repo.write("namespaces/payments/configs/checkout/eu.yaml", `# EU checkout: slower acquirers
schema: checkout@1
value:
  timeout_ms: 3000   # was 2500
  retries: 3
  currency: EUR
`)
	repo.write("namespaces/payments/configs/checkout/uk.yaml", "schema: checkout@1\nvalue: {timeout_ms: 1500, currency: GBP}\n")
	repo.write("namespaces/payments/schemas/checkout/v2.yaml", `type: object
properties:
  timeout_ms: {type: integer, minimum: 1}
  retries: {type: integer, minimum: 0, maximum: 10}
  currency: {enum: [EUR, USD, GBP, JPY]}
required: [timeout_ms]
`)
	head := repo.commit("checkout: raise the EU timeout, add UK")

	code, out, _ := sk("sync", "plan", "--dir", repo.dir)
	if code != exitChanges {
		t.Fatalf("plan after the edit: exit %d, want %d", code, exitChanges)
	}
	for _, want := range []string{
		"+ register schema payments/checkout@2  (namespaces/payments/schemas/checkout/v2.yaml)",
		"dry run (server): all 2 config(s) pinned to checkout@1 validate against @2",
		"~ update config payments/checkout/eu",
		"--- server payments/checkout/eu (checkout@1, revision ",
		"+++ namespaces/payments/configs/checkout/eu.yaml (checkout@1)",
		"\n    -  \"timeout_ms\": 2500\n    +  \"timeout_ms\": 3000\n",
		"+ create config payments/checkout/uk  (checkout@1, namespaces/payments/configs/checkout/uk.yaml)",
		"Plan: 0 namespace(s) to create, 1 schema version(s) to register, 1 config(s) to create, 1 to update, 0 to delete.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q", want)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("plan output to a non-terminal has colour escapes")
	}
	if strings.Contains(out, "checkout/us") {
		t.Errorf("plan mentions the unchanged checkout/us")
	}
	// --color always paints it.
	_, colored, _ := sk("sync", "plan", "--dir", repo.dir, "--color", "always")
	if !strings.Contains(colored, "\x1b[32m+ create\x1b[0m") || !strings.Contains(colored, "\x1b[31m-  \"timeout_ms\": 2500\x1b[0m") {
		t.Errorf("--color always: no ANSI colours in\n%q", colored)
	}

	code, p := planJSON(t, addr, "--dir", repo.dir)
	if code != exitChanges || len(p.Configs) != 2 || len(p.Schemas) != 1 || p.Schemas[0].Version != 2 {
		t.Fatalf("plan -o json: exit %d, %+v", code, p)
	}
	if want := "git " + head + " checkout: raise the EU timeout, add UK"; p.Reason != want {
		t.Fatalf("plan reason = %q, want %q", p.Reason, want)
	}

	before := currentRevision(t, c)
	code, out, _ = sk("sync", "apply", "--dir", repo.dir)
	if code != exitOK || !strings.Contains(out, "Applied: 0 namespace(s) created, 1 schema version(s) registered, 2 config change(s) in 1 batch(es)") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	eu, _, err := c.Configs().Get(ctx, "payments", "checkout/eu", nil)
	if err != nil {
		t.Fatal(err)
	}
	uk, _, err := c.Configs().Get(ctx, "payments", "checkout/uk", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(eu.Value), `"timeout_ms":3000`) || eu.Reason != p.Reason || uk.ModifyRevision != eu.ModifyRevision {
		t.Fatalf("after apply: eu %+v, uk %+v", eu, uk)
	}
	// One schema registration and one batch: two revisions.
	if after := currentRevision(t, c); after != before+2 {
		t.Errorf("apply moved the revision from %d to %d, want +2 (schema, one batch)", before, after)
	}
	sv, _, err := c.Schemas().Get(ctx, "payments", "checkout", 2, nil)
	if err != nil || sv.Reason != p.Reason {
		t.Fatalf("schema v2: %+v, %v", sv, err)
	}

	mustExit(t, exitOK, "No changes")(sk("sync", "plan", "--dir", repo.dir))
	// Applying again changes nothing and succeeds.
	mustExit(t, exitOK, "No changes")(sk("sync", "apply", "--dir", repo.dir))
	if after := currentRevision(t, c); after != before+2 {
		t.Errorf("a second apply moved the revision to %d", after)
	}

	// Export to JSON files round-trips as well.
	jsonDir := t.TempDir()
	mustExit(t, exitOK, "3 config(s)")(sk("export", "--dir", jsonDir, "--format", "json", "--namespace", "payments"))
	mustExit(t, exitOK, "No changes")(sk("sync", "plan", "--dir", jsonDir))
}

func TestSync_Drift(t *testing.T) {
	addr := mustStartNode(t)
	c := seedPayments(t, addr)
	ctx := context.Background()
	repo := newGitRepo(t)
	mustExit(t, exitOK, "")(run(t, "", "--addr", addr, "export", "--dir", repo.dir))
	repo.commit("export")

	// Out of band: one value edited, one entry deleted, one added.
	if _, _, err := c.Configs().Put(ctx, "payments", "checkout/eu", api.PutConfigRequest{Value: json.RawMessage(`{"timeout_ms": 9999, "retries": 3, "currency": "EUR"}`)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Configs().Delete(ctx, "payments", "checkout/us", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Configs().Put(ctx, "payments", "checkout/jp", api.PutConfigRequest{Schema: "checkout@1", Value: json.RawMessage(`{"timeout_ms": 100}`)}, nil); err != nil {
		t.Fatal(err)
	}

	code, p := planJSON(t, addr, "--dir", repo.dir)
	if code != exitChanges {
		t.Fatalf("plan: exit %d", code)
	}
	var got []string
	for _, ch := range p.Configs {
		got = append(got, ch.Action+" "+ch.Key)
	}
	if strings.Join(got, ", ") != "update checkout/eu, create checkout/us" || len(p.Unmanaged) != 1 || p.Unmanaged[0] != "payments/checkout/jp" {
		t.Fatalf("drift plan = %v, unmanaged %v", got, p.Unmanaged)
	}
	if !strings.Contains(p.Configs[0].Diff, "-  \"timeout_ms\": 9999\n+  \"timeout_ms\": 2500\n") {
		t.Fatalf("drift diff:\n%s", p.Configs[0].Diff)
	}
	code, p = planJSON(t, addr, "--dir", repo.dir, "--prune")
	if code != exitChanges || len(p.Configs) != 3 || p.Configs[2].Action != gitops.ActionDelete || p.Configs[2].Key != "checkout/jp" {
		t.Fatalf("drift plan with --prune: %+v", p.Configs)
	}
}

func TestSync_ConcurrentEditBetweenPlanAndApply(t *testing.T) {
	addr := mustStartNode(t)
	c := seedPayments(t, addr)
	ctx := context.Background()
	repo := newGitRepo(t)
	sk := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, "", append([]string{"--addr", addr}, args...)...)
	}
	mustExit(t, exitOK, "")(sk("export", "--dir", repo.dir))
	repo.write("namespaces/payments/configs/checkout/eu.yaml", "schema: checkout@1\nvalue: {timeout_ms: 3000, retries: 3, currency: EUR}\n")
	repo.write("namespaces/payments/configs/checkout/us.yaml", "schema: checkout@1\nvalue: {timeout_ms: 3000, retries: 2, currency: USD}\n")
	repo.commit("raise timeouts")

	planFile := filepath.Join(t.TempDir(), "plan.json")
	code, out, _ := sk("sync", "plan", "--dir", repo.dir, "--plan-file", planFile)
	if code != exitChanges || !strings.Contains(out, "Saved the plan to "+planFile) {
		t.Fatalf("plan --plan-file: exit %d\n%s", code, out)
	}

	// Someone edits checkout/eu through the API after the plan.
	edited, _, err := c.Configs().Put(ctx, "payments", "checkout/eu", api.PutConfigRequest{Value: json.RawMessage(`{"timeout_ms": 4000, "retries": 3, "currency": "EUR"}`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := sk("sync", "apply", "--plan-file", planFile)
	if code != exitError || !strings.Contains(stderr, "changed on the server since the plan") ||
		!regexp.MustCompile(`config payments/checkout/eu: planned at revision \d+, now revision `+fmt.Sprint(edited.ModifyRevision)).MatchString(stderr) {
		t.Fatalf("apply of a stale plan: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stderr, "checkout/us:") {
		t.Errorf("the conflict report names checkout/us, which nobody touched:\n%s", stderr)
	}
	// Nothing was overwritten, and the batch's other change did not land.
	eu, _, _ := c.Configs().Get(ctx, "payments", "checkout/eu", nil)
	us, _, _ := c.Configs().Get(ctx, "payments", "checkout/us", nil)
	if !strings.Contains(string(eu.Value), `"timeout_ms":4000`) || !strings.Contains(string(us.Value), `"timeout_ms":2000`) {
		t.Fatalf("after the refused apply: eu %s, us %s", eu.Value, us.Value)
	}
	if h, _, err := c.Configs().History(ctx, "payments", "checkout/us", client.HistoryQuery{}, nil); err != nil || len(h.Items) != 1 {
		t.Fatalf("checkout/us history after the refused apply: %+v, %v; want only its creation", h, err)
	}

	// A fresh plan shows the API edit as drift; applying it wins deliberately.
	code, p := planJSON(t, addr, "--dir", repo.dir)
	if code != exitChanges || len(p.Configs) != 2 || p.Configs[0].Revision != edited.ModifyRevision {
		t.Fatalf("re-plan: %+v", p.Configs)
	}
	if err := gitops.SavePlan(planFile, p); err != nil {
		t.Fatal(err)
	}
	mustExit(t, exitOK, "2 config change(s) in 1 batch(es)")(sk("sync", "apply", "--plan-file", planFile))
	mustExit(t, exitOK, "No changes")(sk("sync", "plan", "--dir", repo.dir))
	mustExit(t, exitError, "--plan-file applies a saved plan")(sk("sync", "apply", "--plan-file", planFile, "--dir", repo.dir))

	// A schema version registered through the API after the plan: the
	// planned v2 would get number 3, so apply refuses before registering.
	repo.write("namespaces/payments/schemas/checkout/v2.json", `{"type": "object", "additionalProperties": true}`)
	repo.commit("checkout v2")
	if code, _, _ := sk("sync", "plan", "--dir", repo.dir, "--plan-file", planFile); code != exitChanges {
		t.Fatalf("plan of v2: exit %d", code)
	}
	if _, _, err := c.Schemas().Register(ctx, "payments", "checkout", api.RegisterSchemaRequest{Schema: json.RawMessage(checkoutSchema)}, nil); err != nil {
		t.Fatal(err)
	}
	mustExit(t, exitError, "schema payments/checkout: planned as the next version after 1, the server is at 2")(sk("sync", "apply", "--plan-file", planFile))
	if l, _, err := c.Schemas().Versions(ctx, "payments", "checkout", nil); err != nil || len(l.Items) != 2 {
		t.Fatalf("versions after the refused apply: %+v, %v", l, err)
	}
	// Now the file differs from the server's v2: a problem, not a change.
	mustExit(t, exitError, "namespaces/payments/schemas/checkout/v2.json:1: differs from version 2 of payments/checkout on the server")(sk("sync", "plan", "--dir", repo.dir))
}

func TestSync_PruneDeletesOnlyWhatItShould(t *testing.T) {
	addr := mustStartNode(t)
	c := seedPayments(t, addr)
	ctx := context.Background()
	repo := newGitRepo(t)
	mustExit(t, exitOK, "")(run(t, "", "--addr", addr, "export", "--dir", repo.dir))
	repo.commit("export")

	// Another namespace the directory does not manage, and two server-only
	// entries in the managed one.
	if _, _, err := c.Namespaces().Create(ctx, "search", api.CreateNamespaceRequest{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Schemas().Register(ctx, "search", "checkout", api.RegisterSchemaRequest{Schema: json.RawMessage(checkoutSchema)}, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ ns, key string }{{"payments", "old/a"}, {"payments", "old/b"}, {"search", "keep"}} {
		if _, _, err := c.Configs().Put(ctx, k.ns, k.key, api.PutConfigRequest{Schema: "checkout@1", Value: json.RawMessage(`{"timeout_ms": 1}`)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Without --prune the extra entries are listed and kept: no change.
	code, out, _ := run(t, "", "--addr", addr, "sync", "plan", "--dir", repo.dir)
	if code != exitOK || !strings.Contains(out, "2 config(s) exist only on the server and are kept (--prune deletes them):\n    payments/old/a\n    payments/old/b\n") {
		t.Fatalf("plan without --prune: exit %d\n%s", code, out)
	}
	mustExit(t, exitOK, "No changes")(run(t, "", "--addr", addr, "sync", "apply", "--dir", repo.dir))

	code, out, _ = run(t, "", "--addr", addr, "sync", "apply", "--dir", repo.dir, "--prune")
	if code != exitOK || !strings.Contains(out, "- delete config payments/old/a") || !strings.Contains(out, "0 to update, 2 to delete.") {
		t.Fatalf("apply --prune: exit %d\n%s", code, out)
	}
	var keys []string
	for _, ns := range []string{"payments", "search"} {
		l, _, err := c.Configs().List(ctx, ns, client.ListQuery{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Items {
			keys = append(keys, ns+"/"+e.Key)
		}
	}
	if got := strings.Join(keys, " "); got != "payments/checkout/eu payments/checkout/us search/keep" {
		t.Fatalf("after prune: %s", got)
	}
	// --namespace limits the sync (and so the prune) to that namespace.
	repo.write("namespaces/search/configs/other.yaml", "schema: checkout@1\nvalue: {timeout_ms: 5}\n")
	repo.write("namespaces/search/schemas/checkout/v1.json", checkoutSchema)
	code, p := planJSON(t, addr, "--dir", repo.dir, "--prune", "--namespace", "payments")
	if code != exitOK || len(p.Namespaces) != 1 || p.Namespaces[0] != "payments" {
		t.Fatalf("plan --namespace payments: exit %d, %+v", code, p)
	}
	code, p = planJSON(t, addr, "--dir", repo.dir, "--prune", "--namespace", "search")
	if code != exitChanges || len(p.Configs) != 2 || p.Configs[0].Key != "other" || p.Configs[1].Action != gitops.ActionDelete || p.Configs[1].Key != "keep" {
		t.Fatalf("plan --namespace search --prune: exit %d, %+v", code, p.Configs)
	}
}

func TestSync_InvalidFilesReportedWithLinesAndNothingApplied(t *testing.T) {
	addr := mustStartNode(t)
	c := seedPayments(t, addr)
	repo := newGitRepo(t)
	mustExit(t, exitOK, "")(run(t, "", "--addr", addr, "export", "--dir", repo.dir))
	// A valid change that must not be applied while other files are wrong.
	repo.write("namespaces/payments/configs/checkout/eu.yaml", "schema: checkout@1\nvalue: {timeout_ms: 3000}\n")
	repo.write("namespaces/payments/configs/broken.yaml", "schema: checkout@1\nvalue:\n  timeout_ms: [1, 2\n")
	repo.write("namespaces/payments/configs/invalid.yaml", `schema: checkout@1
value:
  timeout_ms: 0
  currency: JPY
  retry: 3
`)
	repo.write("namespaces/payments/configs/unknown.yaml", "# pinned to a version nobody wrote\nschema: checkout@7\nvalue: {timeout_ms: 1}\n")
	repo.write("namespaces/payments/configs/noschema.json", "{\n  \"value\": {\"timeout_ms\": 1}\n}\n")
	repo.write("namespaces/payments/schemas/bad/v1.yaml", "type: object\nproperties:\n  x: {type: 12}\n")
	repo.commit("broken")

	before := currentRevision(t, c)
	for _, cmd := range []string{"plan", "apply"} {
		code, _, stderr := run(t, "", "--addr", addr, "sync", cmd, "--dir", repo.dir)
		if code != exitError {
			t.Fatalf("sync %s: exit %d, want 1", cmd, code)
		}
		for _, want := range []string{
			"problem(s) in the directory",
			"namespaces/payments/configs/broken.yaml:3: ",
			"namespaces/payments/configs/invalid.yaml:3: value at /timeout_ms fails checkout@1: ",
			"namespaces/payments/configs/invalid.yaml:4: value at /currency fails checkout@1: ",
			"namespaces/payments/configs/invalid.yaml:5: value at /retry fails checkout@1: ",
			"namespaces/payments/configs/unknown.yaml:2: unknown schema checkout@7 in namespace payments",
			`namespaces/payments/configs/noschema.json:1: no "schema" field`,
			"namespaces/payments/schemas/bad/v1.yaml:3: schema: invalid schema: /properties/x/type: ",
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("sync %s: stderr lacks %q", cmd, want)
			}
		}
	}
	if after := currentRevision(t, c); after != before {
		t.Fatalf("an invalid directory changed the server: revision %d -> %d", before, after)
	}
	// -o json gives CI the problems as data.
	code, out, _ := run(t, "", "--addr", addr, "-o", "json", "sync", "plan", "--dir", repo.dir)
	var po problemsOutput
	if err := json.Unmarshal([]byte(out), &po); code != exitError || err != nil || len(po.Problems) != 7 {
		t.Fatalf("plan -o json of an invalid directory: exit %d, %d problems, %v\n%s", code, len(po.Problems), err, out)
	}
	if p := po.Problems[0]; p.File != "namespaces/payments/configs/broken.yaml" || p.Line != 3 {
		t.Fatalf("first problem = %+v", p)
	}
}

func TestSync_ThousandConfigsInFewTransactions(t *testing.T) {
	addr := mustStartNode(t)
	c := mustClient(t, addr)
	repo := newGitRepo(t)
	const n = 1200
	repo.write("namespaces/fleet/namespace.yaml", "description: a fleet of services\n")
	repo.write("namespaces/fleet/schemas/svc/v1.yaml", "type: object\nproperties:\n  replicas: {type: integer}\n  owner: {type: string}\n")
	for i := range n {
		repo.write(fmt.Sprintf("namespaces/fleet/configs/svc/%04d.yaml", i), fmt.Sprintf("schema: svc@1\nvalue:\n  replicas: %d\n  owner: team-%d\n", i%7+1, i%13))
	}
	repo.commit("1200 services")

	code, out, _ := run(t, "", "--addr", addr, "-o", "json", "sync", "apply", "--dir", repo.dir)
	if code != exitOK {
		t.Fatalf("apply: exit %d", code)
	}
	var res applyOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	// 1,200 operations need two batches of at most 1,000.
	if len(res.Result.Batches) != 2 || res.Result.ConfigsWritten != n || res.Result.NamespacesCreated != 1 || len(res.Result.SchemasRegistered) != 1 {
		t.Fatalf("apply result: %+v", res.Result)
	}
	revs := map[uint64]int{}
	for page, err := range c.Configs().ListAll(context.Background(), "fleet", client.ListQuery{}, nil) {
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			revs[e.ModifyRevision]++
		}
	}
	var counts []int
	for _, k := range revs {
		counts = append(counts, k)
	}
	sort.Ints(counts)
	if fmt.Sprint(counts) != "[200 1000]" {
		t.Fatalf("entries per revision = %v, want [200 1000]", counts)
	}
	mustExit(t, exitOK, "No changes")(run(t, "", "--addr", addr, "sync", "plan", "--dir", repo.dir))
}

func TestSync_WatchAppliesNewCommits(t *testing.T) {
	addr := mustStartNode(t)
	c := seedPayments(t, addr)
	repo := newGitRepo(t)
	mustExit(t, exitOK, "")(run(t, "", "--addr", addr, "export", "--dir", repo.dir))
	repo.commit("export")

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var stdout, stderr syncBuffer
	wg.Add(1)
	code := -1
	go func() {
		defer wg.Done()
		code = executeWith(ctx, []string{"--addr", addr, "sync", "watch", "--dir", repo.dir, "--interval", "100ms"}, strings.NewReader(""), &stdout, &stderr)
	}()
	defer func() {
		cancel()
		wg.Wait()
		if code != exitOK {
			t.Errorf("watch: exit %d\nstderr:\n%s", code, stderr.String())
		}
	}()
	waitFor(t, func() bool { return strings.Contains(stdout.String(), ": no changes") }, "the first check")

	repo.write("namespaces/payments/configs/checkout/eu.yaml", "schema: checkout@1\nvalue: {timeout_ms: 1234}\n")
	head := repo.commit("watch me")
	waitFor(t, func() bool {
		e, _, err := c.Configs().Get(context.Background(), "payments", "checkout/eu", nil)
		return err == nil && string(e.Value) == `{"timeout_ms":1234}` && strings.Contains(e.Reason, head)
	}, "the commit to be applied")
	waitFor(t, func() bool { return strings.Contains(stdout.String(), "commit "+head[:12]+": applied") }, "the watch report")
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSync_UsageErrorsExitOne(t *testing.T) {
	for _, args := range [][]string{
		{"sync", "plan"},
		{"sync", "plan", "--dir", ".", "--bogus"},
		{"sync", "plan", "--dir", ".", "--color", "pink"},
	} {
		code, _, stderr := run(t, "", append([]string{"--addr", unreachable}, args...)...)
		if code != exitError || !strings.Contains(stderr, "--help") {
			t.Errorf("%v: exit %d, stderr %q; want 1 (2 means changes under sync)", args, code, stderr)
		}
	}
}

func TestApply_ConflictInALaterBatchKeepsTheEarlierOnes(t *testing.T) {
	addr := mustStartNode(t)
	c := seedPayments(t, addr)
	ctx := context.Background()
	repo := newGitRepo(t)
	mustExit(t, exitOK, "")(run(t, "", "--addr", addr, "export", "--dir", repo.dir))
	for _, k := range []string{"n1", "n2", "n3", "n4"} {
		repo.write("namespaces/payments/configs/"+k+".yaml", "schema: checkout@1\nvalue: {timeout_ms: 1}\n")
	}
	p, err := gitops.PlanDir(ctx, c, repo.dir, nil, gitops.PlanOptions{Reason: "test"})
	if err != nil || len(p.Configs) != 4 {
		t.Fatalf("plan: %+v, %v", p, err)
	}
	if _, _, err := c.Configs().Put(ctx, "payments", "n3", api.PutConfigRequest{Schema: "checkout@1", Value: json.RawMessage(`{"timeout_ms": 99}`)}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := gitops.Apply(ctx, c, p, gitops.ApplyOptions{MaxBatchOps: 2})
	var ce *gitops.ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Key != "n3" || ce.Conflicts[0].Planned != 0 || ce.Conflicts[0].Current == 0 {
		t.Fatalf("Apply = %+v, %v; want a conflict on n3", res, err)
	}
	if len(res.Batches) != 1 || res.ConfigsWritten != 2 || !strings.Contains(err.Error(), "applied before the conflict: 0 namespace(s), schema versions [], 2 config change(s)") {
		t.Fatalf("result %+v, error %v", res, err)
	}
	for key, want := range map[string]bool{"n1": true, "n2": true, "n4": false} {
		_, _, err := c.Configs().Get(ctx, "payments", key, nil)
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v (%v)", key, got, want, err)
		}
	}
}

// TestSync_KeysWithADotSegmentRoundTrip: the API allows a key segment that
// starts with a dot; export writes it as a dot file, and the layout must read
// it back rather than skip it as hidden — or a plan with --prune would
// delete what was just exported.
func TestSync_KeysWithADotSegmentRoundTrip(t *testing.T) {
	addr := mustStartNode(t)
	c := seedPayments(t, addr)
	ctx := context.Background()
	for _, key := range []string{"checkout/.canary", ".defaults/eu"} {
		if _, _, err := c.Configs().Put(ctx, "payments", key, api.PutConfigRequest{Schema: "checkout@1", Value: json.RawMessage(`{"timeout_ms": 7}`)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	repo := newGitRepo(t)
	mustExit(t, exitOK, "4 config(s)")(run(t, "", "--addr", addr, "export", "--dir", repo.dir))
	repo.write("namespaces/payments/configs/checkout/.notes.txt.swp", "an editor's file, skipped")
	repo.commit("export")
	code, p := planJSON(t, addr, "--dir", repo.dir, "--prune")
	if code != exitOK || len(p.Configs) != 0 {
		t.Fatalf("plan --prune of a fresh export: exit %d, changes %+v", code, p.Configs)
	}
}
