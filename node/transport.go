package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Plain text only when explicitly chosen: a listener that other machines
// can reach must be protected (TLS for HTTP and the cluster port, the
// gossip key for memberlist) unless Config.InsecurePlaintext says
// otherwise. Loopback listeners need nothing, so `schemakv server` with no
// flags keeps working.

// exposedListener is a listener on a non-loopback address without its
// protection.
type exposedListener struct{ name, addr, fix string }

func (c Config) exposed() []exposedListener {
	var out []exposedListener
	check := func(name, addr string, protected bool, fix string) {
		if addr != "" && !protected && !isLoopback(addr) {
			out = append(out, exposedListener{name, addr, fix})
		}
	}
	check("HTTP API", c.HTTPAddr, c.HTTPTLS != nil, "--tls-cert and --tls-key")
	check("cluster port (raft and RPC)", c.RaftAddr, c.Cluster.TLS != nil, "--cluster-ca, --cluster-cert and --cluster-key")
	check("gossip", c.GossipAddr, c.Cluster.GossipKey != nil, "--gossip-key")
	check("pprof", c.PprofAddr, false, "a loopback address")
	return out
}

func (c Config) checkPlaintext() error {
	if c.InsecurePlaintext {
		return nil
	}
	ex := c.exposed()
	if len(ex) == 0 {
		return nil
	}
	var parts []string
	for _, e := range ex {
		parts = append(parts, fmt.Sprintf("%s on %s needs %s", e.name, e.addr, e.fix))
	}
	return fmt.Errorf("node: config: refusing plain text on a non-loopback address: %s (or set --insecure-plaintext to accept it)",
		strings.Join(parts, "; "))
}

func (c Config) warnPlaintext(log *slog.Logger) {
	if !c.InsecurePlaintext {
		return
	}
	for _, e := range c.exposed() {
		log.Warn("INSECURE: serving plain text on a non-loopback address (--insecure-plaintext); anyone on the network can read and forge this traffic",
			"listener", e.name, "addr", e.addr, "protect_with", e.fix)
	}
}

// isLoopback reports whether a listen address binds loopback only. An
// empty host or an unspecified IP binds every interface; a host name counts
// as loopback only if every address it resolves to is.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return false
		}
	}
	return true
}

// httpTLS returns the API's TLS configuration with TLS 1.2 as the floor.
func httpTLS(cfg *tls.Config) *tls.Config {
	c := cfg.Clone()
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}
