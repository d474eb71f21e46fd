package plan_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

// env is one UPDATE_PLAN envelope of a fold test.
type env struct {
	id      string
	lamport uint64
	sender  string
	ops     []plan.Op
}

// ids returns n distinct envelope ids in increasing order.
func ids(n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		out = append(out, ref("envelope "+strings.Repeat("!", i)))
	}
	slices.Sort(out)
	return out
}

// expectState builds the canonical state a test expects: tasks maps each
// task to the members that differ from a fresh task's. It is canonicalized
// by the independent JCS implementation, so a byte comparison with
// Plan.State also checks the package's own writer.
func expectState(t *testing.T, tasks map[string]string) []byte {
	t.Helper()
	all := map[string]map[string]json.RawMessage{}
	for task, over := range tasks {
		m := map[string]json.RawMessage{
			"annotations": json.RawMessage(`{}`), "needs": json.RawMessage(`[]`),
			"produces": json.RawMessage(`[]`), "requires": json.RawMessage(`[]`),
			"spec": json.RawMessage(`null`), "state": json.RawMessage(`"todo"`),
		}
		var o map[string]json.RawMessage
		if err := json.Unmarshal([]byte(over), &o); err != nil {
			t.Fatalf("bad expectation for %s: %v", task, err)
		}
		maps.Copy(m, o)
		all[task] = m
	}
	b, err := json.Marshal(map[string]any{"tasks": all})
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.CanonicalPayload(json.RawMessage(b))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Table tests of the fold, op kind by op kind. Envelopes are added in the
// order listed, which is deliberately not always the fold order.
func TestFold(t *testing.T) {
	id := ids(4)
	rs := []string{ref("r1"), ref("r2"), ref("r3")}
	slices.Sort(rs)
	r1, r2, r3 := rs[0], rs[1], rs[2] // r1 < r2 < r3
	cases := []struct {
		name string
		envs []env
		want map[string]string
	}{
		{"empty plan", nil, map[string]string{}},
		{"ADD_TASK", []env{{id[0], 1, pkA, []plan.Op{addTask("t1", `{"kind":"classify"}`)}}},
			map[string]string{"t1": `{"spec":{"kind":"classify"}}`}},
		{"ADD_TASK first spec in lamport order wins", []env{
			{id[0], 5, pkA, []plan.Op{addTask("t1", `"late"`)}},
			{id[1], 2, pkB, []plan.Op{addTask("t1", `"early"`)}},
		}, map[string]string{"t1": `{"spec":"early"}`}},
		{"ADD_TASK lamport tie: sender_pk decides", []env{
			{id[0], 3, pkB, []plan.Op{addTask("t1", `"from B"`)}},
			{id[1], 3, pkA, []plan.Op{addTask("t1", `"from A"`)}},
		}, map[string]string{"t1": `{"spec":"from A"}`}},
		{"ADD_TASK lamport and sender tie: id decides", []env{
			{id[1], 3, pkA, []plan.Op{addTask("t1", `"larger id"`)}},
			{id[0], 3, pkA, []plan.Op{addTask("t1", `"smaller id"`)}},
		}, map[string]string{"t1": `{"spec":"smaller id"}`}},
		{"ADD_TASK in one envelope: index decides", []env{
			{id[0], 3, pkA, []plan.Op{addTask("t1", `0`), addTask("t1", `1`)}},
		}, map[string]string{"t1": `{"spec":0}`}},
		{"ADD_TASK null spec counts as the first", []env{
			{id[0], 1, pkA, []plan.Op{addTask("t1", `null`)}},
			{id[1], 2, pkA, []plan.Op{addTask("t1", `"second"`)}},
		}, map[string]string{"t1": `{}`}},
		{"an op creates its task implicitly; a later ADD_TASK sets the spec", []env{
			{id[0], 9, pkA, []plan.Op{addTask("t1", `"spec"`)}},
			{id[1], 1, pkA, []plan.Op{state("t1", plan.StateClaimed), annotate("t2", "k", `1`)}},
		}, map[string]string{"t1": `{"spec":"spec","state":"claimed"}`, "t2": `{"annotations":{"k":1}}`}},
		{"REQUIRES adds an edge and creates both tasks", []env{
			{id[0], 1, pkA, []plan.Op{requires("t1", "t0")}},
		}, map[string]string{"t1": `{"requires":["t0"]}`, "t0": `{}`}},
		{"REQUIRES edges accumulate, sorted and deduplicated", []env{
			{id[0], 1, pkA, []plan.Op{requires("t", "c"), requires("t", "a")}},
			{id[1], 2, pkB, []plan.Op{requires("t", "b"), requires("t", "a")}},
		}, map[string]string{"t": `{"requires":["a","b","c"]}`, "a": `{}`, "b": `{}`, "c": `{}`}},
		{"REQUIRES self-edge is ignored", []env{
			{id[0], 1, pkA, []plan.Op{requires("t", "t")}},
		}, map[string]string{"t": `{}`}},
		{"REQUIRES closing a cycle is ignored: the last in fold order", []env{
			{id[2], 3, pkA, []plan.Op{requires("c", "a")}},
			{id[0], 1, pkA, []plan.Op{requires("a", "b")}},
			{id[1], 2, pkA, []plan.Op{requires("b", "c")}},
		}, map[string]string{"a": `{"requires":["b"]}`, "b": `{"requires":["c"]}`, "c": `{}`}},
		{"REQUIRES cycle: fold order, not arrival, picks the edge dropped", []env{
			{id[0], 1, pkA, []plan.Op{requires("a", "b")}},
			{id[1], 2, pkA, []plan.Op{requires("b", "c")}},
			{id[2], 0, pkA, []plan.Op{requires("c", "a")}},
		}, map[string]string{"a": `{"requires":["b"]}`, "b": `{}`, "c": `{"requires":["a"]}`}},
		{"REQUIRES two-cycle in one envelope: the second op is dropped", []env{
			{id[0], 1, pkA, []plan.Op{requires("b", "a"), requires("a", "b")}},
		}, map[string]string{"a": `{}`, "b": `{"requires":["a"]}`}},
		{"REQUIRES diamond is not a cycle", []env{
			{id[0], 1, pkA, []plan.Op{requires("d", "b"), requires("d", "c"), requires("b", "a"), requires("c", "a")}},
		}, map[string]string{"a": `{}`, "b": `{"requires":["a"]}`, "c": `{"requires":["a"]}`, "d": `{"requires":["b","c"]}`}},
		{"PRODUCES accumulates, sorted and deduplicated", []env{
			{id[0], 2, pkA, []plan.Op{produces("t", r2), produces("t", r1)}},
			{id[1], 1, pkB, []plan.Op{produces("t", r2), produces("t", r3)}},
		}, map[string]string{"t": `{"produces":["` + r1 + `","` + r2 + `","` + r3 + `"]}`}},
		{"LINK accumulates, sorted and deduplicated", []env{
			{id[0], 2, pkA, []plan.Op{link("t", r3), link("t", r1), link("t", r3)}},
		}, map[string]string{"t": `{"needs":["` + r1 + `","` + r3 + `"]}`}},
		{"STATE moves forward", []env{
			{id[0], 1, pkA, []plan.Op{state("t", plan.StateClaimed)}},
			{id[1], 2, pkA, []plan.Op{state("t", plan.StateDone)}},
		}, map[string]string{"t": `{"state":"done"}`}},
		{"STATE never moves back, even when later in the order", []env{
			{id[0], 1, pkA, []plan.Op{state("t", plan.StateVerified)}},
			{id[1], 2, pkB, []plan.Op{state("t", plan.StateClaimed), state("t", plan.StateTodo)}},
		}, map[string]string{"t": `{"state":"verified"}`}},
		{"STATE final stays final", []env{
			{id[1], 7, pkA, []plan.Op{state("t", plan.StateDone)}},
			{id[0], 3, pkA, []plan.Op{state("t", plan.StateFinal)}},
		}, map[string]string{"t": `{"state":"final"}`}},
		{"ANNOTATE last writer in fold order wins, whatever the arrival", []env{
			{id[1], 4, pkA, []plan.Op{annotate("t", "k", `"lamport 4"`)}},
			{id[0], 2, pkB, []plan.Op{annotate("t", "k", `"lamport 2"`), annotate("t", "j", `[1]`)}},
		}, map[string]string{"t": `{"annotations":{"j":[1],"k":"lamport 4"}}`}},
		{"ANNOTATE lamport tie: larger sender_pk wins", []env{
			{id[0], 4, pkB, []plan.Op{annotate("t", "k", `"B"`)}},
			{id[1], 4, pkA, []plan.Op{annotate("t", "k", `"A"`)}},
		}, map[string]string{"t": `{"annotations":{"k":"B"}}`}},
		{"ANNOTATE in one envelope: the later index wins; null is a value", []env{
			{id[0], 1, pkA, []plan.Op{annotate("t", "k", `1`), annotate("t", "k", `null`)}},
		}, map[string]string{"t": `{"annotations":{"k":null}}`}},
		{"keys sort by UTF-16 code units, not bytes", []env{
			{id[0], 1, pkA, []plan.Op{addTask("\uff5a", `1`), addTask("\U0001F600", `2`), addTask("a", `3`),
				annotate("a", "\uff5a", `1`), annotate("a", "\U0001F600", `2`), requires("a", "\uff5a"), requires("a", "\U0001F600")}},
		}, map[string]string{"\uff5a": `{"spec":1}`, "\U0001F600": `{"spec":2}`,
			"a": "{\"spec\":3,\"annotations\":{\"\uff5a\":1,\"\U0001F600\":2},\"requires\":[\"\U0001F600\",\"\uff5a\"]}"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := plan.New()
			for _, e := range c.envs {
				mustAdd(t, p, e.id, e.lamport, e.sender, e.ops...)
			}
			got, want := p.State(), expectState(t, c.want)
			if string(got) != string(want) {
				t.Fatalf("state\n got %s\nwant %s", got, want)
			}
			if d := p.Digest(); d != envelope.HashRef(want) {
				t.Fatalf("digest %s, want the hash of the state", d)
			}
		})
	}
}

// The digest hashes exactly this shape.
func TestStateShape(t *testing.T) {
	p := plan.New()
	if got := string(p.State()); got != `{"tasks":{}}` {
		t.Fatalf("empty plan: %s", got)
	}
	if p.Digest() != envelope.HashRef([]byte(`{"tasks":{}}`)) {
		t.Fatal("empty plan digest")
	}
	n := ref("need")
	mustAdd(t, p, ref("e1"), 1, pkA, addTask("t1", `{"b":2,"a":1}`), requires("t1", "t0"),
		produces("t1", ref("out")), state("t1", plan.StateDone), link("t1", n), annotate("t1", "who", `"w"`))
	want := `{"tasks":{"t0":{"annotations":{},"needs":[],"produces":[],"requires":[],"spec":null,"state":"todo"},` +
		`"t1":{"annotations":{"who":"w"},"needs":["` + n + `"],"produces":["` + ref("out") + `"],` +
		`"requires":["t0"],"spec":{"a":1,"b":2},"state":"done"}}}`
	if got := string(p.State()); got != want {
		t.Fatalf("state\n got %s\nwant %s", got, want)
	}
	if p.Digest() != envelope.HashRef([]byte(want)) {
		t.Fatal("digest is not HashRef of the state")
	}
	ts, ok := p.Task("t1")
	if !ok || ts.State != plan.StateDone || string(ts.Spec) != `{"a":1,"b":2}` ||
		!slices.Equal(ts.Requires, []string{"t0"}) || !slices.Equal(ts.Needs, []string{n}) ||
		!slices.Equal(ts.Produces, []string{ref("out")}) || string(ts.Annotations["who"]) != `"w"` {
		t.Fatalf("Task(t1) = %+v, %v", ts, ok)
	}
	if got := p.Tasks(); !slices.Equal(got, []string{"t0", "t1"}) {
		t.Fatalf("Tasks() = %v", got)
	}
	if _, ok := p.Task("nope"); ok {
		t.Fatal("Task of an unknown task")
	}
}

// State returns a copy: changing it changes nothing held.
func TestStateIsACopy(t *testing.T) {
	p := plan.New()
	mustAdd(t, p, ref("e"), 1, pkA, addTask("t", `1`))
	s := p.State()
	d := p.Digest()
	s[0] = 'X'
	if p.State()[0] != '{' || p.Digest() != d {
		t.Fatal("State exposed the plan's own bytes")
	}
}
