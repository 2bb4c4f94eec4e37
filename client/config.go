package client

import (
	"crypto/tls"
	"net/http"
	"os"
	"strings"
	"time"
)

// Environment variables read by DefaultConfig.
const (
	EnvAddr      = "SCHEMAKV_ADDR"
	EnvToken     = "SCHEMAKV_TOKEN"
	EnvPrincipal = "SCHEMAKV_PRINCIPAL"
	// EnvTokenFile names a file holding the token, read when
	// SCHEMAKV_TOKEN is not set (surrounding white space is trimmed).
	EnvTokenFile = "SCHEMAKV_TOKEN_FILE"
)

// DefaultAddress is the server address used when neither Config.Address nor
// SCHEMAKV_ADDR names one.
const DefaultAddress = "http://127.0.0.1:7400"

// DefaultTimeout bounds every request when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config configures a Client. The zero value is usable: New fills in
// DefaultAddress and DefaultTimeout.
type Config struct {
	// Address is the base URL of any server node, such as
	// "http://127.0.0.1:7400". A bare "host:port" means http. Empty means
	// DefaultAddress.
	Address string
	// Addresses lists further nodes of the same cluster. Watch and Cache
	// move to the next one when their node fails; other requests use
	// Address (or, when Address is empty, the first of Addresses).
	Addresses []string
	// Token, when set, is sent as "Authorization: Bearer <token>".
	Token string
	// Principal, when set, is sent as X-Schemakv-Principal. It is a
	// placeholder identity until authentication lands; servers that
	// authenticate ignore it.
	Principal string
	// HTTPClient, when set, carries the requests (custom transport, TLS). The
	// Client copies it and never modifies the caller's value; if its Timeout
	// is zero the copy gets Config.Timeout.
	HTTPClient *http.Client
	// TLS configures HTTPS (https:// addresses): the CA that verifies the
	// server and, for a server that requires one, a client certificate.
	// LoadTLSConfig builds one from PEM files. nil means Go's defaults
	// (system roots, no client certificate). It cannot be combined with an
	// HTTPClient that has its own Transport.
	TLS *tls.Config
	// CACertFile, ClientCertFile and ClientKeyFile name PEM files that New
	// adds to TLS (a CA bundle replacing RootCAs, and a client certificate
	// and key); DefaultConfig takes them from SCHEMAKV_CA_CERT,
	// SCHEMAKV_CLIENT_CERT and SCHEMAKV_CLIENT_KEY.
	CACertFile, ClientCertFile, ClientKeyFile string
	// Timeout bounds each request, including reading the response body.
	// Zero means DefaultTimeout; a negative value means no timeout (the
	// context alone bounds the request).
	Timeout time.Duration
}

// DefaultConfig returns a Config from the environment: SCHEMAKV_ADDR
// (default DefaultAddress), SCHEMAKV_TOKEN (or the file named by
// SCHEMAKV_TOKEN_FILE), SCHEMAKV_PRINCIPAL and the TLS files
// SCHEMAKV_CA_CERT, SCHEMAKV_CLIENT_CERT and SCHEMAKV_CLIENT_KEY.
func DefaultConfig() Config {
	cfg := Config{
		Address:   DefaultAddress,
		Token:     os.Getenv(EnvToken),
		Principal: os.Getenv(EnvPrincipal),
		Timeout:   DefaultTimeout,

		CACertFile:     os.Getenv(EnvCACert),
		ClientCertFile: os.Getenv(EnvClientCert),
		ClientKeyFile:  os.Getenv(EnvClientKey),
	}
	if addr := os.Getenv(EnvAddr); addr != "" {
		cfg.Address = addr
	}
	if f := os.Getenv(EnvTokenFile); cfg.Token == "" && f != "" {
		if b, err := os.ReadFile(f); err == nil {
			cfg.Token = strings.TrimSpace(string(b))
		}
	}
	return cfg
}
