package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/internal/tlsutil"
	"github.com/schemakv/schemakv/node"
)

// mustTLSFiles makes a CA, a node certificate n1 and a client certificate
// alice with `schemakv tls` and returns their directory.
func mustTLSFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"tls", "ca", "create", "--dir", dir},
		{"tls", "cert", "create", "--dir", dir, "--name", "n1", "--ip", "10.1.2.3"},
		{"tls", "cert", "create", "--dir", dir, "--name", "alice", "--client"},
	} {
		if code, _, stderr := run(t, "", args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	return dir
}

func TestTLSCommands(t *testing.T) {
	dir := mustTLSFiles(t)
	for _, f := range []string{"schemakv-ca.pem", "n1.pem", "alice.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
		key := filepath.Join(dir, strings.TrimSuffix(f, ".pem")+"-key.pem")
		if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", key, err, st)
		}
	}
	// Existing files are never overwritten.
	if code, _, stderr := run(t, "", "tls", "cert", "create", "--dir", dir, "--name", "n1"); code == exitOK || !strings.Contains(stderr, "exists") {
		t.Fatalf("overwrote n1: exit %d %s", code, stderr)
	}
	if code, _, _ := run(t, "", "tls", "cert", "create", "--dir", dir); code != exitUsage {
		t.Fatalf("no --name: exit %d", code)
	}
	code, stdout, _ := run(t, "", "tls", "gossip-key")
	if code != exitOK {
		t.Fatal(code)
	}
	if k, err := tlsutil.ParseGossipKey(stdout); err != nil || len(k) != 32 {
		t.Fatalf("gossip key %q: %v", stdout, err)
	}
	// The node certificate works as a cluster certificate.
	if _, err := tlsutil.ClusterConfig(filepath.Join(dir, "schemakv-ca.pem"), filepath.Join(dir, "n1.pem"), filepath.Join(dir, "n1-key.pem")); err != nil {
		t.Fatal(err)
	}
}

func TestServerTLSFlags(t *testing.T) {
	dir := mustTLSFiles(t)
	p := func(f string) string { return filepath.Join(dir, f) }
	keyFile := filepath.Join(t.TempDir(), "gossip.key")
	if err := os.WriteFile(keyFile, []byte("MDEyMzQ1Njc4OWFiY2RlZg==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := serverTLSFlags{cert: p("n1.pem"), key: p("n1-key.pem"), clientCA: p("schemakv-ca.pem"),
		clusterCA: p("schemakv-ca.pem"), clusterCert: p("n1.pem"), clusterKey: p("n1-key.pem"), gossipKeyFile: keyFile}
	cfg := node.DefaultConfig()
	if err := f.apply(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPTLS == nil || cfg.HTTPTLS.ClientCAs == nil || cfg.Cluster.TLS == nil || len(cfg.Cluster.GossipKey) != 16 {
		t.Fatalf("not applied: %+v", cfg)
	}
	for name, bad := range map[string]serverTLSFlags{
		"cert without key":    {cert: p("n1.pem")},
		"cluster without CA":  {clusterCert: p("n1.pem"), clusterKey: p("n1-key.pem")},
		"both gossip flags":   {gossipKey: "MDEyMzQ1Njc4OWFiY2RlZg==", gossipKeyFile: keyFile},
		"short gossip key":    {gossipKey: "MDEy"},
		"missing client CA":   {cert: p("n1.pem"), key: p("n1-key.pem"), clientCA: p("nope.pem")},
		"key of another cert": {cert: p("n1.pem"), key: p("alice-key.pem")},
	} {
		c := node.DefaultConfig()
		if err := bad.apply(&c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// `schemakv server` on a non-loopback address without TLS stops at once
// with the reason; --insecure-plaintext is the way to accept it.
func TestServer_RefusesPlaintextOffLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := executeWith(ctx, []string{"server", "--data-dir", t.TempDir(), "--http-addr", "0.0.0.0:0",
		"--raft-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0", "--log-format", "json"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "refusing plain text") || !strings.Contains(stderr.String(), "--tls-cert") {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
}

// The CLI's TLS flags against an HTTPS node that requires client
// certificates.
func TestCLI_TLSFlags(t *testing.T) {
	dir := mustTLSFiles(t)
	p := func(f string) string { return filepath.Join(dir, f) }
	httpTLS, err := tlsutil.ServerConfig(p("n1.pem"), p("n1-key.pem"), p("schemakv-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.HTTPTLS = httpTLS
	cfg.Auth.BootstrapToken = cliAdminToken
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	addr := n.HTTPURL()

	code, _, stderr := run(t, "", "--addr", addr, "--token", cliAdminToken, "--ca-cert", p("schemakv-ca.pem"), "ns", "list")
	if code != exitError || !strings.Contains(stderr, "certificate required") {
		t.Fatalf("without a client certificate: exit %d %s", code, stderr)
	}
	code, _, stderr = run(t, "", "--addr", addr, "--token", cliAdminToken, "--client-cert", p("alice.pem"), "--client-key", p("alice-key.pem"), "ns", "list")
	if code != exitError || !strings.Contains(stderr, "unknown authority") {
		t.Fatalf("without the CA: exit %d %s", code, stderr)
	}
	code, _, stderr = run(t, "", "--addr", addr, "--token", cliAdminToken, "--ca-cert", p("schemakv-ca.pem"),
		"--client-cert", p("alice.pem"), "--client-key", p("alice-key.pem"), "ns", "create", "secure")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The same from the environment.
	t.Setenv("SCHEMAKV_CA_CERT", p("schemakv-ca.pem"))
	t.Setenv("SCHEMAKV_CLIENT_CERT", p("alice.pem"))
	t.Setenv("SCHEMAKV_CLIENT_KEY", p("alice-key.pem"))
	code, stdout, stderr := run(t, "", "--addr", addr, "--token", cliAdminToken, "ns", "get", "secure")
	if code != exitOK || !strings.Contains(stdout, "secure") {
		t.Fatalf("env: exit %d: %s %s", code, stdout, stderr)
	}
}

func TestTLSInit_MakesWhatIsMissingOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if code, _, stderr := run(t, "", "tls", "init", "--dir", dir, "--node", "n1,n2", "--client", "ops"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ca, n1, key := read("schemakv-ca.pem"), read("n1.pem"), read("gossip.key")
	if _, err := tlsutil.ParseGossipKey(key); err != nil {
		t.Fatal(err)
	}
	// Again, with one more node: the existing files stay, n3 is added and
	// signed by the same CA.
	if code, _, stderr := run(t, "", "tls", "init", "--dir", dir, "--node", "n1,n2,n3"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if read("schemakv-ca.pem") != ca || read("n1.pem") != n1 || read("gossip.key") != key {
		t.Fatal("tls init replaced an existing file")
	}
	if _, err := tlsutil.ClusterConfig(filepath.Join(dir, "schemakv-ca.pem"), filepath.Join(dir, "n3.pem"), filepath.Join(dir, "n3-key.pem")); err != nil {
		t.Fatal(err)
	}
}
