package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/store"
)

// AuthConfig configures authentication. The zero value means: auth on, a
// generated bootstrap admin token on the first start of a new cluster, no
// OIDC.
type AuthConfig struct {
	// Dev turns authentication off. Allowed only when the HTTP API listens
	// on loopback; the node logs a loud warning.
	Dev bool
	// BootstrapToken, when set, is the bootstrap admin token (at least 32
	// printable characters); otherwise one is generated, printed once to
	// BootstrapOut and written to <DataDir>/bootstrap-token (mode 0600).
	BootstrapToken string
	// BootstrapOut receives the generated bootstrap token; nil means
	// os.Stderr.
	BootstrapOut io.Writer
	// OIDC, when set, also accepts JWTs from this issuer.
	OIDC *auth.OIDCConfig
	// MetricsOpen serves /metrics without credentials.
	MetricsOpen bool
	// RevokeWait bounds the wait of a token revocation for every member
	// to apply it (5s).
	RevokeWait time.Duration
}

// BootstrapTokenFile is the file, in the data directory, that holds a
// generated bootstrap admin token.
const BootstrapTokenFile = "bootstrap-token"

// Names of the bootstrap admin token and its binding.
const (
	bootstrapTokenName = "bootstrap-admin"
	bootstrapBindingID = "rb-bootstrap-admin"
	bootstrapPrincipal = "system:bootstrap"
)

// newAuthenticator builds the authenticator over the store's tokens.
func newAuthenticator(cfg AuthConfig, st *store.Store) (*auth.Authenticator, error) {
	if cfg.BootstrapToken != "" {
		if err := auth.ValidateTokenSecret(cfg.BootstrapToken); err != nil {
			return nil, fmt.Errorf("node: bootstrap token: %w", err)
		}
	}
	return auth.New(auth.Config{OIDC: cfg.OIDC}, auth.TokenLookupFunc(func(id string) (auth.TokenRecord, bool) {
		t, ok := st.View().Token(id)
		if !ok {
			return auth.TokenRecord{}, false
		}
		r := auth.TokenRecord{ID: t.ID, Name: t.Name, Hash: t.Hash, Revoked: t.Revoked}
		if t.ExpiresAt != nil {
			r.ExpiresAt = *t.ExpiresAt
		}
		return r, true
	}))
}

// checkDevListener refuses dev mode on a listener other than loopback.
func checkDevListener(l net.Listener) error {
	ta, ok := l.Addr().(*net.TCPAddr)
	if !ok || !ta.IP.IsLoopback() {
		return fmt.Errorf("node: dev mode (authentication off) is allowed only on a loopback HTTP address, not %s", l.Addr())
	}
	return nil
}

// tryBootstrapAuth creates the cluster's first admin token if this node
// leads and the replicated state has none yet. The command is idempotent
// across nodes and restarts: the state machine refuses a second bootstrap,
// so exactly one proposal wins. It reports whether bootstrap is settled.
func (n *Node) tryBootstrapAuth(ctx context.Context) (bool, error) {
	if n.store.View().AuthBootstrapped() {
		return true, nil
	}
	if !n.cluster.IsLeader() {
		return false, nil
	}
	secret := n.cfg.Auth.BootstrapToken
	generated := secret == ""
	var id string
	var hash []byte
	if generated {
		var err error
		if secret, id, hash, err = auth.NewToken(); err != nil {
			return false, err
		}
	} else {
		id, hash = auth.HashToken(secret)
	}
	cmd, err := fsm.Encode(&fsm.CreateToken{
		Audit: fsm.NewAudit(bootstrapPrincipal, "first start of a new cluster"),
		ID:    id, Name: bootstrapTokenName, Hash: hash, Bootstrap: true,
		Bindings: []api.RoleBinding{{ID: bootstrapBindingID, Role: api.RoleAdmin, SubjectKind: api.SubjectToken, Subject: id}},
	})
	if err != nil {
		return false, err
	}
	r, err := n.cluster.Apply(ctx, cmd)
	if err != nil {
		return false, fmt.Errorf("node: bootstrap admin token: %w", err)
	}
	if errors.Is(r.Err, store.ErrAuthBootstrapped) {
		return true, nil
	}
	if r.Err != nil {
		return false, fmt.Errorf("node: bootstrap admin token: %w", r.Err)
	}
	n.log.Info("created the bootstrap admin token", "token_id", id, "generated", generated, "revision", r.Revision)
	if generated {
		path := filepath.Join(n.cfg.DataDir, BootstrapTokenFile)
		if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
			n.log.Error("could not write the bootstrap admin token file", "path", path, "err", err)
		}
		out := n.cfg.Auth.BootstrapOut
		if out == nil {
			out = os.Stderr
		}
		fmt.Fprintf(out, "\nschemakv: bootstrap admin token (shown once; also in %s):\n\n    %s\n\n", path, secret)
	}
	return true, nil
}

// bootstrapAuthLoop retries tryBootstrapAuth until bootstrap is settled or
// the node closes: in a cluster that forms with --bootstrap-expect N, the
// leader is elected after Start returns.
func (n *Node) bootstrapAuthLoop() {
	defer close(n.authDone)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		done, err := n.tryBootstrapAuth(ctx)
		cancel()
		if err != nil {
			n.log.Warn("auth bootstrap attempt failed; retrying", "err", err)
		}
		if done {
			return
		}
		select {
		case <-n.authStop:
			return
		case <-t.C:
		}
	}
}
