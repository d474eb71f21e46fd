package tlsgen_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// A host certificate the CA issued verifies against the CA for its
// addresses, for serving and for connecting, and a TLS handshake between
// two such hosts succeeds both ways; one issued by another CA fails it. A
// CA loaded back from its PEM issues the same way.
func TestIssuedCertificatesVerifyAndHandshake(t *testing.T) {
	now := time.Now()
	ca, err := tlsgen.NewCA("test CA", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := tlsgen.LoadCA(ca.CertPEM(), key)
	if err != nil {
		t.Fatal(err)
	}
	other, err := tlsgen.NewCA("other CA", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	pair := func(c *tlsgen.CA, name string) tls.Certificate {
		certPEM, keyPEM, err := c.Issue(name, []string{"127.0.0.1", "node1.example"}, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	server, client, stranger := pair(loaded, "server"), pair(ca, "client"), pair(other, "stranger")
	leaf, err := x509.ParseCertificate(server.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "node1.example"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Fatalf("for %s: %v", name, err)
		}
	}
	if leaf.NotAfter.After(now.Add(time.Hour + time.Second)) {
		t.Fatalf("valid until %v, asked for an hour", leaf.NotAfter)
	}
	handshake := func(clientCert tls.Certificate) error {
		l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		done := make(chan error, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			done <- c.(*tls.Conn).Handshake()
		}()
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{Certificates: []tls.Certificate{clientCert}, RootCAs: pool,
			ServerName: "127.0.0.1"})
		if err == nil {
			err = c.Handshake()
			c.Close()
		}
		if serr := <-done; err == nil {
			err = serr
		}
		return err
	}
	if err := handshake(client); err != nil {
		t.Fatalf("two hosts of the CA: %v", err)
	}
	if err := handshake(stranger); err == nil {
		t.Fatal("a host of another CA was let in")
	}
	if _, err := tlsgen.LoadCA(ca.CertPEM(), mustKey(t, other)); err == nil || !strings.Contains(err.Error(), "not the CA certificate's") {
		t.Fatalf("a CA loaded with another key: %v", err)
	}
	if _, _, err := ca.Issue("nobody", nil, now, time.Hour); err == nil {
		t.Fatal("a certificate for no address was issued")
	}
}

func mustKey(t *testing.T, ca *tlsgen.CA) []byte {
	t.Helper()
	k, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// WriteCA and WriteHost write their files (keys 0600) and overwrite none:
// a second WriteHost into the same folder is refused, naming the file.
func TestWriteFilesNeverOverwrites(t *testing.T) {
	ca, err := tlsgen.NewCA("test CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(dir, "host")
	if err := ca.WriteHost(host, "h", []string{"127.0.0.1"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{filepath.Join(dir, tlsgen.CAKeyFile): 0o600,
		filepath.Join(host, tlsgen.HostKeyFile): 0o600, filepath.Join(host, tlsgen.HostCertFile): 0o644} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s: %v, mode %v, want %v", path, err, st.Mode().Perm(), want)
		}
	}
	err = ca.WriteHost(host, "h", []string{"127.0.0.1"}, time.Now(), time.Hour)
	if err == nil || !strings.Contains(err.Error(), "ca.crt exists: not overwritten") {
		t.Fatalf("a second WriteHost: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(host, tlsgen.HostCertFile), filepath.Join(host, tlsgen.HostKeyFile)); err != nil {
		t.Fatalf("the files written do not load: %v", err)
	}
}
