package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

func (a *app) newSchemaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "schema",
		Aliases: []string{"schemas"},
		Short:   "Manage versioned JSON Schemas",
	}

	var description string
	register := &cobra.Command{
		Use:   "register NS NAME FILE|-",
		Short: "Register a JSON Schema (draft 2020-12) as the next version of NAME",
		Long: `Register the JSON Schema held in FILE (or standard input for "-") as the next
version of the schema NAME in namespace NS, and print the new version.`,
		Args: cobra.ExactArgs(3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			doc, err := a.readJSONInput(args[2])
			if err != nil {
				return err
			}
			sv, _, err := c.Schemas().Register(ctx, args[0], args[1], api.RegisterSchemaRequest{Schema: doc, Description: description}, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(sv, func(w io.Writer) {
				fmt.Fprintf(w, "registered schema %s/%s version %d at revision %d\n", sv.Namespace, sv.Name, sv.Version, sv.CreateRevision)
			})
		}),
	}
	register.Flags().StringVar(&description, "description", "", "what changed in this version")

	get := &cobra.Command{
		Use:   "get NS NAME [VERSION]",
		Short: "Show a schema version (the latest by default)",
		Args:  cobra.RangeArgs(2, 3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			var sv *api.SchemaVersion
			var err error
			if len(args) == 3 {
				v, perr := strconv.Atoi(strings.TrimPrefix(args[2], "v"))
				if perr != nil || v < 1 {
					return usagef("invalid schema version %q: want a positive integer", args[2])
				}
				sv, _, err = c.Schemas().Get(ctx, args[0], args[1], v, a.readOpts())
			} else {
				sv, _, err = c.Schemas().Latest(ctx, args[0], args[1], a.readOpts())
			}
			if err != nil {
				return err
			}
			return a.render(sv, func(w io.Writer) {
				fmt.Fprintf(w, "Schema:\t%s/%s\n", sv.Namespace, schemaRef(sv.Name, sv.Version))
				fmt.Fprintf(w, "Description:\t%s\n", dash(sv.Description))
				fmt.Fprintf(w, "Revision:\t%d\n", sv.CreateRevision)
				fmt.Fprintf(w, "Created by:\t%s\n", dash(sv.CreatedBy))
				fmt.Fprintf(w, "Created at:\t%s\n", fmtTime(sv.CreatedAt))
				if sv.Reason != "" {
					fmt.Fprintf(w, "Reason:\t%s\n", sv.Reason)
				}
				fmt.Fprintf(w, "\n%s\n", prettyJSON(sv.Schema))
			})
		}),
	}

	list := &cobra.Command{
		Use:   "list NS",
		Short: "List the schemas of a namespace",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			l, _, err := c.Schemas().List(ctx, args[0], a.readOpts())
			if err != nil {
				return err
			}
			return a.render(l, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tLATEST\tVERSIONS\tREVISION")
				for _, s := range l.Items {
					vs := make([]string, len(s.Versions))
					for i, v := range s.Versions {
						vs[i] = strconv.Itoa(v)
					}
					fmt.Fprintf(w, "%s\t%d\t%s\t%d\n", s.Name, s.LatestVersion, strings.Join(vs, ","), s.ModifyRevision)
				}
			})
		}),
	}

	versions := &cobra.Command{
		Use:   "versions NS NAME",
		Short: "List the versions of a schema",
		Args:  cobra.ExactArgs(2),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			l, _, err := c.Schemas().Versions(ctx, args[0], args[1], a.readOpts())
			if err != nil {
				return err
			}
			return a.render(l, func(w io.Writer) {
				fmt.Fprintln(w, "VERSION\tREVISION\tCREATED BY\tCREATED AT\tDESCRIPTION")
				for _, sv := range l.Items {
					fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\n", sv.Version, sv.CreateRevision, dash(sv.CreatedBy), fmtTime(sv.CreatedAt), sv.Description)
				}
			})
		}),
	}

	cmd.AddCommand(register, get, list, versions)
	cmd.AddCommand(a.schemaEvolutionCmds()...) // schema_evolution.go
	return cmd
}
