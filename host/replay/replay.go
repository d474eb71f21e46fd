package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sort"

	"github.com/gowebpki/jcs"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/protocol"
)

// Options say what to replay.
type Options struct {
	// DataDir is a node's data folder: DataDir/audit is the trail and
	// DataDir/cas the store (capsules, agent modules, tokens, blobs).
	DataDir string
	// Store replaces DataDir/cas (a cluster's shared store).
	Store cas.Store
	// Out receives a line per thread and the summary.
	Out io.Writer
	// Progress, when set, is told how many inputs there are and of each
	// one stepped (the CLI draws a bar on a terminal).
	Progress func(done, total int)
	// NoRerun steps the recorded agent outputs and evaluations without
	// running them again: every other check holds, and replay is then bound
	// by signature checks rather than by WebAssembly.
	NoRerun bool
	// FromCheckpoint starts the costly checks at the trail's last
	// CHECKPOINT: the lines its signed Merkle root covers are chained,
	// decoded and stepped through the core (to rebuild its state, verdicts
	// compared), but their envelopes' signatures are not verified again and
	// their agent calls and evaluations are not re-run. Without a
	// checkpoint in the trail, everything is replayed.
	FromCheckpoint bool
}

// Report is what a replay reproduced.
type Report struct {
	Threads    int
	Envelopes  int // envelope lines stepped, accepted or rejected
	Decisions  int // host DECIDE, RELEASE, INVALIDATE and FINALIZE envelopes reproduced
	Evals      int // capsule evaluations re-run and equal
	Agents     int // agent calls re-run and equal
	PlanDigest string
	// Checkpoint is the id of the CHECKPOINT replay started from
	// (Options.FromCheckpoint), and Covered the lines its root covers.
	Checkpoint string
	Covered    int
}

// Divergence is where replay found the trail and the rules disagree.
type Divergence struct {
	Thread   string
	Line     int
	Expected string // what the trail records
	Found    string // what replay computed
}

func (d *Divergence) Error() string {
	return fmt.Sprintf("replay: thread %s line %d: the trail records %s, replay finds %s", d.Thread, d.Line, d.Expected, d.Found)
}

// decisive verbs are the host's envelopes replay must reproduce by id: its
// decisions, and the CHECKPOINTs and RECONCILE offers and answers its
// recorded inputs ask for.
var decisive = map[envelope.Verb]bool{envelope.VerbDecide: true, envelope.VerbRelease: true,
	envelope.VerbInvalidate: true, envelope.VerbFinalize: true, envelope.VerbCheckpoint: true,
	envelope.VerbReconcile: true}

// replayer holds one replay's state.
type replayer struct {
	ctx    context.Context
	store  cas.Store
	rt     *lazyRuntime
	core   *protocol.Core
	hostPK string
	agents map[string]protocol.AgentInfo // by pk, as configured when each run was asked for
	reruns *reruns

	runs     map[string]*protocol.RunAgent
	evals    map[string]*protocol.EvalPolicy
	outcome  map[string][]json.RawMessage // per thread, emitted Records not yet matched
	emitted  map[string]map[string]bool   // per thread, ids of envelopes the core published
	report   Report
	noRerun  bool
	covered  int // inputs before this index are covered by a checkpoint
	stepping int // the index of the input being stepped
	// heads holds every thread's head over the lines stepped so far: a
	// checkpoint's root is computed from it, not from every line before
	// the checkpoint again (a long-running node's trail has a checkpoint
	// every ten minutes).
	heads audit.HeadIndex
}

