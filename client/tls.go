package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// Environment variables for TLS, read by DefaultConfig.
const (
	EnvCACert     = "SCHEMAKV_CA_CERT"
	EnvClientCert = "SCHEMAKV_CLIENT_CERT"
	EnvClientKey  = "SCHEMAKV_CLIENT_KEY"
)

// LoadTLSConfig returns a TLS configuration for an https:// server: caFile
// (PEM bundle; empty means the system roots) verifies the server, and
// certFile and keyFile (PEM, both or neither) are the client certificate a
// server with a client CA requires. TLS 1.2 is the oldest version used.
func LoadTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if err := addTLSFiles(cfg, caFile, certFile, keyFile); err != nil {
		return nil, err
	}
	return cfg, nil
}

func addTLSFiles(cfg *tls.Config, caFile, certFile, keyFile string) error {
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("client: read CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("client: CA bundle %s: no PEM certificates", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return errors.New("client: a client certificate needs both the certificate and the key file")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("client: load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return nil
}

// tlsTransport returns the transport for cfg's TLS settings, or nil when
// cfg has none (hc's own transport is used).
func tlsTransport(cfg Config, hc *http.Client) (http.RoundTripper, error) {
	files := cfg.CACertFile != "" || cfg.ClientCertFile != "" || cfg.ClientKeyFile != ""
	if cfg.TLS == nil && !files {
		return nil, nil
	}
	if hc.Transport != nil {
		return nil, errors.New("client: Config.TLS or TLS files given with an HTTPClient that has its own Transport: configure TLS on that transport instead")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
		if tc.MinVersion < tls.VersionTLS12 {
			tc.MinVersion = tls.VersionTLS12
		}
	}
	if err := addTLSFiles(tc, cfg.CACertFile, cfg.ClientCertFile, cfg.ClientKeyFile); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return tr, nil
}
