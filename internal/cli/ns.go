package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

func (a *app) newNSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "ns",
		Aliases: []string{"namespace", "namespaces"},
		Short:   "Manage namespaces",
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List namespaces",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			l, _, err := c.Namespaces().List(ctx, a.readOpts())
			if err != nil {
				return err
			}
			return a.render(l, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tCONFIGS\tSCHEMAS\tCREATED BY\tCREATED AT\tDESCRIPTION")
				for _, n := range l.Items {
					fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\n", n.Name, n.ConfigCount, n.SchemaCount, dash(n.CreatedBy), fmtTime(n.CreatedAt), n.Description)
				}
			})
		}),
	}

	get := &cobra.Command{
		Use:   "get NS",
		Short: "Show a namespace",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			n, _, err := c.Namespaces().Get(ctx, args[0], a.readOpts())
			if err != nil {
				return err
			}
			return a.render(n, func(w io.Writer) { printNamespace(w, n) })
		}),
	}

	var description string
	create := &cobra.Command{
		Use:   "create NS",
		Short: "Create a namespace",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			n, _, err := c.Namespaces().Create(ctx, args[0], api.CreateNamespaceRequest{Description: description}, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(n, func(w io.Writer) {
				fmt.Fprintf(w, "created namespace %s at revision %d\n", n.Name, n.CreateRevision)
			})
		}),
	}
	create.Flags().StringVar(&description, "description", "", "what the namespace is for")

	var force bool
	del := &cobra.Command{
		Use:   "delete NS",
		Short: "Delete a namespace (--force also deletes its configs and schemas)",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			res, _, err := c.Namespaces().Delete(ctx, args[0], force, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(res, func(w io.Writer) {
				fmt.Fprintf(w, "deleted namespace %s at revision %d\n", args[0], res.Revision)
			})
		}),
	}
	del.Flags().BoolVar(&force, "force", false, "delete the namespace's configs and schemas too")

	cmd.AddCommand(list, get, create, del)
	return cmd
}

func printNamespace(w io.Writer, n *api.Namespace) {
	fmt.Fprintf(w, "Name:\t%s\n", n.Name)
	fmt.Fprintf(w, "Description:\t%s\n", dash(n.Description))
	fmt.Fprintf(w, "Configs:\t%d\n", n.ConfigCount)
	fmt.Fprintf(w, "Schemas:\t%d\n", n.SchemaCount)
	fmt.Fprintf(w, "Created by:\t%s\n", dash(n.CreatedBy))
	fmt.Fprintf(w, "Created at:\t%s\n", fmtTime(n.CreatedAt))
	fmt.Fprintf(w, "Create revision:\t%d\n", n.CreateRevision)
	fmt.Fprintf(w, "Modify revision:\t%d\n", n.ModifyRevision)
}
