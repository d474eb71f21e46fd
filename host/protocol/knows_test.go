package protocol_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// KnowsApplied is true exactly for the commands whose Applied the core has
// stepped (a shell drops such a command handed again from a snapshot).
func TestKnowsApplied(t *testing.T) {
	hostPK := envelope.EncodePublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey))
	core, err := protocol.New(protocol.Config{HostPK: hostPK})
	if err != nil {
		t.Fatal(err)
	}
	need := envelope.HashRef([]byte("a NEED this host never saw"))
	decide := protocol.Command{Op: "DECIDE", Need: need, Epoch: 1, Proposal: envelope.HashRef([]byte("bid")),
		WorkerPK: hostPK, Verifiers: []string{hostPK}, DecideID: envelope.HashRef([]byte("d1"))}
	release := protocol.Command{Op: "RELEASE", Need: need, Epoch: 1, Reason: "expired", MaxEpochs: 3}
	decide2 := decide
	decide2.Epoch, decide2.DecideID = 2, envelope.HashRef([]byte("d2"))
	finalize := protocol.Command{Op: "FINALIZE", Need: need, Epoch: 2, Commit: envelope.HashRef([]byte("c")),
		FinalizeID: envelope.HashRef([]byte("f"))}
	otherDecide := decide2
	otherDecide.DecideID = envelope.HashRef([]byte("another"))

	steps := []struct {
		cmd       protocol.Command
		nextEpoch uint64
	}{{decide, 0}, {release, 2}, {decide2, 0}, {finalize, 0}}
	for i, s := range steps {
		for _, later := range steps[i:] {
			if core.KnowsApplied(later.cmd) {
				t.Fatalf("before step %d the core knows %s e%d already", i, later.cmd.Op, later.cmd.Epoch)
			}
		}
		core.Step(&protocol.Applied{At: int64(1000 + i), Index: uint64(i + 1), Cmd: s.cmd, Fence: uint64(i + 1),
			NextEpoch: s.nextEpoch})
		core.Advance()
		if !core.KnowsApplied(s.cmd) {
			t.Fatalf("after stepping it the core does not know %s e%d", s.cmd.Op, s.cmd.Epoch)
		}
	}
	if core.KnowsApplied(otherDecide) {
		t.Fatal("the core knows a DECIDE of epoch 2 with another decide_id")
	}
}
