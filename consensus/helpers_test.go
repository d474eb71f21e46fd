package consensus_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/consensus/shard"
)

func ref(args ...any) string { return envelope.HashRef(fmt.Append(nil, args...)) }

func pk(i int) string {
	s := sha256.Sum256(fmt.Appendf(nil, "pk-%d", i))
	return hex.EncodeToString(s[:])
}

func needID(i int) string { return ref("need", i) }

func bucket(need string) uint8 {
	b, ok := shard.BucketOf(need)
	if !ok {
		panic("bad need " + need)
	}
	return b
}

func decide(need string, epoch uint64, v int) *shard.Decide {
	return &shard.Decide{Need: need, Bucket: bucket(need), Epoch: epoch,
		Proposal: ref("proposal", need, epoch, v), WorkerPK: pk(v),
		Verifiers: []string{pk(100 + v), pk(200 + v)}, DecideID: ref("decide", need, epoch, v)}
}

func release(need string, epoch uint64, reason string) *shard.Release {
	return &shard.Release{Need: need, Bucket: bucket(need), Epoch: epoch, Reason: reason}
}

func finalize(need string, epoch uint64, v int) *shard.Finalize {
	return &shard.Finalize{Need: need, Bucket: bucket(need), Epoch: epoch,
		Commit: ref("commit", need, epoch, v), FinalizeID: ref("finalize", need, epoch, v)}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustPropose(t testing.TB, n *consensus.Node, c shard.Command) shard.Result {
	t.Helper()
	res, err := n.Propose(ctxT(t, 30*time.Second), c)
	if err != nil {
		t.Fatalf("propose %s: %v", c.Encode(), err)
	}
	return res
}

func openSingle(t testing.TB, dir string, shards int) *consensus.Node {
	t.Helper()
	n, err := consensus.Open(ctxT(t, 30*time.Second), consensus.Config{Dir: dir, Shards: shards})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
