package host_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/protocol"
)

// sameInputs fails unless got and want are the same inputs in the same
// order.
func sameInputs(t *testing.T, got, want []host.TrailInput) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d inputs, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Thread != w.Thread || g.Line != w.Line || g.Hash != w.Hash {
			t.Fatalf("input %d is %s line %d, want %s line %d", i, g.Thread, g.Line, w.Thread, w.Line)
		}
		if !reflect.DeepEqual(g.Record, w.Record) || !reflect.DeepEqual(g.Input, w.Input) {
			t.Fatalf("input %d (%s line %d) decoded differently:\n got %#v\nwant %#v", i, g.Thread, g.Line, g.Input, w.Input)
		}
	}
}

// A node's trail streamed (StepTrail, each thread read when the merge
// reaches it) gives what reading it whole gave: the same inputs, decoded
// the same, in the same order; its files read a line at a time too. Two
// trails: a demo's of an earlier build, and one of four flows at once
// (their threads' lines interleaved).
func TestStepTrailGivesTheWholeReadsInputs(t *testing.T) {
	dir := t.TempDir()
	flowsTrail(t, dir, 4)
	for _, trail := range []string{filepath.Join("replay", "testdata", "trail-2f5af8e", "audit"), filepath.Join(dir, "audit")} {
		tokenOf := func(ref string) []byte { return []byte(ref) }
		want, err := host.ReadTrailWhole(trail, tokenOf)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 40 {
			t.Fatalf("%s has %d inputs: not a trail of a flow", trail, len(want))
		}
		got, err := host.ReadTrail(trail, tokenOf)
		if err != nil {
			t.Fatal(err)
		}
		sameInputs(t, got, want)

		old := host.SetStreamAbove(0) // every file a line at a time
		got, err = host.ReadTrail(trail, tokenOf)
		host.SetStreamAbove(old)
		if err != nil {
			t.Fatal(err)
		}
		sameInputs(t, got, want)
	}
}

// trailWriter appends lines to a trail as a host does: received_lamport
// strictly increasing over all its lines.
type trailWriter struct {
	t       *testing.T
	trail   *audit.Trail
	lamport uint64
}

// newTrailWriter opens a trail in a fresh folder (returned too).
func newTrailWriter(t *testing.T) (*trailWriter, string) {
	t.Helper()
	dir := t.TempDir()
	tr, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &trailWriter{t: t, trail: tr}, dir
}

func (w *trailWriter) close() {
	w.t.Helper()
	if err := w.trail.Close(); err != nil {
		w.t.Fatal(err)
	}
}

func (w *trailWriter) clock(thread string, at int) {
	w.t.Helper()
	w.lamport++
	e := audit.Entry{Kind: host.KindClock, ReceivedLamport: w.lamport, Body: []byte(fmt.Sprintf(`{"at":%d}`, at)), Verdict: audit.Accepted}
	if _, err := w.trail.Append(thread, e); err != nil {
		w.t.Fatal(err)
	}
}

func threadID(i int) string { return envelope.HashRef([]byte(fmt.Sprintf("thread %d", i))) }

