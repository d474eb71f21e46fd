package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
	"github.com/canswarm/swarmhost/internal/parallel"
	"github.com/canswarm/swarmhost/internal/plugintest"
)

var (
	benchOnce  sync.Once
	benchDir   string   // made by benchTrail, removed by TestMain
	benchGiven string   // $SWARMHOST_REPLAY_BENCH_DIR, kept
	benchWires [][]byte // every envelope line's text, as recorded
)

// benchTrail makes, once, the trail of 20 flows (k = 3) on one node, or of
// $SWARMHOST_REPLAY_BENCH_FLOWS (a multiple of 5): a longer trail shows the
// replay's throughput with its fixed start (loading the agents) spread.
// $SWARMHOST_REPLAY_BENCH_DIR names a data folder to use instead, made
// before (by `swarmhost run` and `need submit`, or a copy of one this
// made): builds measured one after another then replay the same trail,
// and none spends its first seconds making one.
func benchTrail(b *testing.B) string {
	benchOnce.Do(func() {
		if given := os.Getenv("SWARMHOST_REPLAY_BENCH_DIR"); given != "" {
			benchGiven = given
			benchWires = envelopeLines(b, given)
			return
		}
		dir, err := os.MkdirTemp("", "swarmhost-replay-bench-")
		if err != nil {
			b.Fatal(err)
		}
		pdir := filepath.Join(dir, "plugins")
		os.MkdirAll(pdir, 0o755)
		for file, name := range map[string]string{"classifier-a.wasm": "classifier", "verifier-a.wasm": "verifier",
			"verifier-b.wasm": "verifier", "verifier-c.wasm": "verifier", "planner.wasm": "planner"} {
			raw, err := os.ReadFile(plugintest.Path(b, name))
			if err != nil {
				b.Fatal(err)
			}
			os.WriteFile(filepath.Join(pdir, file), raw, 0o644)
		}
		cfg := host.Config{DataDir: dir}
		// $SWARMHOST_REPLAY_BENCH_CHECKPOINT (a duration): checkpoints that
		// often, each retiring the threads ended by then, as on a node
		// that runs for long (every 10 minutes by default).
		if every, err := time.ParseDuration(os.Getenv("SWARMHOST_REPLAY_BENCH_CHECKPOINT")); err == nil {
			cfg.CheckpointEvery, cfg.RetainEnded = every, time.Millisecond
		}
		h, err := host.Open(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		// In batches of five with a bid window the worker's bids make on
		// two loaded cores: a trail of finished flows, as a node's would be.
		flows := 20
		if n, err := strconv.Atoi(os.Getenv("SWARMHOST_REPLAY_BENCH_FLOWS")); err == nil && n >= 5 {
			flows = n
		}
		for batch := 0; batch < flows/5; batch++ {
			var ids []string
			for i := 0; i < 5; i++ {
				id, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify",
					Input: json.RawMessage(`["where is my parcel","refund the invoice","great service"]`), K: 3, N: 3,
					BidWindowMS: 1500, LeaseMS: 30_000, MaxEpochs: 3, DeadlineMS: 600_000, Nonce: fmt.Sprint(batch, "-", i)})
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, id)
			}
			for _, id := range ids {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				info, err := h.Wait(ctx, id)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				if info.Phase != protocol.PhaseFinal {
					b.Fatalf("NEED %s ended %s, not final: the trail would not be a healthy node's", id, info.Phase)
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
		h.Close()
		benchWires = envelopeLines(b, dir)
		benchDir = dir
	})
	switch {
	case benchGiven != "":
		return benchGiven
	case benchDir == "":
		b.Fatal("no trail")
	}
	return benchDir
}

// envelopeLines is every envelope line's text in the trail of the data
// folder dir, accepted or rejected: replay verifies each.
func envelopeLines(b *testing.B, dir string) [][]byte {
	inputs, err := host.ReadTrailAll(filepath.Join(dir, "audit"), func(string) []byte { return nil })
	if err != nil {
		b.Fatal(err)
	}
	var wires [][]byte
	for _, ti := range inputs {
		if r, ok := ti.Input.(*protocol.Received); ok && ti.Record.Kind == "envelope" {
			wires = append(wires, r.Raw)
		}
	}
	return wires
}

// benchReplay reports the replay's envelopes per second and, as of-bound,
// its ratio to the bound measured beside it: after each replay, outside
// the timer, one pass of the bound over the same envelopes (the shared
// machine's speed drifts within a run; interleaving keeps the two on the
// same footing).
func benchReplay(b *testing.B, noRerun bool, fromCheckpoint ...bool) {
	benchReplayWith(b, replay.Options{NoRerun: noRerun, FromCheckpoint: len(fromCheckpoint) > 0 && fromCheckpoint[0]})
}

func benchReplayWith(b *testing.B, opts replay.Options) {
	opts.DataDir = benchTrail(b)
	var replayed, bound time.Duration
	var envs int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		rep, err := replay.Run(context.Background(), opts)
		replayed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		envs = rep.Envelopes
		b.StopTimer()
		start = time.Now()
		verifyAllWires()
		bound += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(envs*b.N)/replayed.Seconds(), "envelopes/s")
	b.ReportMetric(bound.Seconds()/replayed.Seconds(), "of-bound")
}

// BenchmarkReplay is the whole replay: verification, the core, every
// capsule evaluated and every agent run again.
func BenchmarkReplay(b *testing.B) { benchReplay(b, false) }

