package main

import (
	"cmp"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// newTLSCmd makes the certificates of the mutual TLS between hosts
// (run reads them from DATA/cluster-tls, or --cluster-tls DIR).
func newTLSCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "tls",
		Short: "Make the certificates for mutual TLS between the hosts (Raft, NATS routes) and with NATS clients",
		Long: `A cluster's hosts can speak mutual TLS on their Raft transports, their
NATS routes and their embedded NATS servers' client ports: each presents a
certificate for its address signed by the cluster's CA, and takes only
peers and clients whose certificate that CA signed. "tls ca" makes the CA
once (keep ca.key off the hosts); "tls host" makes each host's folder
(ca.crt, host.crt, host.key), which run reads from DATA/cluster-tls or
--cluster-tls DIR. A client reaching a host's NATS server with --nats-url
(need submit, envelope publish, cas) gives --nats-tls DIR, a folder "tls
client" made for it from a CA for clients alone (whose ca.crt each host
holds as cluster-tls/clients-ca.crt: the client ports take what it signs,
the Raft transports and routes do not); one reaching the node of its
--data folder uses DATA/cluster-tls. Files are never overwritten; keys are
written mode 0600.`,
		Args: args(cobra.NoArgs),
	}
	var caOut, caName string
	var caDays int
	ca := &cobra.Command{
		Use:   "ca --out DIR [--days 3650] [--name NAME]",
		Short: "Make a CA: DIR/ca.crt and DIR/ca.key",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if caDays < 1 {
				return usageError{fmt.Errorf("--days %d: at least 1", caDays)}
			}
			now := time.Now()
			// Named by when it was made, by default: a cluster moving to a
			// new CA trusts two for a while, and "tls trust list" tells
			// them apart by name as well as by fingerprint.
			name := cmp.Or(strings.TrimSpace(caName), "swarmhost CA of "+now.UTC().Format("2006-01-02 15:04:05 UTC"))
			c, err := tlsgen.NewCA(name, now, time.Duration(caDays)*24*time.Hour)
			if err != nil {
				return err
			}
			if err := c.WriteCA(caOut); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s and %s\n", filepath.Join(caOut, "ca.crt"), filepath.Join(caOut, "ca.key"))
			return nil
		},
	}
	ca.Flags().StringVar(&caOut, "out", "", "the folder to write ca.crt and ca.key in")
	ca.Flags().IntVar(&caDays, "days", 3650, "how long the CA is valid")
	ca.Flags().StringVar(&caName, "name", "", "the CA's name in its certificate (default: swarmhost CA of the time it was made)")
	ca.MarkFlagRequired("out")

	var caDir, hostOut, addrs string
	var hostDays int
	var replace bool
	host := &cobra.Command{
		Use:   "host --ca DIR --addr HOST[,HOST...] [--out DIR] [--days 825] [--replace]",
		Short: "Make a host's folder: ca.crt, host.crt and host.key (default DATA/cluster-tls)",
		Long: `Make a host's certificate, signed by the CA in --ca DIR, for the addresses
its peers dial it by (the host part of its --raft-addr: an IP address or a
DNS name; give every one it is known by), and write it with its key and
the CA's certificate into --out (default DATA/cluster-tls, which run reads).

--replace renews the certificate of a folder that has one: host.crt and
host.key are replaced (keeping their mode and owner), and ca.crt keeps the
CAs it trusts, gaining --ca's if it lacks it (so a host moved to a new CA
still takes the peers the old one signed until "tls trust remove"). The
node's listeners read the files when it starts, its outgoing Raft
connections whenever they connect: restart it right after
(docs/OPERATING.md, "Renewing certificates").`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hostDays < 1 {
				return usageError{fmt.Errorf("--days %d: at least 1", hostDays)}
			}
			var hosts []string
			for _, a := range strings.Split(addrs, ",") {
				if a = strings.TrimSpace(a); a != "" {
					hosts = append(hosts, a)
				}
			}
			if len(hosts) == 0 {
				return usageError{errors.New("--addr: the addresses the host's peers dial it by, HOST[,HOST...]")}
			}
			c, err := loadCA(caDir)
			if err != nil {
				return err
			}
			out := hostOut
			if out == "" {
				out = filepath.Join(e.dataDir, clusterTLSName)
			}
			name, validFor := "swarmhost host "+hosts[0], time.Duration(hostDays)*24*time.Hour
			if replace {
				if err := c.ReplaceHost(out, name, hosts, time.Now(), validFor); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "replaced host.crt and host.key in %s for %s; restart the node now (its outgoing Raft connections take them as they connect)\n", out, strings.Join(hosts, ", "))
				return nil
			}
			if err := c.WriteHost(out, name, hosts, time.Now(), validFor); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("%w (renewing? give --replace)", err)
				}
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s (ca.crt, host.crt, host.key) for %s\n", out, strings.Join(hosts, ", "))
			return nil
		},
	}
	host.Flags().StringVar(&caDir, "ca", "", "the folder holding ca.crt and ca.key (tls ca)")
	host.Flags().StringVar(&addrs, "addr", "", "the host's addresses, as its peers dial it: HOST[,HOST...]")
	host.Flags().StringVar(&hostOut, "out", "", "the folder to write in (default DATA/cluster-tls)")
	host.Flags().IntVar(&hostDays, "days", 825, "how long the certificate is valid (at most as long as the CA)")
	host.Flags().BoolVar(&replace, "replace", false, "replace the folder's host.crt and host.key (a renewal, or a move to a new CA), keeping the CAs its ca.crt trusts")
	host.MarkFlagRequired("ca")
	host.MarkFlagRequired("addr")

	var clientsCA, serverCA, clientName, clientOut string
	var clientDays int
	var clientReplace bool
	client := &cobra.Command{
		Use:   "client --ca DIR --server-ca FILE --name NAME --out DIR [--days 825] [--replace]",
		Short: "Make a NATS client's folder for --nats-tls: ca.crt, host.crt and host.key",
		Long: `Make a client's certificate, signed by the CA in --ca DIR (a CA for
clients alone, made with "tls ca"), and write it with its key and the
cluster CA's certificate (--server-ca, to check the hosts' servers) into
--out, the folder a client gives as --nats-tls. Put the clients' CA's
ca.crt into each host's cluster-tls folder as clients-ca.crt: its NATS
client port then takes these certificates, and its Raft transport and
routes, which trust the cluster's CA alone, do not. --replace renews the
certificate of a folder that has one, keeping the CAs its ca.crt trusts and
adding --server-ca's.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clientDays < 1 {
				return usageError{fmt.Errorf("--days %d: at least 1", clientDays)}
			}
			c, err := loadCA(clientsCA)
			if err != nil {
				return err
			}
			server, err := os.ReadFile(serverCA)
			if err != nil {
				return fmt.Errorf("the servers' CA: %w", err)
			}
			if !x509.NewCertPool().AppendCertsFromPEM(server) {
				return fmt.Errorf("the servers' CA: %s holds no PEM certificate", serverCA)
			}
			name, validFor := "swarmhost client "+clientName, time.Duration(clientDays)*24*time.Hour
			if clientReplace {
				if err := c.ReplaceClient(clientOut, name, server, time.Now(), validFor); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "replaced host.crt and host.key in %s for client %s\n", clientOut, clientName)
				return nil
			}
			if err := c.WriteClient(clientOut, name, server, time.Now(), validFor); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("%w (renewing? give --replace)", err)
				}
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s (ca.crt, host.crt, host.key) for client %s\n", clientOut, clientName)
			return nil
		},
	}
	client.Flags().StringVar(&clientsCA, "ca", "", "the folder holding the clients' CA, ca.crt and ca.key (tls ca)")
	client.Flags().StringVar(&serverCA, "server-ca", "", "the cluster CA's certificate (its ca.crt), which signed the hosts'")
	client.Flags().StringVar(&clientName, "name", "", "who the certificate is for")
	client.Flags().StringVar(&clientOut, "out", "", "the folder to write in")
	client.Flags().IntVar(&clientDays, "days", 825, "how long the certificate is valid (at most as long as the CA)")
	client.Flags().BoolVar(&clientReplace, "replace", false, "replace the folder's host.crt and host.key, keeping the CAs its ca.crt trusts")
	for _, f := range []string{"ca", "server-ca", "name", "out"} {
		client.MarkFlagRequired(f)
	}
	root.AddCommand(ca, host, client, newTLSTrustCmd(e))
	return root
}

// loadCA reads the CA in dir (ca.crt and ca.key, as tls ca writes them).
func loadCA(dir string) (*tlsgen.CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, tlsgen.CACertFile))
	if err != nil {
		return nil, fmt.Errorf("the CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, tlsgen.CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("the CA: %w", err)
	}
	c, err := tlsgen.LoadCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("the CA in %s: %w", dir, err)
	}
	return c, nil
}
