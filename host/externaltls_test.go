package host_test

import (
	"context"
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