// BenchmarkReplayNoRerun steps the recorded outcomes without running
// WebAssembly again.
func BenchmarkReplayNoRerun(b *testing.B) { benchReplay(b, true) }

// BenchmarkReplayFromCheckpoint is the whole replay from the CHECKPOINT the
// node wrote when it stopped, which covers all but that envelope.
func BenchmarkReplayFromCheckpoint(b *testing.B) { benchReplay(b, false, true) }

// BenchmarkReplayNoRerunStreamed is BenchmarkReplayNoRerun with the trail
// read as the replay goes (Options.Streamed, what a trail over 256 MiB
// gets): verified first, then merged and stepped.
func BenchmarkReplayNoRerunStreamed(b *testing.B) {
	benchReplayWith(b, replay.Options{NoRerun: true, Streamed: true})
}

// BenchmarkReplayHeld is the most heap a --no-rerun replay holds beyond
// what it started with (sampled after a collection every 64 inputs),
// with the trail read whole and streamed. A longer trail
// ($SWARMHOST_REPLAY_BENCH_FLOWS) shows how each grows with it, and
// checkpoints that retire ended threads ($SWARMHOST_REPLAY_BENCH_CHECKPOINT)
// the core's share as on a node that runs for long.
func BenchmarkReplayHeld(b *testing.B) {
	dir := benchTrail(b)
	for _, streamed := range []bool{false, true} {
		b.Run(fmt.Sprintf("streamed=%v", streamed), func(b *testing.B) {
			var base, peak uint64
			var ms runtime.MemStats
			for i := 0; i < b.N; i++ {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				base = ms.HeapAlloc
				_, err := replay.Run(context.Background(), replay.Options{DataDir: dir, NoRerun: true, Streamed: streamed,
					Progress: func(done, _ int) {
						if done%64 == 0 {
							runtime.GC()
							runtime.ReadMemStats(&ms)
							if ms.HeapAlloc > base {
								peak = max(peak, ms.HeapAlloc-base)
							}
						}
					}})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak)/1024, "peak-KB")
		})
	}
}

// BenchmarkReplayVerifyBound is the bound: verifying the trail's envelopes'
// signatures alone, on every core.
func BenchmarkReplayVerifyBound(b *testing.B) {
	benchTrail(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		verifyAllWires()
	}
	b.ReportMetric(float64(len(benchWires)*b.N)/b.Elapsed().Seconds(), "envelopes/s")
}

// verifyAllWires verifies every envelope line's text once, on every core:
// the lines are shared out one at a time as goroutines come free (the
// calling goroutine too), as the replay shares out its own checks. Until
// session 10 each of GOMAXPROCS goroutines took every other line, fixed in
// advance: ~7% slower on 2 cores (one finished early and waited), a bound
// looser than the machine's, which flattered the ratios measured to it.
func verifyAllWires() {
	w := parallel.StartEach(len(benchWires), runtime.GOMAXPROCS(0)-1, func(j int) {
		envelope.Verify(benchWires[j]) // a rejected text may fail: verified all the same
	})
	w.Help()
	w.Wait()
}

// BenchmarkRestartRead is what a restarting node reads before it steps
// its trail again (host.ReadTrail: every thread read, chained and merged,
// its accepted envelopes decoded), on the benchmark's trail; beside it, in
// the same run, the bound of verifying those envelopes' signatures.
func BenchmarkRestartRead(b *testing.B) {
	dir := benchTrail(b)
	var bound time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := host.ReadTrail(filepath.Join(dir, "audit"), func(string) []byte { return nil }); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		start := time.Now()
		verifyAllWires()
		bound += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/read")
	b.ReportMetric(float64(bound.Microseconds())/1000/float64(b.N), "ms/bound")
}

// BenchmarkRestartStep is the rest of a start after reading: the trail's
// inputs stepped into a fresh core, its actions dropped, as host.rebuild
// does; quiet (Core.SetQuiet, what a node does since session 10) and not.
func BenchmarkRestartStep(b *testing.B) {
	dir := benchTrail(b)
	store, err := cas.NewFileStore(filepath.Join(dir, "cas"))
	if err != nil {
		b.Fatal(err)
	}
	inputs, err := host.ReadTrail(filepath.Join(dir, "audit"), func(ref string) []byte {
		blob, _ := store.Get(context.Background(), ref)
		return blob
	})
	if err != nil {
		b.Fatal(err)
	}
	cfg := inputs[0].Input.(*protocol.Configure)
	for _, quiet := range []bool{false, true} {
		b.Run(fmt.Sprintf("quiet=%v", quiet), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				core, err := protocol.New(protocol.Config{HostPK: cfg.HostPK, HostCapability: cfg.HostCapability,
					Roots: cfg.Roots, Agents: cfg.Agents, Verifiers: cfg.Verifiers})
				if err != nil {
					b.Fatal(err)
				}
				core.SetQuiet(quiet)
				accepted := 0
				for _, ti := range inputs {
					if ti.Input != nil {
						if core.Step(ti.Input).Accepted {
							accepted++
						}
						core.Advance()
					}
				}
				if final := core.Threads(); accepted < len(inputs)/2 || len(final) < 20 {
					b.Fatalf("%d of %d inputs accepted, %d threads: not the node's run", accepted, len(inputs), len(final))
				}
			}
		})
	}
}
