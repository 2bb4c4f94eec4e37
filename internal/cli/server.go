package cli

import "github.com/spf13/cobra"

func newServerCmd() *cobra.Command {
	return &cobra.Command{Use: "server", Short: "Run a schemakv server node"}
}
