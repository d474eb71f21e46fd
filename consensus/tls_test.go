package consensus_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// hostFiles writes the CA's certificate and a certificate and key it
// issued for a host at 127.0.0.1 into a folder of their own.
func hostFiles(t *testing.T, ca *tlsgen.CA, name string) *consensus.TLSFiles {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if err := ca.WriteHost(dir, name, []string{"127.0.0.1"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	return &consensus.TLSFiles{CAFile: filepath.Join(dir, tlsgen.CACertFile), CertFile: filepath.Join(dir, tlsgen.HostCertFile),
		KeyFile: filepath.Join(dir, tlsgen.HostKeyFile)}
}

func newCA(t *testing.T, name string) *tlsgen.CA {
	t.Helper()
	ca, err := tlsgen.NewCA(name, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
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
	ca, stranger := newCA(t, "swarm CA"), newCA(t, "another CA")
	peers := map[uint64]string{}
	for i := uint64(1); i <= 3; i++ {
		peers[i] = fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	}
	open := func(i uint64, dir string, files *consensus.TLSFiles, ready time.Duration) (*consensus.Node, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		return consensus.Open(ctx, consensus.Config{Dir: dir, ReplicaID: i, RaftAddress: peers[i], Peers: peers,
			Shards: 1, RTT: 10 * time.Millisecond, TLS: files, ReadyTimeout: ready})
	}
	type opened struct {
		n   *consensus.Node
		err error
	}
	results := make(chan opened, 2)
	for i := uint64(1); i <= 2; i++ {
		files, dir := hostFiles(t, ca, fmt.Sprint("host ", i)), t.TempDir() // made here: t.Fatal ends only this goroutine
		go func() {
			n, err := open(i, dir, files, 60*time.Second)
			results <- opened{n, err}
		}()
	}
	third, err := open(3, t.TempDir(), hostFiles(t, stranger, "host 3"), -1) // does not wait for a leader
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
