package protocoltest

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Flags (and environment variables) of the seeded chaos run. A failing
// schedule prints the command that plays it alone.
var (
	flagSeed    = flag.Uint64("chaos.seed", 0, "first seed (env SWARMHOST_CHAOS_SEED, default 1)")
	flagSeeds   = flag.Int("chaos.seeds", -1, "number of schedules, 0 for no limit (env SWARMHOST_CHAOS_SEEDS, default 1000)")
	flagTime    = flag.Duration("chaos.time", 0, "keep running new schedules until this elapses, 0 for no limit (env SWARMHOST_CHAOS_TIME)")
	flagHosts   = flag.Int("chaos.hosts", 0, "hosts per schedule (0: drawn from the seed)")
	flagNeeds   = flag.Int("chaos.needs", 0, "NEEDs per schedule (0: drawn from the seed)")
	flagShards  = flag.Int("chaos.shards", 0, "shards per schedule (0: drawn from the seed)")
	flagSteps   = flag.Int("chaos.steps", 0, "chaos steps per schedule (0: drawn from the seed)")
	flagExclude = flag.String("chaos.exclude", "", "fault kinds to leave out, comma-separated (env SWARMHOST_CHAOS_EXCLUDE)")
	flagTrace   = flag.Bool("chaos.trace", false, "print the trace of every schedule run")
)

// settings resolves the flags and the environment.
func settings(t *testing.T) (first uint64, count int, limit time.Duration, base Options) {
	first, count = 1, 1000
	if v := os.Getenv("SWARMHOST_CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SWARMHOST_CHAOS_SEED: %v", err)
		}
		first = n
	}
	countSet := false
	if v := os.Getenv("SWARMHOST_CHAOS_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("SWARMHOST_CHAOS_SEEDS: %v", err)
		}
		count, countSet = n, true
	}
	if v := os.Getenv("SWARMHOST_CHAOS_TIME"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SWARMHOST_CHAOS_TIME: %v", err)
		}
		limit = d
	}
	exclude := os.Getenv("SWARMHOST_CHAOS_EXCLUDE")
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "chaos.seed":
			first = *flagSeed
		case "chaos.seeds":
			count, countSet = *flagSeeds, true
		case "chaos.time":
			limit = *flagTime
		case "chaos.exclude":
			exclude = *flagExclude
		}
	})
	if limit > 0 && !countSet {
		count = 0 // a time limit alone: run until it elapses
	} else if testing.Short() && !countSet {
		count = 200
	}
	base = Options{Hosts: *flagHosts, Needs: *flagNeeds, Shards: *flagShards, Steps: *flagSteps}
	for _, f := range strings.Split(exclude, ",") {
		if f = strings.TrimSpace(f); f != "" {
			if !slices.Contains(AllFaults, f) {
				t.Fatalf("unknown fault kind %q (kinds: %s)", f, strings.Join(AllFaults, ","))
			}
			base.Exclude = append(base.Exclude, f)
		}
	}
	return first, count, limit, base
}

// reproduce is the one-line command that plays a schedule alone.
func reproduce(o Options) string {
	cmd := fmt.Sprintf("go test ./host/protocoltest -run TestChaosSeeds -count=1 -chaos.seed=%d -chaos.seeds=1", o.Seed)
	for _, f := range []struct {
		name string
		v    int
	}{{"hosts", *flagHosts}, {"needs", *flagNeeds}, {"shards", *flagShards}, {"steps", *flagSteps}} {
		if f.v != 0 {
			cmd += fmt.Sprintf(" -chaos.%s=%d", f.name, f.v)
		}
	}
	if len(o.Exclude) > 0 {
		cmd += " -chaos.exclude=" + strings.Join(o.Exclude, ",")
	}
	return cmd
}

