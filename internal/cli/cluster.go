package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/client"
)

func (a *app) newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Inspect the cluster"}
	cmd.AddCommand(a.newHealthCmd())
	status := &cobra.Command{
		Use:   "status",
		Short: "Show members, roles, leader, indexes and lag",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			st, _, err := c.Cluster(ctx)
			if err != nil {
				return err
			}
			return a.render(st, func(w io.Writer) {
				fmt.Fprintf(w, "asked\t%s\nleader\t%s\nterm\t%d\n\n", st.NodeID, dash(st.Leader), st.Term)
				fmt.Fprintln(w, "ID\tSUFFRAGE\tROLE\tSTATE\tGOSSIP\tRAFT\tHTTP\tAPPLIED\tCOMMIT\tLAG")
				for _, m := range st.Members {
					state := m.State
					if !m.Reachable {
						state = "unreachable"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", m.ID, m.Suffrage, dash(m.Role), state,
						m.Gossip, m.RaftAddr, dash(m.HTTPAddr), m.AppliedIndex, m.CommitIndex, m.Lag)
				}
			})
		}),
	}
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a server from the cluster at once (stop it first)",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			if _, err := c.RemoveMember(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "removed %s\n", args[0])
			return nil
		}),
	}
	cmd.AddCommand(status, remove)
	return cmd
}

func (a *app) newSnapshotCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "snapshot", Short: "Back up and restore the whole state"}
	save := &cobra.Command{
		Use:   "save FILE",
		Short: "Write a consistent copy of the whole state to FILE",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			f, err := os.Create(args[0])
			if err != nil {
				return err
			}
			meta, err := c.SnapshotSave(ctx, f, a.readOpts())
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				_ = os.Remove(args[0])
				return err
			}
			fmt.Fprintf(a.stdout, "saved %s at revision %d\n", args[0], meta.Index)
			return nil
		}),
	}
	restore := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the whole cluster's state with a snapshot (sent to the leader)",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			meta, err := c.SnapshotRestore(ctx, f)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "restored %s; the cluster is at revision %d\n", args[0], meta.Index)
			return nil
		}),
	}
	cmd.AddCommand(save, restore)
	return cmd
}
