package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/node"
)

// testAdminAudit is how the test nodes record the bootstrap admin token.
var testAdminAudit = func() string {
	id, _ := auth.HashToken(testAdminToken)
	return "token:bootstrap-admin:" + id
}()

// TestAuth_RevocationOnEveryNode: a revocation acknowledged as complete is
// in force on every node at once, stale reads included; with a member down
// the answer names it.
func TestAuth_RevocationOnEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node")
	}
	tc := startCluster(t, 3)
	leader := tc.waitLeader()
	setup(t, tc.url(leader))
	var tok api.TokenCreated
	mustOK(t, http.MethodPost, tc.url(leader)+"/v1/tokens", api.CreateTokenRequest{Name: "reader", Role: api.RoleViewer, Namespace: "app"}, &tok)
	// Usable everywhere once every node applied it (min_revision waits).
	for i := range tc.nodes {
		url := tc.url(i) + "/v1/namespaces/app/configs?consistency=stale&min_revision=" + itoa(tok.CreateRevision)
		if st, _ := callAs(t, tok.Secret, http.MethodGet, url, nil, nil); st != http.StatusOK {
			t.Fatalf("node %d: the new token answered %d", i, st)
		}
	}

	// Revoke through a follower: the answer waits for every member.
	var rr api.RevokeResult
	mustOK(t, http.MethodDelete, tc.url(tc.follower())+"/v1/tokens/"+tok.ID, nil, &rr)
	if !rr.Complete || len(rr.Confirmed) != 3 || len(rr.Unconfirmed) != 0 {
		t.Fatalf("revoke = %+v; want confirmed by all three members", rr)
	}
	for i := range tc.nodes {
		for _, q := range []string{"?consistency=stale", ""} {
			if st, _ := callAs(t, tok.Secret, http.MethodGet, tc.url(i)+"/v1/namespaces/app/configs"+q, nil, nil); st != http.StatusUnauthorized {
				t.Fatalf("node %d%s: the revoked token answered %d right after the acknowledgement; want 401", i, q, st)
			}
		}
	}

	// With a member down, the answer says who did not confirm.
	var tok2 api.TokenCreated
	mustOK(t, http.MethodPost, tc.url(leader)+"/v1/tokens", api.CreateTokenRequest{Name: "reader2", Role: api.RoleViewer, Namespace: "app"}, &tok2)
	down := tc.follower()
	tc.stop(down)
	leader = tc.waitLeader()
	var rr2 api.RevokeResult
	mustOK(t, http.MethodDelete, tc.url(leader)+"/v1/tokens/"+tok2.ID, nil, &rr2)
	if rr2.Complete || !slices.Contains(rr2.Unconfirmed, tc.cfgs[down].NodeID) || len(rr2.Confirmed) != 2 {
		t.Fatalf("revoke with %s down = %+v; want it listed as unconfirmed and two confirmations", tc.cfgs[down].NodeID, rr2)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestAuth_BootstrapTokenGeneratedOnce: the first start of a new node
// generates the admin token, prints it once and writes it 0600; a restart
// creates none.
func TestAuth_BootstrapTokenGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	var printed bytes.Buffer
	cfg := node.DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", freeAddr(t), freeAddr(t)
	cfg.Auth.BootstrapOut = &printed
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Cluster.RaftLogLevel = "error"
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, node.BootstrapTokenFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v; want mode 0600", path, err, fi)
	}
	raw, _ := os.ReadFile(path)
	secret := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(secret, "skv_") || !strings.Contains(printed.String(), secret) {
		t.Fatalf("token file %q and printed %q disagree", secret, printed.String())
	}
	if st, _ := callAs(t, secret, http.MethodGet, n.HTTPURL()+"/v1/tokens", nil, nil); st != http.StatusOK {
		t.Fatalf("the bootstrap token is not a global admin: %d", st)
	}
	if st, _ := callAs(t, "", http.MethodGet, n.HTTPURL()+"/v1/tokens", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("no token: %d; want 401", st)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	printed.Reset()
	n, err = node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if printed.Len() != 0 {
		t.Fatalf("a restart printed a token: %q", printed.String())
	}
	var l api.TokenList
	if st, _ := callAs(t, secret, http.MethodGet, n.HTTPURL()+"/v1/tokens", nil, &l); st != http.StatusOK || len(l.Items) != 1 {
		t.Fatalf("after restart: %d, %d tokens; want the one bootstrap token", st, len(l.Items))
	}
}

