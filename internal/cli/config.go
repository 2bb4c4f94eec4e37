package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

func (a *app) newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "config",
		Aliases: []string{"configs"},
		Short:   "Read and write config entries",
	}
	cmd.AddCommand(
		a.newConfigGetCmd(),
		a.newConfigPutCmd(),
		a.newConfigDeleteCmd(),
		a.newConfigListCmd(),
		a.newConfigHistoryCmd(),
		a.newConfigDiffCmd(),
		a.newConfigRollbackCmd(),
	)
	return cmd
}

func addIfMatchFlag(cmd *cobra.Command) {
	cmd.Flags().Uint64("if-match", 0, "write only if the entry's modify revision is N (0: only if it does not exist)")
}

func (a *app) newConfigGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get NS KEY",
		Short: "Show a config entry",
		Args:  cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			e, _, err := c.Configs().Get(ctx, args[0], args[1], a.readOpts())
			if err != nil {
				return err
			}
			return a.render(e, func(w io.Writer) {
				fmt.Fprintf(w, "Key:\t%s/%s\n", e.Namespace, e.Key)
				fmt.Fprintf(w, "Schema:\t%s\n", schemaRef(e.Schema, e.SchemaVersion))
				fmt.Fprintf(w, "Revision:\t%d (created %d)\n", e.ModifyRevision, e.CreateRevision)
				fmt.Fprintf(w, "Version:\t%d\n", e.Version)
				fmt.Fprintf(w, "Modified by:\t%s\n", dash(e.ModifiedBy))
				fmt.Fprintf(w, "Modified at:\t%s\n", fmtTime(e.ModifiedAt))
				if e.Reason != "" {
					fmt.Fprintf(w, "Reason:\t%s\n", e.Reason)
				}
				fmt.Fprintf(w, "\n%s\n", prettyJSON(e.Value))
			})
		}),
	}
}

