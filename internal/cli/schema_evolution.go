package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

// schemaEvolutionCmds are the schema subcommands of issue 5: checks,
// policies, deprecation, deletion, bundles and migrations.
func (a *app) schemaEvolutionCmds() []*cobra.Command {
	var dryRun bool
	dry := func(c *cobra.Command) *cobra.Command {
		c.Flags().BoolVar(&dryRun, "dry-run", false, "report what would change, change nothing")
		return c
	}

	check := &cobra.Command{
		Use:   "check NS NAME FILE|-",
		Short: "Check a schema as the next version of NAME against the stored entries (changes nothing)",
		Args:  cobra.ExactArgs(3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			doc, err := a.readJSONInput(args[2])
			if err != nil {
				return err
			}
			r, _, err := c.Schemas().Check(ctx, args[0], args[1], api.RegisterSchemaRequest{Schema: doc})
			if err != nil {
				return err
			}
			return a.render(r, func(w io.Writer) { printChecks(w, r.Checks) })
		}),
	}

	status := &cobra.Command{
		Use:   "status NS NAME",
		Short: "Show a schema's policy and, per version, deprecation and pinned entries",
		Args:  cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			st, _, err := c.Schemas().Status(ctx, args[0], args[1], a.readOpts())
			if err != nil {
				return err
			}
			return a.render(st, func(w io.Writer) { printStatus(w, st) })
		}),
	}

	policy := dry(&cobra.Command{
		Use:   "policy NS NAME strict|none",
		Short: "Set a schema's evolution policy",
		Args:  cobra.ExactArgs(3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			st, _, err := c.Schemas().SetPolicy(ctx, args[0], args[1], args[2], dryRun, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(st, func(w io.Writer) { printStatus(w, st) })
		}),
	})

	var undo bool
	deprecate := dry(&cobra.Command{
		Use:   "deprecate NS NAME VERSION",
		Short: "Deprecate a schema version: it takes no new pins (--undo lifts it)",
		Args:  cobra.ExactArgs(3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			v, err := parseVersion(args[2])
			if err != nil {
				return err
			}
			st, _, err := c.Schemas().Deprecate(ctx, args[0], args[1], v, !undo, dryRun, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(st, func(w io.Writer) { printStatus(w, st) })
		}),
	})
	deprecate.Flags().BoolVar(&undo, "undo", false, "lift the deprecation")

	deleteVersion := dry(&cobra.Command{
		Use:   "delete-version NS NAME VERSION",
		Short: "Delete a schema version that no entry pins and that is not the latest",
		Args:  cobra.ExactArgs(3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			v, err := parseVersion(args[2])
			if err != nil {
				return err
			}
			st, _, err := c.Schemas().DeleteVersion(ctx, args[0], args[1], v, dryRun, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(st, func(w io.Writer) { printStatus(w, st) })
		}),
	})

	importCmd := dry(&cobra.Command{
		Use:   "import NS DIR",
		Short: "Register every schema of a directory atomically (one bundle)",
		Long: `Read the JSON Schemas of DIR and register them in namespace NS as one bundle:
all at one revision, or none. Files are named

  DIR/<name>/<version>.json   or   DIR/<name>@<version>.json

where <version> is the number the version must get (the next one of its name;
files of one name apply in version order). Versions a name already has are
skipped when their stored text is the same JSON, and refused otherwise.`,
		Args: cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			items, err := readSchemaDir(args[1])
			if err != nil {
				return err
			}
			items, skipped, err := dropRegistered(ctx, c, args[0], items)
			if err != nil {
				return err
			}
			if len(items) == 0 {
				return a.render(&api.SchemaChangeResult{DryRun: dryRun}, func(w io.Writer) {
					fmt.Fprintf(w, "nothing to import: all %d schema versions are registered\n", skipped)
				})
			}
			r, _, err := c.Schemas().ImportBundle(ctx, args[0], api.BundleRequest{Schemas: items}, dryRun, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(r, func(w io.Writer) {
				if r.DryRun {
					fmt.Fprintf(w, "dry run at revision %d: %d schema versions would be registered (%d already are)\n", r.Revision, len(items), skipped)
				} else {
					fmt.Fprintf(w, "registered %d schema versions at revision %d (%d already were)\n", len(r.Versions), r.Revision, skipped)
				}
				printChecks(w, r.Checks)
			})
		}),
	})

	var from, to, chunk int
	var transforms string
	var wait bool
	migrate := dry(&cobra.Command{
		Use:   "migrate NS NAME --from A --to B",
		Short: "Move the entries of NAME from version A to B, optionally through transforms",
		Long: `Move every entry pinned to version A of NAME to version B, in chunks, each one
raft entry. --transforms names a JSON file holding a list of
{"op": "move", "from": "/old", "path": "/new"}, {"op": "add", "path": "/f", "value": V}
(a default: only when absent) and {"op": "remove", "path": "/f"}. Entries that
fail version B after the transforms stay on A and are reported. --dry-run
reports what would move; --wait follows the migration until it completes.`,
		Args: cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			req := api.MigrationRequest{From: from, To: to, ChunkSize: chunk}
			if transforms != "" {
				b, err := a.readInput(transforms)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, &req.Transforms); err != nil {
					return usagef("--transforms %s: want a JSON list of transforms: %v", transforms, err)
				}
			}
			if dryRun {
				r, _, err := c.Schemas().MigrateDryRun(ctx, args[0], args[1], req)
				if err != nil {
					return err
				}
				return a.render(r, func(w io.Writer) {
					fmt.Fprintf(w, "dry run at revision %d: %d entries checked, %d would move, %d would stay\n", r.Revision, r.Checked, r.WouldMigrate, r.Failed)
					printFailures(w, r.Failures, r.FailuresOmitted)
				})
			}
			m, _, err := c.Schemas().Migrate(ctx, args[0], args[1], req, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			for wait && m.State == api.MigrationRunning {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(200 * time.Millisecond):
				}
				if m, _, err = c.Schemas().Migration(ctx, args[0], args[1], m.ID, a.readOpts()); err != nil {
					return err
				}
			}
			return a.render(m, func(w io.Writer) { printMigration(w, m) })
		}),
	})
	migrate.Flags().IntVar(&from, "from", 0, "version the entries are pinned to (required)")
	migrate.Flags().IntVar(&to, "to", 0, "version to pin them to (required)")
	migrate.Flags().IntVar(&chunk, "chunk-size", 0, "entries per raft entry (default 100, at most 1000)")
	migrate.Flags().StringVar(&transforms, "transforms", "", "JSON file (or -) with the list of transforms")
	migrate.Flags().BoolVar(&wait, "wait", false, "wait until the migration completes")

	migration := &cobra.Command{
		Use:   "migration NS NAME [ID]",
		Short: "Show one migration, or list the migrations of a schema",
		Args:  cobra.RangeArgs(2, 3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			if len(args) == 3 {
				m, _, err := c.Schemas().Migration(ctx, args[0], args[1], args[2], a.readOpts())
				if err != nil {
					return err
				}
				return a.render(m, func(w io.Writer) { printMigration(w, m) })
			}
			l, _, err := c.Schemas().Migrations(ctx, args[0], args[1], a.readOpts())
			if err != nil {
				return err
			}
			return a.render(l, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tFROM\tTO\tSTATE\tMIGRATED\tFAILED\tSKIPPED\tCHUNKS")
				for _, m := range l.Items {
					fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\n", m.ID, m.From, m.To, m.State, m.Migrated, m.Failed, m.Skipped, m.Chunks)
				}
			})
		}),
	}

	resume := &cobra.Command{
		Use:   "resume NS NAME ID",
		Short: "Drive a running migration from the node the request reaches",
		Args:  cobra.ExactArgs(3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			m, _, err := c.Schemas().ResumeMigration(ctx, args[0], args[1], args[2])
			if err != nil {
				return err
			}
			return a.render(m, func(w io.Writer) { printMigration(w, m) })
		}),
	}
	history := &cobra.Command{
		Use:   "history NS NAME",
		Short: "Show the recorded changes of a schema: versions, policy, deprecations, migrations",
		Args:  cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			h, _, err := c.Schemas().History(ctx, args[0], args[1], client.HistoryQuery{}, a.readOpts())
			if err != nil {
				return err
			}
			return a.render(h, func(w io.Writer) {
				fmt.Fprintln(w, "REVISION\tOP\tVERSION\tPRINCIPAL\tTIME\tREASON")
				for _, ev := range h.Items {
					fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\n", ev.Revision, ev.Op, ev.SchemaVersion, dash(ev.Principal), fmtTime(ev.Time), ev.Reason)
				}
			})
		}),
	}
	return []*cobra.Command{check, status, policy, deprecate, deleteVersion, importCmd, migrate, migration, resume, history}
}

