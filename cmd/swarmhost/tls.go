package main

import (
	"errors"
	"fmt"
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
host --out DIR" made for it (its --addr any name); one reaching the node
of its --data folder uses DATA/cluster-tls. Files are never overwritten;
keys are written mode 0600.`,
		Args: args(cobra.NoArgs),
	}
	var caOut string
	var caDays int
	ca := &cobra.Command{
		Use:   "ca --out DIR [--days 3650]",
		Short: "Make a CA: DIR/ca.crt and DIR/ca.key",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if caDays < 1 {
				return usageError{fmt.Errorf("--days %d: at least 1", caDays)}
			}
			c, err := tlsgen.NewCA("swarmhost cluster CA", time.Now(), time.Duration(caDays)*24*time.Hour)
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
	ca.MarkFlagRequired("out")

	var caDir, hostOut, addrs string
	var hostDays int
	host := &cobra.Command{
		Use:   "host --ca DIR --addr HOST[,HOST...] [--out DIR] [--days 825]",
		Short: "Make a host's folder: ca.crt, host.crt and host.key (default DATA/cluster-tls)",
		Long: `Make a host's certificate, signed by the CA in --ca DIR, for the addresses
its peers dial it by (the host part of its --raft-addr: an IP address or a
DNS name; give every one it is known by), and write it with its key and
the CA's certificate into --out (default DATA/cluster-tls, which run reads).`,
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
			certPEM, err := os.ReadFile(filepath.Join(caDir, tlsgen.CACertFile))
			if err != nil {
				return fmt.Errorf("the CA: %w", err)
			}
			keyPEM, err := os.ReadFile(filepath.Join(caDir, tlsgen.CAKeyFile))
			if err != nil {
				return fmt.Errorf("the CA: %w", err)
			}
			c, err := tlsgen.LoadCA(certPEM, keyPEM)
			if err != nil {
				return fmt.Errorf("the CA in %s: %w", caDir, err)
			}
			out := hostOut
			if out == "" {
				out = filepath.Join(e.dataDir, clusterTLSName)
			}
			if err := c.WriteHost(out, "swarmhost host "+hosts[0], hosts, time.Now(), time.Duration(hostDays)*24*time.Hour); err != nil {
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
	host.MarkFlagRequired("ca")
	host.MarkFlagRequired("addr")
	root.AddCommand(ca, host)
	return root
}
