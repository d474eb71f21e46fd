package protocol

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// rebuiltDigest is the CHECKPOINT's decisions digest as the core computed
// it before it kept the list: every thread's decisions formatted, sorted
// and hashed as JSON. Old trails' CHECKPOINTs carry it.
func rebuiltDigest(c *Core) (int, string) {
	var decided []string
	for _, id := range c.Threads() {
		for e, d := range c.threads[id].decisions {
			decided = append(decided, fmt.Sprintf("%s %d %d", id, e, d.Fence))
		}
	}
	sort.Strings(decided)
	list, _ := json.Marshal(decided)
	return len(decided), envelope.HashRef(list)
}

// The kept list gives the digest rebuilding it gives, whatever the order
// and interleaving of decisions and checkpoints, and a decision applied
// again counts once.
func TestDecidedListDigestIsTheRebuiltOne(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c, err := New(Config{HostPK: envelope.EncodePublicKey(make([]byte, 32))})
		if err != nil {
			t.Fatal(err)
		}
		needs := rapid.SliceOfNDistinct(rapid.Custom(func(t *rapid.T) string {
			return envelope.HashRef([]byte(rapid.String().Draw(t, "seed")))
		}), 1, 6, rapid.ID[string]).Draw(t, "needs")
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			if rapid.IntRange(0, 4).Draw(t, "checkpoint?") == 0 {
				n, d := c.decided.digest()
				wn, wd := rebuiltDigest(c)
				if n != wn || d != wd {
					t.Fatalf("after %d steps: kept list %d %s, rebuilt %d %s", i, n, d, wn, wd)
				}
				continue
			}
			need := rapid.SampledFrom(needs).Draw(t, "need")
			epoch := uint64(rapid.IntRange(1, 3).Draw(t, "epoch"))
			fence := rapid.Uint64Range(1, 1<<53).Draw(t, "fence")
			c.applied(&Applied{At: int64(i), Index: uint64(i + 1), Fence: fence, Cmd: Command{Op: "DECIDE", Need: need,
				Epoch: epoch, Proposal: envelope.HashRef([]byte("p")), WorkerPK: "w", Verifiers: []string{"v"}, DecideID: "d"}})
		}
		n, d := c.decided.digest()
		if wn, wd := rebuiltDigest(c); n != wn || d != wd {
			t.Fatalf("at the end: kept list %d %s, rebuilt %d %s", n, d, wn, wd)
		}
	})
}

// BenchmarkDecisionsDigest is a CHECKPOINT's decisions digest on a core
// holding 100,000 decisions (a node's weeks), 100 new since the last one:
// rebuilt from every thread (as before session 8) against the kept list.
func BenchmarkDecisionsDigest(b *testing.B) {
	c, err := New(Config{HostPK: envelope.EncodePublicKey(make([]byte, 32))})
	if err != nil {
		b.Fatal(err)
	}
	decide := func(i int) {
		c.applied(&Applied{At: int64(i), Index: uint64(i + 1), Fence: uint64(i + 1), Cmd: Command{Op: "DECIDE",
			Need: envelope.HashRef([]byte(fmt.Sprint(i))), Epoch: 1, DecideID: "d"}})
	}
	for i := 0; i < 100_000; i++ {
		decide(i)
	}
	c.decided.digest()
	next := 100_000
	for _, bc := range []struct {
		name   string
		digest func() (int, string)
	}{{"rebuilt", func() (int, string) { return rebuiltDigest(c) }}, {"kept", c.decided.digest}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for j := 0; j < 100; j++ {
					decide(next)
					next++
				}
				b.StartTimer()
				bc.digest()
			}
		})
	}
}
