package consensus_test

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/consensus/shard"
)

var (
	linRuns = flag.Int("lin.runs", 0, "seeded runs of TestLinearizable (default $SWARMHOST_LIN_RUNS, else 20)")
	linSeed = flag.Int64("lin.seed", 0, "seed of the first run of TestLinearizable (default $SWARMHOST_LIN_SEED, else from the clock)")
)

// The workload of one run.
const (
	linMaxEpoch  = 5 // clients name epochs 1..linMaxEpoch and never release the last
	linNeeds     = 4 // NEEDs per run; odd ones are released with max_epochs 3
	linClients   = 5
	linDuration  = 1000 * time.Millisecond
	linOpTimeout = 700 * time.Millisecond
)

// opGet marks a linearizable read (Node.Get) in a history.
const opGet shard.Op = "GET"

// linInput is one operation of a client.
type linInput struct {
	Op        shard.Op
	Need      string
	Epoch     uint64
	V         uint8  // DECIDE and FINALIZE: variant 1 or 2; RELEASE: 1 expired, 2 yielded
	MaxEpochs uint64 // RELEASE: fixed per NEED
}

// linOutput is an answer, reduced to what the model checks. DecideV and
// FinalV are the variants the answer names (0: none, 255: not one sent).
type linOutput struct {
	Unknown   bool // no answer: the command may or may not have been applied
	Accepted  bool
	Reason    envelope.Code
	Epoch     uint64
	Fence     uint64
	DecideV   uint8
	NextEpoch uint64
	Abandoned bool
	Found     bool        // GET
	State     shard.State // GET
	FinalV    uint8       // GET
}

// linState is the model's record of one NEED (a partition of the history).
// Fences are Raft indices, so the model learns each decision's fence from
// the first answer that names it and holds every later answer to it.
type linState struct {
	Epoch      uint64 // current epoch
	Decide     [linMaxEpoch + 1]uint8
	Fence      [linMaxEpoch + 1]uint64 // 0: decided, fence not seen yet
	Release    [linMaxEpoch + 1]uint8
	Final      uint8
	FinalEpoch uint64
	Abandoned  bool
}

// answer is the answer the rules give, describing epoch e (accepted) or
// the NEED as it stands (rejected); its Fence is left 0 and at names the
// epoch whose fence it carries (0: none).
func (s linState) answer(op shard.Op, accepted bool, reason envelope.Code, e uint64) (want linOutput, at uint64) {
	if !accepted {
		e = s.Epoch
		if s.Release[e] != 0 { // abandoned: no live decision
			return linOutput{Reason: reason, Epoch: e}, 0
		}
	}
	want = linOutput{Accepted: accepted, Reason: reason, Epoch: e, DecideV: s.Decide[e]}
	if op == shard.OpRelease && accepted {
		if want.Abandoned = s.Abandoned && e == s.Epoch; !want.Abandoned {
			want.NextEpoch = e + 1
		}
	}
	if s.Decide[e] != 0 {
		at = e
	}
	return want, at
}

// apply is the rules of package shard written out again: the answer to in
// and the state after it.
func (s linState) apply(in linInput) (linOutput, uint64, linState) {
	e, op := in.Epoch, in.Op
	repeat := e <= s.Epoch && (op == shard.OpDecide && s.Decide[e] == in.V ||
		op == shard.OpRelease && s.Release[e] == in.V) || op == shard.OpFinalize && s.Final == in.V && s.FinalEpoch == e
	var reason envelope.Code // rules 3 to 6
	switch {
	case repeat:
	case s.Final != 0 || s.Abandoned || e > s.Epoch:
		reason = envelope.CodeWrongState
	case e < s.Epoch:
		reason = envelope.CodeStaleFence
	case op == shard.OpDecide && s.Decide[e] != 0, op == shard.OpFinalize && s.Decide[e] == 0:
		reason = envelope.CodeWrongState
	case op == shard.OpDecide:
		s.Decide[e], s.Fence[e] = in.V, 0
	case op == shard.OpRelease:
		s.Release[e] = in.V
		if in.MaxEpochs != 0 && e >= in.MaxEpochs {
			s.Abandoned = true
		} else {
			s.Epoch++
		}
	case op == shard.OpFinalize:
		s.Final, s.FinalEpoch = in.V, e
	}
	want, at := s.answer(op, reason == "", reason, e)
	return want, at, s
}

