package tlsutil

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func TestParseGossipKey(t *testing.T) {
	for _, n := range []int{16, 24, 32} {
		k := base64.StdEncoding.EncodeToString(make([]byte, n))
		if got, err := ParseGossipKey(" " + k + "\n"); err != nil || len(got) != n {
			t.Errorf("%d bytes: %v %d", n, err, len(got))
		}
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 15)),
		base64.StdEncoding.EncodeToString(make([]byte, 33))} {
		if _, err := ParseGossipKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	k, err := NewGossipKey()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := ParseGossipKey(k); err != nil || len(b) != 32 {
		t.Fatalf("NewGossipKey: %v", err)
	}
}

// A node certificate chains to its CA, carries both key usages and the
// names nodes check, and is ECDSA P-256.
func TestIssueCert_NodeCertificate(t *testing.T) {
	caPEM, caKey, err := NewCA("", 0)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := IssueCert(caPEM, caKey, NodeRequest("n1", []string{"n1.example"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	parse := func(b []byte) *x509.Certificate {
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, cert := parse(caPEM), parse(certPEM)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: ClusterServerName, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
	}
	for _, name := range []string{"n1", "localhost", "n1.example", "127.0.0.1"} {
		if err := cert.VerifyHostname(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA || !strings.Contains(cert.SignatureAlgorithm.String(), "ECDSA") {
		t.Errorf("algorithms %v %v", cert.PublicKeyAlgorithm, cert.SignatureAlgorithm)
	}
	if _, _, err := IssueCert(caPEM, caKey, CertRequest{CommonName: "x"}); err == nil {
		t.Error("a certificate with no usage was issued")
	}
	if _, _, err := IssueCert(certPEM, caKey, NodeRequest("n2", nil, nil)); err == nil {
		t.Error("a non-CA certificate signed another")
	}
	r := NodeRequest("n3", nil, nil)
	r.NotBefore, r.NotAfter = time.Now(), time.Now().Add(-time.Hour)
	if _, _, err := IssueCert(caPEM, caKey, r); err == nil {
		t.Error("NotAfter before NotBefore accepted")
	}
}
