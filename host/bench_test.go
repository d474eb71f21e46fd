package host_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/protocol"
)

// BenchmarkFlow runs whole NEED -> FINALIZE flows on one host (one worker,
// three verifiers, k = 3, a 400 ms bid window (shorter windows close before the worker's bid under this load)), 8 in flight, and reports
// flows/s and the p50/p99 of NEED -> FINALIZE. BenchmarkFlowEd25519Bound,
// in the same run, is what the signatures alone of one flow cost: each of
// its envelopes signed once and verified once (the bus delivery), over the
// cores; the ratio of the two is the figure in docs/PERFORMANCE.md.
func BenchmarkFlow(b *testing.B) {
	h := nodeB(b, map[string]string{"classifier-a.wasm": "classifier", "verifier-a.wasm": "verifier",
		"verifier-b.wasm": "verifier", "verifier-c.wasm": "verifier"})
	// One flow first: compiles and warms everything.
	runFlow(b, h, 0)
	var (
		mu   sync.Mutex
		lats []time.Duration
		envs int
	)
	b.ResetTimer()
	start := time.Now()
	inFlight(b.N, func(i int) {
		t0 := time.Now()
		info := runFlow(b, h, i+1)
		d := time.Since(t0)
		mu.Lock()
		lats = append(lats, d)
		envs += len(info.Envelopes)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "flows/s")
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(envs)/float64(b.N), "envelopes/flow")
}

func runFlow(b *testing.B, h interface {
	Submit(context.Context, api.NeedRequest) (string, error)
	Wait(context.Context, string) (protocol.ThreadInfo, error)
}, i int) protocol.ThreadInfo {
	id, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: items, K: 3, N: 3,
		BidWindowMS: 400, LeaseMS: 30_000, MaxEpochs: 3, DeadlineMS: 600_000, Nonce: b.Name() + string(rune('a'+i%26)) + time.Now().String()})
	if err != nil {
		b.Error(err)
		return protocol.ThreadInfo{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	info, err := h.Wait(ctx, id)
	if err != nil || info.Phase != protocol.PhaseFinal {
		b.Errorf("flow %d: %v %s", i, err, info.Phase)
	}
	return info
}

// BenchmarkFlowEd25519Bound: one flow's signatures at the Ed25519 limit.
// A flow of this benchmark's shape has 9 envelopes (NEED, PROPOSE, DECIDE,
// CLAIM, COMMIT, 3 ATTEST, FINALIZE); each is signed once and verified once.
func BenchmarkFlowEd25519Bound(b *testing.B) {
	const envelopes = 9
	_, priv, _ := ed25519.GenerateKey(nil)
	msg := envelope.SignedMessage(envelope.HashRef([]byte("x")))
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	cores := runtime.GOMAXPROCS(0)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for j := 0; j < envelopes; j++ {
			ed25519.Sign(priv, msg)
			ed25519.Verify(pub, msg, sig)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(cores)/per.Seconds(), "bound-flows/s")
}

func nodeB(b *testing.B, plugins map[string]string) interface {
	Submit(context.Context, api.NeedRequest) (string, error)
	Wait(context.Context, string) (protocol.ThreadInfo, error)
} {
	return nodeTB(b, plugins)
}

// inFlight calls flow(0..n-1), flowsInFlight() of them at a time, and
// returns when all have returned.
func inFlight(n int, flow func(i int)) {
	sem := make(chan struct{}, flowsInFlight())
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			flow(i)
		}(i)
	}
	wg.Wait()
}

// flowsInFlight is how many flows BenchmarkFlow keeps going at once: 8, or
// SWARMHOST_FLOWS_IN_FLIGHT.
func flowsInFlight() int {
	if n, err := strconv.Atoi(os.Getenv("SWARMHOST_FLOWS_IN_FLIGHT")); err == nil && n > 0 {
		return n
	}
	return 8
}

// BenchmarkRetainedMemory reports the heap a finished flow leaves behind
// (retained-B/flow: live heap after b.N flows and a GC, less the live heap
// before them), with the default of keeping a thread whole until a
// checkpoint retires it and with retiring off (RetainEnded < 0). A long
// running node's memory grows by this much per NEED.
func BenchmarkRetainedMemory(b *testing.B) {
	for _, c := range []struct {
		name   string
		retain time.Duration
	}{{"retired", time.Millisecond}, {"kept-whole", -1}} {
		b.Run(c.name, func(b *testing.B) {
			h := openAt(b, b.TempDir(), map[string]string{"classifier-a.wasm": "classifier",
				"verifier-a.wasm": "verifier", "verifier-b.wasm": "verifier", "verifier-c.wasm": "verifier"},
				host.Config{CheckpointEvery: 100 * time.Millisecond, RetainEnded: c.retain})
			defer h.Close()
			for i := 0; i < 100; i++ { // warm: compiled, pooled, the bus's caches filled
				runFlow(b, h, i)
			}
			time.Sleep(300 * time.Millisecond) // a checkpoint retires the warm-up's threads
			before := liveHeap()
			b.ResetTimer()
			inFlight(b.N, func(i int) { runFlow(b, h, 1000+i) })
			b.StopTimer()
			time.Sleep(300 * time.Millisecond)
			b.ReportMetric(float64(int64(liveHeap())-int64(before))/float64(b.N), "retained-B/flow")
		})
	}
}

// liveHeap is the heap in use after two collections.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
