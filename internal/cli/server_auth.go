package cli

import (
	"fmt"
	"os"
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
	if af.oidcIssuer != "" || af.oidcAudience != "" {
		o := &auth.OIDCConfig{
			IssuerURL: af.oidcIssuer, Audience: af.oidcAudience, Algorithms: af.oidcAlgorithms,
			GroupsClaim: af.oidcGroups, Leeway: af.oidcLeeway, RefreshInterval: af.oidcRefresh,
		}
		if err := o.Validate(); err != nil {
			return err
		}
		cfg.Auth.OIDC = o
	}
	return nil
}
