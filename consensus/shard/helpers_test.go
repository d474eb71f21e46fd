package shard_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus/shard"
)

// ref returns a deterministic ref named by its arguments.
func ref(args ...any) string { return envelope.HashRef(fmt.Append(nil, args...)) }

// pk returns a deterministic public key.
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

// decide is the DECIDE of variant v for (need, epoch).
func decide(need string, epoch uint64, v int) *shard.Decide {
	return &shard.Decide{Need: need, Bucket: bucket(need), Epoch: epoch,
		Proposal: ref("proposal", need, epoch, v), WorkerPK: pk(v),
		Verifiers: []string{pk(100 + v), pk(200 + v)}, DecideID: ref("decide", need, epoch, v)}
}

func release(need string, epoch uint64, reason string, maxEpochs uint64) *shard.Release {
	return &shard.Release{Need: need, Bucket: bucket(need), Epoch: epoch, Reason: reason, MaxEpochs: maxEpochs}
}

func finalize(need string, epoch uint64, v int) *shard.Finalize {
	return &shard.Finalize{Need: need, Bucket: bucket(need), Epoch: epoch,
		Commit: ref("commit", need, epoch, v), FinalizeID: ref("finalize", need, epoch, v)}
}

// replica is a Machine with its next log index, for tests.
type replica struct {
	m    *shard.Machine
	next uint64
}

func newReplica() *replica { return &replica{m: shard.New(), next: 1} }

// apply applies a command at the next index.
func (r *replica) apply(c shard.Command) shard.Result { return r.applyBytes(c.Encode()) }

func (r *replica) applyBytes(b []byte) shard.Result {
	res := r.m.Apply(r.next, b)
	r.next++
	return res
}

// mustAccept applies commands that must all be accepted.
func (r *replica) mustAccept(t testing.TB, cmds ...shard.Command) {
	t.Helper()
	for _, c := range cmds {
		if res := r.apply(c); !res.Accepted {
			t.Fatalf("%s not accepted: %s %s", c.Encode(), res.Reason, res.Detail)
		}
	}
}

func save(t testing.TB, m *shard.Machine) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
