package tlsgen_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// ChainExpiry names what stops being valid first: a host certificate
// asked to outlive its CA ends with it, one asked for less ends first; in
// a bundle of two CAs the one that signed the host's counts; a host
// certificate no CA of the file signed, and a file with no certificate,
// are errors naming the file.
func TestChainExpiry(t *testing.T) {
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	ca, err := tlsgen.NewCA("ca", now, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ca.WriteHost(dir, "h", []string{"127.0.0.1"}, now, 10*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	caFile, hostFile := filepath.Join(dir, tlsgen.CACertFile), filepath.Join(dir, tlsgen.HostCertFile)
	file, at, err := tlsgen.ChainExpiry(caFile, hostFile)
	if err != nil {
		t.Fatal(err)
	}
	if file != hostFile || !at.Equal(now.Add(10*24*time.Hour).Truncate(time.Second)) {
		t.Fatalf("first expiry %s at %v, want the host's at %v", file, at, now.Add(10*24*time.Hour))
	}
	long := filepath.Join(t.TempDir(), "long")
	if err := ca.WriteHost(long, "h", []string{"127.0.0.1"}, now, 90*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if file, at, err = tlsgen.ChainExpiry(caFile, filepath.Join(long, tlsgen.HostCertFile)); err != nil || file != caFile ||
		!at.Equal(now.Add(30*24*time.Hour).Truncate(time.Second)) {
		t.Fatalf("a host certificate asked to outlive its CA: %s at %v (%v), want the CA's end", file, at, err)
	}

	// A rotation: the old CA first in the bundle, the host's from the new.
	newCA, err := tlsgen.NewCA("new ca", now, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rotated := filepath.Join(t.TempDir(), "rotated")
	if err := newCA.WriteHost(rotated, "h", []string{"127.0.0.1"}, now, 90*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(rotated, "bundle.crt")
	if err := os.WriteFile(bundle, append(ca.CertPEM(), newCA.CertPEM()...), 0o644); err != nil {
		t.Fatal(err)
	}
	rotatedHost := filepath.Join(rotated, tlsgen.HostCertFile)
	if file, at, err = tlsgen.ChainExpiry(bundle, rotatedHost); err != nil || file != rotatedHost ||
		!at.Equal(now.Add(90*24*time.Hour).Truncate(time.Second)) {
		t.Fatalf("a host of the new CA with a bundle: %s at %v (%v), want the host's own end, not the old CA's", file, at, err)
	}
	if _, _, err := tlsgen.ChainExpiry(caFile, rotatedHost); err == nil || !strings.Contains(err.Error(), rotatedHost) {
		t.Fatalf("a host certificate another CA signed: %v, want an error naming it", err)
	}
	bad := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(bad, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tlsgen.ChainExpiry(bad, hostFile); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("a file with no certificate: %v, want an error naming it", err)
	}
}

// A client's certificate connects and serves nothing: it verifies against
// its CA for client use, not for server use, and names no address.
func TestClientCertificatesOnlyConnect(t *testing.T) {
	ca, err := tlsgen.NewCA("clients", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.IssueClient("operator", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("as a client: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Fatal("a client's certificate verifies for server use")
	}
	if len(cert.IPAddresses)+len(cert.DNSNames) != 0 {
		t.Fatalf("a client's certificate names addresses: %v %v", cert.IPAddresses, cert.DNSNames)
	}
}