// fence checks an answer's fence against epoch at's, learning it when no
// answer named it yet: non-zero, and ordered as the epochs are.
func (s linState) fence(at, got uint64) (bool, linState) {
	switch {
	case at == 0:
		return got == 0, s
	case s.Fence[at] != 0:
		return s.Fence[at] == got, s
	case got == 0:
		return false, s
	}
	for e, f := range s.Fence {
		if f != 0 && (uint64(e) < at && f >= got || uint64(e) > at && f <= got) {
			return false, s
		}
	}
	s.Fence[at] = got
	return true, s
}

func (s linState) get(out linOutput) (bool, linState) {
	found := s.Epoch > 1 || s.Decide[1] != 0 || s.Release[1] != 0
	if !found {
		return !out.Found, s
	}
	want, at := s.answer(opGet, false, "", 0)
	want.Found, want.FinalV, want.Fence, want.State = true, s.Final, out.Fence, shard.StateOpen
	switch {
	case s.Final != 0:
		want.State = shard.StateFinal
	case s.Abandoned:
		want.State = shard.StateAbandoned
	case at != 0:
		want.State = shard.StateDecided
	}
	if out != want {
		return false, s
	}
	return s.fence(at, out.Fence)
}

func linStep(state, input, output any) (bool, any) {
	s, in, out := state.(linState), input.(linInput), output.(linOutput)
	if in.Op == opGet {
		if out.Unknown {
			return true, s
		}
		return s.get(out)
	}
	want, at, next := s.apply(in)
	if out.Unknown {
		return true, next // applied here, or never (linearized after everything)
	}
	if want.Fence = out.Fence; out != want {
		return false, s
	}
	return next.fence(at, out.Fence)
}

// linModel is a shard, partitioned by NEED.
var linModel = porcupine.Model{
	Init: func() any { return linState{Epoch: 1} },
	Step: linStep,
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byNeed := map[string][]porcupine.Operation{}
		for _, op := range h {
			byNeed[op.Input.(linInput).Need] = append(byNeed[op.Input.(linInput).Need], op)
		}
		return slices.Collect(maps.Values(byNeed))
	},
	DescribeOperation: func(in, out any) string { return fmt.Sprintf("%+v -> %+v", in, out) },
	DescribeState:     func(s any) string { return fmt.Sprintf("%+v", s) },
}

func variant(id string, of func(v int) string) uint8 {
	if id == "" {
		return 0
	}
	for v := 1; v <= 2; v++ {
		if of(v) == id {
			return uint8(v)
		}
	}
	return 255
}

func resultOutput(need string, r shard.Result) linOutput {
	return linOutput{Accepted: r.Accepted, Reason: r.Reason, Epoch: r.Epoch, Fence: r.Fence, NextEpoch: r.NextEpoch,
		Abandoned: r.Abandoned, DecideV: variant(r.DecideID, func(v int) string { return decide(need, r.Epoch, v).DecideID })}
}

func recordOutput(need string, rec shard.Record, found bool) linOutput {
	out := linOutput{Found: found, Epoch: rec.Epoch, State: rec.State, Fence: rec.Fence}
	if rec.Decision != nil {
		out.DecideV = variant(rec.Decision.DecideID, func(v int) string { return decide(need, rec.Epoch, v).DecideID })
	}
	if rec.Finalize != nil {
		out.FinalV = variant(rec.Finalize.FinalizeID, func(v int) string { return finalize(need, rec.Epoch, v).FinalizeID })
	}
	return out
}

func (in linInput) command() shard.Command {
	switch in.Op {
	case shard.OpDecide:
		return decide(in.Need, in.Epoch, int(in.V))
	case shard.OpRelease:
		r := release(in.Need, in.Epoch, []string{shard.ReasonExpired, shard.ReasonYielded}[in.V-1])
		r.MaxEpochs = in.MaxEpochs
		return r
	default:
		return finalize(in.Need, in.Epoch, int(in.V))
	}
}

// linRun is one seeded run: clients and a nemesis against a fresh cluster.
type linRun struct {
	c     *cluster
	needs []string
	start time.Time

	mu      sync.Mutex
	history []porcupine.Operation
	events  []string // what the nemesis did, for a failure report
}

func (r *linRun) now() int64 { return time.Since(r.start).Nanoseconds() }

func (r *linRun) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%6dms ", time.Since(r.start).Milliseconds())+fmt.Sprintf(format, args...))
}

