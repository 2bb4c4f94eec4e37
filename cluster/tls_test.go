package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"testing"
	"time"

	"github.com/schemakv/schemakv/internal/tlsutil"
)

// testCA is a CA and its PEM key material for tests.
type testCA struct{ cert, key []byte }

func mustCA(t *testing.T) testCA {
	t.Helper()
	c, k, err := tlsutil.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{c, k}
}

// mustClusterTLS issues a certificate from ca for req and returns a
// cluster TLS configuration that trusts trust.
func mustClusterTLS(t *testing.T, ca testCA, trust testCA, req tlsutil.CertRequest) *tls.Config {
	t.Helper()
	cert, key, err := tlsutil.IssueCert(ca.cert, ca.key, req)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsutil.ClusterConfigPEM(trust.cert, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func nodeReq(name string) tlsutil.CertRequest { return tlsutil.NodeRequest(name, nil, nil) }

func expiredReq(name string) tlsutil.CertRequest {
	r := nodeReq(name)
	r.NotBefore = time.Now().Add(-48 * time.Hour)
	r.NotAfter = time.Now().Add(-24 * time.Hour)
	return r
}

// startTLSMux starts a mux with tlsCfg on 127.0.0.1:0 and returns it with
// channels that receive the connections routed to the RPC server and to
// raft.
func startTLSMux(t *testing.T, tlsCfg *tls.Config) (*mux, <-chan net.Conn, <-chan net.Conn) {
	t.Helper()
	m, err := newMux("127.0.0.1:0", "", tlsCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rpcCh, raftCh := make(chan net.Conn, 4), make(chan net.Conn, 4)
	m.serve(func(c net.Conn) {
		rpcCh <- c
		<-m.closeCh
	})
	go func() {
		for {
			c, err := raftLayer{m}.Accept()
			if err != nil {
				return
			}
			raftCh <- c
		}
	}()
	t.Cleanup(func() { _ = m.close() })
	return m, rpcCh, raftCh
}

// The cluster port routes a connection to raft or the RPC server only
// after a mutual TLS handshake with a certificate from the cluster CA that
// names server.schemakv: plain TCP, a foreign CA, an expired certificate
// and a client-only certificate are all refused, in both directions.
func TestMux_TLSRefusesBadPeers(t *testing.T) {
	ca, foreign := mustCA(t), mustCA(t)
	good := mustClusterTLS(t, ca, ca, nodeReq("n1"))
	m, rpcCh, raftCh := startTLSMux(t, good)
	addr := m.ln.Addr().String()

	clientOnly := tlsutil.CertRequest{CommonName: "ops", DNSNames: []string{"ops"}, Client: true}
	bad := []struct {
		name string
		cfg  *tls.Config
	}{
		{"foreign CA", mustClusterTLS(t, foreign, ca, nodeReq("n2"))},
		{"expired", mustClusterTLS(t, ca, ca, expiredReq("n2"))},
		{"no server.schemakv name", mustClusterTLS(t, ca, ca, clientOnly)},
		{"no client certificate", func() *tls.Config {
			c := good.Clone()
			c.Certificates = nil
			return c
		}()},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			for _, kind := range []byte{connRaft, connRPC} {
				conn, err := dial(addr, kind, 2*time.Second, tc.cfg)
				if err == nil {
					// TLS 1.3: the client finishes before the server has
					// checked its certificate; the server then closes.
					_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
					_, err = conn.Read(make([]byte, 1))
					_ = conn.Close()
					if err == nil {
						t.Fatalf("kind %d: connection stayed open", kind)
					}
				}
			}
		})
	}

	t.Run("plain TCP", func(t *testing.T) {
		for _, kind := range []byte{connRaft, connRPC} {
			conn, err := dial(addr, kind, 2*time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			// What a plain-text peer sends after the kind byte: the TLS
			// server reads it as a malformed record and hangs up at once.
			if _, err := conn.Write([]byte("plain text request\n")); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			// At most a TLS alert comes back before the close.
			_, err = io.ReadAll(conn)
			_ = conn.Close()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("kind %d: the server did not hang up", kind)
			}
		}
	})

	select {
	case <-rpcCh:
		t.Fatal("a refused peer reached the RPC server")
	case <-raftCh:
		t.Fatal("a refused peer reached raft")
	default:
	}

	// A node with a good certificate refuses a server whose certificate is
	// foreign or expired.
	for name, srv := range map[string]*tls.Config{
		"foreign CA server": mustClusterTLS(t, foreign, ca, nodeReq("n3")),
		"expired server":    mustClusterTLS(t, ca, ca, expiredReq("n3")),
	} {
		bm, brpc, braft := startTLSMux(t, srv)
		if conn, err := dial(bm.ln.Addr().String(), connRPC, 2*time.Second, good); err == nil {
			_ = conn.Close()
			t.Fatalf("%s: dial succeeded", name)
		}
		select {
		case <-brpc:
			t.Fatalf("%s: connection routed", name)
		case <-braft:
			t.Fatalf("%s: connection routed", name)
		default:
		}
	}

	// The good peer gets through, to each side of the mux, over TLS 1.2+.
	peer := mustClusterTLS(t, ca, ca, nodeReq("n2"))
	for _, kind := range []byte{connRaft, connRPC} {
		conn, err := dial(addr, kind, 2*time.Second, peer)
		if err != nil {
			t.Fatalf("kind %d: %v", kind, err)
		}
		if v := conn.(*tls.Conn).ConnectionState().Version; v < tls.VersionTLS12 {
			t.Fatalf("TLS version %x", v)
		}
		ch := rpcCh
		if kind == connRaft {
			ch = raftCh
		}
		select {
		case c := <-ch:
			if _, ok := c.(*tls.Conn); !ok {
				t.Fatalf("kind %d: routed connection is %T, not TLS", kind, c)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("kind %d: good peer not routed", kind)
		}
		_ = conn.Close()
	}
}

func TestConfig_ValidateTLS(t *testing.T) {
	ca := mustCA(t)
	good := mustClusterTLS(t, ca, ca, nodeReq("n1"))
	base := DefaultConfig()
	base.Dir = t.TempDir()
	mut := map[string]func(c *tls.Config){
		"no cert":        func(c *tls.Config) { c.Certificates = nil },
		"no CA":          func(c *tls.Config) { c.RootCAs = nil },
		"no client auth": func(c *tls.Config) { c.ClientAuth = tls.VerifyClientCertIfGiven },
		"skip verify":    func(c *tls.Config) { c.InsecureSkipVerify = true },
		"no server name": func(c *tls.Config) { c.ServerName = "" },
	}
	for name, f := range mut {
		c := good.Clone()
		f(c)
		cfg := base
		cfg.TLS = c
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
	cfg := base
	cfg.TLS = good
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.GossipKey = make([]byte, 17)
	if err := cfg.Validate(); err == nil {
		t.Fatal("17-byte gossip key accepted")
	}
}

// statusOnly is an RPC service with the shape of the cluster's, answering
// Status only.
type statusOnly struct{}

func (statusOnly) Status(_ StatusArgs, reply *StatusReply) error {
	reply.Status = Status{NodeID: "n1"}
	return nil
}

// Forwarding (the pooled and the one-shot RPC clients) reaches a TLS node
// only with a certificate from the cluster CA.
func TestRPC_TLSForwardingNeedsClusterCert(t *testing.T) {
	ca, foreign := mustCA(t), mustCA(t)
	m, err := newMux("127.0.0.1:0", "", mustClusterTLS(t, ca, ca, nodeReq("n1")), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Cluster", statusOnly{}); err != nil {
		t.Fatal(err)
	}
	m.serve(serveRPC(srv))
	t.Cleanup(func() { _ = m.close() })
	addr := m.ln.Addr().String()

	call := func(cfg *tls.Config) error {
		p := &rpcClients{clients: map[string]*rpc.Client{}, timeout: 2 * time.Second, tls: cfg}
		defer p.closeAll()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var r1, r2 StatusReply
		if err := p.call(ctx, addr, "Status", StatusArgs{}, &r1); err != nil {
			return err
		}
		if err := p.callOnce(ctx, addr, "Status", StatusArgs{}, &r2); err != nil {
			return err
		}
		if r1.Status.NodeID != "n1" || r2.Status.NodeID != "n1" {
			return fmt.Errorf("wrong answer %+v %+v", r1, r2)
		}
		return nil
	}
	for name, cfg := range map[string]*tls.Config{
		"plain":      nil,
		"foreign CA": mustClusterTLS(t, foreign, ca, nodeReq("n2")),
		"expired":    mustClusterTLS(t, ca, ca, expiredReq("n2")),
	} {
		if err := call(cfg); err == nil {
			t.Errorf("%s: forwarded", name)
		}
	}
	if err := call(mustClusterTLS(t, ca, ca, nodeReq("n2"))); err != nil {
		t.Fatalf("good peer: %v", err)
	}
}
