package plan_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

// Small pools, so that random ops collide: the same tasks (REQUIRES cycles
// and self-edges), competing ADD_TASK and ANNOTATE, STATE regressions,
// lamport ties between senders. Two task ids sort differently in UTF-16
// and in bytes.
var (
	poolTasks  = []string{"a", "b", "c", "d", "\uff5a", "\U0001F600"}
	poolValues = []string{`null`, `1`, `"x"`, `{"b":1,"a":[true,null]}`, `{"a":2.50}`, `[]`}
	poolRefs   = []string{ref("r1"), ref("r2"), ref("r3")}
	poolKeys   = []string{"k1", "k2"}
	poolPKs    = []string{pkA, pkB, pkC}
)

func genOp() *rapid.Generator[plan.Op] {
	return rapid.Custom(func(t *rapid.T) plan.Op {
		task := rapid.SampledFrom(poolTasks).Draw(t, "task")
		switch rapid.SampledFrom(plan.Kinds).Draw(t, "kind") {
		case plan.OpAddTask:
			return addTask(task, rapid.SampledFrom(poolValues).Draw(t, "spec"))
		case plan.OpRequires:
			return requires(task, rapid.SampledFrom(poolTasks).Draw(t, "on"))
		case plan.OpProduces:
			return produces(task, rapid.SampledFrom(poolRefs).Draw(t, "ref"))
		case plan.OpState:
			return state(task, rapid.SampledFrom(plan.States).Draw(t, "state"))
		case plan.OpLink:
			return link(task, rapid.SampledFrom(poolRefs).Draw(t, "need"))
		default:
			return annotate(task, rapid.SampledFrom(poolKeys).Draw(t, "key"), rapid.SampledFrom(poolValues).Draw(t, "value"))
		}
	})
}

// genEnvs draws 1 to 12 envelopes with distinct ids, lamports in 1..4.
func genEnvs(t *rapid.T) []env {
	n := rapid.IntRange(1, 12).Draw(t, "envelopes")
	salt := rapid.Uint32().Draw(t, "salt")
	envs := make([]env, n)
	for i := range envs {
		envs[i] = env{
			id:      ref(fmt.Sprintf("envelope %d/%d", salt, i)),
			lamport: rapid.Uint64Range(1, 4).Draw(t, "lamport"),
			sender:  rapid.SampledFrom(poolPKs).Draw(t, "sender"),
			ops:     rapid.SliceOfN(genOp(), 1, 6).Draw(t, "ops"),
		}
	}
	return envs
}

func entriesOf(e env) []plan.Entry {
	out := make([]plan.Entry, len(e.ops))
	for i, o := range e.ops {
		out[i] = plan.Entry{ID: e.id, Lamport: e.lamport, Sender: e.sender, Index: i, Count: len(e.ops), Op: o}
	}
	return out
}

func add(t *rapid.T, p *plan.Plan, e env) {
	if _, err := p.Add(e.id, e.lamport, e.sender, e.ops); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

func importAll(t *rapid.T, p *plan.Plan, es []plan.Entry) {
	if _, err := p.Import(es); err != nil {
		t.Fatalf("Import: %v", err)
	}
}

func sameAs(t *rapid.T, what string, p *plan.Plan, wantState []byte, wantDigest string) {
	if got := p.State(); string(got) != string(wantState) {
		t.Fatalf("%s: state\n got %s\nwant %s", what, got, wantState)
	}
	if got := p.Digest(); got != wantDigest {
		t.Fatalf("%s: digest %s, want %s", what, got, wantDigest)
	}
}

// reference adds the envelopes in the order given, with no fold in between.
func reference(t *rapid.T, envs []env) ([]byte, string) {
	p := plan.New()
	for _, e := range envs {
		add(t, p, e)
	}
	return p.State(), p.Digest()
}

// P5: any permutation and duplication of the Add calls, with folds in
// between or not, gives byte-identical state and digest; the state is RFC
// 8785 and the digest is its hash.
func TestPropConvergenceOrderAndDuplication(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		envs := genEnvs(t)
		wantState, wantDigest := reference(t, envs)
		canonical(t, wantState)
		if wantDigest != envelope.HashRef(wantState) {
			t.Fatal("digest is not the hash of the state")
		}
		seq := slices.Clone(envs)
		for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(envs)-1), 0, 8).Draw(t, "duplicates") {
			seq = append(seq, envs[i])
		}
		seq = rapid.Permutation(seq).Draw(t, "order")
		p := plan.New()
		for _, e := range seq {
			add(t, p, e)
			if rapid.Bool().Draw(t, "fold now") {
				p.Digest()
			}
		}
		sameAs(t, "permuted and duplicated", p, wantState, wantDigest)
	})
}

