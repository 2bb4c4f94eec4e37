package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/gitops"
)

func (a *app) newExportCmd() *cobra.Command {
	var dir, format string
	var namespaces []string
	cmd := &cobra.Command{
		Use:   "export --dir DIR [--namespace NS]...",
		Short: `Write the server's namespaces, schemas and configs in the "sync" layout`,
		Long: `Write the namespaces (all, or those named with --namespace), their schema
versions and their config entries below DIR in the layout that "sync plan"
reads, so an existing installation can move to Git: "sync plan" of the
exported directory shows no change. Each exported namespace directory
(DIR/namespaces/<ns>) is replaced as a whole; other files are left alone.`,
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usagef("--dir is required")
			}
			if format != gitops.FormatYAML && format != gitops.FormatJSON {
				return usagef("invalid --format %q: want yaml or json", format)
			}
			var progress func(int)
			bar := a.progress("exporting")
			if bar != nil {
				progress = func(n int) { bar.update(n, -1) }
			}
			res, err := gitops.Export(ctx, c, dir, gitops.ExportOptions{Namespaces: namespaces, Format: format, Progress: progress})
			bar.close()
			if err != nil {
				return err
			}
			return a.render(res, func(w io.Writer) {
				fmt.Fprintf(w, "exported %d namespace(s), %d schema version(s) and %d config(s) to %s\n", res.Namespaces, res.SchemaVersions, res.Configs, dir)
			})
		}),
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory to write (DIR/namespaces/...); required")
	cmd.Flags().StringArrayVar(&namespaces, "namespace", nil, "export only this namespace (repeatable); default: all")
	cmd.Flags().StringVar(&format, "format", gitops.FormatYAML, "file format: yaml or json")
	return cmd
}
