package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/internal/tlsutil"
	"github.com/schemakv/schemakv/node"
)

// serverTLSFlags are the transport security flags of `schemakv server`.
type serverTLSFlags struct {
	cert, key, clientCA                string
	clusterCA, clusterCert, clusterKey string
	gossipKey, gossipKeyFile           string
}

func (f *serverTLSFlags) register(fs *pflag.FlagSet, cfg *node.Config) {
	fs.StringVar(&f.cert, "tls-cert", "", "PEM certificate for the HTTP API (HTTPS); needs --tls-key")
	fs.StringVar(&f.key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.clientCA, "tls-client-ca", "", "PEM CA bundle: require HTTP clients to present a certificate it signed")
	fs.StringVar(&f.clusterCA, "cluster-ca", "", "PEM cluster CA: mutual TLS for raft and the cluster RPC (with --cluster-cert and --cluster-key)")
	fs.StringVar(&f.clusterCert, "cluster-cert", "", "PEM node certificate signed by --cluster-ca, naming "+tlsutil.ClusterServerName)
	fs.StringVar(&f.clusterKey, "cluster-key", "", "PEM private key of --cluster-cert")
	fs.StringVar(&f.gossipKey, "gossip-key", "", "base64 gossip encryption key of 16, 24 or 32 bytes (`schemakv tls gossip-key`)")
	fs.StringVar(&f.gossipKeyFile, "gossip-key-file", "", "file holding the base64 gossip encryption key")
	fs.BoolVar(&cfg.InsecurePlaintext, "insecure-plaintext", false, "allow listeners on non-loopback addresses without TLS or a gossip key (warns loudly)")
}

// apply loads the files named by the flags into cfg.
func (f *serverTLSFlags) apply(cfg *node.Config) error {
	if f.cert != "" || f.key != "" || f.clientCA != "" {
		tc, err := tlsutil.ServerConfig(f.cert, f.key, f.clientCA)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key/--tls-client-ca: %w", err)
		}
		cfg.HTTPTLS = tc
	}
	if f.clusterCA != "" || f.clusterCert != "" || f.clusterKey != "" {
		tc, err := tlsutil.ClusterConfig(f.clusterCA, f.clusterCert, f.clusterKey)
		if err != nil {
			return fmt.Errorf("--cluster-ca/--cluster-cert/--cluster-key: %w", err)
		}
		cfg.Cluster.TLS = tc
	}
	key := f.gossipKey
	if f.gossipKeyFile != "" {
		if key != "" {
			return errors.New("give --gossip-key or --gossip-key-file, not both")
		}
		b, err := os.ReadFile(f.gossipKeyFile)
		if err != nil {
			return fmt.Errorf("--gossip-key-file: %w", err)
		}
		key = string(b)
	}
	if key != "" {
		k, err := tlsutil.ParseGossipKey(key)
		if err != nil {
			return fmt.Errorf("--gossip-key: %w", err)
		}
		cfg.Cluster.GossipKey = k
	}
	return nil
}

// registerClientTLS adds the client TLS flags to the root command.
func (a *app) registerClientTLS(pf *pflag.FlagSet) {
	pf.StringVar(&a.caCert, "ca-cert", "", "PEM CA bundle that verifies an https:// server (env "+client.EnvCACert+")")
	pf.StringVar(&a.clientCert, "client-cert", "", "PEM client certificate for a server that requires one (env "+client.EnvClientCert+")")
	pf.StringVar(&a.clientKey, "client-key", "", "PEM private key of --client-cert (env "+client.EnvClientKey+")")
}

// applyClientTLS puts the client TLS flags given on the command line into
// cfg, over the environment's values.
func (a *app) applyClientTLS(cfg *client.Config) {
	flags := a.root.PersistentFlags()
	if flags.Changed("ca-cert") {
		cfg.CACertFile = a.caCert
	}
	if flags.Changed("client-cert") {
		cfg.ClientCertFile = a.clientCert
	}
	if flags.Changed("client-key") {
		cfg.ClientKeyFile = a.clientKey
	}
}