// TestAuth_DevModeOnlyOnLoopback: --dev refuses a non-loopback listener and
// runs open on loopback.
func TestAuth_DevModeOnlyOnLoopback(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "0.0.0.0:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Auth.Dev = true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Cluster.RaftLogLevel = "error"
	if n, err := node.Start(context.Background(), cfg); err == nil {
		n.Close()
		t.Fatal("dev mode started on 0.0.0.0")
	} else if !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v; want the loopback rule", err)
	}
	var logs bytes.Buffer
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if !strings.Contains(logs.String(), "DEV MODE") {
		t.Fatal("dev mode started without its warning")
	}
	if st, _ := callAs(t, "", http.MethodPut, n.HTTPURL()+"/v1/namespaces/open", nil, nil); st != http.StatusCreated {
		t.Fatalf("dev mode write without a token: %d; want 201", st)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, node.BootstrapTokenFile)); err == nil {
		t.Fatal("dev mode created a bootstrap token")
	}
}

// TestAuth_OIDCEndToEnd: a node configured with an OIDC issuer (a real one
// over HTTP, in the test) accepts its JWTs, maps the groups claim onto
// group bindings and records the subject as the principal.
func TestAuth_OIDCEndToEnd(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var iss *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss.URL, "jwks_uri": iss.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	iss = httptest.NewServer(mux)
	defer iss.Close()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jwt := func(sub string, groups ...string) string {
		b, _ := json.Marshal(map[string]any{"iss": iss.URL, "aud": "schemakv", "sub": sub, "groups": groups,
			"exp": time.Now().Add(time.Hour).Unix()})
		jws, err := signer.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := jws.CompactSerialize()
		return s
	}

	cfg := clusterConfig(t, "n1", 1, nil)
	cfg.Auth.OIDC = &auth.OIDCConfig{IssuerURL: iss.URL, Audience: "schemakv"}
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	base := n.HTTPURL()
	mustOK(t, http.MethodPut, base+"/v1/namespaces/pay", nil, nil)
	mustOK(t, http.MethodPost, base+"/v1/namespaces/pay/schemas/s", map[string]any{"schema": map[string]any{"type": "object"}}, nil)
	mustOK(t, http.MethodPost, base+"/v1/bindings", api.BindRequest{Role: api.RoleEditor, Namespace: "pay", SubjectKind: api.SubjectOIDCGroup, Subject: "pay-eng"}, nil)

	var e api.ConfigEntry
	if st, _ := callAs(t, jwt("ada", "pay-eng"), http.MethodPut, base+"/v1/namespaces/pay/configs/k", map[string]any{"schema": "s", "value": map[string]any{}}, &e); st != http.StatusCreated || e.ModifiedBy != "oidc:ada" {
		t.Fatalf("group member's write: %d %+v; want 201 by oidc:ada", st, e)
	}
	if st, _ := callAs(t, jwt("bob", "other"), http.MethodGet, base+"/v1/namespaces/pay/configs/k", nil, nil); st != http.StatusForbidden {
		t.Fatalf("not in the group: %d; want 403", st)
	}
	mustOK(t, http.MethodPost, base+"/v1/bindings", api.BindRequest{Role: api.RoleViewer, Namespace: "pay", SubjectKind: api.SubjectOIDCUser, Subject: "bob"}, nil)
	if st, _ := callAs(t, jwt("bob", "other"), http.MethodGet, base+"/v1/namespaces/pay/configs/k", nil, nil); st != http.StatusOK {
		t.Fatalf("bound by subject: %d; want 200", st)
	}
	if st, _ := callAs(t, jwt("bob")+"x", http.MethodGet, base+"/v1/namespaces/pay/configs/k", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d; want 401", st)
	}
}

// TestAuth_MetricsOpen: /metrics needs a global viewer unless configured
// open; /v1/health never needs a token.
func TestAuth_MetricsOpen(t *testing.T) {
	for _, open := range []bool{false, true} {
		cfg := clusterConfig(t, "n1", 1, nil)
		cfg.Auth.MetricsOpen = open
		n, err := node.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]int{false: http.StatusUnauthorized, true: http.StatusOK}[open]
		resp, err := http.Get(n.HTTPURL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("metrics open=%v without a token: %d; want %d", open, resp.StatusCode, want)
		}
		if st, _ := callAs(t, "", http.MethodGet, n.HTTPURL()+"/v1/health", nil, nil); st != http.StatusOK {
			t.Errorf("health without a token: %d", st)
		}
		if st, _ := callAs(t, "", http.MethodGet, n.HTTPURL()+"/v1/ready", nil, nil); st != http.StatusUnauthorized {
			t.Errorf("ready without a token: %d; want 401", st)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
