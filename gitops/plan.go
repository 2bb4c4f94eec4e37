package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/gitops/layout"
	"github.com/schemakv/schemakv/schema"
)

// PlanFormat is the version of the saved plan file format; Apply refuses a
// plan of another format.
const PlanFormat = 1

// Config change actions.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Plan is the set of changes that makes the server match a directory. It is
// what `schemakv sync plan` shows and saves, and all that Apply reads: a
// saved plan applies exactly as shown, or not at all where the server moved.
type Plan struct {
	Format int `json:"format"`
	// Reason is recorded in the history with every change (the Git commit
	// the directory was at, or --reason).
	Reason string `json:"reason,omitempty"`
	// Prune is set when the plan deletes entries the directory lacks.
	Prune bool `json:"prune"`
	// Namespaces lists the namespaces the plan manages.
	Namespaces []string `json:"namespaces"`

	CreateNamespaces []NamespaceChange `json:"create_namespaces,omitempty"`
	Schemas          []SchemaChange    `json:"schemas,omitempty"`
	Configs          []ConfigChange    `json:"configs,omitempty"`

	// Unmanaged lists entries that exist only on the server and stay,
	// because the plan does not prune.
	Unmanaged []string `json:"unmanaged,omitempty"`
	// Warnings are differences apply cannot remove (schema versions only the
	// server has, namespace descriptions).
	Warnings []string `json:"warnings,omitempty"`
}

// NamespaceChange creates a namespace.
type NamespaceChange struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	File        string `json:"file,omitempty"`
}

// SchemaChange registers a schema version. Versions are registered in order,
// each only if the server's latest version is the one before it.
type SchemaChange struct {
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Version   int             `json:"version"`
	Schema    json.RawMessage `json:"schema"`
	File      string          `json:"file,omitempty"`
	// DryRun is the strict-mode check of the configs pinned to the previous
	// version against this one; nil when there is nothing to check.
	DryRun *DryRunResult `json:"dry_run,omitempty"`
}

// ConfigChange creates, updates or deletes one config entry.
type ConfigChange struct {
	Action    string `json:"action"`
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	File      string `json:"file,omitempty"`
	// Schema and Value are the desired state (not set for a delete).
	Schema string          `json:"schema,omitempty"`
	Value  json.RawMessage `json:"value,omitempty"`
	// OldSchema and OldValue are the server's state at plan time (not set
	// for a create).
	OldSchema string          `json:"old_schema,omitempty"`
	OldValue  json.RawMessage `json:"old_value,omitempty"`
	// Revision is the entry's modify revision at plan time, 0 for a create:
	// apply writes only if the entry is still at it.
	Revision uint64 `json:"revision"`
	// Diff is a unified diff of the values (update only).
	Diff string `json:"diff,omitempty"`
}

// DryRunResult says which configs would fail a new schema version.
type DryRunResult struct {
	// Source is "local" (checked by this command against the schema files)
	// or "server" (the server's strict-mode dry run).
	Source string `json:"source"`
	// Checked counts the configs checked.
	Checked  int             `json:"checked"`
	Failures []DryRunFailure `json:"failures,omitempty"`
	// Note explains a check that could not run.
	Note string `json:"note,omitempty"`
}

// DryRunFailure is one config that would fail.
type DryRunFailure struct {
	Key    string           `json:"key"`
	Errors []api.FieldError `json:"errors"`
}

// SchemaDryRun checks a schema version before it is registered. It is the
// hook for the server's strict-mode dry-run endpoint: set
// PlanOptions.SchemaDryRun to a function that calls it. The default,
// LocalSchemaDryRun, validates locally the configs the server has pinned to
// the previous version.
type SchemaDryRun func(ctx context.Context, d *Desired, st *State, change SchemaChange) (*DryRunResult, error)

// PlanOptions tunes Compute.
type PlanOptions struct {
	// Prune deletes server entries of the managed namespaces that the
	// directory lacks.
	Prune bool
	// Reason is recorded with every change.
	Reason string
	// SchemaDryRun checks each schema version to register; nil means
	// LocalSchemaDryRun.
	SchemaDryRun SchemaDryRun
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	return len(p.CreateNamespaces)+len(p.Schemas)+len(p.Configs) > 0
}

// Counts returns how many config changes of each action the plan holds.
func (p *Plan) Counts() (create, update, del int) {
	for _, c := range p.Configs {
		switch c.Action {
		case ActionCreate:
			create++
		case ActionUpdate:
			update++
		case ActionDelete:
			del++
		}
	}
	return create, update, del
}