// Run replays the trail of opts.DataDir. It returns the report, or the
// first divergence (a *Divergence, or an *audit.TamperError from the
// trail's own checks), naming the thread and line.
func Run(ctx context.Context, opts Options) (*Report, error) {
	auditDir := filepath.Join(opts.DataDir, "audit")
	// Every line is chained and decoded first; what each record says of
	// its envelope (signatures above all) is checked below, on every core,
	// while the core steps the inputs.
	_, lines, err := audit.Read(auditDir, func(string, uint64, *audit.Record) bool { return false })
	if err != nil {
		return nil, err
	}
	// The lines a checkpoint does not cover (all, without one) are checked
	// in full, concurrently with the merging and the stepping: a line that
	// fails its checks is reported before any divergence, which it may
	// explain. Those two are serial: the checks take the other cores, and
	// this goroutine's too once it has stepped every input. Without a
	// checkpoint to look for, the checks start at once.
	var checking *audit.Checking
	if !opts.FromCheckpoint {
		checking = audit.StartCheck(lines, nil, runtime.GOMAXPROCS(0)-1)
	}
	store := opts.Store
	if store == nil {
		fs, err := cas.NewFileStore(filepath.Join(opts.DataDir, "cas"))
		if err != nil {
			return nil, finishChecks(checking, err)
		}
		store = fs
	}
	inputs, err := host.TrailFromLines(lines, func(ref string) []byte {
		b, _ := store.Get(ctx, ref)
		return b
	})
	if err != nil {
		return nil, finishChecks(checking, err)
	}
	covered, checkpointID := 0, ""
	if opts.FromCheckpoint {
		if covered, checkpointID, err = lastCheckpoint(inputs); err != nil {
			return nil, err
		}
		coveredSeq := map[string]int{}
		for _, ti := range inputs[:covered] {
			coveredSeq[ti.Thread] = max(coveredSeq[ti.Thread], ti.Line)
		}
		checking = audit.StartCheck(lines, func(th string, seq uint64, _ *audit.Record) bool { return int(seq) > coveredSeq[th] },
			runtime.GOMAXPROCS(0)-1)
	}
	r, err := replayInputs(ctx, opts, store, inputs, covered)
	if err = finishChecks(checking, err); err != nil {
		return nil, err
	}
	r.report.Checkpoint, r.report.Covered = checkpointID, covered
	if opts.Out != nil {
		r.print(opts.Out, inputs)
	}
	return &r.report, nil
}

// finishChecks lends this goroutine to the checks until they are done and
// returns the first line that failed them, or else err: a broken line is
// reported before what it may have caused.
func finishChecks(c *audit.Checking, err error) error {
	if c == nil {
		return err
	}
	c.Help()
	if cerr := c.Wait(); cerr != nil {
		return cerr
	}
	return err
}

// replayInputs steps the inputs through a fresh core and checks them.
func replayInputs(ctx context.Context, opts Options, store cas.Store, inputs []host.TrailInput, covered int) (*replayer, error) {
	// The runtime is made at the first module or capsule to load: a replay
	// from a checkpoint that covers every agent call and evaluation needs
	// none. The node's compiled modules, when they are there, spare
	// compiling again (the cache is keyed by the module's bytes).
	rt := &lazyRuntime{cacheDir: filepath.Join(opts.DataDir, "wasm-cache")}
	defer rt.close(ctx)
	rr := newReruns(ctx, inputs)
	defer rr.stop()
	r := &replayer{ctx: ctx, store: store, rt: rt, agents: map[string]protocol.AgentInfo{}, reruns: rr,
		runs: map[string]*protocol.RunAgent{}, evals: map[string]*protocol.EvalPolicy{},
		outcome: map[string][]json.RawMessage{}, emitted: map[string]map[string]bool{}, noRerun: opts.NoRerun,
		covered: covered}
	threads := map[string]bool{}
	for i, ti := range inputs {
		threads[ti.Thread] = true
		r.stepping = i
		if err := r.step(ti, i < r.covered); err != nil {
			return nil, err
		}
		r.heads.Set(ti.Thread, ti.Record.Seq, ti.Hash)
		if opts.Progress != nil {
			opts.Progress(i+1, len(inputs))
		}
	}
	if err := r.finish(inputs); err != nil {
		return nil, err
	}
	r.report.Threads = len(threads)
	if r.core != nil {
		r.report.PlanDigest = r.core.Plan().Digest()
	}
	return r, nil
}

