package plan_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

func TestAddIsSetUnion(t *testing.T) {
	var p plan.Plan // the zero Plan is ready to use
	e1, e2 := ref("e1"), ref("e2")
	if n := mustAdd(t, &p, e1, 1, pkA, addTask("t", `1`), state("t", plan.StateDone)); n != 2 {
		t.Fatalf("first Add added %d ops, want 2", n)
	}
	d := p.Digest()
	if n := mustAdd(t, &p, e1, 1, pkA, addTask("t", `1`), state("t", plan.StateDone)); n != 0 {
		t.Fatalf("a duplicate Add added %d ops", n)
	}
	if p.Digest() != d || p.Len() != 2 {
		t.Fatal("a duplicate Add changed the plan")
	}
	if !p.Has(e1) || p.Has(e2) {
		t.Fatal("Has")
	}
	mustAdd(t, &p, e2, 2, pkB, annotate("t", "k", `"v"`))
	want := []string{e1, e2}
	slices.Sort(want)
	if got := p.Have(); !slices.Equal(got, want) {
		t.Fatalf("Have() = %v, want %v", got, want)
	}
	if p.Digest() == d {
		t.Fatal("a new op did not change the digest")
	}
}

func TestAddErrors(t *testing.T) {
	ok := []plan.Op{addTask("t", `1`)}
	many := make([]plan.Op, plan.MaxOps+1)
	for i := range many {
		many[i] = state("t", plan.StateDone)
	}
	e := ref("e")
	cases := []struct {
		name    string
		id      string
		lamport uint64
		sender  string
		ops     []plan.Op
		want    string
	}{
		{"bad id", "e1", 1, pkA, ok, `plan: add: id: "e1" is not a sha256 ref`},
		{"bad sender", e, 1, "A", ok, `plan: add: sender_pk: "A" is not a public key`},
		{"lamport beyond 2^53", e, envelope.MaxSafeInteger + 1, pkA, ok, `plan: add: lamport: 9007199254740993 is beyond 2^53`},
		{"no ops", e, 1, pkA, nil, "plan: add " + e + ": ops: empty: an UPDATE_PLAN carries 1 to 256 ops"},
		{"too many ops", e, 1, pkA, many, "plan: add " + e + ": ops: 257 ops, at most 256"},
		{"invalid op", e, 1, pkA, []plan.Op{addTask("t", `1`), state("", plan.StateDone)}, "plan: add " + e + ": ops[1].task: empty"},
		{"stray field", e, 1, pkA, []plan.Op{{Kind: plan.OpLink, Task: "t", Need: ref("n"), Key: "k"}},
			"plan: add " + e + ": ops[0].key: not a field of LINK"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := plan.New()
			n, err := p.Add(c.id, c.lamport, c.sender, c.ops)
			if err == nil || err.Error() != c.want || !errors.Is(err, plan.ErrMalformed) {
				t.Fatalf("error %v\nwant %s", err, c.want)
			}
			if n != 0 || p.Len() != 0 {
				t.Fatal("a failed Add added ops")
			}
		})
	}
}

// An identity held with other content is a conflict, and a batch with a
// conflict adds nothing at all.
func TestConflicts(t *testing.T) {
	p := plan.New()
	e1, e2 := ref("e1"), ref("e2")
	mustAdd(t, p, e1, 1, pkA, addTask("t", `1`))
	d := p.Digest()
	for _, c := range []struct {
		name    string
		lamport uint64
		sender  string
		ops     []plan.Op
	}{
		{"other op", 1, pkA, []plan.Op{addTask("t", `2`)}},
		{"other lamport", 2, pkA, []plan.Op{addTask("t", `1`)}},
		{"other sender", 1, pkB, []plan.Op{addTask("t", `1`)}},
		{"other op count", 1, pkA, []plan.Op{addTask("t", `1`), state("t", plan.StateDone)}},
	} {
		if _, err := p.Add(e1, c.lamport, c.sender, c.ops); !errors.Is(err, plan.ErrConflict) {
			t.Fatalf("%s: error %v, want ErrConflict", c.name, err)
		}
	}
	// A batch whose second entry conflicts: its first entry is not added.
	batch := []plan.Entry{
		{ID: e2, Lamport: 5, Sender: pkB, Index: 0, Count: 1, Op: state("t", plan.StateFinal)},
		{ID: e1, Lamport: 1, Sender: pkA, Index: 0, Count: 1, Op: addTask("t", `"changed"`)},
	}
	if n, err := p.Import(batch); !errors.Is(err, plan.ErrConflict) || n != 0 {
		t.Fatalf("Import: %d, %v", n, err)
	}
	// A batch that conflicts with itself.
	batch = []plan.Entry{
		{ID: e2, Lamport: 5, Sender: pkB, Index: 0, Count: 1, Op: state("t", plan.StateFinal)},
		{ID: e2, Lamport: 5, Sender: pkB, Index: 0, Count: 1, Op: state("t", plan.StateDone)},
	}
	if _, err := p.Import(batch); !errors.Is(err, plan.ErrConflict) {
		t.Fatalf("self-conflicting Import: %v", err)
	}
	if p.Len() != 1 || p.Has(e2) || p.Digest() != d {
		t.Fatal("a conflicting batch changed the plan")
	}
	// Equal content written differently is not a conflict.
	if n, err := p.Add(e1, 1, pkA, []plan.Op{addTask("t", ` 1 `)}); err != nil || n != 0 {
		t.Fatalf("re-adding the same op: %d, %v", n, err)
	}
}

