package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/client"
)

// Exit codes of the schemakv command.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed (server error, I/O)
	exitUsage = 2 // bad arguments or flags; nothing was sent
)

// Execute runs the schemakv command line with args (without the program
// name) and returns the process exit code: 0 on success, 1 when the command
// failed, 2 on a usage error. Interrupts cancel the running command's
// context.
func Execute(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return executeWith(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// executeWith is Execute with its context and standard streams injected, for
// tests.
func executeWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	cmd, err := root.ExecuteContextC(ctx)
	if code, ok := syncExitCode(cmd, err, a.ran, stderr); ok {
		return code
	}
	if err == nil {
		return exitOK
	}
	var ue usageError
	if !a.ran || errors.As(err, &ue) {
		fmt.Fprintf(stderr, "error: %v\n", err)
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	printError(stderr, err)
	return exitError
}

// usageError marks an error in the command line itself (exit code 2), found
// after cobra handed over to the command, such as a malformed revision.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// app holds the global flags and streams shared by every subcommand.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	root *cobra.Command

	addr      string
	token     string
	tokenFile string
	principal string
	reason    string
	output    string
	stale     bool

	caCert, clientCert, clientKey string // client TLS files (tls.go)

	// ran is set once a command's own Run starts: an error before that
	// (unknown command, bad flag, wrong argument count) is a usage error.
	ran bool
}

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "schemakv",
		Short: "Schema-first configuration service",
		Long: `schemakv stores JSON config entries pinned to versioned JSON Schemas,
replicated with raft. This command runs a server node and talks to one.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	a.root = root
	pf := root.PersistentFlags()
	pf.StringVar(&a.addr, "addr", client.DefaultAddress, "server address (env "+client.EnvAddr+")")
	pf.StringVar(&a.token, "token", "", "API token (env "+client.EnvToken+")")
	pf.StringVar(&a.tokenFile, "token-file", "", "file holding the API token (env "+client.EnvTokenFile+")")
	pf.StringVar(&a.principal, "principal", "", "principal recorded with changes on a --dev server (env "+client.EnvPrincipal+")")
	pf.StringVar(&a.reason, "reason", "", "reason recorded with changes")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	pf.BoolVar(&a.stale, "stale", false, "let the node answer reads from its local state without a leader round trip")
	a.registerClientTLS(pf)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		newServerCmd(),
		a.newNSCmd(),
		a.newSchemaCmd(),
		a.newConfigCmd(),
		a.newBatchCmd(),
		a.newClusterCmd(),
		a.newSnapshotCmd(),
		a.newIndexCmd(),
		// Shortcuts for the most common config commands.
		a.newConfigGetCmd(),
		a.newConfigPutCmd(),
		a.newConfigDeleteCmd(),
		a.newConfigListCmd(),
		a.newWatchCmd(),
		a.newImportCmd(),
		a.newImportStatusCmd(),
		newTLSCmd(),
		a.newSyncCmd(), a.newExportCmd(),
		a.newTokenCmd(),
		a.newRoleCmd(),
	)
	a.markRuns(root)
	return root
}

// markRuns wraps every command's Run so that app.ran tells usage errors
// (cobra fails before Run) from command failures.
func (a *app) markRuns(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			a.ran = true
			return run(c, args)
		}
	} else if run := cmd.Run; run != nil {
		cmd.Run = func(c *cobra.Command, args []string) {
			a.ran = true
			run(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		a.markRuns(sub)
	}
}

// client returns a client for the global flags; a flag given on the command
// line wins over the environment.
func (a *app) client() (*client.Client, error) {
	cfg := client.DefaultConfig()
	flags := a.root.PersistentFlags()
	if flags.Changed("addr") {
		cfg.Address = a.addr
	}
	if flags.Changed("token-file") {
		t, err := readTokenFile(a.tokenFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--token-file: %w", err)}
		}
		cfg.Token = t
	}
	if flags.Changed("token") {
		cfg.Token = a.token
	}
	if flags.Changed("principal") {
		cfg.Principal = a.principal
	}
	a.applyClientTLS(&cfg)
	c, err := client.New(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// readOpts returns the read options of the global flags.
func (a *app) readOpts() *client.ReadOptions {
	return &client.ReadOptions{Stale: a.stale}
}

// writeOpts returns the write options of the global flags, with the
// --if-match flag of cmd when it was given.
func (a *app) writeOpts(cmd *cobra.Command) *client.WriteOptions {
	opts := &client.WriteOptions{Reason: a.reason}
	if f := cmd.Flags().Lookup("if-match"); f != nil && f.Changed {
		if rev, err := cmd.Flags().GetUint64("if-match"); err == nil {
			opts.IfMatch = &rev
		}
	}
	return opts
}

// run wraps a command body: it checks the output flag and builds the client
// before calling fn.
func (a *app) run(fn func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if a.output != "table" && a.output != "json" {
			return usagef("invalid --output %q: want table or json", a.output)
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		return fn(cmd.Context(), c, cmd, args)
	}
}