// Compute compares the directory with the server and returns the plan. The
// managed namespaces are those of d. A schema file that differs from the
// version the server already has under its number is a problem (versions are
// immutable), returned as Problems.
func Compute(ctx context.Context, d *Desired, st *State, opts PlanOptions) (*Plan, error) {
	p := &Plan{Format: PlanFormat, Reason: opts.Reason, Prune: opts.Prune, Namespaces: sortedKeys(d.Namespaces)}
	var problems Problems
	for _, name := range p.Namespaces {
		want := d.Namespaces[name]
		have := st.Namespaces[name]
		if have == nil {
			p.CreateNamespaces = append(p.CreateNamespaces, NamespaceChange{Name: name, Description: want.Description, File: want.Loc.File})
			have = &NamespaceState{Name: name, Schemas: map[string][]api.SchemaVersion{}, Configs: map[string]api.ConfigEntry{}}
		} else if want.Description != "" && want.Description != have.Description {
			p.Warnings = append(p.Warnings, fmt.Sprintf("namespace %s: description differs from the server's %q (descriptions are set only when a namespace is created)", name, have.Description))
		}

		for _, sname := range sortedKeys(want.Schemas) {
			files := want.Schemas[sname]
			server := have.Schemas[sname]
			for i, f := range files {
				if i < len(server) {
					if !layout.JSONEqual(f.Doc, server[i].Schema) {
						problems = append(problems, Problem{Location: f.Loc, Message: fmt.Sprintf(
							"differs from version %d of %s/%s on the server: versions are immutable, add the change as v%d instead",
							f.Version, name, sname, max(len(files), len(server))+1)})
					}
					continue
				}
				p.Schemas = append(p.Schemas, SchemaChange{Namespace: name, Name: sname, Version: f.Version, Schema: f.Doc, File: f.Loc.File})
			}
			if len(server) > len(files) {
				p.Warnings = append(p.Warnings, fmt.Sprintf("schema %s/%s: the server has versions up to %d, the directory up to %d (schema versions are never deleted; export to add the files)",
					name, sname, len(server), len(files)))
			}
		}
		for _, sname := range sortedKeys(have.Schemas) {
			if _, ok := want.Schemas[sname]; !ok {
				p.Warnings = append(p.Warnings, fmt.Sprintf("schema %s/%s: only on the server (%d versions; schema versions are never deleted; export to add the files)",
					name, sname, len(have.Schemas[sname])))
			}
		}

		for _, key := range sortedKeys(want.Configs) {
			c := want.Configs[key]
			ref := c.SchemaRef()
			e, ok := have.Configs[key]
			if !ok {
				p.Configs = append(p.Configs, ConfigChange{Action: ActionCreate, Namespace: name, Key: key, File: c.Loc.File, Schema: ref, Value: c.Value})
				continue
			}
			oldRef := api.SchemaRef(e.Schema, e.SchemaVersion)
			if oldRef == ref && layout.JSONEqual(c.Value, e.Value) {
				continue
			}
			p.Configs = append(p.Configs, ConfigChange{
				Action: ActionUpdate, Namespace: name, Key: key, File: c.Loc.File,
				Schema: ref, Value: c.Value, OldSchema: oldRef, OldValue: e.Value, Revision: e.ModifyRevision,
				Diff: valueDiff(name, key, oldRef, e.ModifyRevision, e.Value, c.Loc.File, ref, c.Value),
			})
		}
		for _, key := range sortedKeys(have.Configs) {
			if _, ok := want.Configs[key]; ok {
				continue
			}
			e := have.Configs[key]
			if !opts.Prune {
				p.Unmanaged = append(p.Unmanaged, name+"/"+key)
				continue
			}
			p.Configs = append(p.Configs, ConfigChange{
				Action: ActionDelete, Namespace: name, Key: key,
				OldSchema: api.SchemaRef(e.Schema, e.SchemaVersion), OldValue: e.Value, Revision: e.ModifyRevision,
			})
		}
	}
	if len(problems) > 0 {
		problems.Sort()
		return nil, problems
	}
	dry := opts.SchemaDryRun
	if dry == nil {
		dry = LocalSchemaDryRun
	}
	for i := range p.Schemas {
		r, err := dry(ctx, d, st, p.Schemas[i])
		if err != nil {
			return nil, fmt.Errorf("gitops: dry run of %s/%s@%d: %w", p.Schemas[i].Namespace, p.Schemas[i].Name, p.Schemas[i].Version, err)
		}
		p.Schemas[i].DryRun = r
	}
	return p, nil
}

// LocalSchemaDryRun is the default SchemaDryRun: it validates, against the
// new version compiled from the directory, every config the server has
// pinned to the version before it — what the server's strict evolution
// policy checks when the version is registered. It cannot see a config
// written between plan and apply; the server's check at registration does.
func LocalSchemaDryRun(_ context.Context, d *Desired, st *State, ch SchemaChange) (*DryRunResult, error) {
	res := &DryRunResult{Source: "local"}
	have := st.Namespaces[ch.Namespace]
	ns := d.Namespaces[ch.Namespace]
	if have == nil || ns == nil || ch.Version == 1 {
		return nil, nil
	}
	sch, err := schema.NewCache(schema.DefaultConfig()).Compile(ch.Namespace, ch.Name, ch.Version, ch.Schema, ns)
	if err != nil {
		res.Note = err.Error()
		return res, nil
	}
	keys := sortedKeys(have.Configs)
	for _, k := range keys {
		e := have.Configs[k]
		if e.Schema != ch.Name || e.SchemaVersion != ch.Version-1 {
			continue
		}
		res.Checked++
		errs, _, err := sch.Validate(e.Value)
		if err != nil {
			errs = []api.FieldError{{Message: err.Error()}}
		}
		if len(errs) > 0 {
			res.Failures = append(res.Failures, DryRunFailure{Key: k, Errors: errs})
		}
	}
	return res, nil
}

// SavePlan writes p as JSON to path.
func SavePlan(path string, p *Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("gitops: encoding the plan: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("gitops: saving the plan: %w", err)
	}
	return nil
}

// LoadPlan reads a plan saved by SavePlan.
func LoadPlan(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gitops: reading the plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("gitops: %s is not a saved plan: %w", path, err)
	}
	if p.Format != PlanFormat {
		return nil, fmt.Errorf("gitops: %s: plan format %d, this schemakv reads format %d", path, p.Format, PlanFormat)
	}
	for i, c := range p.Configs {
		switch c.Action {
		case ActionCreate, ActionUpdate, ActionDelete:
		default:
			return nil, fmt.Errorf("gitops: %s: configs[%d]: unknown action %q", path, i, c.Action)
		}
	}
	return &p, nil
}
