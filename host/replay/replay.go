package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	// Streamed reads the trail as the replay goes rather than whole first:
	// memory bounded by the threads open at each point and the core's own
	// state, not by the trail's length. It is chosen by itself for a trail
	// over 256 MiB. The trail is then verified first, every line and
	// signature (audit.Verify, a window at a time), and stepped after, a
	// batch at a time; FromCheckpoint then spares re-runs only (the
	// signatures of covered lines are verified with the rest).
	Streamed bool
}

// streamAbove is the size of a trail (its thread files together) replayed
// streamed rather than read whole: read whole, every line is held decoded
// until the end, about twice the trail's size on disk (BenchmarkReplayHeld).
// A variable for tests.
var streamAbove int64 = 256 << 20

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
	// Streamed says the trail was read as the replay went
	// (Options.Streamed, or a trail over 256 MiB).
	Streamed bool
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

	runs    map[string]*protocol.RunAgent
	evals   map[string]*protocol.EvalPolicy
	outcome map[string][]json.RawMessage // per thread, emitted Records not yet matched
	// emitted holds, per thread, the ids of the envelopes the core
	// published, true once the trail's line for it was stepped.
	emitted map[string]map[string]bool
	// threads holds, per thread stepped, its envelope lines and its last
	// line: the summary's line per thread, and where a missing envelope
	// is named.
	threads  map[string]*threadTally
	streamed bool // lines come as they are read (Options.Streamed)
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

// threadTally is what replay keeps of a thread it stepped.
type threadTally struct {
	envelopes int
	last      int
}

// Run replays the trail of opts.DataDir. It returns the report, or the
// first divergence (a *Divergence, or an *audit.TamperError from the
// trail's own checks), naming the thread and line.
func Run(ctx context.Context, opts Options) (*Report, error) {
	auditDir := filepath.Join(opts.DataDir, "audit")
	if opts.Streamed {
		return runStreamed(ctx, opts, auditDir)
	}
	// Every line is chained and decoded first; what each record says of
	// its envelope (signatures above all) is checked below, on every core,
	// while the core steps the inputs. A trail over streamAbove is
	// streamed instead (found as its files are read: no file is sized
	// twice).
	_, lines, err := audit.ReadWithin(auditDir, func(string, uint64, *audit.Record) bool { return false }, streamAbove)
	if errors.Is(err, audit.ErrTrailTooLarge) {
		opts.Streamed = true
		return runStreamed(ctx, opts, auditDir)
	}
	var broken *audit.TamperError
	if errors.As(err, &broken) {
		// A broken chain is found before any line's record is checked;
		// the first fault in thread and line order, whatever it is, is
		// the one reported (as a streamed replay, and audit verify, do).
		if _, verr := audit.Verify(auditDir); verr != nil {
			return nil, verr
		}
	}
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
	store, err := openStore(opts)
	if err != nil {
		return nil, finishChecks(checking, err)
	}
	inputs, err := host.TrailFromLines(lines, tokenOf(ctx, store))
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
		r.print(opts.Out)
	}
	return &r.report, nil
}

// openStore is opts.Store, or the data folder's.
func openStore(opts Options) (cas.Store, error) {
	if opts.Store != nil {
		return opts.Store, nil
	}
	return cas.NewFileStore(filepath.Join(opts.DataDir, "cas"))
}