// step feeds one recorded input to the core and checks what the core does
// against the trail.
func (r *replayer) step(ti host.TrailInput, covered bool) error {
	rec := ti.Record
	diverge := func(expected, found string, args ...any) error {
		return &Divergence{Thread: ti.Thread, Line: ti.Line, Expected: expected, Found: fmt.Sprintf(found, args...)}
	}
	if rec.Kind == host.KindConfig {
		cfg := ti.Input.(*protocol.Configure)
		if r.core == nil {
			core, err := protocol.New(protocol.Config{HostPK: cfg.HostPK, HostCapability: cfg.HostCapability,
				Roots: cfg.Roots, Agents: cfg.Agents, Verifiers: cfg.Verifiers})
			if err != nil {
				return diverge("a configuration", "%v", err)
			}
			r.core, r.hostPK = core, cfg.HostPK
		}
		for _, a := range cfg.Agents {
			r.agents[a.PK] = a
		}
	}
	if r.core == nil {
		if ti.Input == nil {
			return nil
		}
		return diverge("an input", "one before any configuration line")
	}
	switch in := ti.Input.(type) {
	case nil:
		if rec.Kind == host.KindOutcome {
			return r.matchOutcome(ti)
		}
		return nil
	case *protocol.AgentDone:
		if r.noRerun || covered {
			break
		}
		if err := r.rerunAgent(ti, in); err != nil {
			return err
		}
	case *protocol.PolicyDone:
		if r.noRerun || covered {
			break
		}
		if err := r.reevaluate(ti, in); err != nil {
			return err
		}
	case *protocol.CheckpointDue:
		root := r.heads.Root()
		if root != in.AuditRoot {
			return diverge("a checkpoint over audit root "+in.AuditRoot, "the trail before it has root %s", root)
		}
	}
	v := r.core.Step(ti.Input)
	if rec.Kind == host.KindHeld && !(v.Retry && v.Held) {
		return diverge("an envelope held back (retry)", "%s", describe(v))
	}
	if rec.Kind == audit.KindEnvelope {
		r.report.Envelopes++
		want := rec.Verdict
		if rec.Reason != "" {
			want += " " + rec.Reason
		}
		got := "accepted"
		switch {
		case v.Duplicate:
			got = "a duplicate of an envelope already accepted"
		case !v.Accepted || v.Retry:
			got = "rejected " + string(v.Code)
		}
		if got != want {
			if v.Detail != "" {
				got += " (" + v.Detail + ")"
			}
			return diverge(want, "%s", got)
		}
		if rec.Verdict == audit.Accepted {
			if e := ti.Input.(*protocol.Received).Env; e.SenderPK == r.hostPK && decisive[e.Verb] {
				if !r.emitted[ti.Thread][e.ID] {
					return diverge(fmt.Sprintf("the host's %s %s", e.Verb, e.ID), "the rules emit no such envelope")
				}
				if e.Verb != envelope.VerbCheckpoint && e.Verb != envelope.VerbReconcile {
					r.report.Decisions++
				}
			}
		}
	}
	r.collect()
	return nil
}

// collect takes the core's actions: what it publishes, the runs and
// evaluations it asks for (checked when their recorded outcome comes), the
// outcomes it records.
func (r *replayer) collect() {
	for _, a := range r.core.Ready() {
		switch a := a.(type) {
		case *protocol.Publish:
			th := a.Env.Thread()
			if r.emitted[th] == nil {
				r.emitted[th] = map[string]bool{}
			}
			r.emitted[th][a.Env.ID] = true
		case *protocol.RunAgent:
			r.runs[a.ReqID] = a
			if !r.noRerun && r.stepping >= r.covered {
				r.reruns.agents[a.ReqID] = r.startAgent(a)
			}
		case *protocol.EvalPolicy:
			r.evals[a.ReqID] = a
			if !r.noRerun && r.stepping >= r.covered {
				r.reruns.evals[a.ReqID] = r.startEval(a)
			}
		case *protocol.Record:
			r.outcome[a.Thread] = append(r.outcome[a.Thread], a.Body)
		}
	}
	r.core.Advance()
}

func (r *replayer) matchOutcome(ti host.TrailInput) error {
	q := r.outcome[ti.Thread]
	if len(q) == 0 {
		return &Divergence{Thread: ti.Thread, Line: ti.Line, Expected: "outcome " + string(ti.Record.Envelope), Found: "no such outcome"}
	}
	r.outcome[ti.Thread] = q[1:]
	if !bytes.Equal(canon(q[0]), canon(ti.Record.Envelope)) {
		return &Divergence{Thread: ti.Thread, Line: ti.Line, Expected: "outcome " + string(ti.Record.Envelope), Found: "outcome " + string(q[0])}
	}
	return nil
}

// canon is JSON in its canonical form (the trail stores JCS), or the bytes
// as they are when they are not a JSON object.
func canon(b []byte) []byte {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	c, err := jcs.Transform(b)
	if err != nil {
		return b
	}
	return c
}

// finish checks what is left: every decisive envelope the rules emitted is
// in the trail.
func (r *replayer) finish(inputs []host.TrailInput) error {
	inTrail := map[string]map[string]bool{}
	for _, ti := range inputs {
		if ti.Record.Kind != audit.KindEnvelope {
			continue
		}
		if inTrail[ti.Thread] == nil {
			inTrail[ti.Thread] = map[string]bool{}
		}
		if in, ok := ti.Input.(*protocol.Received); ok && in.Env != nil {
			inTrail[ti.Thread][in.Env.ID] = true
		}
	}
	threads := make([]string, 0, len(r.emitted))
	for th := range r.emitted {
		threads = append(threads, th)
	}
	sort.Strings(threads)
	for _, th := range threads {
		for id := range r.emitted[th] {
			if !inTrail[th][id] {
				last := 0
				for _, ti := range inputs {
					if ti.Thread == th {
						last = ti.Line
					}
				}
				return &Divergence{Thread: th, Line: last + 1, Expected: "the end of the thread",
					Found: "an envelope " + id + " the rules emit and the trail lacks"}
			}
		}
	}
	return nil
}

