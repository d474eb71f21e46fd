package consensus_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// benchClients is the number of concurrent proposers in the DECIDE
// benchmarks.
const benchClients = 64

// rawShardBase numbers the raw shards started next to the adapter's.
const rawShardBase = 1000

// nopSM is a state machine that applies nothing and answers nothing.
type nopSM struct{}

func (nopSM) Update(sm.Entry) (sm.Result, error)                                        { return sm.Result{Value: 1}, nil }
func (nopSM) Lookup(any) (any, error)                                                   { return nil, nil }
func (nopSM) SaveSnapshot(io.Writer, sm.ISnapshotFileCollection, <-chan struct{}) error { return nil }
func (nopSM) RecoverFromSnapshot(io.Reader, []sm.SnapshotFile, <-chan struct{}) error   { return nil }
func (nopSM) Close() error                                                              { return nil }

// benchHost opens a single host as production does (16 shards, default
// settings) and starts, on the same NodeHost, 16 more single-replica shards
// running nopSM with the adapter's replica settings. Both DECIDE benchmarks
// run on this same set-up, so each has 16 idle shards beside its own.
func benchHost(b *testing.B) *consensus.Node {
	b.Helper()
	n, err := consensus.Open(ctxT(b, time.Minute), consensus.Config{Dir: b.TempDir(), Shards: consensus.DefaultShards})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	go func() { // the host's core reads the applied stream; so do we
		for range n.Applied() {
		}
	}()
	nh := n.NodeHostForTest()
	for s := uint64(1); s <= consensus.DefaultShards; s++ {
		rc := config.Config{ReplicaID: 1, ShardID: rawShardBase + s, CheckQuorum: true, PreVote: true,
			ElectionRTT: 10, HeartbeatRTT: 1, SnapshotEntries: 10_000, CompactionOverhead: 5_000,
			OrderedConfigChange: true}
		members := map[uint64]dragonboat.Target{1: nh.RaftAddress()}
		if err := nh.StartReplica(members, false, func(uint64, uint64) sm.IStateMachine { return nopSM{} }, rc); err != nil {
			b.Fatal(err)
		}
	}
	ctx := ctxT(b, time.Minute)
	for s := uint64(1); s <= consensus.DefaultShards; s++ {
		for {
			if _, _, ok, err := nh.GetLeaderID(rawShardBase + s); err == nil && ok {
				break
			}
			if ctx.Err() != nil {
				b.Fatalf("raw shard %d: no leader", rawShardBase+s)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return n
}

// benchDecides returns k DECIDEs of distinct NEEDs (so all are accepted).
func benchDecides(k int) []*shard.Decide {
	out := make([]*shard.Decide, k)
	for i := range out {
		out[i] = decide(ref("bench-need", i), 1, 1)
	}
	return out
}

// runProposers runs b.N calls of one over benchClients goroutines and
// reports throughput and latency percentiles.
func runProposers(b *testing.B, one func(ctx context.Context, i int) error) {
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	ctx := ctxT(b, 10*time.Minute)
	b.SetParallelism((benchClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := int(next.Add(1) - 1)
			t0 := time.Now()
			if err := one(ctx, i); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkDecideAdapter: Node.Decide (parse, route by bucket, propose,
// apply the shard rules, answer) from 64 goroutines on a single host.
func BenchmarkDecideAdapter(b *testing.B) {
	n := benchHost(b)
	cmds := benchDecides(b.N)
	runProposers(b, func(ctx context.Context, i int) error {
		res, err := n.Decide(ctx, cmds[i])
		if err == nil && !res.Accepted {
			err = fmt.Errorf("DECIDE %d rejected: %+v", i, res)
		}
		return err
	})
}

// BenchmarkDecideRawSyncPropose: dragonboat's SyncPropose of the same
// encoded DECIDEs, routed to 16 shards the same way, applied by a state
// machine that does nothing, on the same NodeHost settings.
func BenchmarkDecideRawSyncPropose(b *testing.B) {
	n := benchHost(b)
	nh := n.NodeHostForTest()
	cmds := benchDecides(b.N)
	enc := make([][]byte, len(cmds))
	for i, d := range cmds {
		enc[i] = d.Encode()
	}
	table := consensus.DefaultTable(consensus.DefaultShards)
	runProposers(b, func(ctx context.Context, i int) error {
		s := rawShardBase + table[cmds[i].Bucket]
		_, err := nh.SyncPropose(ctx, nh.GetNoOPSession(s), enc[i])
		return err
	})
}

// BenchmarkOpenReady16 and BenchmarkOpenReady256: creating a single host
// with 16 or 256 shards, from Open until every shard has a leader. Memory:
// rss-MB is the resident memory Open added (VmRSS once ready minus VmRSS
// before Open, with the Go heap returned to the OS first), vmrss-MB the
// whole test process's VmRSS once ready; both the most over the iterations.
func BenchmarkOpenReady16(b *testing.B)  { benchOpenReady(b, 16) }
func BenchmarkOpenReady256(b *testing.B) { benchOpenReady(b, 256) }

func benchOpenReady(b *testing.B, shards int) {
	var ready, added, peak float64
	for range b.N {
		b.StopTimer()
		dir, err := os.MkdirTemp("", "swarmhost-bench-open-")
		if err != nil {
			b.Fatal(err)
		}
		debug.FreeOSMemory()
		before := vmRSS(b)
		b.StartTimer()
		t0 := time.Now()
		n, err := consensus.Open(ctxT(b, 5*time.Minute), consensus.Config{Dir: dir, Shards: shards})
		if err != nil {
			b.Fatal(err)
		}
		ready += float64(time.Since(t0).Microseconds()) / 1000
		b.StopTimer()
		after := vmRSS(b)
		added, peak = max(added, float64(after-before)/(1<<20)), max(peak, float64(after)/(1<<20))
		n.Close()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(ready/float64(b.N), "ready-ms")
	b.ReportMetric(added, "rss-MB")
	b.ReportMetric(peak, "vmrss-MB")
}

// vmRSS reads the process's resident set size, in bytes, from /proc.
func vmRSS(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	b.Skip("no VmRSS in /proc/self/status")
	return 0
}