// do runs one operation through the first of the hosts (0-based) that is
// up, records it and returns its output (ok false: no host was up, or a
// read failed, and nothing was recorded).
func (r *linRun) do(client int, order []int, in linInput, timeout time.Duration) (linOutput, bool) {
	for _, h := range order {
		var out linOutput
		var call, ret int64
		ran := r.c.use(h+1, func(n *consensus.Node) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			call = r.now()
			if in.Op == opGet {
				rec, found, _, err := n.Get(ctx, in.Need)
				ret, out = r.now(), recordOutput(in.Need, rec, found)
				out.Unknown = err != nil
				return
			}
			res, err := n.Propose(ctx, in.command())
			ret, out = r.now(), resultOutput(in.Need, res)
			if err != nil {
				ret, out = math.MaxInt64, linOutput{Unknown: true}
			}
		})
		if !ran {
			continue
		}
		if in.Op == opGet && out.Unknown {
			return out, false // a read that failed changed nothing
		}
		r.mu.Lock()
		r.history = append(r.history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
		r.mu.Unlock()
		return out, true
	}
	time.Sleep(5 * time.Millisecond)
	return linOutput{}, false
}

func (r *linRun) client(id int, rng *rand.Rand, deadline time.Time) {
	seen := map[string]uint64{} // the epoch this client last heard of, per NEED
	for time.Now().Before(deadline) {
		k := rng.IntN(len(r.needs))
		in := linPick(rng, r.needs[k], k, seen[r.needs[k]])
		if out, ok := r.do(id, rng.Perm(hosts), in, linOpTimeout); ok && !out.Unknown {
			seen[in.Need] = max(out.Epoch, out.NextEpoch)
		}
	}
}

// linPick draws an operation on the k-th NEED of a run, at an epoch near
// the one last heard of.
func linPick(rng *rand.Rand, need string, k int, seen uint64) linInput {
	e := max(1, int64(seen)+int64(rng.IntN(4))-1)
	in := linInput{Need: need, Epoch: min(uint64(e), linMaxEpoch), V: uint8(1 + rng.IntN(2))}
	switch p := rng.IntN(100); {
	case p < 45:
		in.Op = shard.OpDecide
	case p < 65:
		in.Op = opGet
	case p < 95:
		in.Op, in.Epoch = shard.OpRelease, min(in.Epoch, linMaxEpoch-1)
		in.MaxEpochs = uint64(3 * (k % 2))
	default:
		in.Op = shard.OpFinalize
	}
	return in
}

// nemesis cuts, heals and restarts on a seeded schedule until deadline,
// then heals everything and makes sure every host is up.
func (r *linRun) nemesis(rng *rand.Rand, deadline time.Time) {
	for {
		wait := time.Duration(80+rng.IntN(220)) * time.Millisecond
		if time.Now().Add(wait).After(deadline) {
			break
		}
		time.Sleep(wait)
		a, b := 1+rng.IntN(hosts), 1+rng.IntN(hosts-1)
		if b >= a {
			b++
		}
		switch rng.IntN(7) {
		case 0, 1:
			r.logf("isolate %d", a)
			r.c.net.Isolate(raftAddr(a))
		case 2:
			r.logf("cut %d-%d", a, b)
			r.c.net.Cut(raftAddr(a), raftAddr(b))
		case 3:
			r.logf("cut %d->%d", a, b)
			r.c.net.CutOneWay(raftAddr(a), raftAddr(b))
		case 4, 5:
			r.logf("heal")
			r.c.net.HealAll()
		case 6:
			r.logf("stop %d", a)
			r.c.stop(a)
			time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
			err := r.c.start(a, false)
			r.logf("started %d: %v", a, err)
		}
	}
	r.logf("heal all, start all")
	r.c.net.HealAll()
	for i := 1; i <= hosts; i++ {
		if err := r.c.start(i, false); err != nil {
			r.logf("start %d: %v", i, err)
		}
	}
}

// linSettings returns the number of runs and the first seed: the flag, else
// the environment, else 20 runs from a seed taken from the clock.
func linSettings() (runs int, base int64) {
	runs, base = *linRuns, *linSeed
	if v, err := strconv.Atoi(os.Getenv("SWARMHOST_LIN_RUNS")); err == nil && runs == 0 {
		runs = v
	}
	if v, err := strconv.ParseInt(os.Getenv("SWARMHOST_LIN_SEED"), 10, 64); err == nil && base == 0 {
		base = v
	}
	return cmp.Or(runs, 20), cmp.Or(base, time.Now().UnixNano()%1_000_000)
}

