package main

import (
	"path/filepath"
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
}
