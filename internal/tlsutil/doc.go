// Package tlsutil builds the TLS configurations of a schemakv server and
// makes the certificates they need.
//
// Three things use TLS or keys:
//
//   - The HTTP API: ServerConfig loads a certificate and key and, with a
//     client CA, requires and verifies client certificates.
//   - The cluster port (raft and the internal RPC, one TCP port): every node
//     presents a certificate signed by the cluster CA and verifies its
//     peer's, in both directions (ClusterConfig). A peer's certificate must
//     chain to the cluster CA and name ClusterServerName
//     ("server.schemakv") among its DNS SANs; a client-only certificate
//     from the same CA without that name is refused in both directions.
//   - Gossip (memberlist): ParseGossipKey decodes the shared key.
//
// NewCA and IssueCert make an ECDSA P-256 CA and certificates signed by it
// (`schemakv tls ca create`, `schemakv tls cert create`, and the tests).
// Every TLS configuration requires TLS 1.2 or newer; Go prefers 1.3 when
// both sides speak it.
//
// The functions are safe for concurrent use; the returned configurations
// must not be modified once in use.
package tlsutil
