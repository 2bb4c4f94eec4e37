package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/gitops"
)

// exitChanges is the exit code of `sync plan` when the plan has changes.
// Under `sync`, exit code 2 means "changes" so that CI can gate on it; usage
// errors there exit 1 like every other failure.
const exitChanges = 2

// errPlanHasChanges ends `sync plan` with exitChanges. It prints nothing.
var errPlanHasChanges = errors.New("the plan has changes")

// syncExitCode decides the exit code of the sync commands, which differ from
// the rest (see exitChanges). ok is false for other commands.
func syncExitCode(cmd *cobra.Command, err error, ran bool, stderr io.Writer) (code int, ok bool) {
	if errors.Is(err, errPlanHasChanges) {
		return exitChanges, true
	}
	if err == nil || cmd == nil || !strings.HasPrefix(cmd.CommandPath()+" ", "schemakv sync ") {
		return 0, false
	}
	var ue usageError
	if !ran || errors.As(err, &ue) {
		fmt.Fprintf(stderr, "error: %v\n", err)
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitError, true
	}
	return 0, false
}

// syncFlags are the flags shared by the sync subcommands.
type syncFlags struct {
	dir        string
	namespaces []string
	prune      bool
	color      string
}

func (f *syncFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "dir", "", "directory of the layout (holds namespaces/); required")
	cmd.Flags().StringArrayVar(&f.namespaces, "namespace", nil, "sync only this namespace directory (repeatable); default: every one in DIR")
	cmd.Flags().BoolVar(&f.prune, "prune", false, "delete config entries of the synced namespaces that DIR does not have")
}

func (f *syncFlags) check() error {
	if f.dir == "" {
		return usagef("--dir is required")
	}
	switch f.color {
	case "", "auto", "always", "never":
	default:
		return usagef("invalid --color %q: want auto, always or never", f.color)
	}
	return nil
}

func (a *app) newSyncCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Plan and apply a directory of namespaces, schemas and configs kept in Git",
		Long: `Keep namespaces, schema versions and config entries in a directory (usually a
Git repository) and make the server match it. The layout:

  DIR/namespaces/<ns>/namespace.yaml               optional: description
  DIR/namespaces/<ns>/schemas/<name>/v<N>.yaml     one file per schema version
  DIR/namespaces/<ns>/configs/<key>.yaml           schema: name@N, value: ...

Files may be YAML (comments allowed) or JSON (.json). "schemakv export" writes
an existing installation in this layout. Exit codes of "sync plan": 0 no
change, 2 changes, 1 errors.`,
	}
	cmd.AddCommand(a.newSyncPlanCmd(), a.newSyncApplyCmd(), a.newSyncWatchCmd())
	return cmd
}

// syncReason is the reason recorded with the changes: the Git commit of DIR
// when it is in a work tree, then --reason.
func (a *app) syncReason(ctx context.Context, dir string) string {
	commit, err := gitops.HeadCommit(ctx, dir)
	if err != nil {
		if a.reason != "" {
			return a.reason
		}
		return "schemakv sync"
	}
	if a.reason != "" {
		return gitops.TruncateReason(a.reason + "; " + commit.Reason())
	}
	return commit.Reason()
}

// problemsOutput is the -o json answer of sync plan when DIR has problems.
type problemsOutput struct {
	Problems gitops.Problems `json:"problems"`
}

// planOptions are the plan options of the flags.
func (a *app) planOptions(ctx context.Context, c *client.Client, f syncFlags) gitops.PlanOptions {
	return gitops.PlanOptions{Prune: f.prune, Reason: a.syncReason(ctx, f.dir), SchemaDryRun: serverSchemaDryRun(c)}
}

