package protocoltest

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// check runs P1-P7 over the final state of every host and the shard logs.
func (w *World) check() {
	w.checkP1()
	w.checkP2()
	w.checkP3()
	w.checkP4()
	w.checkP5()
	w.checkP6()
	w.checkP7()
	w.checkCollected()
	w.checkRevoked()
	w.checkLiesInvalidated()
}

// checkLiesInvalidated: the host that runs the lying verifier also runs an
// honest one, which is shown every ATTEST its host accepts of a NEED's
// COMMIT, before the FINALIZE or after it. So every lie that host accepted
// for the epoch its NEED was finalized in ends INVALIDATEd there (a lie of
// an epoch released meanwhile has no COMMIT left to challenge), even if
// the host crashed torn after accepting it: the answer that held the
// CHALLENGE, or the evaluation that made the INVALIDATE, may be the input
// whose envelopes were lost, and the restart asks for them again
// (protocol's unsent drafts).
func (w *World) checkLiesInvalidated() {
	_, fin := w.shardDecisions()
	for _, h := range w.hosts {
		liar := ""
		for _, a := range h.cfg.Agents {
			if a.Name[0] == 'l' {
				liar = a.PK
			}
		}
		if liar == "" {
			continue
		}
		lies, invalidated := map[string]int{}, map[string]bool{}
		for i, en := range h.trail {
			if en.kind != "envelope" || !en.v.Accepted || en.env == nil {
				continue
			}
			switch e := en.env; e.Verb {
			case envelope.VerbAttest:
				var ap struct {
					Epoch uint64 `json:"epoch"`
				}
				json.Unmarshal(e.Payload, &ap)
				if f, ok := fin[e.ThreadID]; ok && e.SenderPK == liar && ap.Epoch == f.cmd.Epoch {
					lies[e.ID] = i + 1
				}
			case envelope.VerbInvalidate:
				var ip struct {
					Target string `json:"target"`
				}
				json.Unmarshal(e.Payload, &ip)
				invalidated[ip.Target] = true
			}
		}
		for _, id := range slices.Sorted(maps.Keys(lies)) {
			if !invalidated[id] {
				w.violate("lie: %s accepted %s (trail line %d) of a finalized epoch and never invalidated it", h.name,
					w.describe(w.envs[id]), lies[id])
			}
		}
	}
}

// checkRevoked: once a host's configuration revokes a key (FaultRevoke),
// its trail accepts nothing more that key sent, until a configuration
// drops it (none does here).
func (w *World) checkRevoked() {
	for _, h := range w.hosts {
		var revoked []string
		for i, e := range h.trail {
			switch in := e.in.(type) {
			case *protocol.Configure:
				revoked = in.Revoked
			case *protocol.Received:
				if in.Env != nil && e.v.Accepted && !e.v.Duplicate && slices.Contains(revoked, in.Env.SenderPK) {
					w.violate("revocation: %s accepted %s from %s (trail line %d) after revoking the key",
						h.name, w.describe(in.Env), w.names[in.Env.SenderPK], i+1)
				}
			}
		}
	}
}

// checkCollected: a shard forgets a NEED (GC) only once it ended, and no
// host is left with the NEED's thread open or had to end it for the GC:
// every host takes the shard logs in order, where a NEED's end comes before
// its GC (a Collected input ends a thread only on a node that missed the
// log, restored from a consensus snapshot, which the harness does not do).
func (w *World) checkCollected() {
	for _, h := range w.hosts {
		for _, en := range h.trail {
			if c, ok := en.in.(*protocol.Collected); ok {
				w.violate("GC: %s had %s still open when its shard collected it", h.name, w.name(c.Need))
			}
		}
	}
	for _, n := range w.needs {
		id := n.env.ID
		if !w.shards[w.shardOf(id)].m.Collected(id) {
			continue
		}
		for _, h := range w.hosts {
			if slices.Contains(h.core.Threads(), id) && !h.core.Ended(id) {
				w.violate("GC: the shard collected %s while %s still has its thread open", w.name(id), h.name)
			}
		}
	}
}

type epochKey struct {
	need  string
	epoch uint64
}

type decidePayload struct {
	Epoch     uint64   `json:"epoch"`
	Proposal  string   `json:"proposal"`
	WorkerPK  string   `json:"worker_pk"`
	Verifiers []string `json:"verifiers"`
	Fence     uint64   `json:"fence"`
}

