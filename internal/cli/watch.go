package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

func (a *app) newWatchCmd() *cobra.Command {
	var prefix, key string
	var from uint64
	cmd := &cobra.Command{
		Use:   "watch NAMESPACE",
		Short: "Print changes to a namespace, a prefix or a key as they happen",
		Long: `Print every change as it happens, in revision order, one line per event
(with -o json, one JSON object per revision). Reconnects and resumes on
failure. --from R starts at revision R (inclusive) to replay the history
first; the command fails if R is older than the server retains.`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			if prefix != "" && key != "" {
				return usagef("--prefix and --key exclude each other")
			}
			w, err := c.Watch(ctx, client.WatchOptions{Namespace: args[0], Prefix: prefix, Key: key, FromRevision: from})
			if err != nil {
				return err
			}
			defer w.Close()
			for b := range w.C {
				if err := a.printBatch(a.stdout, b); err != nil {
					return err
				}
			}
			// An interrupt (the context) ends a watch normally.
			if err := w.Err(); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "watch the keys with this prefix")
	cmd.Flags().StringVar(&key, "key", "", "watch one key")
	cmd.Flags().Uint64Var(&from, "from", 0, "first revision to print (inclusive); 0 means from now")
	return cmd
}

func (a *app) printBatch(w io.Writer, b client.WatchBatch) error {
	if a.output == "json" {
		line, err := json.Marshal(api.WatchMessage{Type: api.WatchEvents, Revision: b.Revision, Events: b.Events})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", line)
		return err
	}
	for _, ev := range b.Events {
		what := ev.Key
		if ev.Kind != api.KindConfig {
			what = ev.Kind + " " + dash(ev.Key)
		}
		val := ""
		if ev.Op != api.OpDelete && ev.Kind == api.KindConfig {
			val = " " + compactJSON(ev.Value)
		}
		if _, err := fmt.Fprintf(w, "%d %s %s%s (%s)\n", ev.Revision, ev.Op, what, val, ev.Principal); err != nil {
			return err
		}
	}
	return nil
}
