package host_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// A node with cluster TLS serves when its first certificate expires
// (swarmhost_tls_expiry_timestamp_seconds), and its health fails, naming
// the certificate, once that time has passed.
func TestHealthFailsOnceTheClusterCertificateExpired(t *testing.T) {
	now := time.Now()
	ca, err := tlsgen.NewCA("swarm CA", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	files := tlsFiles(t, ca, "127.0.0.1", 30*time.Minute)
	h := openAt(t, t.TempDir(), nil, host.Config{MetricsAddr: "127.0.0.1:0", Consensus: consensus.Config{TLS: files}})
	defer h.Close()
	if err := h.Health(); err != nil {
		t.Fatalf("Health() = %v before the certificate expired", err)
	}
	resp, err := http.Get(h.Observe.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	end, err := tlsgen.NotAfter(files.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	var served float64 = -1
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "swarmhost_tls_expiry_timestamp_seconds "); ok {
			served, _ = strconv.ParseFloat(v, 64)
		}
	}
	if served != float64(end.Unix()) {
		t.Fatalf("/metrics serves %v as the expiry, the certificate ends at %d", served, end.Unix())
	}
	defer host.SetHealthClock(func() time.Time { return end.Add(time.Second) })()
	err = h.Health()
	if err == nil || !strings.Contains(err.Error(), files.CertFile+" expired") {
		t.Fatalf("Health() = %v after the host certificate expired, want it named", err)
	}
}

// tlsFiles writes a certificate the CA issued for addr, valid for
// validFor, with its key and the CA's certificate, into a new folder.
func tlsFiles(t *testing.T, ca *tlsgen.CA, addr string, validFor time.Duration) *consensus.TLSFiles {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if err := ca.WriteHost(dir, "host "+addr, []string{addr}, time.Now(), validFor); err != nil {
		t.Fatal(err)
	}
	return &consensus.TLSFiles{CAFile: filepath.Join(dir, tlsgen.CACertFile), CertFile: filepath.Join(dir, tlsgen.HostCertFile),
		KeyFile: filepath.Join(dir, tlsgen.HostKeyFile)}
}