type fencedPayload struct {
	Epoch  uint64 `json:"epoch"`
	Fence  uint64 `json:"fence"`
	Result string `json:"result"`
}

type finalizePayload struct {
	Epoch        uint64   `json:"epoch"`
	Commit       string   `json:"commit"`
	Result       string   `json:"result"`
	Attestations []string `json:"attestations"`
}

// shardDecisions is the accepted DECIDE of every (NEED, epoch) in the
// shard logs, and the accepted FINALIZE of every NEED.
func (w *World) shardDecisions() (map[epochKey]applyRecord, map[string]applyRecord) {
	dec, fin := map[epochKey]applyRecord{}, map[string]applyRecord{}
	for _, r := range w.history {
		if !r.res.Accepted {
			continue
		}
		switch r.cmd.Op {
		case "DECIDE":
			k := epochKey{r.cmd.Need, r.cmd.Epoch}
			if _, ok := dec[k]; !ok {
				dec[k] = r
			}
		case "FINALIZE":
			if _, ok := fin[r.cmd.Need]; !ok {
				fin[r.cmd.Need] = r
			}
		}
	}
	return dec, fin
}

// acceptedEnvelopes lists, over every host's trail, the accepted envelopes
// of a verb (each id once), with the hosts that accepted them.
func (w *World) acceptedEnvelopes(verb envelope.Verb) []*envelope.Envelope {
	var out []*envelope.Envelope
	seen := map[string]bool{}
	for _, h := range w.hosts {
		for _, en := range h.trail {
			if en.kind == "envelope" && en.v.Accepted && en.env != nil && en.env.Verb == verb && !seen[en.env.ID] {
				seen[en.env.ID] = true
				out = append(out, en.env)
			}
		}
	}
	return out
}

// P1: at most one DECIDE per (NEED, epoch) and one FINALIZE per NEED, in
// the shard logs (a repeat of the same command aside) and among the
// envelopes the cores accepted; and what the cores accepted is what the
// shard decided.
func (w *World) checkP1() {
	decKeys, finKeys := map[epochKey]string{}, map[string]string{}
	for _, r := range w.history {
		if !r.res.Accepted {
			continue
		}
		switch r.cmd.Op {
		case "DECIDE":
			k := epochKey{r.cmd.Need, r.cmd.Epoch}
			if prev, ok := decKeys[k]; ok && prev != r.cmd.DecideID {
				w.violate("P1 shard accepted two DECIDEs for %s epoch %d: %s and %s", w.name(k.need), k.epoch,
					w.name(prev), w.name(r.cmd.DecideID))
			}
			decKeys[k] = r.cmd.DecideID
		case "FINALIZE":
			if prev, ok := finKeys[r.cmd.Need]; ok && prev != r.cmd.FinalizeID {
				w.violate("P1 shard accepted two FINALIZEs for %s", w.name(r.cmd.Need))
			}
			finKeys[r.cmd.Need] = r.cmd.FinalizeID
		}
	}
	dec, fin := w.shardDecisions()
	byEpoch := map[epochKey]string{}
	for _, e := range w.acceptedEnvelopes(envelope.VerbDecide) {
		var p decidePayload
		json.Unmarshal(e.Payload, &p)
		k := epochKey{e.ThreadID, p.Epoch}
		if prev, ok := byEpoch[k]; ok {
			w.violate("P1 hosts accepted two DECIDE envelopes for %s epoch %d: %s and %s", w.name(k.need), k.epoch,
				w.name(prev), w.name(e.ID))
		}
		byEpoch[k] = e.ID
		d, ok := dec[k]
		if !ok || d.cmd.Proposal != p.Proposal || d.cmd.WorkerPK != p.WorkerPK ||
			!slices.Equal(d.cmd.Verifiers, p.Verifiers) || d.res.Fence != p.Fence {
			w.violate("P1 DECIDE %s accepted by a host is not the shard's decision of %s epoch %d", w.name(e.ID),
				w.name(k.need), k.epoch)
		}
	}
	byNeed := map[string]string{}
	for _, e := range w.acceptedEnvelopes(envelope.VerbFinalize) {
		var p finalizePayload
		json.Unmarshal(e.Payload, &p)
		if prev, ok := byNeed[e.ThreadID]; ok {
			w.violate("P1 hosts accepted two FINALIZE envelopes for %s: %s and %s", w.name(e.ThreadID), w.name(prev),
				w.name(e.ID))
		}
		byNeed[e.ThreadID] = e.ID
		if f, ok := fin[e.ThreadID]; !ok || f.cmd.Commit != p.Commit || f.cmd.Epoch != p.Epoch {
			w.violate("P1 FINALIZE %s accepted by a host is not the shard's FINALIZE of %s", w.name(e.ID),
				w.name(e.ThreadID))
		}
	}
}

