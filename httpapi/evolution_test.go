package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/httpapi"
)

// appliedRevision is the node's applied revision.
func appliedRevision(t *testing.T, base string) uint64 {
	t.Helper()
	st, _, body := doJSON(t, http.MethodGet, base+"/v1/health", nil, nil)
	wantStatus(t, "health", st, body, http.StatusOK)
	return decodeAs[api.Health](t, body).Applied
}

// mustBatchPut writes n entries key<prefix><i> pinned to ref with value(i).
func mustBatchPut(t *testing.T, base, ns, prefix, ref string, n int, value func(i int) string) {
	t.Helper()
	for start := 0; start < n; start += 1000 {
		var ops []map[string]any
		for i := start; i < min(n, start+1000); i++ {
			ops = append(ops, map[string]any{"op": "put", "namespace": ns, "key": fmt.Sprintf("%s%05d", prefix, i),
				"schema": ref, "value": json.RawMessage(value(i))})
		}
		st, _, body := doJSON(t, http.MethodPost, base+"/v1/batch", map[string]any{"ops": ops}, nil)
		wantStatus(t, "batch put", st, body, http.StatusOK)
	}
}

const portV1 = `{"type":"object","properties":{"port":{"type":"integer"},"host":{"type":"string"}}}`
const portV2 = `{"type":"object","properties":{"port":{"type":"integer","maximum":65535},"host":{"type":"string"},"tls":{"type":"boolean"}},"required":["port"]}`

func TestEvolution_StrictRefusesWithReportAndDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", portV1)
	mustPutConfig(t, base, "app", "ok", "svc@1", `{"port":80}`, nil)
	mustPutConfig(t, base, "app", "big", "svc@1", `{"port":70000}`, nil)
	mustPutConfig(t, base, "app", "noport", "svc@1", `{"host":"x"}`, nil)

	// Refused: two entries fail, each reported with pointer and keyword,
	// beside the structural changes.
	rev := appliedRevision(t, base)
	for _, q := range []string{"", "?dry_run=true"} {
		st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/svc"+q, map[string]any{"schema": json.RawMessage(portV2)}, nil)
		e := wantError(t, "strict register"+q, st, body, http.StatusUnprocessableEntity, api.CodeEvolutionCheckFailed)
		if len(e.Checks) != 1 {
			t.Fatalf("checks = %+v", e.Checks)
		}
		ch := e.Checks[0]
		if ch.Checked != 3 || ch.Failed != 2 || len(ch.Failures) != 2 || ch.From != 1 || ch.Version != 2 || ch.Policy != api.PolicyStrict {
			t.Fatalf("check = %+v", ch)
		}
		if f := ch.Failures[0]; f.Key != "big" || f.Errors[0].Pointer != "/port" || !strings.HasSuffix(f.Errors[0].Keyword, "/maximum") {
			t.Fatalf("failure[0] = %+v", f)
		}
		if f := ch.Failures[1]; f.Key != "noport" || f.Errors[0].Keyword != "/required" {
			t.Fatalf("failure[1] = %+v", f)
		}
		kinds := map[string]bool{}
		for _, c := range ch.Changes {
			kinds[c.Kind] = true
		}
		if !kinds["field_added"] || !kinds["made_required"] || !kinds["constraint_changed"] {
			t.Fatalf("changes = %+v, want field_added, made_required and constraint_changed", ch.Changes)
		}
	}
	if got := appliedRevision(t, base); got != rev {
		t.Fatalf("revision moved from %d to %d on refused registrations", rev, got)
	}

	// Fix the data: the same version then registers. A dry run first
	// reports and changes nothing.
	mustPutConfig(t, base, "app", "big", "svc@1", `{"port":7000}`, nil)
	mustPutConfig(t, base, "app", "noport", "svc@1", `{"port":1,"host":"x"}`, nil)
	rev = appliedRevision(t, base)
	st, h, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/svc?dry_run=true", map[string]any{"schema": json.RawMessage(portV2)}, nil)
	wantStatus(t, "dry run", st, body, http.StatusOK)
	dr := decodeAs[api.SchemaChangeResult](t, body)
	if !dr.DryRun || dr.Revision != rev || len(dr.Versions) != 0 || dr.Checks[0].Checked != 3 || dr.Checks[0].Failed != 0 {
		t.Fatalf("dry run = %+v", dr)
	}
	wantIndex(t, "dry run", h, rev)
	if got := appliedRevision(t, base); got != rev {
		t.Fatalf("dry run moved the revision from %d to %d", rev, got)
	}
	if sv := mustRegisterSchema(t, base, "app", "svc", portV2); sv.Version != 2 {
		t.Fatalf("registered %+v", sv)
	}

	// Under the none policy anything valid registers; a dry run still
	// reports the entries that would fail.
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/app/schemas/svc/policy", map[string]any{"policy": "none", "reason": "bulk rework"}, nil)
	wantStatus(t, "set policy", st, body, http.StatusOK)
	if ss := decodeAs[api.SchemaStatus](t, body); ss.Policy != api.PolicyNone {
		t.Fatalf("status = %+v", ss)
	}
	mustPutConfig(t, base, "app", "v2", "svc@2", `{"port":1,"tls":true}`, nil)
	v3 := `{"type":"object","properties":{"port":{"type":"string"}}}`
	st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/svc?dry_run=1", map[string]any{"schema": json.RawMessage(v3)}, nil)
	wantStatus(t, "dry run under none", st, body, http.StatusOK)
	if ch := decodeAs[api.SchemaChangeResult](t, body).Checks[0]; ch.Failed != 1 || ch.Failures[0].Key != "v2" || ch.Policy != api.PolicyNone {
		t.Fatalf("check under none = %+v", ch)
	}
	if sv := mustRegisterSchema(t, base, "app", "svc", v3); sv.Version != 3 {
		t.Fatalf("registered %+v", sv)
	}

	// The policy change is in the schema's history.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/schemas/svc/status", nil, nil)
	wantStatus(t, "status", st, body, http.StatusOK)
	ss := decodeAs[api.SchemaStatus](t, body)
	if len(ss.Versions) != 3 || ss.Versions[0].Pins != 3 || ss.Versions[1].Pins != 1 || ss.Versions[2].Pins != 0 {
		t.Fatalf("status = %+v", ss)
	}
}

