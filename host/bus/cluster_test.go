package bus_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/internal/tlsgen"
	"github.com/nats-io/nats.go"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Three embedded servers joined by routes replicate the envelope stream
// on all three: a stream left with one replica stops taking envelopes when
// that server dies.
func TestClusteredStreamIsReplicated(t *testing.T) {
	ports := []int{freePort(t), freePort(t), freePort(t)}
	buses := make([]*bus.Bus, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			buses[i], errs[i] = bus.Open(ctx, bus.Config{DataDir: t.TempDir(), Cluster: &bus.ClusterConfig{
				ServerName: fmt.Sprint("s", i), Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes}})
		}(i)
	}
	wg.Wait()
	for i, b := range buses {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer b.Close()
	}
	if r := buses[0].Replicas(); r != 3 {
		t.Fatalf("Replicas() = %d, want 3", r)
	}
	s, err := buses[1].JetStream().Stream(context.Background(), bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 {
		t.Fatalf("the stream has %d replicas, want 3", info.Config.Replicas)
	}

	// A client of the cluster opening the bus with default settings (a node
	// given --nats-url) keeps the stream's three replicas, and its
	// consumers follow them.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := bus.Connect(ctx, buses[2].Embedded().ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if r := client.Replicas(); r != 3 {
		t.Fatalf("a client's Replicas() = %d, want the stream's 3", r)
	}
	if info, err = s.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 {
		t.Fatalf("after a client opened the bus the stream has %d replicas, want 3", info.Config.Replicas)
	}
}

