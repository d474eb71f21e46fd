package gas

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// workload is one CPU-bound call of the overhead benchmark.
type workload struct {
	module string // fixture name, or "goprog"
	fn     string
	args   []uint64
}

var workloads = []workload{
	{"bench", "loop_sum", []uint64{2_000_000}},
	{"bench", "fib", []uint64{25}},
	{"bench", "copy_loop", []uint64{20}},
	{"bench", "bulk_copy", []uint64{200}},
	{"bench", "sieve", []uint64{65536}},
	{"goprog", "fib", []uint64{25}},
	{"goprog", "sum_loop", []uint64{2_000_000}},
	{"goprog", "json_work", []uint64{200}},
	{"goprog", "sort_work", []uint64{20000}},
	{"goprog", "copy_work", []uint64{200}},
}

func (w workload) name() string { return w.module + "." + w.fn }

// benchPair holds plain and metered instances of a workload's module.
type benchPair struct {
	plain, metered api.Function
	pi, mi         *instance
}

func setupWorkloads(b *testing.B, compiler bool) []benchPair {
	b.Helper()
	mods := map[string][]byte{}
	for _, cm := range loadFixtures(b) {
		mods[cm.name] = cm.wasm
	}
	mods["goprog"] = buildGoModule(b)
	ctx, r := newHost(b, compiler)
	type inst struct{ p, m *instance }
	insts := map[string]inst{}
	var out []benchPair
	for _, w := range workloads {
		in, ok := insts[w.module]
		if !ok {
			metered, err := Instrument(mods[w.module], Options{})
			if err != nil {
				b.Fatal(err)
			}
			p, _, err := instantiate(b, ctx, r, mods[w.module], false, 0)
			if err != nil {
				b.Fatal(err)
			}
			m, _, err := instantiate(b, ctx, r, metered, true, bigBudget)
			if err != nil {
				b.Fatal(err)
			}
			if w.module == "goprog" {
				p.call(b, "_initialize", 0)
				m.call(b, "_initialize", bigBudget)
			}
			in = inst{p, m}
			insts[w.module] = in
		}
		out = append(out, benchPair{in.p.mod.ExportedFunction(w.fn), in.m.mod.ExportedFunction(w.fn), in.p, in.m})
	}
	return out
}

// BenchmarkWorkloads times every workload plain and metered on the compiler.
func BenchmarkWorkloads(b *testing.B) {
	pairs := setupWorkloads(b, true)
	for i, w := range workloads {
		for _, variant := range []string{"plain", "metered"} {
			b.Run(w.name()+"/"+variant, func(b *testing.B) {
				p := pairs[i]
				in, f := p.pi, p.plain
				budget := int64(0)
				if variant == "metered" {
					in, f, budget = p.mi, p.metered, bigBudget
				}
				for b.Loop() {
					o := in.call(b, w.fn, budget, w.args...)
					if o.err != nil {
						b.Fatal(o.err)
					}
				}
				_ = f
			})
		}
	}
}

// BenchmarkOverhead measures the metering overhead of every workload,
// plain and metered interleaved in the same run, and reports each ratio
// and their geometric mean as metrics (overhead in percent).
func BenchmarkOverhead(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			pairs := setupWorkloads(b, e.compiler)
			// The fastest of b.N runs of each: robust to a neighbour's load on a
			// shared machine, where sums are not.
			plain := make([]time.Duration, len(workloads))
			metered := make([]time.Duration, len(workloads))
			for i := range workloads {
				plain[i], metered[i] = math.MaxInt64, math.MaxInt64
			}
			for b.Loop() {
				for i, w := range workloads {
					p := pairs[i]
					t0 := time.Now()
					if o := p.pi.call(b, w.fn, 0, w.args...); o.err != nil {
						b.Fatal(o.err)
					}
					t1 := time.Now()
					if o := p.mi.call(b, w.fn, bigBudget, w.args...); o.err != nil {
						b.Fatal(o.err)
					}
					t2 := time.Now()
					plain[i] = min(plain[i], t1.Sub(t0))
					metered[i] = min(metered[i], t2.Sub(t1))
				}
			}
			logSum := 0.0
			for i, w := range workloads {
				ratio := float64(metered[i]) / float64(plain[i])
				logSum += math.Log(ratio)
				b.ReportMetric(100*(ratio-1), w.name()+"-%")
			}
			geo := math.Exp(logSum / float64(len(workloads)))
			b.ReportMetric(100*(geo-1), "geomean-%")
			// One line: the benchmark framework keeps only 10 lines of log.
			var sb strings.Builder
			fmt.Fprintf(&sb, "%s: geomean overhead %.1f%%;", e.name, 100*(geo-1))
			for i, w := range workloads {
				fmt.Fprintf(&sb, " %s %v/%v %+.1f%%;", w.name(), plain[i].Round(time.Microsecond), metered[i].Round(time.Microsecond),
					100*(float64(metered[i])/float64(plain[i])-1))
			}
			b.Log(sb.String())
		})
	}
}

// BenchmarkInstrument times instrumenting the Go wasip1 module.
func BenchmarkInstrument(b *testing.B) {
	wasm := buildGoModule(b)
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if _, err := Instrument(wasm, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(wasm)), "input-bytes")
}