// serverSchemaDryRun asks the server to dry-run the registration of each
// new schema version (POST .../schemas/{name}?dry_run=true), which checks
// the stored entries pinned to the previous version under the schema's
// evolution policy. A version that is not the server's next one (a plan
// that adds several versions of one schema) or a server that cannot answer
// falls back to gitops.LocalSchemaDryRun.
func serverSchemaDryRun(c *client.Client) gitops.SchemaDryRun {
	return func(ctx context.Context, d *gitops.Desired, st *gitops.State, ch gitops.SchemaChange) (*gitops.DryRunResult, error) {
		res, _, err := c.Schemas().Check(ctx, ch.Namespace, ch.Name, api.RegisterSchemaRequest{Schema: ch.Schema})
		var checks []api.SchemaCheck
		var ae *api.Error
		switch {
		case err == nil:
			checks = res.Checks
		case errors.As(err, &ae) && ae.Code == api.CodeEvolutionCheckFailed:
			checks = ae.Checks
		}
		if len(checks) != 1 || checks[0].Version != ch.Version {
			return gitops.LocalSchemaDryRun(ctx, d, st, ch)
		}
		ck := checks[0]
		out := &gitops.DryRunResult{Source: "server", Checked: ck.Checked}
		for _, f := range ck.Failures {
			out.Failures = append(out.Failures, gitops.DryRunFailure{Key: f.Key, Errors: f.Errors})
		}
		var notes []string
		if ck.FailuresOmitted > 0 {
			notes = append(notes, fmt.Sprintf("%d more failing entries not listed", ck.FailuresOmitted))
		}
		if ck.Policy == api.PolicyNone && ck.Failed > 0 {
			notes = append(notes, "policy none: the server registers it anyway")
		}
		breaking := 0
		for _, chg := range ck.Changes {
			if chg.Breaking {
				breaking++
			}
		}
		if len(ck.Changes) > 0 {
			notes = append(notes, fmt.Sprintf("%d structural changes from v%d (%d breaking)", len(ck.Changes), ck.From, breaking))
		}
		if len(out.Failures) == 0 && len(notes) > 0 {
			// The renderer shows a note instead of a clean result.
			out.Note = fmt.Sprintf("all %d config(s) pinned to %s@%d validate against @%d; %s",
				ck.Checked, ch.Name, ck.From, ch.Version, strings.Join(notes, "; "))
		}
		return out, nil
	}
}

// useColor reports whether the plan is painted: --color always, or auto on
// a terminal without NO_COLOR.
func (a *app) useColor(mode string) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := a.stdout.(*os.File)
	return ok && isatty.IsTerminal(f.Fd()) && os.Getenv("NO_COLOR") == ""
}

// progress is a progress bar on standard error when it is a terminal; its
// methods do nothing otherwise (or on a nil *progress).
type progress struct {
	w    *os.File
	desc string
	bar  *progressbar.ProgressBar
}

// progress returns a bar described by desc, or nil when standard error is
// not a terminal.
func (a *app) progress(desc string) *progress {
	f, ok := a.stderr.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return nil
	}
	return &progress{w: f, desc: desc}
}

// update shows done of total; a negative total draws a spinner.
func (p *progress) update(done, total int) {
	if p == nil {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.desc),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
	_ = p.bar.Set(done) // drawing on a terminal; a failed draw is harmless
}

// close clears the bar.
func (p *progress) close() {
	if p == nil || p.bar == nil {
		return
	}
	_ = p.bar.Finish()
	_ = p.bar.Clear()
}

// applyProgress is the ApplyOptions.Progress of p, nil without a terminal.
func (p *progress) applyProgress() func(done, total int) {
	if p == nil {
		return nil
	}
	return p.update
}

func (a *app) newSyncPlanCmd() *cobra.Command {
	var f syncFlags
	var planFile string
	cmd := &cobra.Command{
		Use:   "plan --dir DIR",
		Short: "Show what would change on the server to match DIR (exit 0: none, 2: changes, 1: errors)",
		Long: `Compare DIR with the server and show the namespaces to create, the schema
versions to register (with a dry run of the configs pinned to the version
before), and the configs to create, update (as a diff of the values) or, with
--prune, delete. Nothing is changed. Every problem of DIR (files that do not
parse, values that fail their schema, unknown schema references) is reported
with its file and line. --plan-file saves the plan for "sync apply --plan-file".

Exit code 0: no change; 2: changes; 1: errors.`,
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			p, err := gitops.PlanDir(ctx, c, f.dir, f.namespaces, a.planOptions(ctx, c, f))
			var problems gitops.Problems
			if errors.As(err, &problems) && a.output == "json" {
				// For CI tooling: the problems as data too (stderr has the text).
				_ = writeJSON(a.stdout, problemsOutput{Problems: problems})
			}
			if err != nil {
				return err
			}
			if planFile != "" {
				if err := gitops.SavePlan(planFile, p); err != nil {
					return err
				}
			}
			if a.output == "json" {
				if err := writeJSON(a.stdout, p); err != nil {
					return err
				}
			} else {
				p.Render(a.stdout, a.useColor(f.color))
				if planFile != "" {
					fmt.Fprintf(a.stdout, "Saved the plan to %s; apply it with: schemakv sync apply --plan-file %s\n", planFile, planFile)
				}
			}
			if p.HasChanges() {
				return errPlanHasChanges
			}
			return nil
		}),
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.color, "color", "auto", "colour the plan: auto (on a terminal), always or never")
	cmd.Flags().StringVar(&planFile, "plan-file", "", "also save the plan to this file")
	return cmd
}

