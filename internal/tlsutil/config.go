package tlsutil

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MinVersion is the oldest TLS version schemakv accepts anywhere.
const MinVersion = tls.VersionTLS12

// ServerConfig loads the HTTP API's TLS configuration: certFile and keyFile
// (PEM) are the server's certificate and key; clientCAFile, when set, makes
// client certificates required and verified against that CA bundle.
func ServerConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tlsutil: HTTP TLS needs both a certificate and a key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: load HTTP certificate: %w", err)
	}
	cfg := &tls.Config{MinVersion: MinVersion, Certificates: []tls.Certificate{cert}}
	if clientCAFile != "" {
		pool, err := loadPool(clientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClusterConfig loads the cluster port's mutual TLS configuration from PEM
// files: the cluster CA bundle, and this node's certificate and key (signed
// by the cluster CA, naming ClusterServerName).
func ClusterConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" || certFile == "" || keyFile == "" {
		return nil, errors.New("tlsutil: cluster TLS needs the cluster CA, a node certificate and its key")
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: read cluster CA: %w", err)
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: read cluster certificate: %w", err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: read cluster key: %w", err)
	}
	return ClusterConfigPEM(ca, cert, key)
}

// ClusterConfigPEM is ClusterConfig from PEM bytes. The one configuration
// serves both ends of a connection: as a server it requires a client
// certificate that chains to the CA, as a client it verifies the server's
// chain and ClusterServerName; either way the peer's certificate must name
// ClusterServerName.
func ClusterConfigPEM(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("tlsutil: cluster CA: no PEM certificates")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: cluster certificate: %w", err)
	}
	return &tls.Config{
		MinVersion:   MinVersion,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ServerName:   ClusterServerName,
		// Runs after chain verification on both ends. Go checks the name
		// of a server only; this checks it for the client too, so a
		// certificate the CA issued to a person or a tool is not a node.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tlsutil: cluster peer sent no certificate")
			}
			if err := cs.PeerCertificates[0].VerifyHostname(ClusterServerName); err != nil {
				return fmt.Errorf("tlsutil: cluster peer is not a node: %w", err)
			}
			return nil
		},
	}, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tlsutil: CA bundle %s: no PEM certificates", file)
	}
	return pool, nil
}

// ParseGossipKey decodes a gossip encryption key: standard base64 of 16, 24
// or 32 bytes (AES-128, -192 or -256), surrounding space ignored.
func ParseGossipKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("tlsutil: gossip key is not base64: %w", err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("tlsutil: gossip key is %d bytes; want 16, 24 or 32", len(key))
}

// NewGossipKey returns a random 32-byte gossip key, base64 encoded.
func NewGossipKey() (string, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("tlsutil: gossip key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}
