package plan

import (
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// opID is an op's identity: (envelope id, index).
type opID struct {
	env   string
	index int
}

// envInfo is what the plan knows of one UPDATE_PLAN envelope.
type envInfo struct {
	lamport uint64
	sender  string
	count   int // ops the envelope carries
	held    int // of which this plan holds
}

// Plan is a replica of the shared plan: a set of ops and its fold. The zero
// Plan is empty and ready to use. A Plan is safe for concurrent use.
type Plan struct {
	mu   sync.Mutex
	envs map[string]*envInfo
	ops  map[opID]*stored

	// The fold, kept between calls: fold is the fold of every held op not
	// in pending (nil: not computed); pending are ops added since. When
	// every pending op comes after fold.last they are folded on top;
	// otherwise the fold is recomputed from the whole set.
	fold    *folded
	pending []*stored
	state   []byte // canonical state; nil when stale
	digest  string
}

// New returns an empty plan.
func New() *Plan { return &Plan{} }

// Add adds the ops of one UPDATE_PLAN envelope: envID is its id, lamport
// and senderPK its fields, ops its payload's ops in order (1 to MaxOps).
// Adding is set union: an op already held (same envelope id and index) is
// not added again. It returns how many ops were new. An invalid argument
// (an error matching ErrMalformed, naming the field) or a conflict with
// what is held (ErrConflict) adds nothing.
func (p *Plan) Add(envID string, lamport uint64, senderPK string, ops []Op) (int, error) {
	if err := checkEnvelope(envID, lamport, senderPK); err != nil {
		return 0, fmt.Errorf("plan: add: %w", err)
	}
	if err := checkCount(len(ops)); err != nil {
		return 0, fmt.Errorf("plan: add %s: %w", envID, err)
	}
	batch := make([]Entry, len(ops))
	for i, o := range ops {
		n, err := o.Normalize()
		if err != nil {
			return 0, fmt.Errorf("plan: add %s: %w", envID, under("ops["+strconv.Itoa(i)+"]", err))
		}
		batch[i] = Entry{ID: envID, Lamport: lamport, Sender: senderPK, Index: i, Count: len(ops), Op: n}
	}
	return p.insert(batch)
}

// Import adds entries, as a RECONCILE's ops carry them: set union, like
// Add. Entries of one envelope may arrive in any number of Imports. An
// invalid entry or a conflict adds nothing.
func (p *Plan) Import(entries []Entry) (int, error) {
	batch := make([]Entry, len(entries))
	for i, e := range entries {
		n, err := e.normalize()
		if err != nil {
			return 0, fmt.Errorf("plan: import: %w", under("ops["+strconv.Itoa(i)+"]", err))
		}
		batch[i] = n
	}
	return p.insert(batch)
}

// insert adds normalized entries, all or none.
func (p *Plan) insert(batch []Entry) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.envs == nil {
		p.envs = map[string]*envInfo{}
		p.ops = map[opID]*stored{}
	}
	// Check the whole batch against what is held and against itself first.
	newEnvs := map[string]*envInfo{}
	newOps := map[opID]*stored{}
	for _, e := range batch {
		env := p.envs[e.ID]
		if env == nil {
			env = newEnvs[e.ID]
		}
		if env != nil && (env.lamport != e.Lamport || env.sender != e.Sender || env.count != e.Count) {
			return 0, fmt.Errorf("plan: envelope %s is held with lamport %d, sender_pk %s, %d ops; "+
				"an op names lamport %d, sender_pk %s, %d ops: %w",
				e.ID, env.lamport, env.sender, env.count, e.Lamport, e.Sender, e.Count, ErrConflict)
		}
		if env == nil {
			newEnvs[e.ID] = &envInfo{lamport: e.Lamport, sender: e.Sender, count: e.Count}
		}
		id := opID{e.ID, e.Index}
		old := p.ops[id]
		if old == nil {
			old = newOps[id]
		}
		if old != nil {
			if !old.op.Equal(e.Op) {
				return 0, fmt.Errorf("plan: op %d of envelope %s is held as %s, not %s: %w",
					e.Index, e.ID, appendOp(nil, old.op), appendOp(nil, e.Op), ErrConflict)
			}
			continue
		}
		newOps[id] = &stored{
			key:   opKey{lamport: e.Lamport, sender: e.Sender, id: e.ID, index: e.Index},
			count: e.Count,
			op:    e.Op,
		}
	}
	for id, env := range newEnvs {
		p.envs[id] = env
	}
	for id, s := range newOps {
		p.ops[id] = s
		p.envs[id.env].held++
		if p.fold != nil {
			p.pending = append(p.pending, s)
		}
	}
	if len(newOps) > 0 {
		p.state, p.digest = nil, ""
	}
	return len(newOps), nil
}

