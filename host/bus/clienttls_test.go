package bus_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// clientTLSFiles writes a certificate the CA issued and the CA's own, and
// returns the client TLS configuration made of them (withCert false: the
// CA alone).
func clientTLSFiles(t *testing.T, ca *tlsgen.CA, withCert bool) *tls.Config {
	t.Helper()
	caFile, cert, key := tlsFolder(t, ca)
	if !withCert {
		cert, key = "", ""
	}
	cfg, err := bus.ClientTLS(caFile, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A node's embedded server with client TLS: its own connection (in
// process) needs none; a client over TCP is taken only with TLS and a
// certificate the CA signed; a plain client, one without a certificate,
// and one whose certificate another CA signed are refused, and the hint
// names --nats-tls. A second bus on that server through its URL, with the
// client TLS, publishes.
func TestClientTLS(t *testing.T) {
	ca, other := twoCAs(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir(), ClientTLS: routeTLSFiles(t, ca)})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(b *bus.Bus, n uint64) {
		t.Helper()
		e, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: n,
			Payload: map[string]any{"nonce": n, "k": 1, "n": 1}}, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Publish(ctx, e); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	publish(node, 1)

	url := node.Embedded().ClientURL()
	refused := []struct {
		name string
		opts []nats.Option
		hint string
	}{
		{"a plain client", nil, "give --nats-tls"},
		{"a client without a certificate", []nats.Option{bus.TLSOption(clientTLSFiles(t, ca, false))}, "host.crt and host.key of a CA the server takes"},
		{"a client whose certificate another CA signed", []nats.Option{bus.TLSOption(clientTLSFiles(t, other, true))}, "the ca.crt of --nats-tls"},
	}
	for _, c := range refused {
		nc, err := nats.Connect(url, append(c.opts, nats.Timeout(5*time.Second))...)
		if err == nil {
			nc.Close()
			t.Fatalf("%s was taken", c.name)
		}
		if hint := bus.TLSHint(err, len(c.opts) > 0); !strings.Contains(hint, c.hint) {
			t.Errorf("%s: %v; the hint %q does not say %q", c.name, err, hint, c.hint)
		}
	}
	client, err := bus.Open(ctx, bus.Config{URL: url, ClientTLS: clientTLSFiles(t, ca, true)})
	if err != nil {
		t.Fatalf("a client with a certificate the CA signed: %v", err)
	}
	defer client.Close()
	publish(client, 2)
	if _, err := bus.Join(ctx, url, "", nil); err == nil || !strings.Contains(err.Error(), "--nats-tls") {
		t.Fatalf("joined without TLS: %v, want a refusal naming --nats-tls", err)
	}
}

// The client port's TLS is mutual whatever the configuration given says:
// one without the CA of its clients is refused, and one that asks no
// client certificate (ClientAuth unset) is made to.
func TestClientTLSIsAlwaysMutual(t *testing.T) {
	ca, _ := twoCAs(t)
	serve := routeTLSFiles(t, ca)
	noCAs := serve.Clone()
	noCAs.ClientCAs = nil
	if e, err := bus.StartEmbedded(t.TempDir(), bus.WithClientTLS(noCAs)); err == nil {
		e.Shutdown()
		t.Fatal("client TLS without the clients' CA was taken")
	} else if !strings.Contains(err.Error(), "ClientCAs") {
		t.Fatalf("client TLS without the clients' CA: %v, want it named", err)
	}
	lax := serve.Clone()
	lax.ClientAuth = tls.NoClientCert
	e, err := bus.StartEmbedded(t.TempDir(), bus.WithClientTLS(lax))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	if nc, err := nats.Connect(e.ClientURL(), bus.TLSOption(clientTLSFiles(t, ca, false)), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("a client without a certificate was taken by a server given ClientAuth NoClientCert")
	}
	nc, err := nats.Connect(e.ClientURL(), bus.TLSOption(clientTLSFiles(t, ca, true)), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("a client with a certificate the CA signed: %v", err)
	}
	nc.Close()
}
