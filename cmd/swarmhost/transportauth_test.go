package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// The CLI's TLS to NATS: --nats-tls's folder checks the server against
// the URL it dials; a data folder's own cluster-tls checks the node's
// server against the first address of that node's certificate (the run
// file's URL is loopback, which the certificate need not name); a server
// named by --nats-url alone gets no TLS from the data folder.
func TestNATSTLSChoosesTheServerName(t *testing.T) {
	ca, err := tlsgen.NewCA("swarm CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if err := ca.WriteHost(filepath.Join(data, clusterTLSName), "host", []string{"node1.example", "10.0.0.7"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	client := filepath.Join(t.TempDir(), "client")
	if err := ca.WriteHost(client, "operator", []string{"operator"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}

	own, err := (&env{}).natsTLS(data, true)
	if err != nil {
		t.Fatal(err)
	}
	if own == nil || own.ServerName != "10.0.0.7" || len(own.Certificates) != 1 {
		t.Fatalf("the node's own folder: %+v, want the first IP address of its certificate as server name, and its certificate", own)
	}
	if other, err := (&env{}).natsTLS(data, false); err != nil || other != nil {
		t.Fatalf("--nats-url without --nats-tls: %v, %v; want no TLS", other, err)
	}
	given, err := (&env{natsTLSDir: client}).natsTLS(data, true)
	if err != nil {
		t.Fatal(err)
	}
	if given == nil || given.ServerName != "" || len(given.Certificates) != 1 {
		t.Fatalf("--nats-tls: %+v, want the URL's host checked and the client's certificate", given)
	}
	if _, err := (&env{natsTLSDir: t.TempDir()}).natsTLS(data, false); err == nil {
		t.Fatal("--nats-tls of a folder without ca.crt was taken")
	}
	if err := os.Remove(filepath.Join(client, tlsgen.HostKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := (&env{natsTLSDir: client}).natsTLS(data, false); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Fatalf("--nats-tls with host.crt and no host.key: %v, want it refused", err)
	}
	if err := os.Remove(filepath.Join(client, tlsgen.HostCertFile)); err != nil {
		t.Fatal(err)
	}
	if caOnly, err := (&env{natsTLSDir: client}).natsTLS(data, false); err != nil || len(caOnly.Certificates) != 0 {
		t.Fatalf("--nats-tls with ca.crt alone: %v, %v; want the CA and no client certificate", caOnly, err)
	}
}

// run refuses a cluster TLS certificate that has expired, naming it, and
// warns of one that expires within 30 days.
func TestCheckTLSExpiry(t *testing.T) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, err := tlsgen.NewCA("swarm CA", issued, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tls")
	if err := ca.WriteHost(dir, "host", []string{"127.0.0.1"}, issued, 90*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	files, err := clusterTLSFiles("", dir)
	if err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(dir, tlsgen.HostCertFile)
	for _, c := range []struct {
		now              time.Time
		warning, refused string
	}{
		{issued.Add(24 * time.Hour), "", ""},
		{issued.Add(80 * 24 * time.Hour), host + " expires on 2026-04-01, in 10 days", ""},
		{issued.Add(91 * 24 * time.Hour), "", host + " expired on 2026-04-01"},
	} {
		warning, err := checkTLSExpiry(files, c.now)
		switch {
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("at %v: %v, want it refused: %q", c.now, err, c.refused)
		case c.refused == "" && err != nil:
			t.Errorf("at %v: %v", c.now, err)
		case c.warning == "" && warning != "", c.warning != "" && !strings.Contains(warning, c.warning):
			t.Errorf("at %v: warning %q, want %q", c.now, warning, c.warning)
		}
	}
}

// A start refuses a host certificate that is not its key's (a replacement
// cut short), naming both files and what to do, and warns of a CA its
// ca.crt still trusts though it expired (left over from a move to a new
// CA).
func TestCheckTLSNamesAMismatchedKeyAndAnExpiredCA(t *testing.T) {
	now := time.Now()
	oldCA, err := tlsgen.NewCA("old CA", now.Add(-72*time.Hour), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	newCA, err := tlsgen.NewCA("new CA", now, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tls")
	if err := newCA.WriteHost(dir, "host", []string{"127.0.0.1"}, now, 90*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	files, err := clusterTLSFiles("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if warning, err := checkTLSExpiry(files, now); err != nil || warning != "" {
		t.Fatalf("a fresh folder: warning %q, %v", warning, err)
	}
	bundle, _ := os.ReadFile(files.CAFile)
	os.WriteFile(files.CAFile, append(bundle, oldCA.CertPEM()...), 0o644)
	warning, err := checkTLSExpiry(files, now)
	if err != nil || !strings.Contains(warning, "still trusts a CA that expired") || !strings.Contains(warning, `"old CA"`) ||
		!strings.Contains(warning, "tls trust remove") {
		t.Fatalf("a bundle with an expired CA: warning %q, %v", warning, err)
	}
	_, otherKey, err := newCA.Issue("another", []string{"127.0.0.1"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(files.KeyFile, otherKey, 0o600)
	if _, err := checkTLSExpiry(files, now); err == nil || !strings.Contains(err.Error(), files.CertFile+" and key "+files.KeyFile) ||
		!strings.Contains(err.Error(), "--replace") {
		t.Fatalf("a certificate with another's key: %v", err)
	}
}