func TestEvolution_ReportIsBounded(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", portV1)
	mustBatchPut(t, base, "app", "k", "svc@1", 150, func(i int) string { return `{"port":70000}` })
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/svc", map[string]any{"schema": json.RawMessage(portV2)}, nil)
	e := wantError(t, "register", st, body, http.StatusUnprocessableEntity, api.CodeEvolutionCheckFailed)
	if ch := e.Checks[0]; ch.Failed != 150 || len(ch.Failures) != 100 || ch.FailuresOmitted != 50 {
		t.Fatalf("check: failed %d, listed %d, omitted %d; want 150, 100, 50", ch.Failed, len(ch.Failures), ch.FailuresOmitted)
	}
}

// TestEvolution_StrictCheckCannotBeRaced tries to make writes slip past
// the strict check: while version 2 is being registered, writers pin
// version 1 with values version 2 refuses. Whatever the interleaving, a
// registration that succeeds at revision R must leave no entry pinned to
// version 1, written before R, that fails version 2.
func TestEvolution_StrictCheckCannotBeRaced(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "race")
	const rounds = 12
	var conflicts, refusals, successes atomic.Int64
	for round := 0; round < rounds; round++ {
		name := fmt.Sprintf("s%d", round)
		mustRegisterSchema(t, base, "race", name, `{"type":"object","properties":{"n":{"type":"integer"}}}`)
		// Valid entries make the check take a while: the window to race.
		mustBatchPut(t, base, "race", name+"/ok", name+"@1", 2000, func(i int) string { return `{"n":1}` })

		stop := make(chan struct{})
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// Writers start with the registration and are staggered
				// over the time its check takes, so some writes land
				// before the check's view, some during the check and some
				// after the new version exists.
				time.Sleep(time.Duration(round%4) * time.Millisecond * time.Duration(w))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					doJSONNoFatal(http.MethodPut, fmt.Sprintf("%s/v1/namespaces/race/configs/%s/bad-%d-%d", base, name, w, i),
						map[string]any{"schema": name + "@1", "value": map[string]any{"n": 100}}, nil)
				}
			}()
		}
		close(start)
		st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/race/schemas/"+name,
			map[string]any{"schema": json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","maximum":10}}}`)}, nil)
		close(stop)
		wg.Wait()
		switch st {
		case http.StatusCreated:
			successes.Add(1)
			sv := decodeAs[api.SchemaVersion](t, body)
			// Every bad entry was written after version 2 existed.
			var items []api.ConfigEntry
			after := ""
			for {
				st, _, lb := doJSON(t, http.MethodGet, fmt.Sprintf("%s/v1/namespaces/race/configs?prefix=%s/bad-&limit=1000&after=%s", base, name, after), nil, nil)
				wantStatus(t, "list", st, lb, http.StatusOK)
				page := decodeAs[api.ConfigList](t, lb)
				items = append(items, page.Items...)
				if page.Next == "" {
					break
				}
				after = page.Next
			}
			for _, e := range items {
				if e.SchemaVersion == 1 && e.ModifyRevision < sv.CreateRevision {
					t.Fatalf("round %d: %s pinned to @1 with an invalid value at revision %d slipped past the check of version 2 at %d",
						round, e.Key, e.ModifyRevision, sv.CreateRevision)
				}
			}
		case http.StatusUnprocessableEntity:
			refusals.Add(1)
			wantError(t, "register", st, body, st, api.CodeEvolutionCheckFailed)
		case http.StatusConflict:
			conflicts.Add(1)
			wantError(t, "register", st, body, st, api.CodeEvolutionConflict)
		default:
			t.Fatalf("round %d: register answered %d %s", round, st, mustJSON(t, body))
		}
	}
	t.Logf("%d rounds: %d refused (bad entries seen), %d gave up on conflicts, %d succeeded", rounds, refusals.Load(), conflicts.Load(), successes.Load())
	if refusals.Load()+conflicts.Load() == 0 {
		t.Fatal("no round refused: the writers never raced the check")
	}
}

