package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/schemakv/schemakv/node"
)

// parseAuthFlags parses server auth flags as `schemakv server` does and
// applies them to a default node configuration.
func parseAuthFlags(t *testing.T, args ...string) (node.Config, error) {
	t.Helper()
	var af authFlags
	f := pflag.NewFlagSet("server", pflag.ContinueOnError)
	af.register(f)
	if err := f.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	cfg := node.DefaultConfig()
	return cfg, af.apply(&cfg)
}

// TestServerAuthFlags_OIDCUI maps the web UI's OIDC sign-in flags onto
// auth.OIDCUIConfig: defaults, every flag, and the refusals.
func TestServerAuthFlags_OIDCUI(t *testing.T) {
	cfg, err := parseAuthFlags(t, "--oidc-issuer", "https://sso.example.com", "--oidc-audience", "schemakv")
	if err != nil {
		t.Fatal(err)
	}
	ui := cfg.Auth.OIDC.UI
	if ui.Disabled || ui.ClientID != "" || ui.ClientSecret != "" || ui.RedirectURL != "" || !slices.Equal(ui.Scopes, []string{"openid", "profile", "email"}) {
		t.Fatalf("defaults: %+v", ui)
	}

	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = parseAuthFlags(t, "--oidc-issuer", "https://sso.example.com", "--oidc-audience", "schemakv",
		"--oidc-ui-client-id", "schemakv-ui", "--oidc-ui-client-secret-file", secret,
		"--oidc-ui-scopes", "openid,groups email", "--oidc-ui-redirect-url", "https://config.example.com/ui/")
	if err != nil {
		t.Fatal(err)
	}
	ui = cfg.Auth.OIDC.UI
	if ui.ClientID != "schemakv-ui" || ui.ClientSecret != "s3cr3t" || ui.RedirectURL != "https://config.example.com/ui/" ||
		!slices.Equal(ui.Scopes, []string{"openid", "groups", "email"}) {
		t.Fatalf("flags not applied: %+v", ui)
	}
	if cfg, err = parseAuthFlags(t, "--oidc-issuer", "https://sso.example.com", "--oidc-audience", "schemakv", "--oidc-ui=false"); err != nil || !cfg.Auth.OIDC.UI.Disabled {
		t.Fatalf("--oidc-ui=false: %v %+v", err, cfg.Auth.OIDC)
	}

	for name, args := range map[string][]string{
		"scopes without openid":    {"--oidc-issuer", "https://x", "--oidc-audience", "a", "--oidc-ui-scopes", "profile email"},
		"relative redirect URL":    {"--oidc-issuer", "https://x", "--oidc-audience", "a", "--oidc-ui-redirect-url", "/ui/"},
		"javascript: redirect URL": {"--oidc-issuer", "https://x", "--oidc-audience", "a", "--oidc-ui-redirect-url", "javascript:alert(1)"},
		"redirect URL with query":  {"--oidc-issuer", "https://x", "--oidc-audience", "a", "--oidc-ui-redirect-url", "https://h/ui/?a=1"},
		"missing secret file":      {"--oidc-issuer", "https://x", "--oidc-audience", "a", "--oidc-ui-client-secret-file", filepath.Join(t.TempDir(), "nope")},
		"UI flags without issuer":  {"--oidc-ui-client-id", "x"},
	} {
		if _, err := parseAuthFlags(t, args...); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: the error holds the secret: %v", name, err)
		}
	}
}
