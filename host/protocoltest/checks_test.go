package protocoltest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

// The checkers must see a broken property: each test plays a schedule that
// passes, breaks one thing in its final state, and expects the property's
// violation.

// passing plays seeds without crashes until one passes with a NEED
// finalized, and returns its world.
func passing(t *testing.T) *World {
	t.Helper()
	for seed := uint64(1); seed < 200; seed++ {
		o := Options{Seed: seed, Hosts: 3, Needs: 2, Exclude: []string{FaultCrash, FaultTear, FaultLie, FaultPartition}}
		w := play(o)
		if final, _, _ := w.outcomes(); final > 0 && len(w.issues) == 0 {
			return w
		}
	}
	t.Fatal("no passing schedule with a FINALIZE in 200 seeds")
	return nil
}

// play runs a schedule like Run and checks it.
func play(o Options) *World {
	w := newWorld(o)
	w.play()
	w.check()
	return w
}

func expect(t *testing.T, w *World, prefix string) {
	t.Helper()
	w.issues = nil
	w.check()
	if !slices.ContainsFunc(w.issues, func(s string) bool { return strings.HasPrefix(s, prefix) }) {
		t.Fatalf("no %s violation; got %q", prefix, w.issues)
	}
}

func firstApplied(w *World, op string) (int, applyRecord) {
	for i, r := range w.history {
		if r.res.Accepted && r.cmd.Op == op {
			return i, r
		}
	}
	return -1, applyRecord{}
}

func TestCheckP1(t *testing.T) {
	w := passing(t)
	_, r := firstApplied(w, "DECIDE")
	r.cmd.DecideID = envelope.HashRef([]byte("another decision"))
	w.history = append(w.history, r)
	expect(t, w, "P1")
}

func TestCheckP2(t *testing.T) {
	w := passing(t)
	_, r := firstApplied(w, "DECIDE")
	worker := w.people[r.cmd.WorkerPK]
	ref := w.resultRef(r.cmd.Need, true)
	e, err := envelope.Sign(envelope.Draft{ThreadID: r.cmd.Need, Verb: envelope.VerbCommit, Lamport: 999,
		Capability: worker.token, ContentRefs: []string{ref}, PolicyCapsuleHash: w.capsule,
		Payload: map[string]any{"epoch": r.cmd.Epoch, "fence": r.res.Fence + 1000, "result": ref}}, worker.key)
	if err != nil {
		t.Fatal(err)
	}
	h := w.hosts[0]
	h.trail = append(h.trail, entry{kind: "envelope", in: &protocol.Received{Env: e}, env: e,
		v: protocol.Verdict{Accepted: true}})
	expect(t, w, "P2")
}

func TestCheckP3(t *testing.T) {
	w := passing(t)
	for _, e := range w.envs {
		if e.Verb != envelope.VerbFinalize {
			continue
		}
		var p finalizePayload
		json.Unmarshal(e.Payload, &p)
		p.Attestations = []string{p.Commit} // not an ATTEST
		host := w.people[e.SenderPK]
		forged, err := envelope.Sign(envelope.Draft{ThreadID: e.ThreadID, Verb: envelope.VerbFinalize, Lamport: 999,
			Capability: host.token, PolicyCapsuleHash: w.capsule, Payload: p}, host.key)
		if err != nil {
			t.Fatal(err)
		}
		w.envs[forged.ID] = forged
		expect(t, w, "P3")
		return
	}
	t.Fatal("no FINALIZE")
}

func TestCheckP4(t *testing.T) {
	w := passing(t)
	h := w.hosts[1]
	for i, en := range h.trail {
		if a, ok := en.in.(*protocol.Applied); ok && a.Cmd.Op == "DECIDE" {
			h.trail = slices.Delete(h.trail, i, i+1) // an edited trail
			break
		}
	}
	expect(t, w, "P4")
}

func TestCheckP5(t *testing.T) {
	w := passing(t)
	h := w.hosts[2]
	ops, err := plan.ParseOps([]byte(`[{"op":"ADD_TASK","task":"stray","spec":null}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.core.Plan().Add(envelope.HashRef([]byte("stray")), 1, h.key.pk, ops); err != nil {
		t.Fatal(err)
	}
	expect(t, w, "P5")
}

func TestCheckP6(t *testing.T) {
	w := passing(t)
	h := w.hosts[0]
	core, err := protocol.New(h.cfg) // a host that forgot every NEED
	if err != nil {
		t.Fatal(err)
	}
	h.core = core
	expect(t, w, "P6")
	w = passing(t)
	w.doneAt = w.stopAt + w.liveBound() + 1
	expect(t, w, "P6")
}

func TestCheckP7(t *testing.T) {
	w := passing(t)
	h := w.hosts[2]
	for i, en := range h.trail {
		if en.kind == "envelope" && en.env.Verb == envelope.VerbNeed {
			h.trail = slices.Delete(h.trail, i, i+1)
			break
		}
	}
	expect(t, w, "P7")
}

func TestCheckLiesInvalidated(t *testing.T) {
	var others []string
	for _, f := range AllFaults {
		if f != FaultLie {
			others = append(others, f)
		}
	}
	for seed := uint64(1); seed < 400; seed++ {
		w := play(Options{Seed: seed, Hosts: 3, Needs: 3, Exclude: others})
		if len(w.issues) != 0 {
			t.Fatalf("seed %d: %q", seed, w.issues)
		}
		for _, h := range w.hosts {
			for i, en := range h.trail {
				if en.kind != "envelope" || !en.v.Accepted || en.env.Verb != envelope.VerbInvalidate {
					continue
				}
				// As if the host had never invalidated it: a lie of a
				// finalized epoch must be missed (one of a released
				// epoch is not owed an INVALIDATE).
				trail := h.trail
				h.trail = slices.Delete(slices.Clone(trail), i, i+1)
				w.issues = nil
				w.check()
				h.trail = trail
				if slices.ContainsFunc(w.issues, func(s string) bool { return strings.HasPrefix(s, "lie:") }) {
					return
				}
			}
		}
	}
	t.Fatal("no schedule in 400 seeds has a lie of a finalized epoch invalidated, or the check missed its loss")
}
