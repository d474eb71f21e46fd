package host_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
)

// A node whose shards snapshot often restarts: each replica is restored
// from its snapshot and hands every command of it again (Recovered), then
// applies the log after it again, and the node drops the commands its core
// knows from its trail instead of recording them a second time (whether
// the last snapshot covers all of them depends on when dragonboat took
// it); its NEEDs are still final and the trail replays.
func TestRestartFromSnapshotRecordsNoCommandTwice(t *testing.T) {
	dir := t.TempDir()
	cfg := host.Config{Consensus: consensus.Config{Shards: 1, SnapshotEntries: 4}, CheckpointEvery: -1}
	h := openAt(t, dir, honest, cfg)
	var ids []string
	for i := 0; i < 4; i++ {
		id, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: items, K: 3, N: 3,
			BidWindowMS: 1000, LeaseMS: 10_000, MaxEpochs: 3, DeadlineMS: 60_000, Nonce: fmt.Sprint(t.Name(), i)})
		if err != nil {
			h.Close()
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		if info := wait(t, h, id); info.Phase != protocol.PhaseFinal {
			h.Close()
			t.Fatalf("NEED %s ended %s: %s", id, info.Phase, info.Abandoned)
		}
	}
	time.Sleep(300 * time.Millisecond)
	h.Close()
	before := consensusLines(t, h, ids)

	h = openAt(t, dir, honest, cfg)
	time.Sleep(2 * time.Second) // the restored replica's feed is read and stepped
	for _, id := range ids {
		if info, ok := h.Need(id); !ok || info.Phase != protocol.PhaseFinal {
			h.Close()
			t.Fatalf("after the restart NEED %s is %+v", id, info)
		}
	}
	h.Close()
	if after := consensusLines(t, h, ids); after != before {
		t.Fatalf("the NEEDs' trails hold %d consensus lines after the restart, %d before: commands recorded twice", after, before)
	}
	verifyTrail(t, h)
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir, NoRerun: true}); err != nil {
		t.Fatalf("replay after the restart: %v", err)
	}
}

// consensusLines counts the consensus lines of the threads.
func consensusLines(t *testing.T, h *host.Host, threads []string) int {
	n := 0
	for _, id := range threads {
		for _, r := range trailLines(t, h, id) {
			if r.Kind == host.KindConsensus {
				n++
			}
		}
	}
	return n
}