func parseVersion(s string) (int, error) {
	v, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || v < 1 {
		return 0, usagef("invalid schema version %q: want a positive integer", s)
	}
	return v, nil
}

var (
	flatSchemaFile   = regexp.MustCompile(`^([a-z0-9-]+)@([0-9]+)\.json$`)
	versionOnlyFile  = regexp.MustCompile(`^([0-9]+)\.json$`)
	errSchemaDirFile = "%s: want <name>/<version>.json or <name>@<version>.json"
)

// readSchemaDir reads a directory of schema files into bundle items, sorted
// by name and version.
func readSchemaDir(dir string) ([]api.BundleSchema, error) {
	var items []api.BundleSchema
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel(dir, path); strings.Count(rel, string(filepath.Separator)) > 0 {
				return usagef("%s: nested directories are not part of the layout", path)
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		var name, ver string
		if m := flatSchemaFile.FindStringSubmatch(rel); m != nil {
			name, ver = m[1], m[2]
		} else if parent := filepath.Dir(rel); parent != "." && versionOnlyFile.MatchString(d.Name()) {
			name, ver = parent, versionOnlyFile.FindStringSubmatch(d.Name())[1]
		} else {
			return usagef(errSchemaDirFile, path)
		}
		v, err := strconv.Atoi(ver)
		if err != nil || v < 1 {
			return usagef(errSchemaDirFile, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return usagef("%s: not valid JSON", path)
		}
		items = append(items, api.BundleSchema{Name: name, Version: v, Schema: json.RawMessage(b)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, usagef("%s holds no schema files (%s)", dir, "<name>/<version>.json or <name>@<version>.json")
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Name != items[j].Name {
			return items[i].Name < items[j].Name
		}
		return items[i].Version < items[j].Version
	})
	for i := 1; i < len(items); i++ {
		if items[i].Name == items[i-1].Name && items[i].Version == items[i-1].Version {
			return nil, usagef("%s@%d is in the directory twice", items[i].Name, items[i].Version)
		}
	}
	return items, nil
}

// dropRegistered removes the versions the namespace already holds with the
// same JSON, so an import of a directory can be repeated.
func dropRegistered(ctx context.Context, c *client.Client, ns string, items []api.BundleSchema) ([]api.BundleSchema, int, error) {
	var out []api.BundleSchema
	skipped := 0
	for _, it := range items {
		sv, _, err := c.Schemas().Get(ctx, ns, it.Name, it.Version, nil)
		if err != nil {
			var ae *api.Error
			if errors.As(err, &ae) && ae.Code == api.CodeSchemaNotFound {
				out = append(out, it)
				continue
			}
			return nil, 0, err
		}
		if !sameJSON(sv.Schema, it.Schema) {
			return nil, 0, fmt.Errorf("%s@%d is registered with a different text; a version never changes (add the next version instead)", it.Name, it.Version)
		}
		skipped++
	}
	return out, skipped, nil
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

func printChecks(w io.Writer, checks []api.SchemaCheck) {
	for _, ch := range checks {
		from := "new schema"
		if ch.From > 0 {
			from = fmt.Sprintf("from version %d", ch.From)
		}
		fmt.Fprintf(w, "%s@%d (%s, policy %s): %d entries checked, %d fail\n", ch.Name, ch.Version, from, ch.Policy, ch.Checked, ch.Failed)
		for _, c := range ch.Changes {
			mark := " "
			if c.Breaking {
				mark = "!"
			}
			fmt.Fprintf(w, "  %s %s\n", mark, c.Message)
		}
		printFailures(w, ch.Failures, ch.FailuresOmitted)
	}
}

func printFailures(w io.Writer, fs []api.EntryFailure, omitted int) {
	for _, f := range fs {
		fmt.Fprintf(w, "  %s (version %d):\n", f.Key, f.SchemaVersion)
		printDetails(w, "    ", f.Errors)
	}
	if omitted > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", omitted)
	}
}

func printStatus(w io.Writer, st *api.SchemaStatus) {
	fmt.Fprintf(w, "Schema:\t%s/%s\nPolicy:\t%s\n\n", st.Namespace, st.Name, st.Policy)
	fmt.Fprintln(w, "VERSION\tDEPRECATED\tPINS\tLAST PIN")
	for _, v := range st.Versions {
		fmt.Fprintf(w, "%d\t%v\t%d\t%d\n", v.Version, v.Deprecated, v.Pins, v.LastPinRevision)
	}
}

func printMigration(w io.Writer, m *api.Migration) {
	fmt.Fprintf(w, "Migration:\t%s\nSchema:\t%s/%s %d -> %d\nState:\t%s\n", m.ID, m.Namespace, m.Name, m.From, m.To, m.State)
	fmt.Fprintf(w, "Migrated:\t%d\nFailed:\t%d\nSkipped:\t%d\nChunks:\t%d\nCursor:\t%s\n", m.Migrated, m.Failed, m.Skipped, m.Chunks, dash(m.Cursor))
	printFailures(w, m.Failures, m.FailuresOmitted)
}
