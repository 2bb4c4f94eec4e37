package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/gitops/layout"
)

// serverState builds a State by hand: the server side of Compute's input.
func serverState(schemas map[string][]string, configs map[string]api.ConfigEntry) *State {
	ns := &NamespaceState{Name: "shop", Schemas: map[string][]api.SchemaVersion{}, Configs: configs}
	for name, docs := range schemas {
		for i, d := range docs {
			ns.Schemas[name] = append(ns.Schemas[name], api.SchemaVersion{Namespace: "shop", Name: name, Version: i + 1, Schema: json.RawMessage(d)})
		}
	}
	return &State{Namespaces: map[string]*NamespaceState{"shop": ns}}
}

const currencyV1 = `{"type":"object","properties":{"currency":{"enum":["EUR","USD"]}}}`

func TestCompute_SchemaDryRunAndImmutableVersions(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"namespaces/shop/schemas/pay/v1.json": currencyV1,
		// v2 drops EUR: the entry pinned to v1 with EUR would fail it.
		"namespaces/shop/schemas/pay/v2.yaml": "type: object\nproperties:\n  currency: {enum: [USD]}\n",
		"namespaces/shop/configs/eu.yaml":     "schema: pay@1\nvalue: {currency: EUR}\n",
		"namespaces/shop/configs/us.yaml":     "schema: pay@2\nvalue: {currency: USD}\n",
	})
	d, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := serverState(map[string][]string{"pay": {currencyV1}}, map[string]api.ConfigEntry{
		"eu": {Key: "eu", Schema: "pay", SchemaVersion: 1, Value: json.RawMessage(`{"currency":"EUR"}`), ModifyRevision: 7},
		"us": {Key: "us", Schema: "pay", SchemaVersion: 1, Value: json.RawMessage(`{"currency":"USD"}`), ModifyRevision: 8},
	})
	p, err := Compute(context.Background(), d, st, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Schemas) != 1 || p.Schemas[0].Version != 2 {
		t.Fatalf("schemas = %+v", p.Schemas)
	}
	dr := p.Schemas[0].DryRun
	if dr == nil || dr.Checked != 2 || len(dr.Failures) != 1 || dr.Failures[0].Key != "eu" || dr.Failures[0].Errors[0].Pointer != "/currency" {
		t.Fatalf("dry run = %+v", dr)
	}
	if len(p.Configs) != 1 || p.Configs[0].Key != "us" || p.Configs[0].OldSchema != "pay@1" || p.Configs[0].Schema != "pay@2" || p.Configs[0].Revision != 8 {
		t.Fatalf("configs = %+v", p.Configs)
	}
	var out bytes.Buffer
	p.Render(&out, false)
	for _, want := range []string{
		"+ register schema shop/pay@2",
		"dry run (local): 1 of 2 config(s) pinned to pay@1 fail @2",
		"eu /currency: ",
		"~ update config shop/us  (revision 8, schema pay@1 -> pay@2)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("render lacks %q:\n%s", want, out.String())
		}
	}

	// A server-side hook replaces the local check.
	called := 0
	p, err = Compute(context.Background(), d, st, PlanOptions{SchemaDryRun: func(_ context.Context, _ *Desired, _ *State, ch SchemaChange) (*DryRunResult, error) {
		called++
		return &DryRunResult{Source: "server", Checked: 5}, nil
	}})
	if err != nil || called != 1 || p.Schemas[0].DryRun.Source != "server" {
		t.Fatalf("hook: called %d, %+v, %v", called, p, err)
	}

	// The server's version 1 differs from the file: immutable, a problem.
	st = serverState(map[string][]string{"pay": {`{"type":"object"}`}}, map[string]api.ConfigEntry{})
	_, err = Compute(context.Background(), d, st, PlanOptions{})
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].File != "namespaces/shop/schemas/pay/v1.json" || !strings.Contains(ps[0].Message, "add the change as v3 instead") {
		t.Fatalf("Compute with a changed v1 = %v", err)
	}
}

func TestCompute_NewNamespacePruneAndWarnings(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"namespaces/shop/namespace.yaml":      "description: new text\n",
		"namespaces/shop/schemas/pay/v1.json": currencyV1,
		"namespaces/shop/configs/a.yaml":      "schema: pay@1\nvalue: {currency: EUR}\n",
		"namespaces/fresh/schemas/s/v1.json":  "{}",
		"namespaces/fresh/configs/x.json":     `{"schema": "s@1", "value": 1}`,
	})
	d, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := serverState(map[string][]string{"pay": {currencyV1, currencyV1}, "other": {"{}"}}, map[string]api.ConfigEntry{
		// Same value, other spelling and key order: no change.
		"a":    {Key: "a", Schema: "pay", SchemaVersion: 1, Value: json.RawMessage(`{ "currency" : "EUR" }`), ModifyRevision: 3},
		"gone": {Key: "gone", Schema: "pay", SchemaVersion: 1, Value: json.RawMessage(`{}`), ModifyRevision: 4},
	})
	st.Namespaces["shop"].Description = "old text"
	p, err := Compute(context.Background(), d, st, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.CreateNamespaces) != 1 || p.CreateNamespaces[0].Name != "fresh" || len(p.Schemas) != 1 || p.Schemas[0].DryRun != nil {
		t.Fatalf("plan = %+v", p)
	}
	if len(p.Configs) != 1 || p.Configs[0].Key != "x" || p.Configs[0].Action != ActionCreate || p.Configs[0].Revision != 0 {
		t.Fatalf("configs = %+v", p.Configs)
	}
	if len(p.Unmanaged) != 1 || p.Unmanaged[0] != "shop/gone" || len(p.Warnings) != 3 {
		t.Fatalf("unmanaged %v, warnings %q", p.Unmanaged, p.Warnings)
	}
	p, err = Compute(context.Background(), d, st, PlanOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if c, _, del := p.Counts(); c != 1 || del != 1 || len(p.Unmanaged) != 0 {
		t.Fatalf("with prune: %+v", p.Configs)
	}
}

func TestSavePlanLoadPlan(t *testing.T) {
	p := &Plan{Format: PlanFormat, Reason: "r", Configs: []ConfigChange{{Action: ActionUpdate, Namespace: "a", Key: "k", Value: json.RawMessage(`{"x":1}`), Revision: 9}}}
	path := t.TempDir() + "/plan.json"
	if err := SavePlan(path, p); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPlan(path)
	if err != nil || got.Reason != "r" || got.Configs[0].Revision != 9 || !layout.JSONEqual(got.Configs[0].Value, []byte(`{"x":1}`)) {
		t.Fatalf("LoadPlan = %+v, %v", got, err)
	}
	p.Format = 99
	_ = SavePlan(path, p)
	if _, err := LoadPlan(path); err == nil || !strings.Contains(err.Error(), "plan format 99") {
		t.Fatalf("LoadPlan(format 99) = %v", err)
	}
	p.Format, p.Configs[0].Action = PlanFormat, "upsert"
	_ = SavePlan(path, p)
	if _, err := LoadPlan(path); err == nil || !strings.Contains(err.Error(), `unknown action "upsert"`) {
		t.Fatalf("LoadPlan(bad action) = %v", err)
	}
}
