package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/node"
)

// EnvBootstrapToken holds the bootstrap admin token of a new cluster. It is
// read from the environment only (never a flag: flags show in ps).
const EnvBootstrapToken = "SCHEMAKV_BOOTSTRAP_TOKEN"

// authFlags are the server's authentication flags.
type authFlags struct {
	dev            bool
	bootstrapFile  string
	metricsOpen    bool
	revokeWait     time.Duration
	oidcIssuer     string
	oidcAudience   string
	oidcGroups     string
	oidcAlgorithms []string
	oidcLeeway     time.Duration
	oidcRefresh    time.Duration
	// The web UI's OIDC sign-in.
	oidcUI            bool
	oidcUIClientID    string
	oidcUISecretFile  string
	oidcUIScopes      string
	oidcUIRedirectURL string
}

func (af *authFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&af.dev, "dev", false, "DEVELOPMENT ONLY: authentication off; allowed only on a loopback --http-addr")
	f.StringVar(&af.bootstrapFile, "bootstrap-token-file", "", "file holding the admin token a new cluster starts with (or env "+EnvBootstrapToken+"; default: generate one into <data-dir>/bootstrap-token)")
	f.BoolVar(&af.metricsOpen, "metrics-open", false, "serve /metrics without credentials")
	f.DurationVar(&af.revokeWait, "revoke-wait", 5*time.Second, "how long a token revocation waits for every member to apply it")
	f.StringVar(&af.oidcIssuer, "oidc-issuer", "", "accept OIDC JWTs from this issuer URL (discovery at /.well-known/openid-configuration)")
	f.StringVar(&af.oidcAudience, "oidc-audience", "", "the client id every JWT's aud must contain (required with --oidc-issuer)")
	f.StringVar(&af.oidcGroups, "oidc-groups-claim", auth.DefaultGroupsClaim, "JWT claim holding the groups")
	f.StringSliceVar(&af.oidcAlgorithms, "oidc-algorithms", []string{"RS256", "ES256"}, "allowed JWT signing algorithms")
	f.DurationVar(&af.oidcLeeway, "oidc-leeway", auth.DefaultOIDCLeeway, "clock skew allowed on exp and nbf")
	f.DurationVar(&af.oidcRefresh, "oidc-refresh-interval", auth.DefaultOIDCRefreshInterval, "least time between two JWKS fetches on an unknown key id")
	f.BoolVar(&af.oidcUI, "oidc-ui", true, "offer OIDC sign-in (authorization code + PKCE) in the web UI when --oidc-issuer is set")
	f.StringVar(&af.oidcUIClientID, "oidc-ui-client-id", "", "OAuth client id of the web UI's sign-in (default: --oidc-audience)")
	f.StringVar(&af.oidcUISecretFile, "oidc-ui-client-secret-file", "", "file holding the client secret, for identity providers that register the UI as a confidential client (default: a public client, PKCE only)")
	f.StringVar(&af.oidcUIScopes, "oidc-ui-scopes", strings.Join(auth.DefaultOIDCUIScopes, " "), `scopes the web UI's sign-in requests, separated by spaces or commas; must include "openid"`)
	f.StringVar(&af.oidcUIRedirectURL, "oidc-ui-redirect-url", "", "the UI's address registered at the identity provider as redirect URI (default: the address the browser used + /ui/); set it behind a proxy")
}

func (af *authFlags) apply(cfg *node.Config) error {
	cfg.Auth.Dev = af.dev
	cfg.Auth.MetricsOpen = af.metricsOpen
	cfg.Auth.RevokeWait = af.revokeWait
	if t := os.Getenv(EnvBootstrapToken); t != "" {
		cfg.Auth.BootstrapToken = t
	}
	if af.bootstrapFile != "" {
		t, err := readTokenFile(af.bootstrapFile)
		if err != nil {
			return fmt.Errorf("--bootstrap-token-file: %w", err)
		}
		cfg.Auth.BootstrapToken = t
	}
	if af.oidcIssuer == "" && (af.oidcUIClientID != "" || af.oidcUISecretFile != "" || af.oidcUIRedirectURL != "") {
		return errors.New("--oidc-ui-client-id, --oidc-ui-client-secret-file and --oidc-ui-redirect-url need --oidc-issuer")
	}
	if af.oidcIssuer != "" || af.oidcAudience != "" {
		o := &auth.OIDCConfig{
			IssuerURL: af.oidcIssuer, Audience: af.oidcAudience, Algorithms: af.oidcAlgorithms,
			GroupsClaim: af.oidcGroups, Leeway: af.oidcLeeway, RefreshInterval: af.oidcRefresh,
			UI: auth.OIDCUIConfig{
				Disabled: !af.oidcUI, ClientID: af.oidcUIClientID, RedirectURL: af.oidcUIRedirectURL,
				Scopes: strings.FieldsFunc(af.oidcUIScopes, func(r rune) bool { return r == ' ' || r == ',' }),
			},
		}
		if af.oidcUISecretFile != "" {
			s, err := readTokenFile(af.oidcUISecretFile)
			if err != nil {
				return fmt.Errorf("--oidc-ui-client-secret-file: %w", err)
			}
			o.UI.ClientSecret = s
		}
		if err := o.Validate(); err != nil {
			return err
		}
		cfg.Auth.OIDC = o
	}
	return nil
}
