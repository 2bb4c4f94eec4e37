package node_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/internal/tlsutil"
	"github.com/schemakv/schemakv/node"
)

// pki is a CA for tests, with its PEM files in a temporary directory.
type pki struct {
	t         *testing.T
	dir       string
	cert, key []byte
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	c, k, err := tlsutil.NewCA(name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{t: t, dir: t.TempDir(), cert: c, key: k}
	p.write("ca.pem", c)
	return p
}

func (p *pki) write(name string, b []byte) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

func (p *pki) caFile() string { return filepath.Join(p.dir, "ca.pem") }

// issue writes a certificate and key for req and returns their files.
func (p *pki) issue(name string, req tlsutil.CertRequest) (certFile, keyFile string) {
	p.t.Helper()
	c, k, err := tlsutil.IssueCert(p.cert, p.key, req)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(name+".pem", c), p.write(name+"-key.pem", k)
}

// cluster returns a cluster TLS configuration with a certificate from p
// for req, trusting trust's CA.
func (p *pki) cluster(name string, trust *pki, req tlsutil.CertRequest) *tls.Config {
	p.t.Helper()
	c, k := p.issue(name, req)
	cfg, err := tlsutil.ClusterConfig(trust.caFile(), c, k)
	if err != nil {
		p.t.Fatal(err)
	}
	return cfg
}

// The API over HTTPS with a client CA: only a client with a certificate
// signed by that CA gets an answer.
func TestHTTPS_ClientCertificates(t *testing.T) {
	srvCA, clientCA, foreign := newPKI(t, "server CA"), newPKI(t, "client CA"), newPKI(t, "foreign CA")
	certFile, keyFile := srvCA.issue("n1", tlsutil.NodeRequest("n1", nil, nil))
	httpTLS, err := tlsutil.ServerConfig(certFile, keyFile, clientCA.caFile())
	if err != nil {
		t.Fatal(err)
	}
	cfg := clusterConfig(t, "n1", 1, nil)
	cfg.HTTPTLS = httpTLS
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	if !strings.HasPrefix(n.HTTPURL(), "https://") {
		t.Fatalf("HTTPURL %s", n.HTTPURL())
	}

	goodCert, goodKey := clientCA.issue("alice", tlsutil.CertRequest{CommonName: "alice", Client: true})
	foreignCert, foreignKey := foreign.issue("mallory", tlsutil.CertRequest{CommonName: "mallory", Client: true})
	expired := tlsutil.CertRequest{CommonName: "bob", Client: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}
	expiredCert, expiredKey := clientCA.issue("bob", expired)

	health := func(c client.Config) error {
		c.Address = n.HTTPURL()
		cl, err := client.New(c)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, err = cl.Health(ctx, nil)
		return err
	}
	refused := map[string]client.Config{
		"no client certificate":       {CACertFile: srvCA.caFile()},
		"client cert of a foreign CA": {CACertFile: srvCA.caFile(), ClientCertFile: foreignCert, ClientKeyFile: foreignKey},
		"expired client cert":         {CACertFile: srvCA.caFile(), ClientCertFile: expiredCert, ClientKeyFile: expiredKey},
		"server not trusted":          {ClientCertFile: goodCert, ClientKeyFile: goodKey},
	}
	for name, c := range refused {
		if err := health(c); err == nil {
			t.Errorf("%s: request succeeded", name)
		} else {
			t.Logf("%s: refused: %v", name, err)
		}
	}
	// A client that speaks at most TLS 1.1 gets no handshake.
	if pair, err := tls.LoadX509KeyPair(goodCert, goodKey); err != nil {
		t.Fatal(err)
	} else if conn, err := tls.Dial("tcp", n.HTTPAddr(), &tls.Config{InsecureSkipVerify: true, //nolint:gosec // the server's answer is what is tested
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11, Certificates: []tls.Certificate{pair}}); err == nil {
		_ = conn.Close()
		t.Error("TLS 1.1 handshake succeeded")
	}
	// Plain HTTP to the HTTPS port gets no answer from the API.
	if resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/health"); err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP got 200 from the HTTPS port")
		}
	}

	good := client.Config{CACertFile: srvCA.caFile(), ClientCertFile: goodCert, ClientKeyFile: goodKey}
	if err := health(good); err != nil {
		t.Fatalf("good client: %v", err)
	}
	// The same through Config.TLS built by LoadTLSConfig, with a write.
	tc, err := client.LoadTLSConfig(srvCA.caFile(), goodCert, goodKey)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(client.Config{Address: n.HTTPURL(), TLS: tc, Token: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := cl.Namespaces().Create(ctx, "tls", api.CreateNamespaceRequest{}, nil); err != nil {
		t.Fatalf("write over mutual TLS: %v", err)
	}
}

// A node with no TLS, with a certificate from a foreign CA, or with an
// expired one, cannot get into a TLS cluster: gossip (same key) sees it,
// but raft never replicates to it and it never learns a leader to forward
// to. A node with the wrong gossip key is not even seen. The good nodes
// form a cluster and forward writes to each other over mutual TLS.
func TestCluster_MutualTLSKeepsBadNodesOut(t *testing.T) {
	ca, foreign := newPKI(t, "cluster CA"), newPKI(t, "foreign CA")
	gossipKey := []byte("0123456789abcdef0123456789abcdef")

	tc := &testCluster{t: t}
	var gossip []string
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("n%d", i+1)
		cfg := clusterConfig(t, id, 3, nil)
		cfg.Cluster.TLS = ca.cluster(id, ca, tlsutil.NodeRequest(id, nil, nil))
		cfg.Cluster.GossipKey = gossipKey
		gossip = append(gossip, cfg.GossipAddr)
		tc.cfgs = append(tc.cfgs, cfg)
	}
	tc.nodes = make([]*node.Node, 3)
	for i := range tc.cfgs {
		tc.cfgs[i].Join = gossip
		tc.start(i)
	}
	t.Cleanup(tc.closeAll)
	tc.waitLeader()
	tc.waitAuth()
	// A write through a follower is forwarded to the leader over TLS.
	f := tc.follower()
	mustOK(t, http.MethodPut, tc.url(f)+"/v1/namespaces/app", nil, nil)

	expired := tlsutil.NodeRequest("x-expired", nil, nil)
	expired.NotBefore, expired.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	bad := []struct {
		id       string
		tls      *tls.Config
		key      []byte
		inGossip bool
	}{
		{"x-plain", nil, gossipKey, true},
		{"x-foreign", foreign.cluster("x-foreign", ca, tlsutil.NodeRequest("x-foreign", nil, nil)), gossipKey, true},
		{"x-expired", ca.cluster("x-expired", ca, expired), gossipKey, true},
		{"x-gossipkey", ca.cluster("x-gossipkey", ca, tlsutil.NodeRequest("x-gossipkey", nil, nil)),
			[]byte("fedcba9876543210fedcba9876543210"), false},
	}
	// From here on tc.waitLeader would wait for the bad nodes to know the
	// leader too; goodLeader asks the good ones only.
	goodLeader := func() int {
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			for i := 0; i < 3; i++ {
				if tc.nodes[i].Cluster().IsLeader() {
					return i
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no leader among the good nodes")
		return -1
	}
	badIdx := map[string]int{}
	for _, b := range bad {
		cfg := clusterConfig(t, b.id, 0, gossip)
		cfg.Cluster.TLS = b.tls
		cfg.Cluster.GossipKey = b.key
		cfg.Cluster.HoldTimeout = 500 * time.Millisecond
		tc.cfgs = append(tc.cfgs, cfg)
		tc.nodes = append(tc.nodes, nil)
		tc.start(len(tc.nodes) - 1)
		badIdx[b.id] = len(tc.nodes) - 1
	}

	// Wait until gossip shows every bad node that shares the key, so the
	// leader has had the chance to add them to raft.
	members := func() map[string]string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ms, err := tc.nodes[goodLeader()].Cluster().Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, m := range ms {
			out[m.ID] = m.Gossip + "/" + m.Suffrage
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ms, all := members(), true
		for _, b := range bad {
			if b.inGossip && !strings.HasPrefix(ms[b.id], "alive") {
				all = false
			}
		}
		if all {
			t.Logf("members: %v", ms)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bad nodes never showed in gossip: %v", ms)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Several reconcile rounds and heartbeats: time for anything that
	// could get in to do so.
	for i := 0; i < 5; i++ {
		leader := goodLeader()
		mustOK(t, http.MethodPut, fmt.Sprintf("%s/v1/namespaces/ns%d", tc.url(leader), i), nil, nil)
		time.Sleep(300 * time.Millisecond)
	}

	ms := members()
	for _, b := range bad {
		n := tc.nodes[badIdx[b.id]]
		st := n.Cluster().Status()
		if st.Leader != "" || n.Store().Applied() != 0 || st.Term != 0 {
			t.Errorf("%s got in: leader %q term %d applied %d", b.id, st.Leader, st.Term, n.Store().Applied())
		}
		if strings.HasSuffix(ms[b.id], "/voter") {
			t.Errorf("%s became a voter: %s", b.id, ms[b.id])
		}
		if !b.inGossip && ms[b.id] != "" && !strings.HasPrefix(ms[b.id], "gone") {
			t.Errorf("%s joined gossip with the wrong key: %s", b.id, ms[b.id])
		}
		// It cannot write: it has no leader to forward to.
		st2, _ := call(t, http.MethodPut, tc.url(badIdx[b.id])+"/v1/namespaces/evil-"+b.id, nil, nil)
		if st2 < 300 {
			t.Errorf("%s: write accepted (%d)", b.id, st2)
		}
	}
	// The good cluster is intact: three voters, and nothing from a bad node.
	voters := 0
	for _, m := range ms {
		if strings.HasSuffix(m, "/voter") {
			voters++
		}
	}
	if voters != 3 {
		t.Errorf("voters: %v", ms)
	}
	for i := 0; i < 3; i++ {
		if st, _ := call(t, http.MethodGet, tc.url(i)+"/v1/namespaces/evil-x-plain?consistency=stale", nil, nil); st != http.StatusNotFound {
			t.Errorf("node %d: evil namespace status %d", i, st)
		}
	}
}

// A node that others can reach must be protected, or be told explicitly
// that plain text is fine.
func TestConfig_RefusesPlaintextOffLoopback(t *testing.T) {
	ca := newPKI(t, "ca")
	certFile, keyFile := ca.issue("n1", tlsutil.NodeRequest("n1", nil, nil))
	httpTLS, err := tlsutil.ServerConfig(certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	clusterTLS := ca.cluster("n1c", ca, tlsutil.NodeRequest("n1", nil, nil))
	key := make([]byte, 32)

	base := node.DefaultConfig()
	protect := func(c *node.Config) {
		c.HTTPTLS, c.Cluster.TLS, c.Cluster.GossipKey = httpTLS, clusterTLS, key
	}
	cases := []struct {
		name    string
		mut     func(c *node.Config)
		refused string // "" = accepted; else a word of the error
	}{
		{"defaults on loopback", func(c *node.Config) {}, ""},
		{"localhost", func(c *node.Config) { c.HTTPAddr = "localhost:7400" }, ""},
		{"IPv6 loopback", func(c *node.Config) { c.RaftAddr = "[::1]:7401" }, ""},
		{"HTTP on all interfaces", func(c *node.Config) { c.HTTPAddr = "0.0.0.0:7400" }, "HTTP API"},
		{"HTTP with empty host", func(c *node.Config) { c.HTTPAddr = ":7400" }, "HTTP API"},
		{"cluster port on an IP", func(c *node.Config) { c.RaftAddr = "10.1.2.3:7401" }, "cluster port"},
		{"gossip on all interfaces", func(c *node.Config) { c.GossipAddr = "0.0.0.0:7402" }, "gossip"},
		{"pprof exposed", func(c *node.Config) { c.PprofAddr = "0.0.0.0:6060" }, "pprof"},
		{"all exposed, all protected", func(c *node.Config) {
			c.HTTPAddr, c.RaftAddr, c.GossipAddr = "0.0.0.0:7400", "0.0.0.0:7401", "0.0.0.0:7402"
			protect(c)
		}, ""},
		{"HTTP protected, cluster not", func(c *node.Config) {
			c.HTTPAddr, c.RaftAddr = "0.0.0.0:7400", "0.0.0.0:7401"
			c.HTTPTLS = httpTLS
		}, "cluster port"},
		{"cluster TLS but no gossip key", func(c *node.Config) {
			c.RaftAddr, c.GossipAddr = "0.0.0.0:7401", "0.0.0.0:7402"
			c.Cluster.TLS = clusterTLS
		}, "gossip"},
		{"explicit insecure plaintext", func(c *node.Config) {
			c.HTTPAddr, c.RaftAddr, c.GossipAddr = "0.0.0.0:7400", "0.0.0.0:7401", "0.0.0.0:7402"
			c.InsecurePlaintext = true
		}, ""},
	}
	for _, tc := range cases {
		cfg := base
		tc.mut(&cfg)
		err := cfg.Validate()
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.refused != "" && err == nil:
			t.Errorf("%s: accepted", tc.name)
		case tc.refused != "" && !strings.Contains(err.Error(), tc.refused):
			t.Errorf("%s: error %q does not name %q", tc.name, err, tc.refused)
		}
	}

	// Start refuses too, before it binds or writes anything.
	cfg := base
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTPAddr = "0.0.0.0:0"
	if n, err := node.Start(context.Background(), cfg); err == nil {
		_ = n.Close()
		t.Fatal("Start accepted plain HTTP on 0.0.0.0")
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused start created the data dir: %v", err)
	}
}