// Concurrent clients decide, release, finalize and read a few NEEDs through
// random hosts of a three-host cluster while a nemesis cuts links, isolates
// and restarts hosts; every history must be linearizable under the model of
// a shard (linModel). SWARMHOST_LIN_RUNS / -lin.runs sets the number of
// seeded runs, SWARMHOST_LIN_SEED / -lin.seed the first seed.
func TestLinearizable(t *testing.T) {
	runs, base := linSettings()
	t.Logf("%d runs from seed %d", runs, base)
	var ops, unknown, accepted int
	for k := range runs {
		seed := base + int64(k)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			o, u, a := linearizableRun(t, seed)
			ops, unknown, accepted = ops+o, unknown+u, accepted+a
		})
	}
	t.Logf("%d operations, %d without an answer, %d commands accepted", ops, unknown, accepted)
	if !t.Failed() && accepted == 0 {
		t.Fatal("no command was accepted in any run: the histories checked nothing")
	}
}

func linearizableRun(t *testing.T, seed int64) (ops, unknown, accepted int) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	r := &linRun{c: newCluster(t, 2, nil)}
	for i := range linNeeds {
		r.needs = append(r.needs, ref("lin", seed, i))
	}
	r.start = time.Now()
	deadline := r.start.Add(linDuration)
	var wg sync.WaitGroup
	for id := range linClients {
		crng := rand.New(rand.NewPCG(uint64(seed), uint64(id+1)))
		wg.Go(func() { r.client(id, crng, deadline) })
	}
	r.nemesis(rng, deadline)
	wg.Wait()
	// Final reads through every host, retried: an attempt whose read index
	// request was lost in the partition waits out the adapter's 5 s attempt
	// timeout, so short attempts get there sooner.
	for _, need := range r.needs {
		for h := range hosts {
			in := linInput{Op: opGet, Need: need}
			ok := false
			for attempt := 0; attempt < 60 && !ok; attempt++ {
				_, ok = r.do(linClients, []int{h}, in, 500*time.Millisecond)
			}
			if !ok {
				t.Errorf("seed %d: host %d never answered the final read of %s", seed, h+1, need)
			}
		}
	}
	for _, op := range r.history {
		out := op.Output.(linOutput)
		ops++
		if out.Unknown {
			unknown++
		} else if out.Accepted {
			accepted++
		}
	}
	res, info := porcupine.CheckOperationsVerbose(linModel, r.history, 60*time.Second)
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("swarmhost-lin-%d.html", seed))
		if err := porcupine.VisualizePath(linModel, info, path); err != nil {
			path = "(not written: " + err.Error() + ")"
		}
		for _, e := range r.events {
			t.Log(e)
		}
		t.Errorf("seed %d: history of %d operations is %s (visualization: %s); reproduce with\n"+
			"  go test ./consensus -run 'TestLinearizable$' -count=1 -lin.seed=%d -lin.runs=1",
			seed, ops, res, path, seed)
	}
	return ops, unknown, accepted
}

