package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/internal/tlsutil"
)

// An https:// server that requires client certificates signed by its own
// CA: the CA file and a client certificate from files or from Config.TLS
// get through; anything less does not.
func TestClient_TLS(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caCert, caKey, err := tlsutil.NewCA("clients", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cc, ck, err := tlsutil.IssueCert(caCert, caKey, tlsutil.CertRequest{CommonName: "alice", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := write("alice.pem", cc), write("alice-key.pem", ck)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caCert)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	serverCA := write("server-ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	health := func(cfg client.Config) error {
		cfg.Address = srv.URL
		c, err := client.New(cfg)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, err = c.Health(ctx, nil)
		return err
	}
	if err := health(client.Config{CACertFile: serverCA, ClientCertFile: certFile, ClientKeyFile: keyFile}); err != nil {
		t.Fatalf("files: %v", err)
	}
	tc, err := client.LoadTLSConfig(serverCA, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := health(client.Config{TLS: tc}); err != nil {
		t.Fatalf("Config.TLS: %v", err)
	}
	for name, cfg := range map[string]client.Config{
		"no client certificate": {CACertFile: serverCA},
		"server not trusted":    {ClientCertFile: certFile, ClientKeyFile: keyFile},
	} {
		if err := health(cfg); err == nil {
			t.Errorf("%s: succeeded", name)
		}
	}
	for name, cfg := range map[string]client.Config{
		"cert without key":      {ClientCertFile: certFile},
		"missing CA file":       {CACertFile: filepath.Join(dir, "nope.pem")},
		"CA file without PEM":   {CACertFile: keyFile + "x"},
		"TLS and own transport": {TLS: tc, HTTPClient: &http.Client{Transport: &http.Transport{}}},
	} {
		if name == "CA file without PEM" {
			cfg.CACertFile = write("empty.pem", []byte("not pem"))
		}
		if _, err := client.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		} else if !strings.HasPrefix(err.Error(), "client: ") {
			t.Errorf("%s: error %q", name, err)
		}
	}
}

func TestDefaultConfig_TLSEnv(t *testing.T) {
	t.Setenv(client.EnvCACert, "/ca.pem")
	t.Setenv(client.EnvClientCert, "/c.pem")
	t.Setenv(client.EnvClientKey, "/k.pem")
	cfg := client.DefaultConfig()
	if cfg.CACertFile != "/ca.pem" || cfg.ClientCertFile != "/c.pem" || cfg.ClientKeyFile != "/k.pem" {
		t.Fatalf("%+v", cfg)
	}
}