// tokenOf reads capability tokens from the store.
func tokenOf(ctx context.Context, store cas.Store) func(ref string) []byte {
	return func(ref string) []byte {
		b, _ := store.Get(ctx, ref)
		return b
	}
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

// newReplayer makes a replayer whose inputs before covered are covered by
// a checkpoint; the caller stops it (close).
func newReplayer(ctx context.Context, opts Options, store cas.Store, covered int) *replayer {
	// The runtime is made at the first module or capsule to load: a replay
	// from a checkpoint that covers every agent call and evaluation needs
	// none. The node's compiled modules, when they are there, spare
	// compiling again (the cache is keyed by the module's bytes).
	return &replayer{ctx: ctx, store: store, rt: &lazyRuntime{cacheDir: filepath.Join(opts.DataDir, "wasm-cache")},
		agents: map[string]protocol.AgentInfo{}, reruns: newReruns(ctx),
		runs: map[string]*protocol.RunAgent{}, evals: map[string]*protocol.EvalPolicy{},
		outcome: map[string][]json.RawMessage{}, emitted: map[string]map[string]bool{}, threads: map[string]*threadTally{},
		noRerun: opts.NoRerun, covered: covered, streamed: opts.Streamed}
}

// close stops the re-runs still going and the runtime.
func (r *replayer) close() {
	r.reruns.stop()
	r.rt.close(r.ctx)
}

// replayInputs steps the inputs through a fresh core and checks them.
func replayInputs(ctx context.Context, opts Options, store cas.Store, inputs []host.TrailInput, covered int) (*replayer, error) {
	r := newReplayer(ctx, opts, store, covered)
	defer r.close()
	// Every agent call's recorded plan_query answers, for its re-run,
	// which starts when the core asks for the call.
	for _, ti := range inputs {
		if d, ok := ti.Input.(*protocol.AgentDone); ok {
			r.reruns.recorded[d.ReqID] = d
		}
	}
	for i, ti := range inputs {
		if err := r.stepAt(i, ti); err != nil {
			return nil, err
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(inputs))
		}
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// stepAt steps input i and keeps what the summary and the checks to come
// need of it.
func (r *replayer) stepAt(i int, ti host.TrailInput) error {
	r.stepping = i
	if err := r.step(ti, i < r.covered); err != nil {
		return err
	}
	r.heads.Set(ti.Thread, ti.Record.Seq, ti.Hash)
	tally := r.threads[ti.Thread]
	if tally == nil {
		tally = &threadTally{}
		r.threads[ti.Thread] = tally
	}
	tally.last = ti.Line
	if ti.Record.Kind == audit.KindEnvelope {
		tally.envelopes++
	}
	return nil
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
			delete(r.runs, in.ReqID) // answered: not re-run
			break
		}
		if r.streamed {
			// Read with its line: the re-run starts now.
			r.reruns.recorded[in.ReqID] = in
			defer delete(r.reruns.recorded, in.ReqID)
		}
		if err := r.rerunAgent(ti, in); err != nil {
			return err
		}
	case *protocol.PolicyDone:
		if r.noRerun || covered {
			delete(r.evals, in.ReqID)
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
		// An envelope the rules published is in the trail, accepted or
		// rejected (an agent's ATTEST after the FINALIZE, say).
		if e := ti.Input.(*protocol.Received).Env; e != nil {
			if ids := r.emitted[ti.Thread]; ids != nil {
				if _, ok := ids[e.ID]; ok {
					ids[e.ID] = true
				}
			}
		}
		if rec.Verdict == audit.Accepted {
			e := ti.Input.(*protocol.Received).Env
			if e.SenderPK == r.hostPK && decisive[e.Verb] {
				if _, ok := r.emitted[ti.Thread][e.ID]; !ok {
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
			ids := r.emitted[th]
			if ids == nil {
				ids = map[string]bool{}
				r.emitted[th] = ids
			}
			if _, ok := ids[a.Env.ID]; !ok {
				ids[a.Env.ID] = false // a line for it is to come
			}
		case *protocol.RunAgent:
			r.runs[a.ReqID] = a
			// Its recorded plan_query answers are needed to start it: a
			// streamed replay has not read them yet, and starts it at its
			// outcome's line.
			if !r.noRerun && r.stepping >= r.covered && !r.streamed {
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
	if len(q) == 1 {
		delete(r.outcome, ti.Thread)
	} else {
		r.outcome[ti.Thread] = q[1:]
	}
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

// finish checks what is left: every envelope the rules emitted is in the
// trail, and fills in the report.
func (r *replayer) finish() error {
	threads := make([]string, 0, len(r.emitted))
	for th := range r.emitted {
		threads = append(threads, th)
	}
	sort.Strings(threads)
	for _, th := range threads {
		missing := []string{}
		for id, inTrail := range r.emitted[th] {
			if !inTrail {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			last := 0
			if tally := r.threads[th]; tally != nil {
				last = tally.last
			}
			return &Divergence{Thread: th, Line: last + 1, Expected: "the end of the thread",
				Found: "an envelope " + missing[0] + " the rules emit and the trail lacks"}
		}
	}
	r.report.Threads = len(r.threads)
	if r.core != nil {
		r.report.PlanDigest = r.core.Plan().Digest()
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

func (r *replayer) print(w io.Writer) {
	// A line for every thread the summary counts: one with no envelope
	// line (a NEED this host learned of from its shard alone, say) too.
	threads := make([]string, 0, len(r.threads))
	for th := range r.threads {
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
		fmt.Fprintf(w, "thread %s: ok, %d envelopes, %s\n", th, r.threads[th].envelopes, state)
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