// Has reports whether the plan holds every op of envelope envID.
func (p *Plan) Has(envID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	env := p.envs[envID]
	return env != nil && env.held == env.count
}

// Len returns the number of ops held.
func (p *Plan) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ops)
}

// Have lists, sorted, the ids of the envelopes whose ops the plan holds in
// full: a RECONCILE's have[]. An envelope held in part is left out, so that
// a peer sends it again.
func (p *Plan) Have() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	have := make([]string, 0, len(p.envs))
	for id, env := range p.envs {
		if env.held == env.count {
			have = append(have, id)
		}
	}
	slices.Sort(have)
	return have
}

// Missing returns, in fold order, every held entry whose envelope is not in
// have (a peer's have[]): what a RECONCILE's ops[] sends that peer.
func (p *Plan) Missing(have []string) []Entry {
	skip := make(map[string]bool, len(have))
	for _, id := range have {
		skip[id] = true
	}
	return p.entries(func(s *stored) bool { return !skip[s.key.id] })
}

// Entries returns every held entry, in fold order.
func (p *Plan) Entries() []Entry {
	return p.entries(func(*stored) bool { return true })
}

func (p *Plan) entries(keep func(*stored) bool) []Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sel []*stored
	for _, s := range p.ops {
		if keep(s) {
			sel = append(sel, s)
		}
	}
	slices.SortFunc(sel, compareStored)
	out := make([]Entry, len(sel))
	for i, s := range sel {
		out[i] = s.entry()
	}
	return out
}

// materialize brings the fold and the cached state up to date. p.mu is held.
func (p *Plan) materialize() *folded {
	if p.fold != nil && len(p.pending) > 0 {
		slices.SortFunc(p.pending, compareStored)
		if p.fold.any && p.pending[0].key.compare(p.fold.last) <= 0 {
			p.fold = nil // an op lands before ones already folded: refold
		} else {
			for _, s := range p.pending {
				p.fold.apply(s)
			}
		}
	}
	p.pending = nil
	if p.fold == nil {
		all := make([]*stored, 0, len(p.ops))
		for _, s := range p.ops {
			all = append(all, s)
		}
		slices.SortFunc(all, compareStored)
		p.fold = newFolded()
		for _, s := range all {
			p.fold.apply(s)
		}
	}
	if p.state == nil {
		p.state = p.fold.appendState(nil)
		p.digest = envelope.HashRef(p.state)
	}
	return p.fold
}

// State returns the canonical plan state (RFC 8785 bytes; the shape is in
// the package doc): the fold of every held op in fold order.
func (p *Plan) State() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.materialize()
	return slices.Clone(p.state)
}

// Digest returns the plan_digest: envelope.HashRef of State().
func (p *Plan) Digest() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.materialize()
	return p.digest
}

// Task returns one task of the folded plan.
func (p *Plan) Task(id string) (TaskState, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.materialize().tasks[id]
	if t == nil {
		return TaskState{}, false
	}
	return t.snapshot(), true
}

// Tasks returns the ids of every task of the folded plan, in RFC 8785 key
// order.
func (p *Plan) Tasks() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.materialize().sortedIDs())
}