// P5 across a partition: split the envelopes (some given to a replica only
// in part, entry by entry) between two replicas, reconcile through
// Have/Missing and the wire form in random chunks, and both equal the
// replica that saw everything.
func TestPropConvergenceReconcile(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		envs := genEnvs(t)
		wantState, wantDigest := reference(t, envs)
		a, b := plan.New(), plan.New()
		for _, e := range rapid.Permutation(envs).Draw(t, "order") {
			switch rapid.IntRange(0, 3).Draw(t, "side") {
			case 0:
				add(t, a, e)
			case 1:
				add(t, b, e)
			case 2:
				add(t, a, e)
				add(t, b, e)
			case 3: // a holds part of it, b all of it
				es := entriesOf(e)
				part := rapid.SliceOfNDistinct(rapid.IntRange(0, len(es)-1), 1, len(es), rapid.ID[int]).Draw(t, "part")
				for _, i := range part {
					importAll(t, a, es[i:i+1])
				}
				add(t, b, e)
			}
			if rapid.Bool().Draw(t, "fold now") {
				a.Digest()
				b.Digest()
			}
		}
		toA, toB := b.Missing(a.Have()), a.Missing(b.Have())
		deliver(t, a, toA, "to a")
		deliver(t, b, toB, "to b")
		sameAs(t, "replica a", a, wantState, wantDigest)
		sameAs(t, "replica b", b, wantState, wantDigest)
		all := make([]string, len(envs))
		for i, e := range envs {
			all[i] = e.id
		}
		slices.Sort(all)
		if !slices.Equal(a.Have(), all) || !slices.Equal(b.Have(), all) {
			t.Fatalf("Have after reconcile: %v / %v, want %v", a.Have(), b.Have(), all)
		}
	})
}

// deliver sends entries over the wire (EncodeEntries, ParseEntries) in
// random chunks, in random order, some twice.
func deliver(t *rapid.T, p *plan.Plan, es []plan.Entry, label string) {
	var chunks [][]plan.Entry
	for rest := es; len(rest) > 0; {
		n := rapid.IntRange(1, len(rest)).Draw(t, "chunk "+label)
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	if len(chunks) > 0 && rapid.Bool().Draw(t, "resend "+label) {
		chunks = append(chunks, chunks[0])
	}
	for _, c := range rapid.Permutation(chunks).Draw(t, "chunk order "+label) {
		wire, err := plan.EncodeEntries(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := plan.ParseEntries(wire)
		if err != nil {
			t.Fatalf("ParseEntries(EncodeEntries): %v", err)
		}
		importAll(t, p, back)
	}
}

// Adding envelopes one by one (folding after each) equals importing every
// op at once, equals importing op by op in fold order (the incremental
// fold's path) or in random order.
func TestPropOneByOneEqualsAllAtOnce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		envs := genEnvs(t)
		var all []plan.Entry
		for _, e := range envs {
			all = append(all, entriesOf(e)...)
		}
		once := plan.New()
		importAll(t, once, all)
		wantState, wantDigest := once.State(), once.Digest()

		oneByOne := plan.New()
		for _, e := range envs {
			add(t, oneByOne, e)
			oneByOne.Digest()
		}
		sameAs(t, "envelope by envelope", oneByOne, wantState, wantDigest)

		inOrder := plan.New()
		for _, e := range once.Entries() { // fold order
			importAll(t, inOrder, []plan.Entry{e})
			inOrder.State()
		}
		sameAs(t, "op by op in fold order", inOrder, wantState, wantDigest)

		shuffled := plan.New()
		for _, e := range rapid.Permutation(all).Draw(t, "op order") {
			importAll(t, shuffled, []plan.Entry{e})
			if rapid.Bool().Draw(t, "fold now") {
				shuffled.State()
			}
		}
		sameAs(t, "op by op in random order", shuffled, wantState, wantDigest)
	})
}