// TestEvolution_WriteBetweenCheckAndApplyIsCaught makes the race certain: a
// hook writes an invalid entry pinned to version 1 after the check of
// version 2 and before its proposal. The FSM must refuse the stale check,
// the node check again, see the entry and refuse the version.
func TestEvolution_WriteBetweenCheckAndApplyIsCaught(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "hook")
	mustRegisterSchema(t, base, "hook", "s", `{"type":"object","properties":{"n":{"type":"integer"}}}`)
	mustPutConfig(t, base, "hook", "good", "s@1", `{"n":1}`, nil)
	var slipped atomic.Uint64
	httpapi.SetBeforeProposeHook(func(ns string) {
		if ns != "hook" || slipped.Load() != 0 {
			return
		}
		st, _, body := doJSONNoFatal(http.MethodPut, base+"/v1/namespaces/hook/configs/bad", map[string]any{"schema": "s@1", "value": map[string]any{"n": 100}}, nil)
		if st != http.StatusCreated {
			t.Errorf("hook write: %d %v", st, body)
			return
		}
		slipped.Store(uint64(decodeAs[api.ConfigEntry](t, body).ModifyRevision))
	})
	t.Cleanup(func() { httpapi.SetBeforeProposeHook(nil) })
	st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/hook/schemas/s",
		map[string]any{"schema": json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","maximum":10}}}`)}, nil)
	if slipped.Load() == 0 {
		t.Fatal("the hook did not write")
	}
	e := wantError(t, "register after a write in the window", st, body, http.StatusUnprocessableEntity, api.CodeEvolutionCheckFailed)
	if f := e.Checks[0].Failures; len(f) != 1 || f[0].Key != "bad" {
		t.Fatalf("failures = %+v, want the entry written in the window", f)
	}
}