// A bus secret guards the embedded server's clients and routes: a client
// without it, or with another, is refused (a clear authorization error);
// servers with the same secret form their cluster; a server with another
// secret that routes to one of them is refused: no route forms on either
// side.
func TestBusSecretGuardsClientsAndRoutes(t *testing.T) {
	const secret = "correct-horse-battery-staple"
	ports := []int{freePort(t), freePort(t), freePort(t)}
	route := func(i int) string { return fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]) }
	open := func(i int, secret string, routes ...string) (*bus.Bus, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		return bus.Open(ctx, bus.Config{DataDir: t.TempDir(), Secret: secret, Cluster: &bus.ClusterConfig{
			ServerName: fmt.Sprint("s", i), Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes}})
	}
	buses := make([]*bus.Bus, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			buses[i], errs[i] = open(i, secret, route(1-i))
		}(i)
	}
	wg.Wait()
	for i, b := range buses {
		if errs[i] != nil {
			t.Fatalf("server %d with the secret: %v", i, errs[i])
		}
		defer b.Close()
	}
	url := buses[0].Embedded().ClientURL()
	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("a client without the secret was taken")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("a client without the secret: %v, want an authorization error", err)
	}
	if nc, err := nats.Connect(url, bus.SecretOption("another-secret-of-length")); err == nil {
		nc.Close()
		t.Fatal("a client with another secret was taken")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := bus.Join(ctx, url, secret, nil)
	if err != nil {
		t.Fatalf("a client with the secret: %v", err)
	}
	client.Close()

	// A server with another secret routes to server 0 and is routed to by
	// nobody: no route forms.
	before := buses[0].Embedded().Routes()
	if before == 0 {
		t.Fatal("the two servers with the secret have no route")
	}
	other, err := bus.StartEmbedded(t.TempDir(), bus.WithSecret("a-different-secret-here"),
		bus.WithCluster(bus.ClusterConfig{ServerName: "s2", Listen: fmt.Sprintf("127.0.0.1:%d", ports[2]), Routes: []string{route(0)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Shutdown()
	time.Sleep(2 * time.Second) // routes are tried at once and every second
	if n := other.Routes(); n != 0 {
		t.Fatalf("the server with another secret has %d routes", n)
	}
	if n := buses[0].Embedded().Routes(); n != before {
		t.Fatalf("server 0 has %d routes, %d before the server with another secret started", n, before)
	}
	if err := bus.CheckSecret("short"); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("a short secret: %v", err)
	}
}

// A NATS URL printed in an error shows no password.
func TestRedactedHidesPasswords(t *testing.T) {
	got := bus.Redacted("nats://swarmhost:s3cret-s3cret-s3cret@127.0.0.1:4222,nats://127.0.0.1:4223")
	if want := "nats://swarmhost:xxxxx@127.0.0.1:4222,nats://127.0.0.1:4223"; got != want {
		t.Fatalf("Redacted = %q, want %q", got, want)
	}
}

// twoCAs makes the cluster's CA and another, a stranger's.
func twoCAs(t *testing.T) (ca, other *tlsgen.CA) {
	t.Helper()
	ca, err := tlsgen.NewCA("swarm CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if other, err = tlsgen.NewCA("another CA", time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	return ca, other
}

// tlsFolder writes a CA's certificate and a certificate it issued for
// 127.0.0.1, with its key, into a new folder, and returns the paths of
// the three files.
func tlsFolder(t *testing.T, ca *tlsgen.CA) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if err := ca.WriteHost(dir, "server", []string{"127.0.0.1"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, tlsgen.CACertFile), filepath.Join(dir, tlsgen.HostCertFile), filepath.Join(dir, tlsgen.HostKeyFile)
}

// routeTLSFiles writes a CA's certificate and a certificate it issued for
// 127.0.0.1, and returns the route TLS configuration made of them.
func routeTLSFiles(t *testing.T, ca *tlsgen.CA) *tls.Config {
	t.Helper()
	cfg, err := bus.RouteTLS(tlsFolder(t, ca))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Routes with mutual TLS: two servers whose certificates the cluster's CA
// signed form their routes; a server whose certificate another CA signed,
// routing to one of them, gets none.
func TestRouteTLS(t *testing.T) {
	ca, other := twoCAs(t)
	ports := []int{freePort(t), freePort(t), freePort(t)}
	route := func(i int) string { return fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]) }
	start := func(i int, cfg *tls.Config, routes ...string) *bus.Embedded {
		e, err := bus.StartEmbedded(t.TempDir(), bus.WithRouteTLS(cfg), bus.WithCluster(bus.ClusterConfig{
			ServerName: fmt.Sprint("s", i), Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Shutdown)
		return e
	}
	s0 := start(0, routeTLSFiles(t, ca), route(1))
	s1 := start(1, routeTLSFiles(t, ca), route(0))
	deadline := time.Now().Add(20 * time.Second)
	for s0.Routes() == 0 || s1.Routes() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no route over TLS between two servers of the CA (%d, %d)", s0.Routes(), s1.Routes())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// nats-server opens a pool of routes to a peer, one after another: the
	// count is taken once it has stopped growing (it grew from 2 to 4 after
	// a first look on a fresh clone's run).
	before := s0.Routes()
	for still := time.Now(); time.Since(still) < 1500*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		if n := s0.Routes(); n != before {
			before, still = n, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the routes between two servers of the CA never settled (%d)", before)
		}
	}
	stranger := start(2, routeTLSFiles(t, other), route(0))
	time.Sleep(2 * time.Second) // routes are tried at once and every second
	if n := stranger.Routes(); n != 0 {
		t.Fatalf("the server of another CA has %d routes", n)
	}
	if n := s0.Routes(); n != before {
		t.Fatalf("server 0 has %d routes, %d before the server of another CA started", n, before)
	}
}

// bundleFolder writes a certificate ca issued for 127.0.0.1, with its key,
// and a ca.crt trusting ca and also, as during a move to a new CA, every
// CA of also; it returns the paths of the three files.
func bundleFolder(t *testing.T, ca *tlsgen.CA, also ...*tlsgen.CA) (caFile, certFile, keyFile string) {
	t.Helper()
	caFile, certFile, keyFile = tlsFolder(t, ca)
	for _, other := range also {
		if _, err := tlsgen.Trust(caFile, other.CertPEM(), "the other CA", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}

// In the middle of a move to a new CA every server trusts the old and the
// new (ca.crt holds both): a server with a certificate of the old CA and
// one with a certificate of the new form their routes, and a client with
// a certificate of the new CA is taken by the server of the old. Without
// the bundle neither would be (TestRouteTLS, TestClientTLS).
func TestTLSAcrossACAChange(t *testing.T) {
	oldCA, newCA := twoCAs(t)
	ports := []int{freePort(t), freePort(t)}
	route := func(i int) string { return fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]) }
	start := func(i int, ca, also *tlsgen.CA, routes ...string) *bus.Embedded {
		cfg, err := bus.RouteTLS(bundleFolder(t, ca, also))
		if err != nil {
			t.Fatal(err)
		}
		e, err := bus.StartEmbedded(t.TempDir(), bus.WithRouteTLS(cfg), bus.WithClientTLS(cfg.Clone()), bus.WithCluster(bus.ClusterConfig{
			ServerName: fmt.Sprint("s", i), Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Shutdown)
		return e
	}
	s0 := start(0, oldCA, newCA, route(1))
	s1 := start(1, newCA, oldCA, route(0))
	deadline := time.Now().Add(20 * time.Second)
	for s0.Routes() == 0 || s1.Routes() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no route between a server of the old CA and one of the new, both trusting both (%d, %d)", s0.Routes(), s1.Routes())
		}
		time.Sleep(50 * time.Millisecond)
	}
	clientTLS, err := bus.ClientTLS(bundleFolder(t, newCA, oldCA))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s0.ClientURL(), bus.TLSOption(clientTLS), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("a client of the new CA, to the server of the old: %v", err)
	}
	nc.Close()
}