// P2: no host accepted a COMMIT whose (epoch, fence) is not the shard's
// decision, or after it applied the release of that epoch; every FINALIZE
// the shard accepted names a COMMIT of the epoch current then, with that
// epoch's fence, from its worker.
func (w *World) checkP2() {
	dec, _ := w.shardDecisions()
	for _, h := range w.hosts {
		released := map[epochKey]bool{}
		for _, en := range h.trail {
			if a, ok := en.in.(*protocol.Applied); ok && a.Cmd.Op == "RELEASE" {
				released[epochKey{a.Cmd.Need, a.Cmd.Epoch}] = true
			}
			if en.kind != "envelope" || !en.v.Accepted || en.env == nil || en.env.Verb != envelope.VerbCommit {
				continue
			}
			var p fencedPayload
			json.Unmarshal(en.env.Payload, &p)
			k := epochKey{en.env.ThreadID, p.Epoch}
			d, ok := dec[k]
			switch {
			case !ok:
				w.violate("P2 %s accepted COMMIT %s for %s epoch %d, which the shard never decided", h.name,
					w.name(en.env.ID), w.name(k.need), k.epoch)
			case d.res.Fence != p.Fence || d.cmd.WorkerPK != en.env.SenderPK:
				w.violate("P2 %s accepted COMMIT %s with fence %d from %s; the decision has fence %d, worker %s",
					h.name, w.name(en.env.ID), p.Fence, w.name(en.env.SenderPK), d.res.Fence, w.name(d.cmd.WorkerPK))
			case released[k]:
				w.violate("P2 %s accepted COMMIT %s of %s epoch %d after applying that epoch's release", h.name,
					w.name(en.env.ID), w.name(k.need), k.epoch)
			}
		}
	}
	epoch, final := map[string]uint64{}, map[string]bool{}
	for _, r := range w.history {
		if !r.res.Accepted {
			continue
		}
		need := r.cmd.Need
		if epoch[need] == 0 {
			epoch[need] = 1
		}
		switch r.cmd.Op {
		case "RELEASE":
			if r.cmd.Epoch == epoch[need] && !final[need] {
				epoch[need]++
			}
		case "FINALIZE":
			if final[need] {
				continue // a repeat
			}
			final[need] = true
			if r.cmd.Epoch != epoch[need] {
				w.violate("P2 the shard finalized %s at epoch %d while epoch %d was current", w.name(need),
					r.cmd.Epoch, epoch[need])
			}
			c := w.envs[r.cmd.Commit]
			d, ok := dec[epochKey{need, r.cmd.Epoch}]
			var p fencedPayload
			if c != nil {
				json.Unmarshal(c.Payload, &p)
			}
			if c == nil || c.Verb != envelope.VerbCommit || c.ThreadID != need || !ok || p.Epoch != r.cmd.Epoch ||
				p.Fence != d.res.Fence || c.SenderPK != d.cmd.WorkerPK {
				w.violate("P2 the FINALIZE of %s (epoch %d) names %s, not a COMMIT of that epoch's decision",
					w.name(need), r.cmd.Epoch, w.name(r.cmd.Commit))
			}
		}
	}
}