func TestEvolution_DeprecateAndDelete(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", portV1)
	mustPutConfig(t, base, "app", "a", "svc@1", `{"port":80}`, nil)
	mustRegisterSchema(t, base, "app", "svc", portV2)

	url := base + "/v1/namespaces/app/schemas/svc/versions/1"
	rev := appliedRevision(t, base)
	st, _, body := doJSON(t, http.MethodPost, url+"/deprecate?dry_run=true", nil, nil)
	wantStatus(t, "dry-run deprecate", st, body, http.StatusOK)
	if ss := decodeAs[api.SchemaStatus](t, body); !ss.Versions[0].Deprecated {
		t.Fatalf("dry run status = %+v", ss)
	}
	if appliedRevision(t, base) != rev {
		t.Fatal("dry run changed the state")
	}
	st, _, body = doJSON(t, http.MethodPost, url+"/deprecate", map[string]any{"reason": "v2 is out"}, nil)
	wantStatus(t, "deprecate", st, body, http.StatusOK)

	// No new pins; the entry already there may still be updated.
	st, _, body = doJSON(t, http.MethodPut, base+"/v1/namespaces/app/configs/b", map[string]any{"schema": "svc@1", "value": map[string]any{"port": 1}}, nil)
	wantError(t, "new pin to deprecated", st, body, http.StatusUnprocessableEntity, api.CodeSchemaDeprecated)
	mustPutConfig(t, base, "app", "a", "svc@1", `{"port":81}`, nil)

	// Deletion: refused while pinned and for the latest version.
	st, _, body = doJSON(t, http.MethodDelete, url, nil, nil)
	wantError(t, "delete pinned", st, body, http.StatusConflict, api.CodeSchemaInUse)
	st, _, body = doJSON(t, http.MethodDelete, base+"/v1/namespaces/app/schemas/svc/versions/2", nil, nil)
	wantError(t, "delete latest", st, body, http.StatusConflict, api.CodeSchemaInUse)
	mustPutConfig(t, base, "app", "a", "svc@2", `{"port":81}`, nil)
	st, _, body = doJSON(t, http.MethodDelete, url+"?dry_run=true", nil, nil)
	wantStatus(t, "dry-run delete", st, body, http.StatusOK)
	st, _, body = doJSON(t, http.MethodDelete, url, nil, nil)
	wantStatus(t, "delete", st, body, http.StatusOK)
	if ss := decodeAs[api.SchemaStatus](t, body); len(ss.Versions) != 1 || ss.Versions[0].Version != 2 || ss.Versions[0].Pins != 1 {
		t.Fatalf("status after delete = %+v", ss)
	}
	st, _, body = doJSON(t, http.MethodGet, url, nil, nil)
	wantError(t, "get deleted", st, body, http.StatusNotFound, api.CodeSchemaNotFound)
	// The next version is 3, never 1 or 2 again.
	if sv := mustRegisterSchema(t, base, "app", "svc", portV2); sv.Version != 3 {
		t.Fatalf("next version = %d", sv.Version)
	}
}