// applyOutput is the -o json answer of sync apply.
type applyOutput struct {
	Plan   *gitops.Plan        `json:"plan"`
	Result *gitops.ApplyResult `json:"result"`
}

func (a *app) newSyncApplyCmd() *cobra.Command {
	var f syncFlags
	var planFile string
	cmd := &cobra.Command{
		Use:   "apply --dir DIR | --plan-file FILE",
		Short: "Make the server match DIR (or apply a saved plan exactly)",
		Long: `Plan as "sync plan" does, then apply: namespaces, then schema versions in
order, then config changes through atomic batches (up to 1,000 operations and
4 MiB each, as few as that allows), every write conditional on the revision the
plan saw. An edit made on the server after the plan is reported, not
overwritten. With --plan-file, the saved plan is applied exactly as it was
shown (DIR is not read). The reason recorded in the history is the Git commit
of DIR (hash and subject) when it is in a Git work tree, else --reason.`,
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, _ []string) error {
			var p *gitops.Plan
			var err error
			if planFile != "" {
				if err := (&syncFlags{dir: "-", color: f.color}).check(); err != nil {
					return err
				}
				if f.dir != "" || len(f.namespaces) > 0 || f.prune {
					return usagef("--plan-file applies a saved plan: --dir, --namespace and --prune belong to sync plan")
				}
				p, err = gitops.LoadPlan(planFile)
			} else {
				if err := f.check(); err != nil {
					return err
				}
				p, err = gitops.PlanDir(ctx, c, f.dir, f.namespaces, a.planOptions(ctx, c, f))
			}
			if err != nil {
				return err
			}
			if a.output != "json" {
				p.Render(a.stdout, a.useColor(f.color))
			}
			res := &gitops.ApplyResult{}
			if p.HasChanges() {
				bar := a.progress("applying")
				res, err = gitops.Apply(ctx, c, p, gitops.ApplyOptions{Progress: bar.applyProgress()})
				bar.close()
				if err != nil {
					return err
				}
			}
			if a.output == "json" {
				return writeJSON(a.stdout, applyOutput{Plan: p, Result: res})
			}
			if p.HasChanges() {
				fmt.Fprintf(a.stdout, "Applied: %d namespace(s) created, %d schema version(s) registered, %d config change(s) in %d batch(es) %s.\n",
					res.NamespacesCreated, len(res.SchemasRegistered), res.ConfigsWritten, len(res.Batches), revisions(res.Batches))
			}
			return nil
		}),
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.color, "color", "auto", "colour the plan: auto (on a terminal), always or never")
	cmd.Flags().StringVar(&planFile, "plan-file", "", "apply exactly this saved plan (from sync plan --plan-file)")
	return cmd
}

func revisions(revs []uint64) string {
	if len(revs) == 0 {
		return ""
	}
	s := make([]string, len(revs))
	for i, r := range revs {
		s[i] = fmt.Sprint(r)
	}
	return "at revision(s) " + strings.Join(s, ", ")
}

func (a *app) newSyncWatchCmd() *cobra.Command {
	var f syncFlags
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "watch --dir DIR [--interval 30s]",
		Short: "Apply DIR whenever its Git work tree moves to another commit",
		Long: `Apply DIR at once, then check the commit (HEAD) of its Git work tree every
--interval and apply again whenever it changed (something else pulls the
checkout). A failed attempt is retried at the next check. Runs until
interrupted.`,
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			return gitops.Watch(ctx, c, gitops.WatchOptions{
				Dir: f.dir, Namespaces: f.namespaces, Interval: interval, Prune: f.prune,
				Report: func(head *gitops.Commit, p *gitops.Plan, res *gitops.ApplyResult, err error) {
					at := time.Now().UTC().Format(time.RFC3339)
					switch {
					case head == nil:
						fmt.Fprintf(a.stderr, "%s error: %v\n", at, err)
					case err != nil:
						fmt.Fprintf(a.stderr, "%s commit %s: error (retrying at the next check): %v\n", at, short(head.Hash), err)
					case !p.HasChanges():
						fmt.Fprintf(a.stdout, "%s commit %s: no changes\n", at, short(head.Hash))
					default:
						fmt.Fprintf(a.stdout, "%s commit %s: applied %d namespace(s), %d schema version(s), %d config change(s) in %d batch(es)\n",
							at, short(head.Hash), res.NamespacesCreated, len(res.SchemasRegistered), res.ConfigsWritten, len(res.Batches))
					}
				},
			})
		}),
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&interval, "interval", 30*time.Second, "how often to check the work tree's commit")
	return cmd
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
