package plan

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
)

// opKey is an op's place in the fold order: (lamport, sender_pk, envelope
// id) of PROTOCOL.md section 3, then the op's index in its envelope. Since
// (id, index) is the op's identity, no two held ops share a key.
type opKey struct {
	lamport uint64
	sender  string
	id      string
	index   int
}

func (a opKey) compare(b opKey) int {
	if c := cmp.Compare(a.lamport, b.lamport); c != 0 {
		return c
	}
	if c := cmp.Compare(a.sender, b.sender); c != 0 {
		return c
	}
	if c := cmp.Compare(a.id, b.id); c != 0 {
		return c
	}
	return cmp.Compare(a.index, b.index)
}

// stored is one held op.
type stored struct {
	key   opKey
	count int // ops in its envelope
	op    Op  // normalized
}

func (s *stored) entry() Entry {
	return Entry{ID: s.key.id, Lamport: s.key.lamport, Sender: s.key.sender,
		Index: s.key.index, Count: s.count, Op: s.op}
}

func compareStored(a, b *stored) int { return a.key.compare(b.key) }

// taskNode is one task of the folded state.
type taskNode struct {
	spec     json.RawMessage // null until an ADD_TASK names the task
	added    bool            // an ADD_TASK has set spec: later ones lose
	state    State
	requires map[string]struct{}
	produces map[string]struct{}
	needs    map[string]struct{}
	notes    map[string]json.RawMessage
	enc      []byte // the task's canonical object; nil when stale
}

// folded is the plan state: the fold of every op up to and including last,
// in order.
type folded struct {
	tasks map[string]*taskNode
	ids   []string // task ids in RFC 8785 order; nil when stale
	last  opKey
	any   bool // some op was applied (last is meaningful)
}

func newFolded() *folded { return &folded{tasks: map[string]*taskNode{}} }

// task returns the named task, creating it (spec null, state todo) if the
// fold has not met it yet.
func (f *folded) task(id string) *taskNode {
	t := f.tasks[id]
	if t == nil {
		t = &taskNode{
			spec:     json.RawMessage("null"),
			requires: map[string]struct{}{},
			produces: map[string]struct{}{},
			needs:    map[string]struct{}{},
			notes:    map[string]json.RawMessage{},
		}
		f.tasks[id] = t
		f.ids = nil
	}
	return t
}

// apply folds one op, which must come after every op applied so far.
func (f *folded) apply(s *stored) {
	f.last, f.any = s.key, true
	o := s.op
	t := f.task(o.Task)
	t.enc = nil
	switch o.Kind {
	case OpAddTask:
		if !t.added {
			t.spec, t.added = o.Spec, true
		}
	case OpRequires:
		f.task(o.On)
		// Task requires On: the edge Task -> On. It closes a cycle exactly
		// when On already reaches Task (a self-edge reaches at once).
		if _, ok := t.requires[o.On]; !ok && !f.reaches(o.On, o.Task) {
			t.requires[o.On] = struct{}{}
		}
	case OpProduces:
		t.produces[o.Ref] = struct{}{}
	case OpLink:
		t.needs[o.Need] = struct{}{}
	case OpState:
		t.state = max(t.state, o.State)
	case OpAnnotate:
		t.notes[o.Key] = o.Value
	}
}

// reaches reports whether to is reachable from from along requires edges
// (a task reaches itself).
func (f *folded) reaches(from, to string) bool {
	if from == to {
		return true
	}
	seen := map[string]bool{from: true}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for next := range f.tasks[n].requires {
			if next == to {
				return true
			}
			if !seen[next] {
				seen[next] = true
				stack = append(stack, next)
			}
		}
	}
	return false
}

// sortedIDs returns the task ids in RFC 8785 order.
func (f *folded) sortedIDs() []string {
	if f.ids == nil {
		f.ids = slices.SortedFunc(maps.Keys(f.tasks), compareJCS)
	}
	return f.ids
}

// encodeTask returns the task's canonical object, caching it.
func (t *taskNode) encode() []byte {
	if t.enc == nil {
		t.enc = appendTask(nil, t)
	}
	return t.enc
}

// appendTask appends
// {"annotations":{...},"needs":[...],"produces":[...],"requires":[...],"spec":...,"state":"..."}.
func appendTask(b []byte, t *taskNode) []byte {
	b = append(b, `{"annotations":{`...)
	for i, k := range slices.SortedFunc(maps.Keys(t.notes), compareJCS) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendKey(b, k), t.notes[k]...)
	}
	b = appendStrings(append(b, `},"needs":`...), sortedSet(t.needs))
	b = appendStrings(append(b, `,"produces":`...), sortedSet(t.produces))
	b = appendStrings(append(b, `,"requires":`...), sortedSet(t.requires))
	b = append(append(b, `,"spec":`...), t.spec...)
	b = appendString(append(b, `,"state":`...), t.state.String())
	return append(b, '}')
}

func sortedSet(s map[string]struct{}) []string {
	return slices.SortedFunc(maps.Keys(s), compareJCS)
}

// appendState appends the canonical plan state: {"tasks":{"<id>":<task>,...}}.
func (f *folded) appendState(b []byte) []byte {
	b = append(b, `{"tasks":{`...)
	for i, id := range f.sortedIDs() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendKey(b, id), f.tasks[id].encode()...)
	}
	return append(b, "}}"...)
}

// snapshot returns a copy of a task for callers.
func (t *taskNode) snapshot() TaskState {
	ts := TaskState{
		Spec:        slices.Clone(t.spec),
		State:       t.state,
		Requires:    sortedSet(t.requires),
		Produces:    sortedSet(t.produces),
		Needs:       sortedSet(t.needs),
		Annotations: make(map[string]json.RawMessage, len(t.notes)),
	}
	for k, v := range t.notes {
		ts.Annotations[k] = slices.Clone(v)
	}
	return ts
}

// TaskState is one task of the folded plan.
type TaskState struct {
	// Spec is the spec of the first ADD_TASK in fold order, or null when no
	// ADD_TASK names the task (it exists because another op names it).
	Spec  json.RawMessage
	State State // the furthest state any STATE op names; todo if none
	// Requires are the tasks this one requires (edges kept by the fold),
	// Produces the refs it produces, Needs the NEED ids linked to it: each
	// sorted (RFC 8785 key order) and without duplicates.
	Requires []string
	Produces []string
	Needs    []string
	// Annotations maps each key to the value of its last ANNOTATE in fold
	// order.
	Annotations map[string]json.RawMessage
}