// The model judges hand-written histories: it must find the bad ones
// illegal, or TestLinearizable could not fail.
func TestLinearizabilityModel(t *testing.T) {
	need := needID(1)
	dec := func(v uint8) linInput { return linInput{Op: shard.OpDecide, Need: need, Epoch: 1, V: v} }
	get := linInput{Op: opGet, Need: need}
	acc := func(v uint8, fence uint64) linOutput {
		return linOutput{Accepted: true, Epoch: 1, Fence: fence, DecideV: v}
	}
	conflict := func(v uint8, fence uint64) linOutput {
		return linOutput{Reason: envelope.CodeWrongState, Epoch: 1, Fence: fence, DecideV: v}
	}
	decided := func(v uint8, fence uint64) linOutput {
		return linOutput{Found: true, Epoch: 1, State: shard.StateDecided, Fence: fence, DecideV: v}
	}
	op := func(client int, in linInput, call int64, out linOutput, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	cases := []struct {
		name string
		want bool
		h    []porcupine.Operation
	}{
		{"two accepted DECIDEs of one epoch", false, []porcupine.Operation{
			op(0, dec(1), 0, acc(1, 5), 10), op(1, dec(2), 2, acc(2, 6), 12)}},
		{"two accepted DECIDEs, one after the other", false, []porcupine.Operation{
			op(0, dec(1), 0, acc(1, 5), 10), op(1, dec(2), 20, acc(2, 6), 30)}},
		{"a repeat answered with another fence", false, []porcupine.Operation{
			op(0, dec(1), 0, acc(1, 5), 10), op(1, dec(1), 20, acc(1, 7), 30)}},
		{"a stale read", false, []porcupine.Operation{
			op(0, dec(1), 0, acc(1, 5), 10), op(1, get, 20, linOutput{}, 30)}},
		{"a conflict naming the wrong decision", false, []porcupine.Operation{
			op(0, dec(1), 0, acc(1, 5), 10), op(1, dec(2), 20, conflict(2, 5), 30)}},
		{"concurrent DECIDEs, one wins", true, []porcupine.Operation{
			op(0, dec(1), 0, acc(1, 5), 10), op(1, dec(2), 2, conflict(1, 5), 12),
			op(2, get, 1, linOutput{}, 3), op(2, get, 20, decided(1, 5), 30)}},
		{"an unanswered DECIDE that took effect", true, []porcupine.Operation{
			op(0, dec(1), 0, linOutput{Unknown: true}, math.MaxInt64), op(1, get, 20, decided(1, 9), 30),
			op(1, dec(2), 40, conflict(1, 9), 50)}},
		{"an unanswered DECIDE that never took effect", true, []porcupine.Operation{
			op(0, dec(1), 0, linOutput{Unknown: true}, math.MaxInt64), op(1, dec(2), 20, acc(2, 4), 30)}},
		{"release, then the next epoch", true, []porcupine.Operation{
			op(0, dec(1), 0, acc(1, 5), 10),
			op(0, linInput{Op: shard.OpRelease, Need: need, Epoch: 1, V: 1}, 20,
				linOutput{Accepted: true, Epoch: 1, Fence: 5, DecideV: 1, NextEpoch: 2}, 30),
			op(0, linInput{Op: shard.OpDecide, Need: need, Epoch: 2, V: 2}, 40,
				linOutput{Accepted: true, Epoch: 2, Fence: 9, DecideV: 2}, 50),
			op(1, dec(1), 60, acc(1, 5), 70)}},
		{"a later epoch decided at a lower fence", false, []porcupine.Operation{
			op(0, dec(1), 0, acc(1, 5), 10),
			op(0, linInput{Op: shard.OpRelease, Need: need, Epoch: 1, V: 1}, 20,
				linOutput{Accepted: true, Epoch: 1, Fence: 5, DecideV: 1, NextEpoch: 2}, 30),
			op(0, linInput{Op: shard.OpDecide, Need: need, Epoch: 2, V: 2}, 40,
				linOutput{Accepted: true, Epoch: 2, Fence: 3, DecideV: 2}, 50)}},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperations(linModel, c.h); got != c.want {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.want)
		}
	}
}

// The model agrees with the rules the replicas run (shard.Machine) on
// random sequences of commands, each followed by a read.
func TestLinearizabilityModelMatchesRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seenAnswers := map[string]int{}
	for trial := range 300 {
		need, m, st := ref("model", trial), shard.New(), linModel.Init()
		var seen, index uint64
		for range 30 {
			in := linPick(rng, need, trial, seen)
			var out linOutput
			if in.Op == opGet {
				rec, found := m.Lookup(need)
				out = recordOutput(need, rec, found)
			} else {
				index += 1 + rng.Uint64N(3)
				out = resultOutput(need, m.Apply(index, in.command().Encode()))
			}
			ok, next := linStep(st, in, out)
			if !ok {
				t.Fatalf("trial %d: the model refuses the rules' answer to %+v: %+v (model state %+v)", trial, in, out, st)
			}
			st, seen = next, max(out.Epoch, out.NextEpoch)
			seenAnswers[fmt.Sprintf("%s %v %s %v %s", in.Op, out.Accepted, out.Reason, out.Abandoned, out.State)]++
		}
	}
	for _, want := range []string{"DECIDE true  false ", "DECIDE false wrong_state false ", "DECIDE false stale_fence false ",
		"RELEASE true  true ", "FINALIZE true  false ", "GET false  false final", "GET false  false abandoned"} {
		if seenAnswers[want] == 0 {
			t.Errorf("no %q answer was compared: %v", want, seenAnswers)
		}
	}
}
