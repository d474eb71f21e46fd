package host_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/protocol"
)

// A DECIDE and a FINALIZE whose proposals fail (the shards unreachable
// for longer than an attempt) are asked again by the node, and the NEED
// still finalizes: before, the core's one request was dropped and the
// NEED waited until the node restarted.
func TestFailedProposalsAreAskedAgain(t *testing.T) {
	var mu sync.Mutex
	attempts := map[string]int{}
	cfg := host.WithProposeFault(host.Config{}, func(op string) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[op]++
		if (op == "DECIDE" || op == "FINALIZE") && attempts[op] == 1 {
			return errors.New("shards unreachable (test)")
		}
		return nil
	})
	h := openAt(t, t.TempDir(), honest, cfg)
	defer h.Close()
	id := submit(t, h, 3, 3, 30_000)
	info := wait(t, h, id)
	if info.Phase != protocol.PhaseFinal {
		t.Fatalf("NEED ended %s after failed proposals, want FINALIZED", info.Phase)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, op := range []string{"DECIDE", "FINALIZE"} {
		if attempts[op] < 2 {
			t.Errorf("%d %s proposals, want the one that failed and another", attempts[op], op)
		}
	}
}