func (a *app) newConfigPutCmd() *cobra.Command {
	var schema, value, file string
	cmd := &cobra.Command{
		Use:   "put NS KEY [--schema NAME[@VERSION]] (--value JSON | --file FILE | -)",
		Short: "Write a config entry, validated against its schema",
		Long: `Write the JSON value given with --value, read from --file, or read from
standard input ("-") under KEY in namespace NS. --schema pins the entry to
NAME@VERSION, or to NAME's latest version; it may be left out for an existing
key, which keeps its schema name and moves to that schema's latest version.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			sources := 0
			for _, set := range []bool{cmd.Flags().Changed("value"), cmd.Flags().Changed("file"), len(args) == 3} {
				if set {
					sources++
				}
			}
			if sources != 1 {
				return usagef("give the value with exactly one of --value, --file or -")
			}
			var raw json.RawMessage
			switch {
			case cmd.Flags().Changed("value"):
				if err := checkJSON([]byte(value)); err != nil {
					return fmt.Errorf("--value: %w", err)
				}
				raw = json.RawMessage(value)
			case cmd.Flags().Changed("file"):
				v, err := a.readJSONInput(file)
				if err != nil {
					return err
				}
				raw = v
			default:
				if args[2] != "-" {
					return usagef("unexpected argument %q: the value comes from --value, --file or - (standard input)", args[2])
				}
				v, err := a.readJSONInput("-")
				if err != nil {
					return err
				}
				raw = v
			}
			e, _, err := c.Configs().Put(ctx, args[0], args[1], api.PutConfigRequest{Schema: schema, Value: raw}, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(e, func(w io.Writer) {
				fmt.Fprintf(w, "put %s/%s at revision %d (version %d, schema %s)\n", e.Namespace, e.Key, e.ModifyRevision, e.Version, schemaRef(e.Schema, e.SchemaVersion))
			})
		}),
	}
	cmd.Flags().StringVar(&schema, "schema", "", "schema NAME or NAME@VERSION (required for a new key)")
	cmd.Flags().StringVar(&value, "value", "", "the value as JSON")
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the value from a JSON file")
	addIfMatchFlag(cmd)
	return cmd
}

func (a *app) newConfigDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NS KEY",
		Short: "Delete a config entry",
		Args:  cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			res, _, err := c.Configs().Delete(ctx, args[0], args[1], a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(res, func(w io.Writer) {
				fmt.Fprintf(w, "deleted %s/%s at revision %d\n", args[0], args[1], res.Revision)
			})
		}),
	}
	addIfMatchFlag(cmd)
	return cmd
}

func (a *app) newConfigListCmd() *cobra.Command {
	var q client.ListQuery
	var all bool
	var wq client.WhereQuery
	cmd := &cobra.Command{
		Use:   "list NS",
		Short: "List config entries in key order",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			if q.Limit < 0 {
				return usagef("invalid --limit %d", q.Limit)
			}
			var l *api.ConfigList
			if len(wq.Where) > 0 {
				wq.Prefix, wq.After, wq.Limit = q.Prefix, q.After, q.Limit
				for {
					page, _, err := c.Configs().Query(ctx, args[0], wq, a.readOpts())
					if err != nil {
						return err
					}
					if l == nil {
						l = page
					} else {
						l.Items = append(l.Items, page.Items...)
						l.Next = page.Next
					}
					if !all || page.Next == "" || page.Next == wq.After {
						break
					}
					wq.After = page.Next
				}
				if a.output == "table" {
					fmt.Fprintf(a.stderr, "plan: %s (%d entries examined)\n", l.Plan, l.Examined)
				}
			} else if all {
				l = &api.ConfigList{Items: []api.ConfigEntry{}}
				for page, err := range c.Configs().ListAll(ctx, args[0], q, a.readOpts()) {
					if err != nil {
						return err
					}
					l.Items = append(l.Items, page.Items...)
					l.Revision = max(l.Revision, page.Revision)
				}
			} else {
				var err error
				if l, _, err = c.Configs().List(ctx, args[0], q, a.readOpts()); err != nil {
					return err
				}
			}
			err := a.render(l, func(w io.Writer) {
				fmt.Fprintln(w, "KEY\tSCHEMA\tREVISION\tVERSION\tMODIFIED BY\tMODIFIED AT")
				for _, e := range l.Items {
					fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", e.Key, schemaRef(e.Schema, e.SchemaVersion), e.ModifyRevision, e.Version, dash(e.ModifiedBy), fmtTime(e.ModifiedAt))
				}
			})
			if l.Next != "" && a.output == "table" {
				fmt.Fprintf(a.stderr, "more entries: --after %s, or --all\n", l.Next)
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&q.Prefix, "prefix", "", "only keys starting with this prefix")
	cmd.Flags().StringVar(&q.After, "after", "", "start after this key (the previous page's next)")
	cmd.Flags().IntVar(&q.Limit, "limit", 0, "page size (0: the server's default)")
	cmd.Flags().BoolVar(&all, "all", false, "follow pages to the end (each page is a separate read)")
	cmd.Flags().StringArrayVar(&wq.Where, "where", nil, "only entries matching this clause (repeat for AND): path==v, !=, <, <=, >, >=, path=in=(a,b), exists(path)")
	cmd.Flags().StringVar(&wq.Schema, "schema", "", "with --where: only entries of this schema")
	cmd.Flags().BoolVar(&wq.AllowScan, "allow-scan", false, "with --where: scan (bounded) when no clause has a ready index")
	return cmd
}

func (a *app) newConfigHistoryCmd() *cobra.Command {
	var q client.HistoryQuery
	cmd := &cobra.Command{
		Use:   "history NS KEY",
		Short: "Show the recorded changes of a config entry, newest first",
		Args:  cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			if q.Limit < 0 {
				return usagef("invalid --limit %d", q.Limit)
			}
			h, _, err := c.Configs().History(ctx, args[0], args[1], q, a.readOpts())
			if err != nil {
				return err
			}
			err = a.render(h, func(w io.Writer) {
				fmt.Fprintln(w, "REVISION\tOP\tVERSION\tSCHEMA\tPRINCIPAL\tTIME\tREASON")
				for _, ev := range h.Items {
					reason := ev.Reason
					if ev.RollbackOf != 0 {
						reason = fmt.Sprintf("rollback to %d; %s", ev.RollbackOf, dash(reason))
					}
					fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", ev.Revision, ev.Op, ev.Version, schemaRef(ev.Schema, ev.SchemaVersion), dash(ev.Principal), fmtTime(ev.Time), reason)
				}
			})
			if h.Next != 0 && a.output == "table" {
				fmt.Fprintf(a.stderr, "older events: --before %d\n", h.Next)
			}
			return err
		}),
	}
	cmd.Flags().Uint64Var(&q.Before, "before", 0, "only events older than this revision")
	cmd.Flags().IntVar(&q.Limit, "limit", 0, "number of events (0: the server's default)")
	return cmd
}

func (a *app) newConfigDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff NS KEY FROM [TO]",
		Short: "Compare a config entry at two revisions (TO defaults to the current one)",
		Args:  cobra.RangeArgs(3, 4),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			from, err := parseRevision(args[2])
			if err != nil {
				return err
			}
			var to uint64
			if len(args) == 4 {
				if to, err = parseRevision(args[3]); err != nil {
					return err
				}
			}
			d, _, err := c.Configs().Diff(ctx, args[0], args[1], from, to, a.readOpts())
			if err != nil {
				return err
			}
			return a.render(d, func(w io.Writer) {
				fmt.Fprintf(w, "From:\trevision %d\t%s\t%s\n", d.From.Revision, schemaRef(d.From.Schema, d.From.SchemaVersion), fmtTime(d.From.Time))
				fmt.Fprintf(w, "To:\trevision %d\t%s\t%s\n", d.To.Revision, schemaRef(d.To.Schema, d.To.SchemaVersion), fmtTime(d.To.Time))
				if d.SchemaChanged {
					fmt.Fprintln(w, "Schema changed:\tyes")
				}
				if len(d.Patch) == 0 {
					fmt.Fprintln(w, "\nno differences")
					return
				}
				fmt.Fprintln(w, "\nOP\tPATH\tVALUE")
				for _, op := range d.Patch {
					fmt.Fprintf(w, "%s\t%s\t%s\n", op.Op, dash(op.Path), compactJSON(op.Value))
				}
			})
		}),
	}
}

func (a *app) newConfigRollbackCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollback NS KEY REVISION",
		Short: "Write again the value and schema version a config entry had at REVISION",
		Args:  cobra.ExactArgs(3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			rev, err := parseRevision(args[2])
			if err != nil {
				return err
			}
			e, _, err := c.Configs().Rollback(ctx, args[0], args[1], rev, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(e, func(w io.Writer) {
				fmt.Fprintf(w, "rolled back %s/%s to revision %d: now revision %d (version %d, schema %s)\n", e.Namespace, e.Key, rev, e.ModifyRevision, e.Version, schemaRef(e.Schema, e.SchemaVersion))
			})
		}),
	}
	addIfMatchFlag(cmd)
	return cmd
}

func parseRevision(s string) (uint64, error) {
	rev, err := strconv.ParseUint(s, 10, 64)
	if err != nil || rev == 0 {
		return 0, usagef("invalid revision %q: want a positive integer", s)
	}
	return rev, nil
}