func TestEvolution_MigrationWithTransformsAndFailures(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", `{"type":"object","properties":{"name":{"type":"string"},"timeout":{"type":"integer"},"legacy":{"type":"boolean"}}}`)
	mustBatchPut(t, base, "app", "svc/", "svc@1", 25, func(i int) string {
		if i%10 == 3 {
			return `{"name":"x","timeout":-5}` // fails v2's minimum
		}
		return fmt.Sprintf(`{"name":"n%d","timeout":%d,"legacy":true}`, i, i*100)
	})
	st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/app/schemas/svc/policy", map[string]any{"policy": "none"}, nil)
	wantStatus(t, "policy none", st, body, http.StatusOK)
	mustRegisterSchema(t, base, "app", "svc", `{"type":"object","properties":{"name":{"type":"string"},"timeout_ms":{"type":"integer","minimum":0},"retries":{"type":"integer"}},"required":["timeout_ms","retries"]}`)

	req := map[string]any{"from": 1, "to": 2, "chunk_size": 7, "reason": "rename timeout", "transforms": []map[string]any{
		{"op": "move", "from": "/timeout", "path": "/timeout_ms"},
		{"op": "add", "path": "/retries", "value": 3},
		{"op": "remove", "path": "/legacy"},
	}}
	mig := base + "/v1/namespaces/app/schemas/svc/migrations"
	rev := appliedRevision(t, base)
	st, _, body = doJSON(t, http.MethodPost, mig+"?dry_run=true", req, nil)
	wantStatus(t, "dry run", st, body, http.StatusOK)
	dr := decodeAs[api.MigrationDryRun](t, body)
	if dr.Checked != 25 || dr.WouldMigrate != 22 || dr.Failed != 3 || dr.Failures[0].Key != "svc/00003" || dr.Failures[0].Errors[0].Pointer != "/timeout_ms" {
		t.Fatalf("dry run = %+v", dr)
	}
	if appliedRevision(t, base) != rev {
		t.Fatal("dry run changed the state")
	}

	st, _, body = doJSON(t, http.MethodPost, mig, req, map[string]string{"X-Schemakv-Principal": "ops"})
	wantStatus(t, "start", st, body, http.StatusAccepted)
	m := decodeAs[api.Migration](t, body)
	m = waitMigration(t, base, "app", "svc", m.ID)
	if m.Migrated != 22 || m.Failed != 3 || len(m.Failures) != 3 || m.Chunks != 4 || m.Skipped != 0 || m.CreatedBy != "ops" {
		t.Fatalf("migration = %+v", m)
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs/svc/00005", nil, nil)
	wantStatus(t, "get", st, body, http.StatusOK)
	if e := decodeAs[api.ConfigEntry](t, body); e.SchemaVersion != 2 || !jsonEqual(e.Value, `{"name":"n5","timeout_ms":500,"retries":3}`) || !strings.Contains(e.Reason, m.ID) {
		t.Fatalf("migrated entry = %+v %s", e, e.Value)
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs/svc/00013", nil, nil)
	wantStatus(t, "get", st, body, http.StatusOK)
	if e := decodeAs[api.ConfigEntry](t, body); e.SchemaVersion != 1 {
		t.Fatalf("failing entry moved: %+v", e)
	}
	// The transforms are in the schema's history: the migration's start
	// and end, after the policy change and the versions.
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/schemas/svc/history", nil, nil)
	wantStatus(t, "schema history", st, body, http.StatusOK)
	h := decodeAs[api.History](t, body)
	var ops []string
	for _, ev := range h.Items {
		ops = append(ops, ev.Op)
	}
	if strings.Join(ops, ",") != "migrate,migrate,create,update,create" {
		t.Fatalf("schema history ops = %v", ops)
	}
	var started api.Migration
	if err := json.Unmarshal(h.Items[1].Value, &started); err != nil || len(started.Transforms) != 3 || started.State != api.MigrationRunning || h.Items[1].Principal != "ops" {
		t.Fatalf("history of the start = %+v (%v)", h.Items[1], err)
	}
	st, _, body = doJSON(t, http.MethodGet, mig, nil, nil)
	wantStatus(t, "list", st, body, http.StatusOK)
	if l := decodeAs[api.MigrationList](t, body); len(l.Items) != 1 || len(l.Items[0].Transforms) != 3 {
		t.Fatalf("list = %+v", l)
	}
	st, _, body = doJSON(t, http.MethodPost, mig+"/"+m.ID+"/resume", nil, nil)
	wantError(t, "resume a completed migration", st, body, http.StatusConflict, api.CodeMigrationConflict)
}

func waitMigration(t *testing.T, base, ns, name, id string) api.Migration {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, h, body := doJSON(t, http.MethodGet, fmt.Sprintf("%s/v1/namespaces/%s/schemas/%s/migrations/%s", base, ns, name, id), nil, nil)
		wantStatus(t, "get migration", st, body, http.StatusOK)
		m := decodeAs[api.Migration](t, body)
		if m.State == api.MigrationCompleted {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("migration not completed: %+v", m)
		}
		// Wait for the next commit (or a second) before reading again.
		doJSON(t, http.MethodGet, fmt.Sprintf("%s/v1/namespaces/%s/schemas/%s/migrations/%s?index=%d&wait=1s", base, ns, name, id, headerIndex(t, h)), nil, nil)
	}
}

func TestEvolution_Bundle(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	url := base + "/v1/namespaces/app/schema-bundles"
	bundle := map[string]any{"reason": "import", "schemas": []map[string]any{
		{"name": "address", "schema": json.RawMessage(`{"type":"object","properties":{"street":{"type":"string"}}}`)},
		{"name": "address", "schema": json.RawMessage(`{"type":"object","properties":{"street":{"type":"string"},"zip":{"type":"string"}}}`)},
		{"name": "person", "version": 1, "policy": "none", "schema": json.RawMessage(`{"type":"object","properties":{"home":{"$ref":"address@2"}}}`)},
	}}
	rev := appliedRevision(t, base)
	st, _, body := doJSON(t, http.MethodPost, url+"?dry_run=true", bundle, nil)
	wantStatus(t, "dry run", st, body, http.StatusOK)
	if r := decodeAs[api.SchemaChangeResult](t, body); !r.DryRun || len(r.Checks) != 3 || r.Checks[1].From != 1 || len(r.Checks[1].Changes) != 1 {
		t.Fatalf("dry run = %+v", r)
	}
	if appliedRevision(t, base) != rev {
		t.Fatal("dry run changed the state")
	}
	st, _, body = doJSON(t, http.MethodPost, url, bundle, nil)
	wantStatus(t, "bundle", st, body, http.StatusCreated)
	r := decodeAs[api.SchemaChangeResult](t, body)
	if len(r.Versions) != 3 || r.Versions[0].CreateRevision != r.Revision || r.Versions[2].CreateRevision != r.Revision {
		t.Fatalf("bundle = %+v", r)
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/schemas/person/status", nil, nil)
	wantStatus(t, "status", st, body, http.StatusOK)
	if ss := decodeAs[api.SchemaStatus](t, body); ss.Policy != api.PolicyNone {
		t.Fatalf("person status = %+v", ss)
	}

	// Atomic: one bad schema (or a strict failure) and nothing is stored.
	mustPutConfig(t, base, "app", "home", "address@2", `{"zip":"1"}`, nil)
	rev = appliedRevision(t, base)
	for _, tc := range []struct {
		name   string
		items  []map[string]any
		status int
		code   string
	}{
		{"strict failure", []map[string]any{
			{"name": "other", "schema": json.RawMessage(`{"type":"string"}`)},
			{"name": "address", "schema": json.RawMessage(`{"type":"object","properties":{"street":{"type":"string"}}}`)},
		}, 422, api.CodeEvolutionCheckFailed},
		{"invalid schema", []map[string]any{
			{"name": "other", "schema": json.RawMessage(`{"type":"string"}`)},
			{"name": "bad", "schema": json.RawMessage(`{"type":12}`)},
		}, 422, api.CodeInvalidSchema},
		{"wrong version", []map[string]any{{"name": "address", "version": 2, "schema": json.RawMessage(`{}`)}}, 409, api.CodeSchemaConflict},
		{"policy of an existing name", []map[string]any{{"name": "address", "policy": "none", "schema": json.RawMessage(`{}`)}}, 400, api.CodeInvalidPolicy},
		{"unknown policy", []map[string]any{{"name": "new", "policy": "lax", "schema": json.RawMessage(`{}`)}}, 400, api.CodeInvalidPolicy},
		{"bad name", []map[string]any{{"name": "Bad_Name", "schema": json.RawMessage(`{}`)}}, 400, api.CodeInvalidName},
		{"no schema", []map[string]any{{"name": "x"}}, 400, api.CodeBadRequest},
		{"empty", []map[string]any{}, 400, api.CodeBadRequest},
	} {
		st, _, body := doJSON(t, http.MethodPost, url, map[string]any{"schemas": tc.items}, nil)
		wantError(t, tc.name, st, body, tc.status, tc.code)
	}
	if appliedRevision(t, base) != rev {
		t.Fatal("a refused bundle changed the state")
	}
}

func TestEvolution_BadInputs(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "svc", portV1)
	mustRegisterSchema(t, base, "app", "svc", portV1)
	s := base + "/v1/namespaces/app/schemas/svc"
	var tooMany []map[string]any
	for i := 0; i <= httpapi.MaxTransforms; i++ {
		tooMany = append(tooMany, map[string]any{"op": "remove", "path": fmt.Sprintf("/f%d", i)})
	}
	var bigBundle []map[string]any
	for i := 0; i <= httpapi.MaxBundleSchemas; i++ {
		bigBundle = append(bigBundle, map[string]any{"name": fmt.Sprintf("s%d", i), "schema": json.RawMessage(`{}`)})
	}
	for _, tc := range []struct {
		name, method, url string
		body              any
		status            int
		code              string
	}{
		{"bad dry_run", "POST", s + "?dry_run=maybe", map[string]any{"schema": json.RawMessage(`{}`)}, 400, api.CodeBadRequest},
		{"bad policy", "PUT", s + "/policy", map[string]any{"policy": "lax"}, 400, api.CodeInvalidPolicy},
		{"no policy body", "PUT", s + "/policy", nil, 400, api.CodeBadRequest},
		{"policy of unknown schema", "PUT", base + "/v1/namespaces/app/schemas/nope/policy", map[string]any{"policy": "none"}, 404, api.CodeSchemaNotFound},
		{"register with unknown policy", "POST", s, map[string]any{"schema": json.RawMessage(`{}`), "policy": "lax"}, 400, api.CodeInvalidPolicy},
		{"deprecate unknown version", "POST", s + "/versions/9/deprecate", nil, 404, api.CodeSchemaNotFound},
		{"deprecate version 0", "POST", s + "/versions/0/deprecate", nil, 400, api.CodeBadRequest},
		{"delete unknown version", "DELETE", s + "/versions/9", nil, 404, api.CodeSchemaNotFound},
		{"status of unknown schema", "GET", base + "/v1/namespaces/app/schemas/nope/status", nil, 404, api.CodeSchemaNotFound},
		{"migrate to itself", "POST", s + "/migrations", map[string]any{"from": 1, "to": 1}, 400, api.CodeBadRequest},
		{"migrate from unknown", "POST", s + "/migrations", map[string]any{"from": 7, "to": 1}, 404, api.CodeSchemaNotFound},
		{"migrate huge chunk", "POST", s + "/migrations", map[string]any{"from": 1, "to": 2, "chunk_size": 5000}, 400, api.CodeBadRequest},
		{"unknown transform", "POST", s + "/migrations", map[string]any{"from": 1, "to": 2, "transforms": []map[string]any{{"op": "copy", "path": "/a"}}}, 400, api.CodeInvalidTransform},
		{"transform path not a pointer", "POST", s + "/migrations", map[string]any{"from": 1, "to": 2, "transforms": []map[string]any{{"op": "remove", "path": "a"}}}, 400, api.CodeInvalidTransform},
		{"move without from", "POST", s + "/migrations", map[string]any{"from": 1, "to": 2, "transforms": []map[string]any{{"op": "move", "path": "/a"}}}, 400, api.CodeInvalidTransform},
		{"add without value", "POST", s + "/migrations", map[string]any{"from": 1, "to": 2, "transforms": []map[string]any{{"op": "add", "path": "/a"}}}, 400, api.CodeInvalidTransform},
		{"unknown migration", "GET", s + "/migrations/nope", nil, 404, api.CodeMigrationNotFound},
		{"resume unknown migration", "POST", s + "/migrations/nope/resume", nil, 404, api.CodeMigrationNotFound},
		{"unknown field", "POST", s + "/migrations", map[string]any{"from": 1, "to": 2, "bogus": 1}, 400, api.CodeBadRequest},
		{"too many transforms", "POST", s + "/migrations", map[string]any{"from": 1, "to": 2, "transforms": tooMany}, 400, api.CodeInvalidTransform},
		{"bundle too large", "POST", base + "/v1/namespaces/app/schema-bundles", map[string]any{"schemas": bigBundle}, 400, api.CodeBadRequest},
		{"bundle in a missing namespace", "POST", base + "/v1/namespaces/nope/schema-bundles", map[string]any{"schemas": []map[string]any{{"name": "a", "schema": json.RawMessage(`{}`)}}}, 404, api.CodeNamespaceNotFound},
		{"migration of a missing namespace", "POST", base + "/v1/namespaces/nope/schemas/svc/migrations", map[string]any{"from": 1, "to": 2}, 404, api.CodeNamespaceNotFound},
	} {
		rev := appliedRevision(t, base)
		st, _, body := doJSON(t, tc.method, tc.url, tc.body, nil)
		wantError(t, tc.name, st, body, tc.status, tc.code)
		if appliedRevision(t, base) != rev {
			t.Fatalf("%s changed the state", tc.name)
		}
	}
}
