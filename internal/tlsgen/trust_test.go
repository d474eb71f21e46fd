package tlsgen_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/internal/tlsgen"
)

func mustCA(t *testing.T, name string) *tlsgen.CA {
	t.Helper()
	ca, err := tlsgen.NewCA(name, time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// trusted lists the names of a bundle's CAs, the host's signer marked *.
func trusted(t *testing.T, dir string) string {
	t.Helper()
	cas, err := tlsgen.ReadTrust(filepath.Join(dir, tlsgen.CACertFile), filepath.Join(dir, tlsgen.HostCertFile))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cas {
		name := c.Cert.Subject.CommonName
		if c.SignedHost {
			name += "*"
		}
		names = append(names, name)
	}
	return strings.Join(names, ",")
}

// The steps of a move to a new CA on one host's folder: trust it beside
// the old (once, however often asked), replace the host's certificate
// with one it signed (the old CA still trusted), stop trusting the old.
// The CA that signed the host's certificate cannot be removed, the bundle
// cannot be emptied, and a certificate that is not a CA's is not taken.
func TestTrustBundleThroughACAChange(t *testing.T) {
	oldCA, newCA := mustCA(t, "old"), mustCA(t, "new")
	dir := filepath.Join(t.TempDir(), "cluster-tls")
	if err := oldCA.WriteHost(dir, "h", []string{"127.0.0.1"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	bundle, hostCert := filepath.Join(dir, tlsgen.CACertFile), filepath.Join(dir, tlsgen.HostCertFile)
	if err := newCA.WriteHost(dir, "h", []string{"127.0.0.1"}, time.Now(), time.Hour); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteHost over a folder that has one: %v, want fs.ErrExist", err)
	}
	if got := trusted(t, dir); got != "old*" {
		t.Fatalf("a new folder trusts %s", got)
	}

	added, err := tlsgen.Trust(bundle, newCA.CertPEM(), "new/ca.crt")
	if err != nil || len(added) != 1 || added[0].Subject.CommonName != "new" {
		t.Fatalf("Trust(new) = %v, %v", added, err)
	}
	if added, err := tlsgen.Trust(bundle, append(newCA.CertPEM(), oldCA.CertPEM()...), "both"); err != nil || len(added) != 0 {
		t.Fatalf("Trust of CAs already trusted added %v, %v", added, err)
	}
	if got := trusted(t, dir); got != "old*,new" {
		t.Fatalf("after Trust(new): %s", got)
	}
	hostPEM, _ := os.ReadFile(hostCert)
	if _, err := tlsgen.Trust(bundle, hostPEM, "host.crt"); err == nil || !strings.Contains(err.Error(), "host.crt: certificate 1 (CN=h) is not a CA's") {
		t.Fatalf("Trust of a host certificate: %v", err)
	}
	if _, err := tlsgen.Trust(bundle, []byte("not PEM"), "junk"); err == nil || !strings.Contains(err.Error(), "junk: no PEM certificate") {
		t.Fatalf("Trust of text with no certificate: %v", err)
	}
	if _, err := tlsgen.Distrust(bundle, hostCert, oldCA.CertPEM(), "old/ca.crt"); err == nil || !strings.Contains(err.Error(), "signed this host's certificate") {
		t.Fatalf("Distrust of the host's own CA: %v", err)
	}

	if err := newCA.ReplaceHost(dir, "h", []string{"127.0.0.1"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := trusted(t, dir); got != "old,new*" {
		t.Fatalf("after ReplaceHost(new): %s", got)
	}
	if _, err := tls.LoadX509KeyPair(hostCert, filepath.Join(dir, tlsgen.HostKeyFile)); err != nil {
		t.Fatalf("the replaced certificate and key do not go together: %v", err)
	}
	if file, _, err := tlsgen.ChainExpiry(bundle, hostCert); err != nil {
		t.Fatalf("ChainExpiry of the replaced certificate: %s, %v", file, err)
	}

	removed, err := tlsgen.Distrust(bundle, hostCert, oldCA.CertPEM(), "old/ca.crt")
	if err != nil || len(removed) != 1 || removed[0].Subject.CommonName != "old" {
		t.Fatalf("Distrust(old) = %v, %v", removed, err)
	}
	if removed, err := tlsgen.Distrust(bundle, hostCert, oldCA.CertPEM(), "old/ca.crt"); err != nil || len(removed) != 0 {
		t.Fatalf("Distrust of a CA not trusted removed %v, %v", removed, err)
	}
	if got := trusted(t, dir); got != "new*" {
		t.Fatalf("after Distrust(old): %s", got)
	}
	// A clients' bundle has no host certificate beside it, and may not be
	// emptied either.
	clients := filepath.Join(dir, tlsgen.ClientsCAFile)
	if _, err := tlsgen.Trust(clients, oldCA.CertPEM(), "old/ca.crt"); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsgen.Distrust(clients, "", oldCA.CertPEM(), "old/ca.crt"); err == nil || !strings.Contains(err.Error(), "would hold no CA") {
		t.Fatalf("emptying a bundle: %v", err)
	}

	// What the bundle holds is what a TLS stack reads from it: while both
	// CAs are there, a certificate of either verifies against it.
	if _, err := tlsgen.Trust(bundle, oldCA.CertPEM(), "old/ca.crt"); err != nil {
		t.Fatal(err)
	}
	both, _ := os.ReadFile(bundle)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(both) {
		t.Fatal("the bundle is not PEM a TLS stack reads")
	}
	for _, ca := range []*tlsgen.CA{oldCA, newCA} {
		certPEM, _, err := ca.Issue("peer", []string{"127.0.0.1"}, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(certPEM)
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Fatalf("a certificate the %s CA signed, against the bundle: %v", leaf.Issuer.CommonName, err)
		}
	}
}
