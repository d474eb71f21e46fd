package bus_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host/bus"
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