// A long trail of threads one after another, with one thread (the swarm's)
// spanning it all: the merge holds two threads open at a time, not all of
// them, and gives every line in the order the whole read does.
func TestStepTrailHoldsOnlyTheThreadsOpenAtEachPoint(t *testing.T) {
	w, dir := newTrailWriter(t)
	swarm := threadID(-1)
	const threads = 60
	for i := range threads {
		w.clock(swarm, i)
		for j := range 3 {
			w.clock(threadID(i), 10*i+j)
		}
	}
	w.clock(swarm, threads)
	w.close()
	want, err := host.ReadTrailWhole(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != threads*4+1 {
		t.Fatalf("the whole read gives %d inputs, want %d", len(want), threads*4+1)
	}
	got, err := host.ReadTrail(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameInputs(t, got, want)
	most, err := host.MostThreadsOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	if most != 2 {
		t.Fatalf("the merge held %d of %d threads open at once, want 2 (the swarm's and the current one)", most, threads+1)
	}
}

// A thread whose received_lamport goes back cannot be merged in step
// order: refused, naming the thread and line, as a broken chain is.
func TestStepTrailRefusesALamportGoingBack(t *testing.T) {
	w, dir := newTrailWriter(t)
	a := threadID(1)
	w.clock(a, 1)
	w.clock(a, 2)
	w.lamport = 0 // the third line's received_lamport is 1 again
	w.clock(a, 3)
	w.close()
	_, err := host.ReadTrail(dir, nil)
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Thread != a || te.Line != 3 || !strings.Contains(te.Problem, "its received_lamport 1 goes back from line 2's 2") {
		t.Fatalf("error %v, want a TamperError naming %s line 3: its received_lamport 1 goes back from line 2's 2", err, a)
	}
	// Read whole (a replay of a small trail), the same.
	_, err = host.ReadTrailAll(dir, nil)
	if !errors.As(err, &te) || te.Thread != a || te.Line != 3 {
		t.Fatalf("read whole: %v, want the same line named", err)
	}
}

// A line edited in the middle of a thread breaks its chain, found while
// streaming as when the thread was read whole.
func TestStepTrailFindsABrokenChain(t *testing.T) {
	w, dir := newTrailWriter(t)
	a := threadID(1)
	for i := range 4 {
		w.clock(a, i)
	}
	w.close()
	name, _ := audit.FileName(a)
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines[1] = strings.Replace(lines[1], `{"at":1}`, `{"at":7}`, 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, stream := range []int64{1 << 20, 0} {
		old := host.SetStreamAbove(stream)
		_, err = host.ReadTrail(dir, nil)
		host.SetStreamAbove(old)
		want := fmt.Sprintf("audit %s: the chain breaks at line 3 (its prev does not name line 2)", a)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("streamed above %d: error %v, want one saying %q", stream, err, want)
		}
	}
}

// flowsTrail makes a node's data folder in dir with n flows taken four
// at a time (their threads' lines interleaved), all final.
func flowsTrail(t testing.TB, dir string, n int) {
	t.Helper()
	h := openAt(t, dir, honest, host.Config{})
	defer h.Close()
	for batch := 0; batch*4 < n; batch++ {
		var ids []string
		for i := batch * 4; i < min(n, batch*4+4); i++ {
			id, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: items, K: 3, N: 3,
				BidWindowMS: 300, LeaseMS: 30_000, MaxEpochs: 3, DeadlineMS: 120_000, Nonce: fmt.Sprint("flow ", i)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			info, err := h.Wait(ctx, id)
			cancel()
			if err != nil || info.Phase != protocol.PhaseFinal {
				t.Fatalf("NEED %s ended %s (%v)", id, info.Phase, err)
			}
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// restartBenchDir is the data folder the restart benchmarks read: given
// by SWARMHOST_TRAIL_BENCH_DIR, or made of SWARMHOST_TRAIL_BENCH_FLOWS
// flows (default 8).
func restartBenchDir(b *testing.B) string {
	if dir := os.Getenv("SWARMHOST_TRAIL_BENCH_DIR"); dir != "" {
		return dir
	}
	dir := b.TempDir()
	flows := 8
	if n, err := strconv.Atoi(os.Getenv("SWARMHOST_TRAIL_BENCH_FLOWS")); err == nil && n > 0 {
		flows = n
	}
	flowsTrail(b, dir, flows)
	return dir
}

// BenchmarkRestartHeld is the memory a starting node holds for its trail
// while it steps it: read whole then stepped (ReadTrailWhole, until
// session 12) against streamed (StepTrail). peak-KB is the most heap live
// beyond the start, sampled every 64 inputs after a collection. The trail:
// a data folder given by SWARMHOST_TRAIL_BENCH_DIR, or one made of
// SWARMHOST_TRAIL_BENCH_FLOWS flows (default 8).
func BenchmarkRestartHeld(b *testing.B) {
	dir := restartBenchDir(b)
	audit := filepath.Join(dir, "audit")
	held := func(b *testing.B, read func(fn func(*host.TrailInput) error) error) {
		var base, peak uint64
		var ms runtime.MemStats
		n := 0
		sample := func() {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base {
				peak = max(peak, ms.HeapAlloc-base)
			}
		}
		for i := 0; i < b.N; i++ {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base = ms.HeapAlloc
			err := read(func(ti *host.TrailInput) error {
				if n++; n%64 == 0 {
					sample()
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(peak)/1024, "peak-KB")
		b.ReportMetric(float64(n)/float64(b.N), "inputs")
	}
	b.Run("whole", func(b *testing.B) {
		held(b, func(fn func(*host.TrailInput) error) error {
			inputs, err := host.ReadTrailWhole(audit, func(string) []byte { return nil })
			for i := range inputs {
				fn(&inputs[i])
			}
			return err
		})
	})
	b.Run("streamed", func(b *testing.B) {
		held(b, func(fn func(*host.TrailInput) error) error {
			return host.StepTrail(audit, func(string) []byte { return nil }, fn)
		})
	})
}

// BenchmarkRestartRebuild is a start's rebuild: the trail read and its
// inputs stepped into a fresh quiet core, read whole and then stepped
// (until session 12) against streamed and stepped as it comes. The trail
// as in BenchmarkRestartHeld.
func BenchmarkRestartRebuild(b *testing.B) {
	dir := restartBenchDir(b)
	store, err := cas.NewFileStore(filepath.Join(dir, "cas"))
	if err != nil {
		b.Fatal(err)
	}
	tokenOf := func(ref string) []byte {
		blob, _ := store.Get(context.Background(), ref)
		return blob
	}
	trail := filepath.Join(dir, "audit")
	newCore := func(b *testing.B, in protocol.Input) *protocol.Core {
		cfg := in.(*protocol.Configure)
		core, err := protocol.New(protocol.Config{HostPK: cfg.HostPK, HostCapability: cfg.HostCapability,
			Roots: cfg.Roots, Agents: cfg.Agents, Verifiers: cfg.Verifiers})
		if err != nil {
			b.Fatal(err)
		}
		core.SetQuiet(true)
		return core
	}
	b.Run("whole", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			inputs, err := host.ReadTrailWhole(trail, tokenOf)
			if err != nil {
				b.Fatal(err)
			}
			core := newCore(b, inputs[0].Input)
			for _, ti := range inputs {
				if ti.Input != nil {
					core.Step(ti.Input)
					core.Advance()
				}
			}
		}
	})
	b.Run("streamed", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var core *protocol.Core
			err := host.StepTrail(trail, tokenOf, func(ti *host.TrailInput) error {
				if ti.Input == nil {
					return nil
				}
				if core == nil {
					core = newCore(b, ti.Input)
				}
				core.Step(ti.Input)
				core.Advance()
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Any two thread files: StepTrail gives what the whole read gives, or an
// error where it does (never a panic). Both refuse a thread whose
// received_lamport goes back (the whole read sorted it into place until
// session 13); StepTrail may find it before another error the whole read
// names first, which is allowed.
func FuzzStepTrailAgreesWithTheWholeRead(f *testing.F) {
	seedDir := filepath.Join("replay", "testdata", "trail-2f5af8e", "audit")
	threads, err := audit.Threads(seedDir)
	if err != nil || len(threads) < 2 {
		f.Fatalf("the seed trail: %v threads, %v", threads, err)
	}
	// A few lines of each thread: short inputs keep the fuzzer's
	// executions and minimizations quick.
	var seeds [2][]byte
	for i := range seeds {
		name, _ := audit.FileName(threads[i])
		text, err := os.ReadFile(filepath.Join(seedDir, name))
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.SplitAfter(string(text), "\n")
		seeds[i] = []byte(strings.Join(lines[:min(len(lines), 3)], ""))
	}
	f.Add(seeds[0], seeds[1])
	f.Add(seeds[0], []byte{})
	f.Add(seeds[1][:len(seeds[1])/2], seeds[0][len(seeds[0])/3:])
	f.Fuzz(func(t *testing.T, a, b []byte) {
		dir := t.TempDir()
		for i, text := range [][]byte{a, b} {
			name, _ := audit.FileName(threadID(i))
			if err := os.WriteFile(filepath.Join(dir, name), text, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tokenOf := func(ref string) []byte { return []byte(ref) }
		want, werr := host.ReadTrailWhole(dir, tokenOf)
		got, gerr := host.ReadTrail(dir, tokenOf)
		switch {
		case gerr != nil && strings.Contains(gerr.Error(), "goes back from line"):
		case (werr == nil) != (gerr == nil):
			t.Fatalf("the whole read: %v; streamed: %v", werr, gerr)
		case werr == nil:
			sameInputs(t, got, want)
		}
	})
}

// A Configure naming a rules revision this build does not know (a trail of
// a newer swarmhost) stops the read at its line, named, rather than being
// stepped under other rules.
func TestStepTrailRefusesANewerRulesRevision(t *testing.T) {
	w, dir := newTrailWriter(t)
	swarm := protocol.SwarmThread
	body := fmt.Sprintf(`{"at":1,"host_pk":"","host_capability":"","agents":[],"roots":[],"verifiers":[],"rules":%d}`, protocol.Rules+1)
	w.lamport++
	if _, err := w.trail.Append(swarm, audit.Entry{Kind: host.KindConfig, ReceivedLamport: w.lamport, Body: []byte(body),
		Verdict: audit.Accepted}); err != nil {
		t.Fatal(err)
	}
	w.close()
	want := fmt.Sprintf("names rules revision %d; this swarmhost knows revisions 0 to %d", protocol.Rules+1, protocol.Rules)
	for _, read := range []func(string, func(string) []byte) ([]host.TrailInput, error){host.ReadTrail, host.ReadTrailAll} {
		_, err := read(dir, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "line 1") {
			t.Fatalf("error %v, want one naming line 1 and saying %q", err, want)
		}
	}
}
