package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
	"github.com/spf13/cobra"
)

func (a *app) newIndexCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "index",
		Aliases: []string{"indexes"},
		Short:   "Declare, inspect and drop secondary indexes on JSON paths",
	}
	cmd.AddCommand(a.newIndexCreateCmd(), a.newIndexListCmd(), a.newIndexGetCmd(), a.newIndexDeleteCmd())
	return cmd
}

func (a *app) newIndexCreateCmd() *cobra.Command {
	var req api.CreateIndexRequest
	cmd := &cobra.Command{
		Use:   "create NS NAME --path a.b [--schema NAME]",
		Short: "Declare an index; existing entries are indexed in the background",
		Args:  cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			if req.Path == "" {
				return usagef("--path is required")
			}
			req.Name = args[1]
			d, _, err := c.Indexes().Create(ctx, args[0], req, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(d, func(w io.Writer) {
				fmt.Fprintf(w, "created index %s/%s on %s (%s) at revision %d\n", d.Namespace, d.Name, d.Path, d.State, d.CreateRevision)
			})
		}),
	}
	cmd.Flags().StringVar(&req.Path, "path", "", "dotted JSON path of a scalar field, such as owner.team")
	cmd.Flags().StringVar(&req.Schema, "schema", "", "index only entries of this schema (and check the path against it)")
	return cmd
}

func indexTable(w io.Writer, items []api.Index) {
	fmt.Fprintln(w, "NAME\tPATH\tSCHEMA\tSTATE\tPROGRESS\tENTRIES")
	for _, d := range items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d/%d\t%d\n", d.Name, d.Path, dash(d.Schema), d.State, d.Processed, d.Total, d.Entries)
	}
}

func (a *app) newIndexListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list NS",
		Short: "List a namespace's indexes with their state and progress",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			l, _, err := c.Indexes().List(ctx, args[0], a.readOpts())
			if err != nil {
				return err
			}
			return a.render(l, func(w io.Writer) { indexTable(w, l.Items) })
		}),
	}
}

func (a *app) newIndexGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get NS NAME",
		Short: "Show an index with its state and build progress",
		Args:  cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			d, _, err := c.Indexes().Get(ctx, args[0], args[1], a.readOpts())
			if err != nil {
				return err
			}
			return a.render(d, func(w io.Writer) { indexTable(w, []api.Index{*d}) })
		}),
	}
}

func (a *app) newIndexDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NS NAME",
		Short: "Drop an index",
		Args:  cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			res, _, err := c.Indexes().Delete(ctx, args[0], args[1], a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(res, func(w io.Writer) {
				fmt.Fprintf(w, "dropped index %s/%s at revision %d\n", args[0], args[1], res.Revision)
			})
		}),
	}
}
