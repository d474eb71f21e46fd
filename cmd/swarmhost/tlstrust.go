package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// newTLSTrustCmd lists, adds and removes the CAs a host's cluster-tls
// folder trusts: how a cluster moves to a new CA with no moment when two
// of its hosts refuse each other (docs/OPERATING.md).
func newTLSTrustCmd(e *env) *cobra.Command {
	var dir string
	var clients bool
	root := &cobra.Command{
		Use:   "trust",
		Short: "List, add and remove the CAs a host's cluster-tls folder trusts (ca.crt, or clients-ca.crt with --clients)",
		Long: `A host takes the peers (and NATS clients) whose certificate a CA of its
cluster-tls/ca.crt signed, and, with --clients, the NATS clients a CA of its
cluster-tls/clients-ca.crt signed. ca.crt may hold more than one CA: that is
how a cluster moves to a new CA without a moment when two of its hosts
refuse each other. On every host in turn: "tls trust add NEWCA/ca.crt", then
a restart; then "tls host --ca NEWCA --addr ... --replace" and a restart;
then "tls trust remove OLDCA/ca.crt" and a restart (docs/OPERATING.md,
"Renewing certificates"). A node's listeners read these files when it
starts, its outgoing Raft connections whenever they connect: restart the
node right after each change. --dir may also be a client's --nats-tls
folder (its ca.crt names the servers' CAs).`,
		Args: args(cobra.NoArgs),
	}
	root.PersistentFlags().StringVar(&dir, "dir", "", "the host's folder (default DATA/cluster-tls)")
	root.PersistentFlags().BoolVar(&clients, "clients", false, "the CAs of NATS clients alone (clients-ca.crt) rather than of the cluster (ca.crt)")
	files := func() (bundle, hostCert string) {
		d := dir
		if d == "" {
			d = filepath.Join(e.dataDir, clusterTLSName)
		}
		if clients {
			return filepath.Join(d, tlsgen.ClientsCAFile), ""
		}
		return filepath.Join(d, tlsgen.CACertFile), filepath.Join(d, tlsgen.HostCertFile)
	}
	list := &cobra.Command{
		Use:   "list [--dir DIR] [--clients]",
		Short: "The CAs the folder trusts: name, fingerprint, end, and which signed the host's certificate",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			bundle, hostCert := files()
			cas, err := tlsgen.ReadTrust(bundle, hostCert)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: %d CA(s)\n", bundle, len(cas))
			for _, c := range cas {
				note := ""
				if c.SignedHost {
					note = "  signed this host's certificate"
				}
				if !c.Cert.NotAfter.After(time.Now()) {
					note += "  EXPIRED"
				}
				fmt.Fprintf(e.stdout, "  %q  sha256 %s  valid until %s%s\n", c.Cert.Subject.CommonName, c.Fingerprint,
					c.Cert.NotAfter.UTC().Format(time.DateOnly), note)
			}
			return nil
		},
	}
	// edit makes one change of the bundle with the CA certificates of the
	// file (or folder) named, and says what changed.
	edit := func(path string, change func(bundle, certFile string, text []byte, from string) ([]*x509.Certificate, error),
		unchanged, changed string) error {
		text, from, err := readCAFile(path)
		if err != nil {
			return err
		}
		bundle, hostCert := files()
		cas, err := change(bundle, hostCert, text, from)
		if err != nil {
			return err
		}
		if len(cas) == 0 {
			fmt.Fprintf(e.stdout, "%s %s %s: nothing changed\n", bundle, unchanged, from)
			return nil
		}
		for _, c := range cas {
			fmt.Fprintf(e.stdout, "%s %s %q (sha256 %s)\n", bundle, changed, c.Subject.CommonName, tlsgen.Fingerprint(c))
		}
		fmt.Fprintln(e.stdout, takeIt(hostCert))
		return nil
	}
	add := &cobra.Command{
		Use:   "add CA [--dir DIR] [--clients]",
		Short: "Trust the CA certificate(s) of CA (a file, or a folder holding ca.crt) besides those trusted now",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			return edit(argv[0], func(bundle, _ string, text []byte, from string) ([]*x509.Certificate, error) {
				return tlsgen.Trust(bundle, text, from, time.Now())
			}, "already trusts", "now trusts")
		},
	}
	remove := &cobra.Command{
		Use:   "remove CA [--dir DIR] [--clients]",
		Short: "Stop trusting the CA certificate(s) of CA (a file, or a folder holding ca.crt); not the one that signed the host's certificate",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			return edit(argv[0], tlsgen.Distrust, "does not trust", "no longer trusts")
		},
	}
	root.AddCommand(list, add, remove)
	return root
}

// takeIt says when a changed bundle takes effect: at the node's restart
// for a host's folder (its certificate serves), at the next connection for
// a client's.
func takeIt(certFile string) string {
	if certFile != "" {
		if c, err := tlsgen.FirstCertificate(certFile); err == nil && c != nil && !tlsgen.Serves(c) {
			return "the client's next connection takes it"
		}
	}
	return "restart the node to take it"
}

// readCAFile reads a CA's certificate from a file, or from the ca.crt of
// a folder (a CA's, as tls ca makes it), and says which file it read.
func readCAFile(path string) (text []byte, file string, err error) {
	file = path
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		file = filepath.Join(path, tlsgen.CACertFile)
	}
	text, err = os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("the CA: %w", err)
	}
	return text, file, nil
}
