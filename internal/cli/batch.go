package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

func (a *app) newBatchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "batch FILE|-",
		Short: "Commit a batch of config writes atomically",
		Long: `Commit the operations of the batch request in FILE (or standard input for
"-") at one revision, or none of them. The file holds a JSON object:

  {"reason": "...", "ops": [
    {"op": "put", "namespace": "payments", "key": "checkout/limits",
     "schema": "checkout@2", "value": {"retries": 3}, "revision": 0},
    {"op": "delete", "namespace": "payments", "key": "checkout/old"},
    {"op": "check", "namespace": "payments", "key": "checkout/flags", "revision": 41}
  ]}

"revision" is an optional compare-and-set condition (0: the key must not
exist), required for "check".`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			b, err := a.readInput(args[0])
			if err != nil {
				return err
			}
			var req api.BatchRequest
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields() // a misspelt "revision" must not drop a condition
			if err := dec.Decode(&req); err != nil {
				return fmt.Errorf("%s: not a batch request: %w", args[0], err)
			}
			if dec.More() {
				return fmt.Errorf("%s: not a batch request: data after the JSON object", args[0])
			}
			res, _, err := c.Batch(ctx, req, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(res, func(w io.Writer) {
				fmt.Fprintln(w, "OP\tNAMESPACE\tKEY\tREVISION\tVERSION")
				for _, r := range res.Results {
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\n", r.Op, r.Namespace, r.Key, r.ModifyRevision, r.Version)
				}
				fmt.Fprintf(w, "committed %d operations at revision %d\n", len(res.Results), res.Revision)
			})
		}),
	}
}
