package host_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	serverDir, clientDir := filepath.Join(t.TempDir(), "server"), filepath.Join(t.TempDir(), "client")
	if err := ca.WriteHost(serverDir, "nats", []string{"127.0.0.1"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteHost(clientDir, "node", []string{"node"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	serve, err := bus.RouteTLS(filepath.Join(serverDir, tlsgen.CACertFile), filepath.Join(serverDir, tlsgen.HostCertFile),
		filepath.Join(serverDir, tlsgen.HostKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	emb, err := bus.StartEmbedded(t.TempDir(), bus.WithClientTLS(serve))
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	client, err := bus.ClientTLS(filepath.Join(clientDir, tlsgen.CACertFile), filepath.Join(clientDir, tlsgen.HostCertFile),
		filepath.Join(clientDir, tlsgen.HostKeyFile))
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
