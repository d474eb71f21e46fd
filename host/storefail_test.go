package host_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
)

// unansweringStore fails every Get of a blob put while it is armed, for
// window after the Put, as a JetStream object store does while its stream
// elects a leader (its own request timeout).
type unansweringStore struct {
	cas.Store
	window time.Duration
	armed  atomic.Bool
	failed atomic.Int64
	mu     sync.Mutex
	putAt  map[string]time.Time
}

func (s *unansweringStore) Put(ctx context.Context, data []byte) (string, error) {
	ref, err := s.Store.Put(ctx, data)
	if err == nil && s.armed.Load() {
		s.mu.Lock()
		if _, ok := s.putAt[ref]; !ok {
			s.putAt[ref] = time.Now()
		}
		s.mu.Unlock()
	}
	return ref, err
}

func (s *unansweringStore) Get(ctx context.Context, ref string) ([]byte, error) {
	s.mu.Lock()
	at, ok := s.putAt[ref]
	s.mu.Unlock()
	if ok && time.Since(at) < s.window {
		s.failed.Add(1)
		return nil, errors.New("nats: timeout")
	}
	return s.Store.Get(ctx, ref)
}

// A store that does not answer for a while is not an answer: every blob
// the flow puts (the NEED's input, the worker's result) is unreadable for
// two seconds after its Put. The host's evaluations that meet it are tried
// again (stepped as outcomes, the verify evaluation of the COMMIT failed and
// the NEED ended abandoned), and so are agent calls whose host calls met it
// (recorded, a verifier's trap on cas_get is an outcome replay, whose store
// answers, cannot reproduce). The NEED finalizes, no failed attempt is in
// the trail, and the trail replays with its agents run again.
func TestStoreFailuresAreNotOutcomes(t *testing.T) {
	dir := t.TempDir()
	store := &unansweringStore{window: 2 * time.Second, putAt: map[string]time.Time{}}
	h := openAt(t, dir, honest, host.WithStoreWrapper(host.Config{CheckpointEvery: -1}, func(s cas.Store) cas.Store {
		store.Store = s
		return store
	}))
	store.armed.Store(true)
	id := submit(t, h, 3, 3, 10_000)
	info := wait(t, h, id)
	if info.Phase != protocol.PhaseFinal {
		h.Close()
		t.Fatalf("the NEED ended %s (refusal %q): an evaluation the store failed was taken as an answer", info.Phase,
			info.Refusal)
	}
	if store.failed.Load() == 0 {
		h.Close()
		t.Fatal("the store never failed a read: the test no longer covers the retry")
	}
	for _, r := range trailLines(t, h, id) {
		if r.Kind == host.KindPolicy && strings.Contains(string(r.Envelope), "did not answer") {
			h.Close()
			t.Fatalf("a failed attempt was recorded: %s", r.Envelope)
		}
	}
	h.Close()
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir}); err != nil {
		t.Fatalf("replay: %v", err)
	}
}
