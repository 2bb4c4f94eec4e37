package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

// readTokenFile reads a token from a file, trimming surrounding space.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return t, nil
}

func (a *app) newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Manage API tokens (global admin)",
	}

	var ttl, role, namespace string
	var quiet bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token; its secret is printed once",
		Long: `Create an API token; its secret is printed once and never again.

With --role the token is bound to that role in the same step, globally or,
with --namespace, in one namespace. -q prints only the secret, for scripts:

  export SCHEMAKV_TOKEN=$(schemakv token create ci --role editor --namespace payments -q)`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			t, _, err := c.Auth().CreateToken(ctx, api.CreateTokenRequest{Name: args[0], TTL: ttl, Role: role, Namespace: namespace}, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(a.stdout, t.Secret)
				return nil
			}
			return a.render(t, func(w io.Writer) {
				fmt.Fprintf(w, "created token %s (%s) at revision %d\n", t.ID, t.Name, t.CreateRevision)
				for _, b := range t.Bindings {
					fmt.Fprintf(w, "bound %s %s (binding %s)\n", b.Role, scopeOf(b.Namespace), b.ID)
				}
				fmt.Fprintf(w, "secret (shown once): %s\n", t.Secret)
			})
		}),
	}
	create.Flags().StringVar(&ttl, "ttl", "", "expiry as a duration, such as 720h (default: never)")
	create.Flags().StringVar(&role, "role", "", "bind the token to this role: admin, editor or viewer")
	create.Flags().StringVar(&namespace, "namespace", "", "scope the role to one namespace (default: global)")
	create.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the secret")

	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			l, _, err := c.Auth().ListTokens(ctx, a.readOpts())
			if err != nil {
				return err
			}
			return a.render(l, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tSTATE\tEXPIRES\tCREATED BY\tCREATED AT")
				for _, t := range l.Items {
					state, exp := "active", "never"
					if t.Revoked {
						state = "revoked"
					}
					if t.ExpiresAt != nil {
						exp = fmtTime(*t.ExpiresAt)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, state, exp, dash(t.CreatedBy), fmtTime(t.CreatedAt))
				}
			})
		}),
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token on every node",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			r, _, err := c.Auth().RevokeToken(ctx, args[0], a.writeOpts(cmd))
			if err != nil {
				return err
			}
			if err := a.render(r, func(w io.Writer) {
				fmt.Fprintf(w, "revoked token %s at revision %d; applied on %s\n", r.Token.ID, r.Revision, strings.Join(r.Confirmed, ", "))
				if !r.Complete {
					fmt.Fprintf(w, "NOT yet applied on: %s (they reject the token once they catch up)\n", strings.Join(r.Unconfirmed, ", "))
				}
			}); err != nil {
				return err
			}
			if !r.Complete {
				return fmt.Errorf("revocation not confirmed by every member")
			}
			return nil
		}),
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func (a *app) newRoleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "role",
		Aliases: []string{"roles"},
		Short:   "Manage role bindings (global admin)",
	}
	var namespace string
	bind := &cobra.Command{
		Use:   "bind ROLE KIND SUBJECT",
		Short: "Bind a role to a token id, an OIDC subject or an OIDC group",
		Long: `Bind a role (admin, editor or viewer) to a subject, globally or, with
--namespace, in one namespace. KIND is token (SUBJECT is a token id),
oidc_user (an OIDC "sub") or oidc_group (a value of the groups claim).`,
		Args: cobra.ExactArgs(3),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			b, _, err := c.Auth().Bind(ctx, api.BindRequest{Role: args[0], SubjectKind: args[1], Subject: args[2], Namespace: namespace}, a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(b, func(w io.Writer) {
				fmt.Fprintf(w, "bound %s %s to %s %s (binding %s) at revision %d\n", b.Role, scopeOf(b.Namespace), b.SubjectKind, b.Subject, b.ID, b.CreateRevision)
			})
		}),
	}
	bind.Flags().StringVar(&namespace, "namespace", "", "scope the role to one namespace (default: global)")

	unbind := &cobra.Command{
		Use:   "unbind BINDING-ID",
		Short: "Remove a role binding",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			r, _, err := c.Auth().Unbind(ctx, args[0], a.writeOpts(cmd))
			if err != nil {
				return err
			}
			return a.render(r, func(w io.Writer) { fmt.Fprintf(w, "removed binding %s at revision %d\n", args[0], r.Revision) })
		}),
	}

	var listNS string
	list := &cobra.Command{
		Use:   "list",
		Short: "List role bindings",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			l, _, err := c.Auth().ListBindings(ctx, listNS, a.readOpts())
			if err != nil {
				return err
			}
			return a.render(l, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tROLE\tNAMESPACE\tKIND\tSUBJECT\tCREATED BY")
				for _, b := range l.Items {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Role, dash(b.Namespace), b.SubjectKind, b.Subject, dash(b.CreatedBy))
				}
			})
		}),
	}
	list.Flags().StringVar(&listNS, "namespace", "", "only bindings scoped to this namespace")

	whoami := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the server thinks you are, and your bindings",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			w, err := c.Auth().WhoAmI(ctx)
			if err != nil {
				return err
			}
			return a.render(w, func(out io.Writer) {
				fmt.Fprintf(out, "%s\n", w.Audit)
				for _, b := range w.Bindings {
					fmt.Fprintf(out, "  %s %s (binding %s)\n", b.Role, scopeOf(b.Namespace), b.ID)
				}
			})
		}),
	}
	cmd.AddCommand(bind, unbind, list, whoami)
	return cmd
}

// newHealthCmd is `schemakv cluster health`: GET /v1/health, the one route
// that needs no token (the Docker image's health check).
func (a *app) newHealthCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Check that the node is alive (needs no token)",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			h, _, err := c.Health(ctx, &client.ReadOptions{Stale: true})
			if err != nil {
				return err
			}
			return a.render(h, func(w io.Writer) {
				fmt.Fprintf(w, "%s %s applied %d leader %v\n", h.Status, h.NodeID, h.Applied, h.Leader)
			})
		}),
	}
}

func scopeOf(ns string) string {
	if ns == "" {
		return "globally"
	}
	return "in namespace " + ns
}