// lastCheckpoint finds the trail's last checkpoint that a CHECKPOINT of the
// host's vouches for: a checkpoint line (the audit root the host computed)
// followed by the host's accepted CHECKPOINT envelope naming that root,
// whose signature verifies, and whose root is the Merkle root of the trail
// before the checkpoint line. It returns the index of the checkpoint line
// (the inputs before it are covered) and the CHECKPOINT's id; 0 and "" when
// the trail has none. A checkpoint that claims a root the trail does not
// have is a divergence.
func lastCheckpoint(inputs []host.TrailInput) (int, string, error) {
	hostPK := ""
	for _, ti := range inputs {
		if cfg, ok := ti.Input.(*protocol.Configure); ok {
			hostPK = cfg.HostPK
			break
		}
	}
	// The host's CHECKPOINT envelopes by the root they sign.
	signed := map[string]*host.TrailInput{}
	for i := range inputs {
		ti := &inputs[i]
		r, ok := ti.Input.(*protocol.Received)
		if !ok || r.Env == nil || r.Env.Verb != envelope.VerbCheckpoint || ti.Record.Kind != audit.KindEnvelope ||
			ti.Record.Verdict != audit.Accepted || r.Env.SenderPK != hostPK {
			continue
		}
		var p struct {
			AuditRoot string `json:"audit_root"`
		}
		if json.Unmarshal(r.Env.Payload, &p) == nil && p.AuditRoot != "" {
			signed[p.AuditRoot] = ti
		}
	}
	for c := len(inputs) - 1; c >= 0; c-- {
		cd, ok := inputs[c].Input.(*protocol.CheckpointDue)
		if !ok {
			continue
		}
		env := signed[cd.AuditRoot]
		if env == nil {
			continue // not published (the node stopped first): an earlier one
		}
		if _, err := envelope.Verify(env.Record.Envelope); err != nil {
			return 0, "", &audit.TamperError{Thread: env.Thread, Line: uint64(env.Line), Problem: "the CHECKPOINT no longer verifies: " + err.Error()}
		}
		if root := audit.MerkleRoot(headsBefore(inputs[:c])); root != cd.AuditRoot {
			return 0, "", &Divergence{Thread: inputs[c].Thread, Line: inputs[c].Line,
				Expected: "a checkpoint over audit root " + cd.AuditRoot, Found: "the trail before it has root " + root}
		}
		return c, env.Input.(*protocol.Received).Env.ID, nil
	}
	return 0, "", nil
}

// headsBefore computes every thread's head from the lines stepped so far.
func headsBefore(before []host.TrailInput) []audit.ThreadHead {
	last := map[string]host.TrailInput{}
	for _, ti := range before {
		last[ti.Thread] = ti
	}
	heads := make([]audit.ThreadHead, 0, len(last))
	for th, ti := range last {
		heads = append(heads, audit.ThreadHead{Thread: th, Seq: ti.Record.Seq, Hash: ti.Hash})
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].Thread < heads[j].Thread })
	return heads
}

func (r *replayer) print(w io.Writer, inputs []host.TrailInput) {
	per := map[string]int{}
	for _, ti := range inputs {
		if ti.Record.Kind == audit.KindEnvelope {
			per[ti.Thread]++
		}
	}
	threads := make([]string, 0, len(per))
	for th := range per {
		threads = append(threads, th)
	}
	sort.Strings(threads)
	for _, th := range threads {
		state := ""
		if info, ok := r.core.Thread(th); ok {
			state = string(info.Phase)
			if info.Epoch > 0 && th != protocol.SwarmThread {
				state += fmt.Sprintf(" epoch %d", info.Epoch)
			}
		}
		fmt.Fprintf(w, "thread %s: ok, %d envelopes, %s\n", th, per[th], state)
	}
	from := ""
	if r.report.Checkpoint != "" {
		from = fmt.Sprintf(", from checkpoint %s (%d lines covered: not re-verified or re-run)", r.report.Checkpoint, r.report.Covered)
	}
	fmt.Fprintf(w, "replay: ok, %d threads, %d envelopes, %d decisions (%d evaluations and %d agent calls re-run), plan %s%s\n",
		r.report.Threads, r.report.Envelopes, r.report.Decisions, r.report.Evals, r.report.Agents, r.report.PlanDigest, from)
}

func describe(v protocol.Verdict) string {
	switch {
	case v.Duplicate:
		return "a duplicate"
	case v.Retry:
		return "a retry again (" + v.Detail + ")"
	case v.Accepted:
		return "accepted"
	}
	return "rejected " + string(v.Code) + " (" + v.Detail + ")"
}
