package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// busSecretName is the file in a data folder that holds the bus's shared
// secret, read when --bus-secret names none.
const busSecretName = "bus.secret"

// busSecret is the bus's shared secret for the data folder given with
// --data: --bus-secret's file, or DATA/bus.secret when it exists, or none.
func (e *env) busSecret() (string, error) { return e.busSecretOf(e.dataDir) }

// busSecretOf is busSecret for the data folder dataDir.
func (e *env) busSecretOf(dataDir string) (string, error) {
	path, given := e.busSecretFile, e.busSecretFile != ""
	if !given {
		path = filepath.Join(dataDir, busSecretName)
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !given:
		return "", nil
	case err != nil:
		return "", fmt.Errorf("the bus secret: %w", err)
	}
	secret := strings.TrimRight(string(b), "\r\n")
	if err := bus.CheckSecret(secret); err != nil {
		return "", fmt.Errorf("the bus secret in %s: %w", path, err)
	}
	return secret, nil
}

// secretHint says what to do when NATS refused a connection for its
// credentials.
func secretHint(err error, secret string) string {
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		return ""
	}
	if secret == "" {
		return " (the server asks for the bus secret: give --bus-secret FILE, or put it in DATA/bus.secret)"
	}
	return " (the server refused this bus secret: give the one its hosts have)"
}

// clusterTLSName is the folder in a data folder that holds the mutual TLS
// files of the hosts' Raft transports and NATS routes, used when
// --cluster-tls names none.
const clusterTLSName = "cluster-tls"

// clusterTLSFiles are the mutual TLS files between hosts: those in
// dir (--cluster-tls), or in DATA/cluster-tls when it exists, or none (plain
// TCP). Each of ca.crt, host.crt and host.key must be there.
func clusterTLSFiles(dataDir, dir string) (*consensus.TLSFiles, error) {
	given := dir != ""
	if !given {
		dir = filepath.Join(dataDir, clusterTLSName)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	files := &consensus.TLSFiles{CAFile: filepath.Join(dir, tlsgen.CACertFile), CertFile: filepath.Join(dir, tlsgen.HostCertFile),
		KeyFile: filepath.Join(dir, tlsgen.HostKeyFile)}
	for _, f := range []string{files.CAFile, files.CertFile, files.KeyFile} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("the cluster's TLS files: %w (a folder for them holds ca.crt, host.crt and host.key)", err)
		}
	}
	return files, nil
}

// natsTLS is the TLS of a connection to NATS: --nats-tls's folder when
// given; else, when the server is the embedded one of the node running on
// dataDir (ownServer: its run file named it, not --nats-url), DATA/cluster-tls
// when it exists, whose host certificate that server takes; else none.
// The folder holds ca.crt, and host.crt and host.key unless the server
// asks for no client certificate.
func (e *env) natsTLS(dataDir string, ownServer bool) (*tls.Config, error) {
	dir := e.natsTLSDir
	if dir == "" {
		if !ownServer {
			return nil, nil
		}
		dir = filepath.Join(dataDir, clusterTLSName)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	ca, cert, key := filepath.Join(dir, tlsgen.CACertFile), filepath.Join(dir, tlsgen.HostCertFile), filepath.Join(dir, tlsgen.HostKeyFile)
	if _, err := os.Stat(ca); err != nil {
		return nil, fmt.Errorf("the TLS files for NATS: %w (a folder for them holds ca.crt, and host.crt and host.key)", err)
	}
	_, certErr := os.Stat(cert)
	_, keyErr := os.Stat(key)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		cert, key = "", "" // the CA alone: a server that asks for no client certificate
	case certErr != nil || keyErr != nil:
		return nil, fmt.Errorf("the TLS files for NATS in %s: host.crt and host.key go together (%v)", dir, errors.Join(certErr, keyErr))
	}
	cfg, err := bus.ClientTLS(ca, cert, key)
	if err != nil || e.natsTLSDir != "" {
		return cfg, err
	}
	// The node's own certificate: its server is checked against the
	// first address that certificate names, not against the (loopback)
	// address the run file gives, which it need not name.
	if len(cfg.Certificates) > 0 {
		if leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0]); err == nil {
			switch {
			case len(leaf.IPAddresses) > 0:
				cfg.ServerName = leaf.IPAddresses[0].String()
			case len(leaf.DNSNames) > 0:
				cfg.ServerName = leaf.DNSNames[0]
			}
		}
	}
	return cfg, nil
}

// tlsWarnBefore is how long before a cluster TLS certificate expires run
// warns at start.
const tlsWarnBefore = 30 * 24 * time.Hour

// checkTLSExpiry says, at now, whether one of the cluster's TLS
// certificates (the host's, the CA's) has expired (an error: the other
// hosts would refuse this one, and a start would wait for them for ever),
// or expires within tlsWarnBefore (a warning).
func checkTLSExpiry(files *consensus.TLSFiles, now time.Time) (warning string, err error) {
	if _, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile); err != nil {
		return "", fmt.Errorf("the cluster's TLS certificate %s and key %s: %w (a replacement cut short? make them again: swarmhost tls host --ca DIR --addr ... --replace)",
			files.CertFile, files.KeyFile, err)
	}
	file, at, err := tlsgen.ChainExpiry(files.CAFile, files.CertFile)
	if err != nil {
		return "", fmt.Errorf("the cluster's TLS certificates: %w", err)
	}
	if cas, err := tlsgen.ReadTrust(files.CAFile, ""); err == nil {
		for _, c := range cas {
			if !c.Cert.NotAfter.After(now) {
				warning = fmt.Sprintf("%s still trusts a CA that expired on %s (%q, sha256 %s): nothing it signed is taken any more; swarmhost tls trust remove it. ",
					files.CAFile, c.Cert.NotAfter.UTC().Format(time.DateOnly), c.Cert.Subject.CommonName, c.Fingerprint)
				break
			}
		}
	}
	switch left := at.Sub(now); {
	case left <= 0:
		return "", fmt.Errorf("the cluster's TLS certificate %s expired on %s: the other hosts would refuse this one; make new certificates (swarmhost tls host --ca DIR --addr ... --replace; for the CA's, a new CA: docs/OPERATING.md, \"Renewing certificates\")",
			file, at.UTC().Format(time.DateOnly))
	case left < tlsWarnBefore:
		what := "renew it before (swarmhost tls host --ca DIR --addr ... --replace, then a restart)"
		if file == files.CAFile {
			what = "move the cluster to a new CA before, host by host with no downtime (swarmhost tls ca; on every host tls trust add, then tls host --replace, then tls trust remove, each followed by a restart: docs/OPERATING.md, \"Renewing certificates\"): a host's certificate ends with its CA's"
		}
		return warning + fmt.Sprintf("the cluster's TLS certificate %s expires on %s, in %d days: %s; the other hosts refuse an expired one",
			file, at.UTC().Format(time.DateOnly), int(left.Hours()/24), what), nil
	}
	return strings.TrimSpace(warning), nil
}
