package tlsgen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// FirstExpiry names the certificate that stops being valid first: a host
// certificate asked to outlive its CA ends with it, one asked for less
// ends first; a file with no certificate is named in the error.
func TestFirstExpiry(t *testing.T) {
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
	file, at, err := tlsgen.FirstExpiry(caFile, hostFile)
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
	if file, at, err = tlsgen.FirstExpiry(caFile, filepath.Join(long, tlsgen.HostCertFile)); err != nil || !at.Equal(now.Add(30*24*time.Hour).Truncate(time.Second)) {
		t.Fatalf("a host certificate asked to outlive its CA: %s at %v (%v), want the CA's end", file, at, err)
	}
	bad := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(bad, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tlsgen.FirstExpiry(caFile, bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("a file with no certificate: %v, want an error naming it", err)
	}
}