// TestChaosSeeds plays seeded chaos schedules, on every core, and checks
// P1-P7 after each. make test runs the default 1000; make chaos many more.
func TestChaosSeeds(t *testing.T) {
	first, count, limit, base := settings(t)
	start := time.Now()
	var (
		next     atomic.Uint64
		ran      atomic.Int64
		final    atomic.Int64
		aband    atomic.Int64
		retired  atomic.Int64
		late     atomic.Int64
		gcs      atomic.Int64
		events   atomic.Int64
		mu       sync.Mutex
		failures []*Result
		wg       sync.WaitGroup
	)
	next.Store(first)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1) - 1
				if count > 0 && seed-first >= uint64(count) || limit > 0 && time.Since(start) > limit {
					return
				}
				o := base
				o.Seed, o.Trace = seed, *flagTrace
				res := Run(o)
				ran.Add(1)
				final.Add(int64(res.Final))
				aband.Add(int64(res.Abandoned))
				retired.Add(int64(res.Retired))
				late.Add(int64(res.Late))
				gcs.Add(int64(res.Collected))
				events.Add(int64(res.Steps))
				if *flagTrace {
					mu.Lock()
					t.Logf("%s\n%s", res.Summary(), strings.Join(res.Trace, "\n"))
					mu.Unlock()
				}
				if res.Failed() {
					mu.Lock()
					failures = append(failures, res)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d schedules from seed %d in %v, %d failed (%d events; NEEDs: %d final, %d abandoned; %d retired on hosts, "+
		"%d envelopes met a retired thread; %d NEEDs collected from the shards)", ran.Load(), first,
		time.Since(start).Round(time.Millisecond), len(failures), events.Load(), final.Load(), aband.Load(),
		retired.Load(), late.Load(), gcs.Load())
	if ran.Load() >= 100 && (retired.Load() == 0 || late.Load() == 0 || gcs.Load() == 0) {
		t.Errorf("%d schedules retired %d threads, %d envelopes met one, the shards collected %d NEEDs: the "+
			"checkpoints' retiring went unexercised", ran.Load(), retired.Load(), late.Load(), gcs.Load())
	}
	if len(failures) == 0 {
		return
	}
	slices.SortFunc(failures, func(a, b *Result) int { return cmpU(a.Options.Seed, b.Options.Seed) })
	for i, r := range failures {
		if i == 10 {
			t.Errorf("... and %d more failing seeds", len(failures)-10)
			break
		}
		t.Errorf("seed %d failed: %s\n  %s\n  reproduce: %s", r.Options.Seed, r.Summary(),
			strings.Join(r.Violations, "\n  "), reproduce(r.Options))
	}
	// The first failure again, with its trace.
	o := base
	o.Seed, o.Trace = failures[0].Options.Seed, true
	r := Run(o)
	t.Errorf("trace of seed %d:\n%s\nreproduce: %s", o.Seed, strings.Join(r.Trace, "\n"), reproduce(o))
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestChaos draws schedules with rapid: the seed, the size of the world,
// the length of the chaos and the fault kinds left out, so that a failure
// shrinks towards a small world, a short schedule and few fault kinds.
func TestChaos(t *testing.T) {
	_, _, _, base := settings(t)
	// The repro is the command printed below, not a fail file under
	// testdata/; and shrinking (about 0.1 s a schedule) gets 20 s, unless
	// the command line says otherwise.
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range map[string]string{"rapid.nofailfile": "true", "rapid.shrinktime": "20s"} {
		if !set[name] && flag.Lookup(name) != nil {
			flag.Set(name, v)
		}
	}
	rapid.Check(t, func(rt *rapid.T) {
		o := Options{
			Seed:   rapid.Uint64Range(1, 1<<40).Draw(rt, "seed"),
			Hosts:  rapid.IntRange(2, 3).Draw(rt, "hosts"),
			Needs:  rapid.IntRange(1, 3).Draw(rt, "needs"),
			Shards: rapid.IntRange(1, 2).Draw(rt, "shards"),
			Steps:  rapid.IntRange(20, 360).Draw(rt, "steps"),
		}
		o.Exclude = slices.Clone(base.Exclude)
		for _, f := range AllFaults {
			// rapid shrinks a bool to false: towards fewer fault kinds.
			if !slices.Contains(o.Exclude, f) && !rapid.Bool().Draw(rt, "inject "+f) {
				o.Exclude = append(o.Exclude, f)
			}
		}
		res := Run(o)
		if res.Failed() {
			rt.Fatalf("%s\n  %s\n  reproduce: %s -chaos.hosts=%d -chaos.needs=%d -chaos.shards=%d -chaos.steps=%d",
				res.Summary(), strings.Join(res.Violations, "\n  "), reproduce(o), o.Hosts, o.Needs, o.Shards, o.Steps)
		}
	})
}

// TestDeterministic: the same seed plays the same schedule.
func TestDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		a, b := Run(Options{Seed: seed, Trace: true}), Run(Options{Seed: seed, Trace: true})
		if !slices.Equal(a.Trace, b.Trace) || !slices.Equal(a.Violations, b.Violations) {
			t.Fatalf("seed %d: two runs differ (%d and %d trace lines)", seed, len(a.Trace), len(b.Trace))
		}
	}
}
