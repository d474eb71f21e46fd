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
	"syscall"
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

	added, err := tlsgen.Trust(bundle, newCA.CertPEM(), "new/ca.crt", time.Now())
	if err != nil || len(added) != 1 || added[0].Subject.CommonName != "new" {
		t.Fatalf("Trust(new) = %v, %v", added, err)
	}
	if added, err := tlsgen.Trust(bundle, append(newCA.CertPEM(), oldCA.CertPEM()...), "both", time.Now()); err != nil || len(added) != 0 {
		t.Fatalf("Trust of CAs already trusted added %v, %v", added, err)
	}
	if got := trusted(t, dir); got != "old*,new" {
		t.Fatalf("after Trust(new): %s", got)
	}
	hostPEM, _ := os.ReadFile(hostCert)
	if _, err := tlsgen.Trust(bundle, hostPEM, "host.crt", time.Now()); err == nil || !strings.Contains(err.Error(), "host.crt: certificate 1 (CN=h) is not a CA's") {
		t.Fatalf("Trust of a host certificate: %v", err)
	}
	if _, err := tlsgen.Trust(bundle, []byte("not PEM"), "junk", time.Now()); err == nil || !strings.Contains(err.Error(), "junk: no PEM certificate") {
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
	if _, err := tlsgen.Trust(clients, oldCA.CertPEM(), "old/ca.crt", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsgen.Distrust(clients, "", oldCA.CertPEM(), "old/ca.crt"); err == nil || !strings.Contains(err.Error(), "would hold no CA") {
		t.Fatalf("emptying a bundle: %v", err)
	}

	// What the bundle holds is what a TLS stack reads from it: while both
	// CAs are there, a certificate of either verifies against it.
	if _, err := tlsgen.Trust(bundle, oldCA.CertPEM(), "old/ca.crt", time.Now()); err != nil {
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

// Rewriting a folder's files keeps what the node needs to read them: their
// mode (and, run as root, their owner: a node running as a service user
// must still read a file an operator replaced as root). A replacement
// needs a folder that has a certificate to replace.
func TestReplaceKeepsModesAndNeedsAFolder(t *testing.T) {
	oldCA, newCA := mustCA(t, "old"), mustCA(t, "new")
	dir := filepath.Join(t.TempDir(), "cluster-tls")
	if err := newCA.ReplaceHost(dir, "h", []string{"127.0.0.1"}, time.Now(), time.Hour); err == nil || !strings.Contains(err.Error(), "does not hold a host's certificate") {
		t.Fatalf("ReplaceHost into a folder with none: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused replacement made %s", dir)
	}
	if err := oldCA.WriteHost(dir, "h", []string{"127.0.0.1"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{tlsgen.CACertFile: 0o640, tlsgen.HostCertFile: 0o640, tlsgen.HostKeyFile: 0o400}
	for name, mode := range modes {
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := newCA.ReplaceHost(dir, "h", []string{"127.0.0.1"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	for name, mode := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s is %v after the replacement, was %v", name, fi.Mode().Perm(), mode)
		}
	}
	t.Run("owner", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("only root can give a file to another owner")
		}
		const nobody = 65534
		for name := range modes {
			if err := os.Chown(filepath.Join(dir, name), nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
		if err := oldCA.ReplaceHost(dir, "h", []string{"127.0.0.1"}, time.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
		for name := range modes {
			fi, _ := os.Stat(filepath.Join(dir, name))
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody || st.Gid != nobody {
				t.Errorf("%s belongs to %d:%d after the replacement, was %d:%d", name, st.Uid, st.Gid, nobody, nobody)
			}
		}
	})
}

// A bundle is rewritten only when it holds certificates alone (anything
// else would be lost), each once; an expired CA is not taken; a client's
// folder (its certificate only connects) may drop the CA of its own
// certificate, since its ca.crt names the servers'.
func TestTrustRefusesWhatItWouldLose(t *testing.T) {
	oldCA, newCA := mustCA(t, "old"), mustCA(t, "new")
	dir := t.TempDir()
	bundle := filepath.Join(dir, tlsgen.CACertFile)
	os.WriteFile(bundle, append(append(oldCA.CertPEM(), oldCA.CertPEM()...), "# the old CA\n"...), 0o644)
	if _, err := tlsgen.Trust(bundle, newCA.CertPEM(), "new", time.Now()); err == nil || !strings.Contains(err.Error(), "holds more than PEM certificates") {
		t.Fatalf("Trust into a bundle with a note: %v", err)
	}
	os.WriteFile(bundle, append(oldCA.CertPEM(), oldCA.CertPEM()...), 0o644)
	if _, err := tlsgen.Trust(bundle, newCA.CertPEM(), "new", time.Now()); err != nil {
		t.Fatal(err)
	}
	if cas, err := tlsgen.ReadTrust(bundle, ""); err != nil || len(cas) != 2 {
		t.Fatalf("the rewritten bundle holds %d CAs (%v), want old once and new", len(cas), err)
	}
	expired, err := tlsgen.NewCA("expired", time.Now().Add(-48*time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlsgen.Trust(bundle, expired.CertPEM(), "expired/ca.crt", time.Now()); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Trust of an expired CA: %v", err)
	}

	client := filepath.Join(t.TempDir(), "client")
	if err := oldCA.WriteClient(client, "c", oldCA.CertPEM(), time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	clientBundle := filepath.Join(client, tlsgen.CACertFile)
	if _, err := tlsgen.Trust(clientBundle, newCA.CertPEM(), "new", time.Now()); err != nil {
		t.Fatal(err)
	}
	if removed, err := tlsgen.Distrust(clientBundle, filepath.Join(client, tlsgen.HostCertFile), oldCA.CertPEM(), "old"); err != nil || len(removed) != 1 {
		t.Fatalf("a client's folder dropping the servers' old CA (its own certificate's too): %v, %v", removed, err)
	}
	if err := newCA.ReplaceClient(client, "c", newCA.CertPEM(), time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	leaf, err := tlsgen.FirstCertificate(filepath.Join(client, tlsgen.HostCertFile))
	if err != nil || leaf.Issuer.CommonName != "new" || tlsgen.Serves(leaf) {
		t.Fatalf("the replaced client certificate: %+v, %v; want one of the new CA that only connects", leaf, err)
	}
}