// P3: every FINALIZE envelope lists at least k distinct pass attestations
// of its COMMIT from the DECIDE's verifiers, each with the oracle's digest
// (what every honest host computes), and none other; the result it
// finalizes is one verify accepts.
func (w *World) checkP3() {
	dec, _ := w.shardDecisions()
	var ids []string
	for id, e := range w.envs {
		if e.Verb == envelope.VerbFinalize {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := w.envs[id]
		var p finalizePayload
		json.Unmarshal(e.Payload, &p)
		ns := w.needOf(e.ThreadID)
		commit := w.envs[p.Commit]
		d, ok := dec[epochKey{e.ThreadID, p.Epoch}]
		if ns == nil || commit == nil || !ok {
			w.violate("P3 FINALIZE %s names an unknown NEED, COMMIT or decision", w.name(e.ID))
			continue
		}
		res, _, want := w.evaluate(commit.PolicyCapsuleHash, "verify", commit)
		if string(res) != "true" || p.Result != w.resultRef(e.ThreadID, true) {
			w.violate("P3 FINALIZE %s finalizes %s, a result verify refuses", w.name(e.ID), w.name(p.Result))
		}
		senders := map[string]bool{}
		for _, id := range p.Attestations {
			a := w.envs[id]
			var ap struct {
				Commit  string `json:"commit"`
				Verdict string `json:"verdict"`
			}
			if a != nil {
				json.Unmarshal(a.Payload, &ap)
			}
			switch {
			case a == nil || a.Verb != envelope.VerbAttest:
				w.violate("P3 FINALIZE %s lists %s, not an ATTEST", w.name(e.ID), w.name(id))
			case ap.Commit != p.Commit || ap.Verdict != "pass" || a.PolicyEvalDigest != want:
				w.violate("P3 FINALIZE %s counts %s: commit %s verdict %s digest %s (want %s)", w.name(e.ID),
					w.name(id), w.name(ap.Commit), ap.Verdict, w.name(a.PolicyEvalDigest), w.name(want))
			case !slices.Contains(d.cmd.Verifiers, a.SenderPK):
				w.violate("P3 FINALIZE %s counts %s from %s, not a verifier of the DECIDE", w.name(e.ID), w.name(id),
					w.name(a.SenderPK))
			case senders[a.SenderPK]:
				w.violate("P3 FINALIZE %s counts two attestations from %s", w.name(e.ID), w.name(a.SenderPK))
			default:
				senders[a.SenderPK] = true
			}
		}
		if uint64(len(senders)) < ns.k {
			w.violate("P3 FINALIZE %s has %d valid attestations, k=%d", w.name(e.ID), len(senders), ns.k)
		}
	}
}

// P4: stepping each host's trail into a fresh core asks for the same
// DECIDE, RELEASE, INVALIDATE and FINALIZE envelopes (same ids, same order)
// as the live cores did, and holds the same plan.
func (w *World) checkP4() {
	for _, h := range w.hosts {
		r, err := replay(h.cfg, h.trail)
		if err != nil {
			w.violate("P4 %s: %v", h.name, err)
			continue
		}
		core, emitted := r.core, r.emitted
		if r.quietDiffers != nil {
			w.violate("P4 %s: a quiet replay of the trail ends elsewhere than one taking its actions: %v", h.name, r.quietDiffers)
		}
		if !slices.Equal(emitted, h.emitted) {
			w.violate("P4 %s: replay asked to publish %v, the live cores %v", h.name, w.names2(emitted),
				w.names2(h.emitted))
		}
		if a, b := core.Plan().Digest(), h.core.Plan().Digest(); a != b {
			w.violate("P4 %s: replay's plan digest %s, the live core's %s", h.name, w.name(a), w.name(b))
		}
		// What `swarmhost replay` checks at the end of a trail: every
		// envelope the rules asked this host to publish has a line (a
		// torn round's are asked for again at the restart).
		for _, e := range r.unsent {
			w.violate("P7 %s: the rules asked to publish %s and its trail has no line of it", h.name, w.describe(e))
		}
	}
}

// P5: after faults stopped and a RECONCILE round, every host holds the
// same plan.
func (w *World) checkP5() {
	want := w.hosts[0].core.Plan().Digest()
	for _, h := range w.hosts[1:] {
		if d := h.core.Plan().Digest(); d != want {
			w.violate("P5 plan of %s is %s (%d ops), of h0 %s (%d ops)", h.name, d, h.core.Plan().Len(), want,
				w.hosts[0].core.Plan().Len())
		}
	}
}

// liveBound is how long after faults stop every admitted NEED must be
// finished: each epoch left takes at most a bid window, a lease to claim
// and a verification window, plus redelivery delays.
func (w *World) liveBound() int64 {
	var b int64
	for _, n := range w.needs {
		b = max(b, int64(n.maxEpochs)*(int64(n.window+3*n.lease+3*retryDelay)+w.noBidsGrace()))
	}
	return b + 2000
}

// P6: after faults stop, every admitted NEED ends FINAL or ABANDONED in the
// shard and on every host within liveBound; a refused NEED is never decided.
func (w *World) checkP6() {
	dec, _ := w.shardDecisions()
	for _, n := range w.needs {
		if n.deny {
			for k := range dec {
				if k.need == n.env.ID {
					w.violate("P6 %s was refused by admit but decided", n.name)
				}
			}
			continue
		}
		_, fin := w.shardDecisions()
		f, final := fin[n.env.ID]
		for _, h := range w.hosts {
			info, _ := h.core.Thread(n.env.ID)
			switch {
			case info.Phase != protocol.PhaseFinal && info.Phase != protocol.PhaseAbandoned:
				w.violate("P6 %s is %s (epoch %d) on %s after faults stopped", n.name, info.Phase, info.Epoch, h.name)
			case (info.Phase == protocol.PhaseFinal) != final:
				w.violate("P6 %s is %s on %s, but the shard finalized it: %v", n.name, info.Phase, h.name, final)
			case final && info.Epoch != f.cmd.Epoch:
				w.violate("P6 %s is final at epoch %d on %s, the shard's FINALIZE is for epoch %d", n.name, info.Epoch,
					h.name, f.cmd.Epoch)
			}
		}
	}
	if len(w.faults) == 0 {
		// No fault at all, honest agents only: nothing should make a NEED
		// give up, so every admitted one ends FINAL.
		final, abandoned, _ := w.outcomes()
		if abandoned > 0 {
			w.violate("P6 fault-free: %d of %d admitted NEEDs were abandoned", abandoned, final+abandoned)
		}
	}
	if w.doneAt != 0 && w.doneAt-w.stopAt > w.liveBound() {
		w.violate("P6 the NEEDs took %d ms after faults stopped to finish, bound %d", w.doneAt-w.stopAt, w.liveBound())
	}
}

// P7: every message the bus acknowledged is in every host's trail (accepted,
// rejected, or given up), and each host's core holds exactly the envelopes
// its trail accepted: a crash lost none.
func (w *World) checkP7() {
	for _, h := range w.hosts {
		inTrail, accepted := map[string]bool{}, map[string]map[string]bool{}
		for _, en := range h.trail {
			if cd, ok := en.in.(*protocol.CheckpointDue); ok && cd.RetireEndedBefore != 0 {
				// A retiring checkpoint forgets what the swarm thread
				// accepted so far (Core.compactSwarm): from then on the
				// core holds only what came after.
				delete(accepted, protocol.SwarmThread)
			}
			if en.kind != "envelope" || en.env == nil {
				continue
			}
			inTrail[en.env.ID] = true
			if en.v.Accepted {
				t := en.env.Thread()
				if accepted[t] == nil {
					accepted[t] = map[string]bool{}
				}
				accepted[t][en.env.ID] = true
			}
		}
		for _, m := range w.bus {
			if !inTrail[m.env.ID] {
				w.violate("P7 %s's trail lacks %s, which the bus acknowledged", h.name, w.describe(m.env))
			}
		}
		for _, tid := range h.core.Threads() {
			info, _ := h.core.Thread(tid)
			if info.Retired {
				// The core lists no envelopes of a retired thread, only
				// their number; the shell reads them from the trail.
				if len(info.Envelopes) != 0 || info.EnvelopesInTrail != len(accepted[tid]) {
					w.violate("P7 %s's retired %s counts %d envelopes (lists %d), its trail accepted %d", h.name, w.name(tid),
						info.EnvelopesInTrail, len(info.Envelopes), len(accepted[tid]))
				}
				continue
			}
			held := map[string]bool{}
			for _, s := range info.Envelopes {
				held[s.ID] = true
				if !accepted[tid][s.ID] {
					w.violate("P7 %s's core holds %s %s, which its trail does not accept", h.name, s.Verb, w.name(s.ID))
				}
			}
			ids := slices.Sorted(maps.Keys(accepted[tid]))
			for _, id := range ids {
				if !held[id] {
					w.violate("P7 %s's core lost %s, which its trail accepted", h.name, w.describe(w.envs[id]))
				}
			}
		}
	}
}