// After every Add, in any order: the fold equals a direct model of the
// rules; a task's state is never behind what it was; the REQUIRES graph
// has no cycle, and every REQUIRES op held is either an edge or would
// close a cycle.
func TestPropFoldRules(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		envs := rapid.Permutation(genEnvs(t)).Draw(t, "order")
		p := plan.New()
		prev := map[string]plan.State{}
		var held []env
		for _, e := range envs {
			add(t, p, e)
			held = append(held, e)
			if rapid.Bool().Draw(t, "skip check") {
				continue
			}
			got := map[string]plan.TaskState{}
			for _, id := range p.Tasks() {
				got[id], _ = p.Task(id)
			}
			if want := model(held); !equalTasks(got, want) {
				t.Fatalf("fold differs from the model:\n got %v\nwant %v", got, want)
			}
			for id, s := range prev {
				if got[id].State < s {
					t.Fatalf("task %q went back from %v to %v", id, s, got[id].State)
				}
			}
			for id, ts := range got {
				prev[id] = ts.State
			}
			if cyc := findCycle(got); cyc != nil {
				t.Fatalf("REQUIRES cycle %v", cyc)
			}
			for _, h := range held {
				for _, o := range h.ops {
					if o.Kind == plan.OpRequires && !slices.Contains(got[o.Task].Requires, o.On) && !reaches(got, o.On, o.Task) {
						t.Fatalf("REQUIRES %s -> %s dropped though it closes no cycle", o.Task, o.On)
					}
				}
			}
		}
	})
}

// model is the fold written as directly as the rules say, with no cache.
func model(envs []env) map[string]plan.TaskState {
	type op struct {
		e env
		i int
	}
	var ops []op
	for _, e := range envs {
		for i := range e.ops {
			ops = append(ops, op{e, i})
		}
	}
	slices.SortFunc(ops, func(x, y op) int {
		return cmp.Or(cmp.Compare(x.e.lamport, y.e.lamport), cmp.Compare(x.e.sender, y.e.sender),
			cmp.Compare(x.e.id, y.e.id), cmp.Compare(x.i, y.i))
	})
	tasks := map[string]plan.TaskState{}
	added := map[string]bool{}
	touch := func(id string) plan.TaskState {
		ts, ok := tasks[id]
		if !ok {
			ts = plan.TaskState{Spec: json.RawMessage("null"), Annotations: map[string]json.RawMessage{}}
			tasks[id] = ts
		}
		return ts
	}
	insert := func(list []string, s string) []string {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
		return list
	}
	for _, x := range ops {
		o, _ := x.e.ops[x.i].Normalize()
		ts := touch(o.Task)
		switch o.Kind {
		case plan.OpAddTask:
			if !added[o.Task] {
				ts.Spec, added[o.Task] = o.Spec, true
			}
		case plan.OpRequires:
			touch(o.On)
			if !reaches(tasks, o.On, o.Task) {
				ts.Requires = insert(ts.Requires, o.On)
			}
		case plan.OpProduces:
			ts.Produces = insert(ts.Produces, o.Ref)
		case plan.OpLink:
			ts.Needs = insert(ts.Needs, o.Need)
		case plan.OpState:
			ts.State = max(ts.State, o.State)
		case plan.OpAnnotate:
			ts.Annotations[o.Key] = o.Value
		}
		tasks[o.Task] = ts
	}
	return tasks
}

func equalTasks(got, want map[string]plan.TaskState) bool {
	set := func(l []string) []string { l = slices.Clone(l); slices.Sort(l); return l }
	return maps.EqualFunc(got, want, func(g, w plan.TaskState) bool {
		return string(g.Spec) == string(w.Spec) && g.State == w.State &&
			slices.Equal(set(g.Requires), set(w.Requires)) && slices.Equal(set(g.Produces), set(w.Produces)) &&
			slices.Equal(set(g.Needs), set(w.Needs)) &&
			maps.EqualFunc(g.Annotations, w.Annotations, func(a, b json.RawMessage) bool { return string(a) == string(b) })
	})
}

// reaches reports whether to is reachable from from (a task reaches itself).
func reaches(tasks map[string]plan.TaskState, from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(n string) bool {
		if n == to {
			return true
		}
		if seen[n] {
			return false
		}
		seen[n] = true
		return slices.ContainsFunc(tasks[n].Requires, walk)
	}
	return walk(from)
}

// findCycle returns a REQUIRES cycle, or nil.
func findCycle(tasks map[string]plan.TaskState) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var path, cycle []string
	var visit func(string) bool
	visit = func(n string) bool {
		color[n] = grey
		path = append(path, n)
		for _, m := range tasks[n].Requires {
			if color[m] == grey {
				cycle = append(slices.Clone(path), m)
				return true
			}
			if color[m] == white && visit(m) {
				return true
			}
		}
		path = path[:len(path)-1]
		color[n] = black
		return false
	}
	for _, id := range slices.Sorted(maps.Keys(tasks)) {
		if color[id] == white && visit(id) {
			return cycle
		}
	}
	return nil
}
