package consensus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/consensus"
)

// testCA is a certificate authority for a test's hosts.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// hostFiles writes the CA's certificate and a certificate and key for a
// host at 127.0.0.1 into a folder of their own.
func (ca *testCA) hostFiles(t *testing.T, serial int64) *consensus.TLSFiles {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: fmt.Sprint("host ", serial)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := &consensus.TLSFiles{CAFile: filepath.Join(dir, "ca.crt"), CertFile: filepath.Join(dir, "host.crt"),
		KeyFile: filepath.Join(dir, "host.key")}
	for path, b := range map[string][]byte{files.CAFile: ca.pem,
		files.CertFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		files.KeyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Three hosts on real TCP with mutual TLS, each certificate signed by the
// cluster's CA, elect leaders and decide. A host whose certificate another
// CA signed is heard by nobody: the other two decide without it, and it
// never sees a leader.
func TestMutualTLSRaft(t *testing.T) {
	ca, stranger := newTestCA(t, "swarm CA"), newTestCA(t, "another CA")
	peers := map[uint64]string{}
	for i := uint64(1); i <= 3; i++ {
		peers[i] = fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	}
	open := func(i uint64, files *consensus.TLSFiles, ready time.Duration) (*consensus.Node, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		return consensus.Open(ctx, consensus.Config{Dir: t.TempDir(), ReplicaID: i, RaftAddress: peers[i], Peers: peers,
			Shards: 1, RTT: 10 * time.Millisecond, TLS: files, ReadyTimeout: ready})
	}
	type opened struct {
		n   *consensus.Node
		err error
	}
	results := make(chan opened, 2)
	for i := uint64(1); i <= 2; i++ {
		go func() {
			n, err := open(i, ca.hostFiles(t, int64(i+1)), 60*time.Second)
			results <- opened{n, err}
		}()
	}
	third, err := open(3, stranger.hostFiles(t, 4), -1) // does not wait for a leader
	if err != nil {
		t.Fatalf("host 3 (another CA) did not start its replicas: %v", err)
	}
	defer third.Close()
	var nodes []*consensus.Node
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("a host with the cluster's CA: %v", r.err)
		}
		defer r.n.Close()
		nodes = append(nodes, r.n)
	}
	if res := mustPropose(t, nodes[0], decide(needID(1), 1, 1)); !res.Accepted {
		t.Fatalf("DECIDE over mutual TLS: %+v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := third.WaitReady(ctx); err == nil {
		t.Fatal("the host whose certificate another CA signed saw a leader: it was let in")
	}
}