// newTLSCmd is `schemakv tls`: make a CA, node certificates and a gossip
// key, like `consul tls`. Keys are ECDSA P-256, written with mode 0600.
func newTLSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Make a CA, certificates and a gossip key for a TLS cluster",
	}
	ca := &cobra.Command{Use: "ca", Short: "Certificate authority commands"}
	var caDir, caName string
	var caDays int
	caCreate := &cobra.Command{
		Use:   "create",
		Short: "Create a CA: schemakv-ca.pem and schemakv-ca-key.pem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cert, key, err := tlsutil.NewCA(caName, time.Duration(caDays)*24*time.Hour)
			if err != nil {
				return err
			}
			return writePair(cmd, caDir, "schemakv-ca", cert, key)
		},
	}
	caCreate.Flags().StringVar(&caDir, "dir", ".", "directory to write the files to")
	caCreate.Flags().StringVar(&caName, "common-name", "schemakv CA", "the CA's common name")
	caCreate.Flags().IntVar(&caDays, "days", 1825, "days the CA is valid")
	ca.AddCommand(caCreate)

	certCmd := &cobra.Command{Use: "cert", Short: "Certificate commands"}
	var dir, caFile, caKey, name string
	var dns []string
	var ips []net.IP
	var days int
	var clientOnly bool
	certCreate := &cobra.Command{
		Use:   "create",
		Short: "Create a node (or --client) certificate signed by the CA: <name>.pem and <name>-key.pem",
		Long: `Create a certificate signed by the CA.

A node certificate (the default) serves the HTTP API and the cluster port:
it is valid for both server and client use and names server.schemakv (what
nodes check in each other's certificates), the node name, localhost,
127.0.0.1, and every --dns and --ip given. With --client it is a client
certificate for the CLI or a service (no server.schemakv: it cannot act as
a node).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			// The CA's files default to the ones `tls ca create --dir`
			// wrote into the same directory.
			if !cmd.Flags().Changed("ca") {
				caFile = filepath.Join(dir, caFile)
			}
			if !cmd.Flags().Changed("ca-key") {
				caKey = filepath.Join(dir, caKey)
			}
			caCert, err := os.ReadFile(caFile)
			if err != nil {
				return usagef("--ca: %v", err)
			}
			caKeyPEM, err := os.ReadFile(caKey)
			if err != nil {
				return usagef("--ca-key: %v", err)
			}
			req := tlsutil.NodeRequest(name, dns, ips)
			if clientOnly {
				req = tlsutil.CertRequest{CommonName: name, DNSNames: append([]string{name}, dns...), IPs: ips, Client: true}
			}
			req.NotBefore = time.Now().Add(-5 * time.Minute)
			req.NotAfter = time.Now().Add(time.Duration(days) * 24 * time.Hour)
			cert, key, err := tlsutil.IssueCert(caCert, caKeyPEM, req)
			if err != nil {
				return err
			}
			return writePair(cmd, dir, name, cert, key)
		},
	}
	cf := certCreate.Flags()
	cf.StringVar(&dir, "dir", ".", "directory to write the files to")
	cf.StringVar(&caFile, "ca", "schemakv-ca.pem", "the CA certificate (default: in --dir)")
	cf.StringVar(&caKey, "ca-key", "schemakv-ca-key.pem", "the CA private key (default: in --dir)")
	cf.StringVar(&name, "name", "", "node (or client) name; also the file name")
	cf.StringSliceVar(&dns, "dns", nil, "extra DNS names (comma-separated or repeated)")
	cf.IPSliceVar(&ips, "ip", nil, "extra IP addresses (comma-separated or repeated)")
	cf.IntVar(&days, "days", 365, "days the certificate is valid")
	cf.BoolVar(&clientOnly, "client", false, "a client certificate, not a node certificate")
	certCmd.AddCommand(certCreate)

	gossip := &cobra.Command{
		Use:   "gossip-key",
		Short: "Print a new random 32-byte gossip key, base64 encoded",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := tlsutil.NewGossipKey()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), k)
			return err
		},
	}
	cmd.AddCommand(ca, certCmd, gossip, newTLSInitCmd())
	return cmd
}

// newTLSInitCmd is `schemakv tls init`: everything a cluster needs in one
// directory, made only where missing, so that it can run at every start of
// a container set (the image has no shell to script the steps).
func newTLSInitCmd() *cobra.Command {
	var dir string
	var nodes, clients []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Make what is missing in --dir: a CA, node and client certificates, gossip.key",
		Long: `Make what is missing in --dir: the CA (schemakv-ca.pem and
schemakv-ca-key.pem), a node certificate <name>.pem and <name>-key.pem for
every --node (valid for server.schemakv, the name, localhost and 127.0.0.1),
a client certificate for every --client, and gossip.key. Files that exist
are kept, so running it again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			exists := func(name string) (bool, error) {
				_, err := os.Stat(filepath.Join(dir, name))
				if err == nil {
					return true, nil
				}
				if errors.Is(err, os.ErrNotExist) {
					return false, nil
				}
				return false, err
			}
			has, err := exists("schemakv-ca.pem")
			if err != nil {
				return err
			}
			if !has {
				cert, key, err := tlsutil.NewCA("schemakv CA", 0)
				if err != nil {
					return err
				}
				if err := writePair(cmd, dir, "schemakv-ca", cert, key); err != nil {
					return err
				}
			}
			caCert, err := os.ReadFile(filepath.Join(dir, "schemakv-ca.pem"))
			if err != nil {
				return err
			}
			caKey, err := os.ReadFile(filepath.Join(dir, "schemakv-ca-key.pem"))
			if err != nil {
				return fmt.Errorf("the CA's key is needed to issue certificates: %w", err)
			}
			issue := func(name string, req tlsutil.CertRequest) error {
				if strings.ContainsAny(name, `/\`) || name == "" || name == "schemakv-ca" || name == "gossip" {
					return usagef("invalid name %q", name)
				}
				has, err := exists(name + ".pem")
				if err != nil || has {
					return err
				}
				cert, key, err := tlsutil.IssueCert(caCert, caKey, req)
				if err != nil {
					return err
				}
				return writePair(cmd, dir, name, cert, key)
			}
			for _, n := range nodes {
				if err := issue(n, tlsutil.NodeRequest(n, nil, nil)); err != nil {
					return err
				}
			}
			for _, c := range clients {
				if err := issue(c, tlsutil.CertRequest{CommonName: c, DNSNames: []string{c}, Client: true}); err != nil {
					return err
				}
			}
			if has, err = exists("gossip.key"); err != nil {
				return err
			}
			if !has {
				k, err := tlsutil.NewGossipKey()
				if err != nil {
					return err
				}
				path := filepath.Join(dir, "gossip.key")
				if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
					return fmt.Errorf("write %s: %w", path, err)
				}
				fmt.Fprintf(out, "wrote %s\n", path)
			}
			fmt.Fprintf(out, "%s is ready\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory for the files")
	cmd.Flags().StringSliceVar(&nodes, "node", nil, "node names (comma-separated or repeated)")
	cmd.Flags().StringSliceVar(&clients, "client", nil, "client certificate names (comma-separated or repeated)")
	return cmd
}

// writePair writes <base>.pem and <base>-key.pem into dir, refusing to
// overwrite either.
func writePair(cmd *cobra.Command, dir, base string, cert, key []byte) error {
	if strings.ContainsAny(base, `/\`) {
		return usagef("name %q must not contain a path separator", base)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	certPath, keyPath := filepath.Join(dir, base+".pem"), filepath.Join(dir, base+"-key.pem")
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{certPath, cert, 0o644}, {keyPath, key, 0o600}} {
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		if _, err := fh.Write(f.data); err != nil {
			_ = fh.Close()
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		if err := fh.Close(); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", certPath, keyPath)
	return nil
}