// A RECONCILE: each side sends have[], the other answers with Missing, and
// both end with the same ops, state and digest; an envelope split over two
// RECONCILEs is held in part until the rest arrives.
func TestReconcile(t *testing.T) {
	a, b := plan.New(), plan.New()
	e1, e2, e3 := ref("e1"), ref("e2"), ref("e3")
	mustAdd(t, a, e1, 1, pkA, addTask("t", `"a"`), requires("t", "u"))
	mustAdd(t, b, e2, 1, pkB, addTask("t", `"b"`), state("u", plan.StateDone))
	mustAdd(t, a, e3, 2, pkC, annotate("u", "k", `1`))
	mustAdd(t, b, e3, 2, pkC, annotate("u", "k", `1`))

	toB := a.Missing(b.Have())
	if len(toB) != 2 || toB[0].ID != e1 || toB[0].Index != 0 || toB[1].Index != 1 {
		t.Fatalf("Missing: %+v", toB)
	}
	wire, err := plan.EncodeEntries(toB)
	if err != nil {
		t.Fatal(err)
	}
	canonical(t, []byte(`{"ops":`+string(wire)+`}`))
	got, err := plan.ParseEntries(wire)
	if err != nil {
		t.Fatal(err)
	}
	// Deliver the first entry alone: e1 is held in part.
	if n, err := b.Import(got[:1]); err != nil || n != 1 {
		t.Fatalf("Import: %d, %v", n, err)
	}
	if b.Has(e1) || slices.Contains(b.Have(), e1) {
		t.Fatal("an envelope held in part is reported as held")
	}
	if again := a.Missing(b.Have()); len(again) != 2 {
		t.Fatalf("a peer holding part of e1 is sent all of it again: %d entries", len(again))
	}
	if n, err := b.Import(got); err != nil || n != 1 {
		t.Fatalf("Import of the rest: %d, %v", n, err)
	}
	if _, err := a.Import(b.Missing(a.Have())); err != nil {
		t.Fatal(err)
	}
	if !b.Has(e1) || !slices.Equal(a.Have(), b.Have()) || len(a.Have()) != 3 {
		t.Fatalf("Have: %v vs %v", a.Have(), b.Have())
	}
	if string(a.State()) != string(b.State()) || a.Digest() != b.Digest() {
		t.Fatalf("replicas differ:\n%s\n%s", a.State(), b.State())
	}
	if len(a.Missing(b.Have())) != 0 {
		t.Fatal("nothing is missing after a reconcile")
	}
	if es := a.Entries(); len(es) != 5 || es[0].Lamport != 1 || es[4].Lamport != 2 {
		t.Fatalf("Entries not in fold order: %+v", es)
	}
}

func TestParseEntriesErrors(t *testing.T) {
	id, pk := ref("e"), pkA
	good := `{"count":3,"id":"` + id + `","index":0,"lamport":7,"op":{"op":"STATE","task":"t","state":"done"},"sender_pk":"` + pk + `"}`
	with := func(old, new string) string { return "[" + good + "," + strings.Replace(good, old, new, 1) + "]" }
	cases := []struct{ name, in, want string }{
		{"not an array", `{}`, "ops: must be an array, got object"},
		{"entry not object", `["x"]`, "ops[0]: must be an object, got string"},
		{"unknown field", with(`"count":3`, `"count":3,"n":1`), `ops[1]: unknown field "n" for an entry`},
		{"count missing", with(`"count":3,`, ``), "ops[1].count: missing"},
		{"count zero", with(`"count":3`, `"count":0`), "ops[1].count: 0 is not in 1..256"},
		{"count too large", with(`"count":3`, `"count":257`), "ops[1].count: 257 is too large, at most 256"},
		{"index out of range", with(`"index":0`, `"index":3`), "ops[1].index: 3 is not in 0..2"},
		{"index negative", with(`"index":0`, `"index":-1`), `ops[1].index: "-1" is not a non-negative integer`},
		{"lamport string", with(`"lamport":7`, `"lamport":"7"`), "ops[1].lamport: must be an integer, got string"},
		{"lamport fraction", with(`"lamport":7`, `"lamport":7.5`), `ops[1].lamport: "7.5" is not a non-negative integer`},
		{"lamport too large", with(`"lamport":7`, `"lamport":9007199254740993`), "ops[1].lamport: 9007199254740993 is too large, at most 9007199254740992"},
		{"bad id", with(id, "sha256:00"), `ops[1].id: "sha256:00" is not a sha256 ref`},
		{"bad sender", with(pk, "AA"), `ops[1].sender_pk: "AA" is not a public key`},
		{"bad op", with(`"done"`, `"doing"`), `ops[1].op.state: "doing" is not a plan state`},
		{"op unknown field", with(`"state":"done"`, `"state":"done","x":0`), `ops[1].op: unknown field "x" for STATE`},
		{"op missing", with(`"op":{"op":"STATE","task":"t","state":"done"},`, ``), "ops[1].op: missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := plan.ParseEntries([]byte(c.in))
			checkFieldError(t, err, c.want)
		})
	}
	es, err := plan.ParseEntries([]byte(`[]`))
	if err != nil || len(es) != 0 {
		t.Fatalf("an empty ops[] is valid: %v %v", es, err)
	}
	es, err = plan.ParseEntries([]byte("[" + good + "]"))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := es[0].MarshalJSON()
	if err != nil || string(enc) != `{"count":3,"id":"`+id+`","index":0,"lamport":7,"op":{"op":"STATE","state":"done","task":"t"},"sender_pk":"`+pk+`"}` {
		t.Fatalf("entry encoding: %s %v", enc, err)
	}
}

