package host_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// A node on an external NATS server whose client port speaks mutual TLS
// (Config.NATSTLS, what run --nats-url --nats-tls DIR gives): with a
// client certificate the server's CA signed it finalizes a NEED; without
// TLS it does not start, and the error says to give --nats-tls.
func TestNodeOnAnExternalTLSServer(t *testing.T) {
	ca, err := tlsgen.NewCA("swarm CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	server, node := tlsFiles(t, ca, "127.0.0.1", time.Hour), tlsFiles(t, ca, "node", time.Hour)
	serve, err := bus.RouteTLS(server.CAFile, server.CertFile, server.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := bus.StartEmbedded(t.TempDir(), bus.WithClientTLS(serve))
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	client, err := bus.ClientTLS(node.CAFile, node.CertFile, node.KeyFile)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	plain, err := host.Open(ctx, host.Config{DataDir: t.TempDir(), NATSURL: emb.ClientURL(), WasmCacheDir: wasmCache})
	if err == nil {
		plain.Close()
		t.Fatal("a node without TLS started on a server that asks for it")
	}
	if !strings.Contains(err.Error(), "--nats-tls") {
		t.Fatalf("a node without TLS: %v, want the error to say --nats-tls", err)
	}

	h := openAt(t, t.TempDir(), honest, host.Config{NATSURL: emb.ClientURL(), NATSTLS: client, CheckpointEvery: -1})
	defer h.Close()
	if info := wait(t, h, submit(t, h, 3, 3, 10_000)); info.Phase != protocol.PhaseFinal {
		t.Fatalf("the NEED ended %s", info.Phase)
	}
}

// A clients' CA beside a host's TLS files (clients-ca.crt): the host's
// NATS client port takes the certificates it signed (tls client), besides
// the cluster CA's; a certificate of neither is refused. The Raft
// transport and the routes read ca.crt alone.
func TestClientsCAReachesTheClientPort(t *testing.T) {
	clusterCA, err := tlsgen.NewCA("swarm CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clientsCA, err := tlsgen.NewCA("clients CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := tlsgen.NewCA("a stranger's CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	files := tlsFiles(t, clusterCA, "127.0.0.1", time.Hour)
	if err := os.WriteFile(filepath.Join(filepath.Dir(files.CAFile), tlsgen.ClientsCAFile), clientsCA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	h := openAt(t, t.TempDir(), nil, host.Config{Consensus: consensus.Config{TLS: files}, CheckpointEvery: -1})
	defer h.Close()
	url := h.Bus.Embedded().ClientURL()
	connect := func(ca *tlsgen.CA) error {
		dir := filepath.Join(t.TempDir(), "client")
		if err := ca.WriteClient(dir, "operator", clusterCA.CertPEM(), time.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
		cfg, err := bus.ClientTLS(filepath.Join(dir, tlsgen.CACertFile), filepath.Join(dir, tlsgen.HostCertFile), filepath.Join(dir, tlsgen.HostKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(url, bus.TLSOption(cfg), nats.Timeout(5*time.Second))
		if err == nil {
			nc.Close()
		}
		return err
	}
	if err := connect(clientsCA); err != nil {
		t.Fatalf("a client certificate of the clients' CA: %v", err)
	}
	if err := connect(stranger); err == nil {
		t.Fatal("a client certificate of a stranger's CA was taken")
	}
	if err := connect(clusterCA); err != nil {
		t.Fatalf("a client certificate of the cluster's CA: %v", err)
	}
}
