package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// ClusterServerName is the DNS name every node certificate carries and
// every node checks in its peer's certificate on the cluster port. Node
// addresses change (containers, DHCP), so the name is fixed, as Consul does
// with server.<dc>.consul: what makes a peer a node is the cluster CA's
// signature on a certificate naming server.schemakv.
const ClusterServerName = "server.schemakv"

// Lifetimes used when a request leaves them zero.
const (
	DefaultCAValidity   = 5 * 365 * 24 * time.Hour
	DefaultCertValidity = 365 * 24 * time.Hour
)

// NewCA makes a self-signed ECDSA P-256 certificate authority and returns
// its certificate and private key, PEM encoded. validFor zero means
// DefaultCAValidity.
func NewCA(commonName string, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	if commonName == "" {
		commonName = "schemakv CA"
	}
	if validFor <= 0 {
		validFor = DefaultCAValidity
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"schemakv"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: create CA certificate: %w", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// CertRequest describes a certificate for IssueCert.
type CertRequest struct {
	// CommonName is the subject's common name (the node name).
	CommonName string
	// DNSNames and IPs are the subject alternative names.
	DNSNames []string
	IPs      []net.IP
	// Server and Client set the extended key usages. A node certificate
	// has both: a node is a TLS server to its peers and a client of them.
	Server, Client bool
	// NotBefore and NotAfter bound the validity; zero means from five
	// minutes ago for DefaultCertValidity. Tests set them to make expired
	// certificates.
	NotBefore, NotAfter time.Time
}

// NodeRequest is the request for a node certificate: both key usages, the
// DNS names ClusterServerName, name and localhost, the IP 127.0.0.1, plus
// the given extra names and addresses.
func NodeRequest(name string, dnsNames []string, ips []net.IP) CertRequest {
	dns := []string{ClusterServerName}
	if name != "" {
		dns = append(dns, name)
	}
	dns = append(dns, "localhost")
	dns = append(dns, dnsNames...)
	return CertRequest{CommonName: name, DNSNames: dns, IPs: append([]net.IP{net.IPv4(127, 0, 0, 1)}, ips...),
		Server: true, Client: true}
}

// IssueCert makes an ECDSA P-256 key and a certificate for req signed by the
// CA, all PEM encoded.
func IssueCert(caCertPEM, caKeyPEM []byte, req CertRequest) (certPEM, keyPEM []byte, err error) {
	ca, caKey, err := parseCA(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, err
	}
	if !req.Server && !req.Client {
		return nil, nil, errors.New("tlsutil: certificate request: neither server nor client usage")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	nb, na := req.NotBefore, req.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-5 * time.Minute)
	}
	if na.IsZero() {
		na = nb.Add(DefaultCertValidity)
	}
	if !na.After(nb) {
		return nil, nil, errors.New("tlsutil: certificate request: NotAfter is not after NotBefore")
	}
	var eku []x509.ExtKeyUsage
	if req.Server {
		eku = append(eku, x509.ExtKeyUsageServerAuth)
	}
	if req.Client {
		eku = append(eku, x509.ExtKeyUsageClientAuth)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: req.CommonName, Organization: []string{"schemakv"}},
		NotBefore:      nb,
		NotAfter:       na,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    eku,
		DNSNames:       req.DNSNames,
		IPAddresses:    req.IPs,
		SubjectKeyId:   keyID(&key.PublicKey),
		AuthorityKeyId: ca.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: create certificate: %w", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

func parseCA(certPEM, keyPEM []byte) (*x509.Certificate, any, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, nil, errors.New("tlsutil: CA certificate: no PEM CERTIFICATE block")
	}
	ca, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: CA certificate: %w", err)
	}
	if !ca.IsCA {
		return nil, nil, errors.New("tlsutil: CA certificate: not a CA")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, errors.New("tlsutil: CA key: no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		if ek, err2 := x509.ParseECPrivateKey(kb.Bytes); err2 == nil {
			key = ek
		} else {
			return nil, nil, fmt.Errorf("tlsutil: CA key: %w", err)
		}
	}
	return ca, key, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tlsutil: serial number: %w", err)
	}
	return n, nil
}

func keyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}