func TestImportErrors(t *testing.T) {
	p := plan.New()
	_, err := p.Import([]plan.Entry{
		{ID: ref("e"), Lamport: 1, Sender: pkA, Index: 0, Count: 1, Op: state("t", plan.StateDone)},
		{ID: ref("f"), Lamport: 1, Sender: pkA, Index: 1, Count: 1, Op: state("t", plan.StateDone)},
	})
	if err == nil || err.Error() != "plan: import: ops[1].index: 1 is not in 0..0" || !errors.Is(err, plan.ErrMalformed) {
		t.Fatalf("error %v", err)
	}
	if p.Len() != 0 {
		t.Fatal("a failed Import added ops")
	}
}

func TestQueryJSON(t *testing.T) {
	p := plan.New()
	mustAdd(t, p, ref("e"), 1, pkA, addTask("t1", `{"k":"classify"}`), requires("t1", "t0"), state("t1", plan.StateClaimed))
	whole, err := p.QueryJSON([]byte(` { } `))
	if err != nil || string(whole) != string(p.State()) {
		t.Fatalf("{} answers the whole state: %s, %v", whole, err)
	}
	one, err := p.QueryJSON([]byte(`{"task":"t1"}`))
	want := `{"annotations":{},"needs":[],"produces":[],"requires":["t0"],"spec":{"k":"classify"},"state":"claimed"}`
	if err != nil || string(one) != want {
		t.Fatalf("one task: %s, %v", one, err)
	}
	if !strings.Contains(string(whole), `"t1":`+want) {
		t.Fatal("a task's answer is not its value in the state")
	}
	if q, ok := p.Query("t1"); !ok || string(q) != want {
		t.Fatalf("Query: %s %v", q, ok)
	}
	if _, err := p.QueryJSON([]byte(`{"task":"t9"}`)); !errors.Is(err, plan.ErrNotFound) ||
		err.Error() != `plan: query: task "t9": no such task` {
		t.Fatalf("unknown task: %v", err)
	}
	for _, c := range []struct{ in, want string }{
		{`[]`, "plan: query: query: must be an object, got array"},
		{`{"task":1}`, "plan: query: query.task: must be a string, got number"},
		{`{"task":""}`, "plan: query: query.task: empty"},
		{`{"task":"t1","x":1}`, `plan: query: query: unknown field "x"; a query is {} or {"task":"<id>"}`},
		{`{"task":"t1","task":"t0"}`, `plan: query: query: duplicate field "task"`},
		{`nope`, "plan: query: query: not valid JSON: invalid character 'o' in literal null (expecting 'u')"},
	} {
		_, err := p.QueryJSON([]byte(c.in))
		if err == nil || err.Error() != c.want || !errors.Is(err, plan.ErrMalformed) {
			t.Fatalf("query %s: %v\nwant %s", c.in, err, c.want)
		}
	}
}

// A Plan is safe for concurrent use (run with -race to see it checked).
func TestConcurrentUse(t *testing.T) {
	p := plan.New()
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 50; i++ {
				id := ref(strings.Repeat("x", g*100+i))
				if _, err := p.Add(id, uint64(i%7), pkA, []plan.Op{state("t", plan.State(i%5)), requires("t", "u")}); err != nil {
					t.Error(err)
					return
				}
				p.Digest()
				p.QueryJSON([]byte(`{"task":"t"}`))
				p.Missing(p.Have())
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if p.Len() != 400 {
		t.Fatalf("Len() = %d, want 400", p.Len())
	}
	q := plan.New()
	if _, err := q.Import(p.Entries()); err != nil {
		t.Fatal(err)
	}
	if q.Digest() != p.Digest() {
		t.Fatal("a plan built concurrently differs from its set of ops folded at once")
	}
}
